"""Which pretraining change moves the classification study's linear probe? One table of pilots.

    python -m tools.studies.probe_pilots DIR... --out docs --title 'patch 7, 20 pretraining epochs'

Each DIR is a probe-only run of the study (`python -m tools.studies.classification --out DIR
--inits mae --evals probe --probe-refits 1 ...`, or `--inits random` for the reference encoder).
Its row gives what the run changed against the first MAE run given, its pretraining time, and each
probe's held-out top-1 at the lr the study refit it with (on the held-out sixth of the training
images where it picks that lr), with the gap to the random-init encoder of the same architecture
and probe budget. Test-image scores are left out on purpose: pilots choose the next run, and only
held-out images may choose.
Writes probe_pilots_TITLE.json (the rows), probe_pilots_TITLE.notes.json (title, command, date,
notes) and its own section of RESULTS.md in --out.
"""
import argparse
import json
import os
import shlex
import time

from pretrain.errors import DataError
from tools.studies.classification_merge import BUDGET_KEYS, budget_of, read_results
from tools.studies.classification_report import slug
from tools.studies.sections import put_section

NOTES = ".notes.json"  # beside probe_pilots_TITLE.json: the title, command, date and notes
# what a random-init probe depends on: its encoder and the probe's own budget (not the pretraining)
RANDOM_KEYS = ("patch_size", "embed_dim", "seed", "probe_epochs", "batch", "limit")


def held_out(res: dict, init: str) -> dict:
    """{pool: held-out top-1 at the lr the probe was refit with}, or {} when this run did not probe
    `init`. That is the best lr tried unless its refit on all training images diverged and the study
    fell back to the next (refit_probe): the score of the probe the study really reports."""
    lrs = res.get(init, {}).get("probe_lr", {})
    return {pool: d["held_out_top1"][str(float(d["base_lr"]))] for pool, d in lrs.items()}


def pilot_table(dirs: list) -> list:
    runs = [(d, read_results(d)) for d in dirs]
    randoms = {}
    for d, res in runs:
        if held_out(res, "random"):
            key = tuple(budget_of(res["config"])[k] for k in RANDOM_KEYS)
            if key in randoms and randoms[key][1] != held_out(res, "random"):
                raise DataError(f"{d} and {randoms[key][0]} probe the same random-init encoder with other results")
            randoms[key] = (d, held_out(res, "random"))
    maes = [(d, res) for d, res in runs if held_out(res, "mae")]
    if not maes:
        raise DataError("none of the runs probed an MAE encoder (--inits mae --evals probe)")
    reference = budget_of(maes[0][1]["config"])
    rows = []
    for d, res in maes:
        budget = budget_of(res["config"])
        key = tuple(budget[k] for k in RANDOM_KEYS)
        if key not in randoms:
            raise DataError(f"{d}: no random-init run among the arguments with its encoder and probe budget "
                            f"({dict(zip(RANDOM_KEYS, key))}); run it with --inits random --evals probe")
        mae, rnd = held_out(res, "mae"), randoms[key][1]
        changed = {k: budget[k] for k in BUDGET_KEYS if budget[k] != reference[k]}
        rows.append({"run": d, "changed": changed, "pretrain_s": res["seconds"].get("pretrain"),
                     "machine": res["machine"], "mae": mae, "random": rnd, "random_run": randoms[key][0],
                     "gap": {pool: round(mae[pool] - rnd[pool], 2) for pool in mae if pool in rnd}})
    return rows


def signed(v) -> str:
    return "-" if v is None else f"{v:+.2f}"


def markdown(rows: list, title: str, command: str, notes: tuple = (), date: str = None) -> str:
    """The pilots' RESULTS.md section; `date`: when it was made (now, if not given)."""
    ref = rows[0]
    date = date or time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [f"# Probe pilots: {title}", "",
             f"Made by `{command}` on {date} from probe-only runs of "
             "the classification study (one refit each). Scores are held-out top-1 at the lr each probe was refit "
             "with (the best of the lrs tried, or the next where that one diverged when refit), on the held-out "
             "sixth of the training images where the study picks the lr; the test images were not looked at to "
             "choose. Gap = MAE minus the random-init encoder of the same architecture.", "",
             "| run | changed against the first | pretraining s | MAE cls | MAE avg | random cls | random avg "
             "| gap cls | gap avg |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        changed = ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in r["changed"].items())
        lines.append(f"| {os.path.basename(r['run'].rstrip('/'))} | {changed or 'reference'} | {r['pretrain_s']} | "
                     f"{r['mae'].get('cls', '-')} | {r['mae'].get('avg', '-')} | {r['random'].get('cls', '-')} | "
                     f"{r['random'].get('avg', '-')} | {signed(r['gap'].get('cls'))} | {signed(r['gap'].get('avg'))} |")
    machines = sorted({r["machine"] for r in rows})
    lines += ["", f"Reference settings: those of `{os.path.basename(ref['run'].rstrip('/'))}`. Machines: "
              + "; ".join(machines) + ". Pretraining times are those of each process; runs side by side "
              "shared the cores."] + [f"- {n}" for n in notes] + [""]
    return "\n".join(lines)


def main(argv=None) -> list:
    p = argparse.ArgumentParser(prog="python -m tools.studies.probe_pilots",
                                description=__doc__.split("\n")[0])
    p.add_argument("dirs", nargs="+", metavar="DIR", help="--out folders of probe-only study runs")
    p.add_argument("--out", default="docs", help="where probe_pilots*.json and RESULTS.md go")
    p.add_argument("--title", required=True, help="what the pilots share, for the section title")
    p.add_argument("--note", action="append", default=[], metavar="TEXT",
                   help="a sentence under the table (what the pilots show); repeatable")
    args = p.parse_args(argv)
    try:
        rows = pilot_table(args.dirs)
    except DataError as e:
        p.error(str(e))
    os.makedirs(args.out, exist_ok=True)
    base = os.path.join(args.out, f"probe_pilots_{slug(args.title)}")
    with open(base + ".json", "w") as f:
        json.dump(rows, f, indent=1)
    quoted = [shlex.quote(a) for a in [*args.dirs, "--out", args.out, "--title", args.title]]
    command = "python -m tools.studies.probe_pilots " + " ".join(quoted)
    if args.note:  # the sentences are under the table: the command names them, not again in full
        command += " --note ..." * len(args.note)
    about = {"title": args.title, "command": command, "notes": args.note,
             "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    with open(base + NOTES, "w") as f:  # what the section says beside the rows (for the appendix)
        json.dump(about, f, indent=1)
    text = markdown(rows, args.title, command, args.note, about["date"])
    put_section(os.path.join(args.out, "RESULTS.md"), text)
    print(text)
    return rows


if __name__ == "__main__":
    main()
