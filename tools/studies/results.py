"""docs/RESULTS.md from the studies' JSON files: the summary table that opens it, the appendix that
closes it, and every section that has a JSON file regenerated from it:

    python -m tools.studies.results --out docs

The file holds, in this order: the summary (one row per task and measure, from each study's main
run: the classification run labelled MAIN_CLASSIFICATION, the detection and the segmentation
study), the sections grouped by task (classification, its pretraining ablations, detection,
segmentation), then the appendix: one row per run whose JSON is in the folder but that has no
section of its own (the superseded classification runs, the probe pilots). Which runs have a
section is read from RESULTS.md itself: to fold a run into the appendix, delete its section and
run this again. The ablation and token-target sections are written by hand (their suites' JSON
files are not kept in docs/); they are left as they are.
"""
import argparse
import glob
import json
import os
import re

from tools.studies import detection, segmentation
from tools.studies.classification_merge import BUDGET_DEFAULTS, budget_of
from tools.studies.classification_report import (CLEARLY, PARTIAL_X, clearly_above, names, report,
                                                 setting)
from tools.studies.probe_pilots import NOTES, markdown
from tools.studies.sections import APPENDIX_TITLE, put_section

SUMMARY_TITLE = "# Results: summary"
MAIN_CLASSIFICATION = "140 pretraining epochs, patch 7, crop 1.0"  # the label the summary reports
PILOT_TITLE = "# Probe pilots: "
# sections written by hand, which the summary points to (by the start of their titles)
HAND_SECTIONS = ("# Ablations", "# Pixel vs token targets")


def anchor(title: str) -> str:
    """A heading's link target as GitHub makes it: lower case, punctuation dropped, spaces as
    '-'."""
    return "#" + re.sub(r"[^\w\- ]", "", title.lstrip("#").strip().lower()).replace(" ", "-")


def link(title: str, text: str = None) -> str:
    return f"[{text or title.lstrip('#').strip()}]({anchor(title)})"


def titles(path: str) -> list:
    """The top-level headings of the markdown file at `path` (none if it does not exist)."""
    if not os.path.isfile(path):
        return []
    with open(path) as f:
        return [ln.strip() for ln in f if ln.startswith("# ")]


def read(path: str):
    with open(path) as f:
        return json.load(f)


def classification_runs(out: str) -> list:
    """Every classification study result in `out`, in the order the runs were made."""
    runs = [read(p) for p in glob.glob(os.path.join(out, "study_results*.json"))]
    return sorted(runs, key=lambda res: res["date"])


def pilot_files(out: str) -> list:
    """(rows file, its notes) of every probe-pilot table in `out`."""
    found = sorted(p for p in glob.glob(os.path.join(out, "probe_pilots_*.json"))
                   if not p.endswith(NOTES))
    return [(p, read(p[:-len(".json")] + NOTES)) for p in found]


def crop_words(crop_min: float) -> str:
    """The pretraining crop, short: its area range (at area 1 only the aspect is jittered)."""
    return f"crop {crop_min:g}-1" if crop_min < 1 else "crop at full area"


def fmt(v, digits: int = 1) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def verdict(ok: bool, diff: float, rule: str = "") -> str:
    return f"{'yes' if ok else 'no'} ({diff:+.1f}{rule})"


def classification_rows(res: dict) -> list:
    c, a, mae, rnd = res["config"], res["arch"], res["mae"], res["random"]
    section = link(names(c.get("label"))["title"], "section")
    where = (f"Fashion-MNIST; ViT patch {a['patch_size']}, {a['embed_dim']} wide, {a['depth']} "
             f"blocks; {c['pretrain_epochs']} pretraining epochs, "
             f"{crop_words(setting(c, 'crop_min'))}; {c['ft_epochs']} fine-tuning epochs")
    pixels = f"raw pixels {fmt(res['pixels'])}"
    pm, pr, p1, full = mae["probe"]["cls"], rnd["probe"]["cls"], mae["partial1"], mae["full"]
    return [
        ("classification: full fine-tune", where, fmt(full), f"{fmt(rnd['full'])} (from scratch)",
         pixels, "fine-tuning from MAE beats training from scratch (Figure 5, Sec. 4.1)",
         verdict(full > rnd["full"], full - rnd["full"]), section),
        ("classification: linear probe (class token)", where, fmt(pm), fmt(pr), pixels,
         "pretraining lifts the linear probe above the untrained encoder's (Figure 7)",
         verdict(pm > pr, pm - pr), section),
        ("classification: partial fine-tune, last block", where, fmt(p1), fmt(rnd.get("partial1")),
         f"MAE linear probe {fmt(pm)}",
         "one fine-tuned block lifts the linear probe clearly (Figure 9: 73.5 -> 81.0)",
         verdict(clearly_above(p1, pm), p1 - pm, f" over the probe; clearly: more than +{CLEARLY}"),
         section),
    ]


def transfer_rows(task: str, s: dict, section, metrics: list, where: str, table: str) -> list:
    """One row per (JSON key, name, scale) of `metrics` of a detection or segmentation study."""
    claim = (f"MAE pretraining helps the task ({table}: MAE above supervised pretraining, which "
             "is not run here)")
    rows = []
    for key, name, scale in metrics:
        m, r = (scale * s["metrics"][arm][key] for arm in ("mae", "random"))
        rows.append((f"{task}: {name}", where, fmt(m), fmt(r), "-", claim, verdict(m > r, m - r),
                     link(section(s, ".").splitlines()[0], "section")))
    return rows


def detection_rows(s: dict) -> list:
    a = s["args"]
    where = (f"synthetic COCO layout, {a['train']} training images, {a['categories']} "
             f"categor{'y' if a['categories'] == 1 else 'ies'}; Mask R-CNN, ViTDet {a['dim']} "
             f"wide, {a['depth']} blocks; {a['pretrain_epochs']} MAE epochs, {a['det_epochs']} "
             "detector epochs")
    metrics = [("coco/bbox_mAP", "box AP", 100), ("coco/segm_mAP", "mask AP", 100)]
    return transfer_rows("detection", s, detection.section, metrics, where, "Table 4")


def segmentation_rows(s: dict) -> list:
    a = s["args"]
    where = (f"synthetic ADE20K layout, {a['train']} training scenes, {a['classes']} classes; "
             f"UperNet, ViT {a['dim']} wide, {a['depth']} blocks; {a['pretrain_epochs']} MAE "
             f"epochs, {a['iters']} iterations")
    return transfer_rows("segmentation", s, segmentation.section, [("mIoU", "mIoU", 1)], where,
                         "Table 5")


def table(head: list, rows: list) -> list:
    return (["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
            + ["| " + " | ".join(row) + " |" for row in rows])


def summary(out: str, present: list) -> str:
    """The section that opens RESULTS.md: one row per task and measure."""
    rows = []
    main = os.path.join(out, names(MAIN_CLASSIFICATION)["json"])
    if os.path.isfile(main):
        rows += classification_rows(read(main))
    for name, make in (("study_detection.json", detection_rows),
                       ("study_segmentation.json", segmentation_rows)):
        if os.path.isfile(os.path.join(out, name)):
            rows += make(read(os.path.join(out, name)))
    hand = [next((t for t in present if t.startswith(start)), None) for start in HAND_SECTIONS]
    lines = [SUMMARY_TITLE, "",
             "One row per task and measure, from each study's newest full run, every number read "
             "from the JSON file beside its section (`python -m tools.studies.results --out docs` "
             "writes this table, the appendix and every such section from them). Top-1 in %, AP "
             "and mIoU in points; one seed, one run per arm. \"Reproduced\": our difference goes "
             "the paper's way (MAE minus the other column).", ""]
    lines += table(["task", "setting", "MAE", "random init", "baseline", "the paper's direction",
                    "reproduced", "section"], rows)
    others = [link(t) for t in hand if t]
    if others:
        lines += ["", "Not in the table: " + " and ".join(others) + " (written by hand; their "
                  "per-arm JSON files are not kept in docs/), and the superseded classification "
                  f"runs and probe pilots ({link(APPENDIX_TITLE, 'appendix')})."]
    return "\n".join(lines) + "\n"


def pretraining_text(config: dict) -> str:
    """A classification run's pretraining in a few words: epochs, patch, crop, other changed
    flags."""
    b = budget_of(config)
    other = [f"{k} {b[k]:g}" for k in BUDGET_DEFAULTS
             if k not in ("patch_size", "crop_min") and b[k] != BUDGET_DEFAULTS[k]]
    return ", ".join([f"{config['pretrain_epochs']} epochs, patch {b['patch_size']}",
                      crop_words(b["crop_min"]), *other])


def run_row(res: dict) -> tuple:
    c, mae, rnd = res["config"], res.get("mae", {}), res.get("random", {})
    files = names(c.get("label"))

    def pair(pool):
        return f"{fmt(mae.get('probe', {}).get(pool))} / {fmt(rnd.get('probe', {}).get(pool))}"

    def tunes(r):
        return " / ".join(fmt(r.get(k)) for k in (*PARTIAL_X, "full"))
    return (c.get("label") or "the first study (no label)", pretraining_text(c),
            f"{c['ft_epochs']} epochs", "test", pair("cls"), pair("avg"), tunes(mae), tunes(rnd),
            fmt(res["pixels"]), f"[json]({files['json']}), [plot]({files['png']})")


def pilot_row(row: dict, path: str) -> tuple:
    changed = ", ".join(f"{k} {v:g}" for k, v in row["changed"].items()) or "reference"

    def pair(pool):
        return f"{fmt(row['mae'].get(pool), 2)} / {fmt(row['random'].get(pool), 2)}"
    return (os.path.basename(row["run"].rstrip("/")), f"pilot: {changed}", "-", "held-out",
            pair("cls"), pair("avg"), "-", "-", "-", f"[json]({os.path.basename(path)})")


def appendix(out: str, present: list) -> str:
    """The section that closes RESULTS.md, or '' when every run has a section of its own."""
    runs = [res for res in classification_runs(out)
            if names(res["config"].get("label"))["title"] not in present]
    pilots = [(p, about) for p, about in pilot_files(out)
              if PILOT_TITLE + about["title"] not in present]
    if not runs and not pilots:
        return ""
    rows = [run_row(res) for res in runs] + [pilot_row(r, p) for p, _ in pilots for r in read(p)]
    when = f" ({runs[0]['date']} to {runs[-1]['date']})" if runs else ""
    main = link(names(MAIN_CLASSIFICATION)["title"], "the one in the summary")
    lines = [APPENDIX_TITLE, "",
             "One row per run whose JSON file is in docs/ without a section of its own: the "
             f"classification runs before {main}, in the order they ran{when}, then the probe-only "
             "pilots. Test: top-1 on the 10k test "
             "images, each scored once; held-out: top-1 on the held-out sixth of the training "
             "images where the probe's lr is chosen (the pilots never looked at the test images). "
             "Each run's notes (why it ran, how it was split over processes, what it showed) are "
             "its JSON file's `notes`.", ""]
    lines += table(["run", "pretraining", "fine-tuning", "scored on", "probe cls: MAE / random",
                    "probe avg: MAE / random", "MAE k=0 / 1 / 2 / all",
                    "random init k=0 / 1 / 2 / all", "raw pixels", "files"], rows)
    for p, about in pilots:
        name = os.path.basename(p)
        notes = name[:-len(".json")] + NOTES
        lines += ["", f"Pilot rows of [{name}]({name}) ({about['title']}; 'pilot: X' names the one "
                  f"setting changed against the reference row): made by `{about['command']}` on "
                  f"{about['date']}; their notes are in [{notes}]({notes})."]
    return "\n".join(lines) + "\n"


def regenerate(out: str) -> str:
    """Rewrite RESULTS.md in `out`: each JSON-backed section that it holds, from its JSON (plots
    are left as they are), then the summary and the appendix."""
    path = os.path.join(out, "RESULTS.md")
    present = titles(path)
    sections = [report(res) for res in classification_runs(out)
                if names(res["config"].get("label"))["title"] in present]
    for study in (detection, segmentation):
        name = os.path.join(out, f"study_{study.__name__.rsplit('.', 1)[1]}.json")
        if os.path.isfile(name):
            s = read(name)  # its picture is beside the JSON, wherever the study ran
            picture = os.path.join(out, os.path.basename(s["picture"]))
            sections.append(study.section(dict(s, picture=picture), out))
    sections += [markdown(read(p), about["title"], about["command"], about["notes"], about["date"])
                 for p, about in pilot_files(out) if PILOT_TITLE + about["title"] in present]
    for text in sections:
        if text.splitlines()[0] in present:
            put_section(path, text)
    put_section(path, summary(out, present), first=True)
    text = appendix(out, present)
    if text:
        put_section(path, text)
    return path


def main(argv=None) -> str:
    p = argparse.ArgumentParser(prog="python -m tools.studies.results",
                                description=__doc__.split("\n")[0])
    p.add_argument("--out", default="docs", help="the folder of RESULTS.md and the studies' JSON")
    path = regenerate(p.parse_args(argv).out)
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    main()
