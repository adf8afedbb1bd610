"""docs/RESULTS.md and its plot from the study's results (tools/studies/classification.py)."""
import os
import re
from fractions import Fraction

from tools.ablate.engine import ASPECT
from tools.studies.classification_merge import BUDGET_DEFAULTS
from tools.studies.sections import put_section

PARTIAL_X = {"partial0": 0, "partial1": 1, "partial2": 2}  # evaluation name -> blocks fine-tuned
EVALS = ("probe", "full", *PARTIAL_X)  # every evaluation of the study, in the order it runs them
CLEARLY = 2  # points: how far above the probe partial fine-tuning must land to count as clearly


def slug(label: str) -> str:
    """A label as a file-name part: lower case, runs of other characters as one '-'."""
    return re.sub(r"[^a-z0-9]+", "-", (label or "").lower()).strip("-")


def names(label: str = "") -> dict:
    """File names and section title of a study run; a labelled run (`--label`, e.g. another budget)
    gets its own, so that it sits beside the main study instead of replacing it."""
    tail = f"_{slug(label)}" if slug(label) else ""
    return {"json": f"study_results{tail}.json", "png": f"study_partial{tail}.png",
            "title": "# Classification study: Fashion-MNIST" + (f", {label}" if label else "")}


def fmt(v) -> str:
    return f"{v:.1f}"


def plot(res: dict, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    depth = res["arch"]["depth"]
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for name, label, style in (("mae", "MAE", "o-"), ("random", "random init", "s--")):
        r = res.get(name)
        if not r:
            continue
        xs = [PARTIAL_X[k] for k in PARTIAL_X if k in r] + ([depth] if "full" in r else [])
        ys = [r[k] for k in PARTIAL_X if k in r] + ([r["full"]] if "full" in r else [])
        line, = ax.plot(xs, ys, style, label=f"{label}: fine-tune last k blocks")
        if "probe" in r:
            ax.plot([0], [r["probe"]["cls"]], "x", ms=9, color=line.get_color(), label=f"{label}: linear probe (cls)")
    ax.axhline(res["pixels"], color="grey", lw=1, ls=":", label="raw-pixel logistic regression")
    ax.set_xticks(list(range(depth + 1)))
    ax.set_xticklabels([str(k) for k in range(depth)] + [f"{depth} (all)"])
    ax.set_xlabel("blocks fine-tuned")
    ax.set_ylabel("Fashion-MNIST test top-1 (%)")
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def clearly_above(partial: float, probe: float) -> bool:
    """The targets' rule for partial fine-tuning (the paper's Figure 9: 1 block lifts the probe
    73.5 -> 81.0): more than CLEARLY points above the class-token probe."""
    return partial > probe + CLEARLY


def targets(res: dict) -> str:
    """The issue's targets, checked against what was measured (a missing run says so)."""
    mae, rnd = res.get("mae", {}), res.get("random", {})
    lines = ["", "**Targets** (same budget, same seed):"]

    def line(text, ok):
        lines.append(f"- {text}: {'not measured' if ok is None else ('met' if ok else 'missed')}")

    full, scratch = mae.get("full"), rnd.get("full")
    line(f"fine-tuning from MAE ({fmt(full) if full else '-'}) beats training from scratch "
         f"({fmt(scratch) if scratch else '-'})", None if full is None or scratch is None else full > scratch)
    pm, pr = mae.get("probe", {}).get("cls"), rnd.get("probe", {}).get("cls")
    line(f"MAE linear probe (cls, {fmt(pm) if pm else '-'}) beats the random encoder's "
         f"({fmt(pr) if pr else '-'}) by at least 10 points", None if pm is None or pr is None else pm - pr >= 10)
    line(f"MAE linear probe beats the 82.7% raw-pixel figure of DATA.md (best probe here: "
         f"{fmt(max(mae['probe'].values())) if mae.get('probe') else '-'})",
         None if not mae.get("probe") else max(mae["probe"].values()) > 82.7)
    p1 = mae.get("partial1")
    line(f"partial fine-tuning of 1 block ({fmt(p1) if p1 else '-'}) lands clearly above the linear probe",
         None if p1 is None or pm is None else clearly_above(p1, pm))
    return "\n".join(lines) + "\n"


def crop_text(crop_min: float) -> str:
    """The pretraining crop in words: at area 1 the random resized crop only jitters the aspect
    (one side cut by up to 1 - sqrt(3/4), 13%), which '(1-1)' would hide."""
    if crop_min >= 1:
        lo, hi = (Fraction(r).limit_denominator(10) for r in ASPECT)
        return f"resized crop at full area (only the aspect jittered, {lo}-{hi})"
    return f"resized crop ({crop_min:g}-1)"


def probe_lr_text(res: dict) -> str:
    """Which LARS base lr each probe used, and how it was chosen (older results: the fixed rule)."""
    chosen = {name: res[name].get("probe_lr") for name in ("mae", "random") if res.get(name, {}).get("probe_lr")}
    if not chosen:
        return "Base lr 0.1 x batch/256 (the paper's rule)."
    tried = next(iter(next(iter(chosen.values())).values()))["held_out_top1"]
    picks = "; ".join(f"{'MAE' if name == 'mae' else 'random init'}: " + ", ".join(
        f"{pool} {d['base_lr']:g}" for pool, d in pools.items()) for name, pools in chosen.items())
    text = (f"The base lr (x batch/256) is chosen among {', '.join(tried)} on a held-out sixth of the "
            f"training images, then the probe is refit on all of them (chosen: {picks}; the held-out "
            f"scores are in {names(res['config'].get('label'))['json']}).")
    refits = {f"{'MAE' if name == 'mae' else 'random init'} {pool}": d["refit_test_top1"]
              for name, pools in chosen.items() for pool, d in pools.items() if d.get("refit_test_top1")}
    seeds = refit_seeds(res)
    if refits:
        text += (f" Each probe is refit {len(seeds)} times (seeds {', '.join(map(str, seeds))}) and the table "
                 f"shows the mean, because one refit can move ~2 points with the seed alone; the refits' test "
                 f"top-1: " + "; ".join(f"{k} {' / '.join(fmt(v) for v in tops)}" for k, tops in refits.items()) + ".")
    return text


def refit_seeds(res: dict) -> list:
    """The seeds each probe's figure averages ([] for one refit, as in results made before refits were repeated)."""
    return next((d["refit_seeds"] for name in ("mae", "random") for d in res.get(name, {}).get("probe_lr", {}).values()
                 if d.get("refit_seeds")), [])


def setting(config: dict, key: str):
    """A flag's value in a study's config, or its default for results made before the flag existed."""
    return config.get(key, BUDGET_DEFAULTS[key])


def write_report(res: dict, out: str) -> str:
    """The plot and RESULTS.md's section of a study result, in `out`."""
    plot(res, os.path.join(out, names(res["config"].get("label"))["png"]))
    return put_section(os.path.join(out, "RESULTS.md"), report(res))  # the others' sections stay


def report(res: dict) -> str:
    """The study's RESULTS.md section, from its results alone (tools/studies/results.py
    regenerates it from the JSON)."""
    c, a = res["config"], res["arch"]
    files = names(c.get("label"))
    cmd = ("python -m tools.studies.classification --out docs --pretrain-epochs {pretrain_epochs} "
           "--ft-epochs {ft_epochs} --probe-epochs {probe_epochs} --batch {batch} --seed {seed}"
           ).format(**c)
    cmd += f" --probe-refits {len(refit_seeds(res)) or 1}"
    for key in ("decoder_depth", "decoder_width", "patch_size", "embed_dim", "mask_ratio", "crop_min"):  # flags added later: named when not the default
        if setting(c, key) != BUDGET_DEFAULTS[key]:
            cmd += f" --{key.replace('_', '-')} {c[key]}"
    if c.get("evals") != "merged":  # one process that ran a subset: its command says so
        for flag, every in (("inits", {"mae", "random"}), ("evals", set(EVALS))):
            if c.get(flag) and {v.strip() for v in c[flag].split(",")} != every:
                cmd += f" --{flag} {c[flag]}"
    if c.get("label"):
        cmd += f" --label '{c['label']}'"
    produced = (f"Produced by processes that split `{cmd}` with `--inits`/`--evals`, joined with `--merge` (the "
                f"last note names each one's share),") if c.get("evals") == "merged" else f"Produced by one command (`{cmd}`)"
    rows = []
    for name, label in (("mae", "MAE pretrained"), ("random", "random init")):
        r = res.get(name, {})
        probe = r.get("probe", {})
        cells = [probe.get("cls"), probe.get("avg")] + [r.get(k) for k in PARTIAL_X] + [r.get("full")]
        rows.append(f"| {label} | " + " | ".join(fmt(v) if v is not None else "-" for v in cells) + " |")
    secs = res["seconds"]
    text = f"""{files['title']}

{produced} on {res['date']}, on {res['machine']}. Seed {c['seed']},
the same for every run. Total time {sum(secs.values()):.0f} s.

**Setup.** A ViT with patch {a['patch_size']} on the 28x28 grey images ({(a['img_size'] // a['patch_size']) ** 2}
tokens), {a['embed_dim']} wide, {a['depth']} blocks, {a['num_heads']} heads; MAE decoder
{res['decoder']['decoder_depth']} blocks x {res['decoder']['decoder_embed_dim']}, mask ratio {setting(c, 'mask_ratio'):g},
normalised-pixel loss. Pretraining: {c['pretrain_epochs']} epochs on the {res['train_images']} training images (labels
unused), AdamW (0.9, 0.95), wd 0.05, lr {c['mae_blr']:g} x batch/256, batch {c['batch']}, random
{crop_text(setting(c, 'crop_min'))} + flip. Every evaluation uses the 10k test images once, at the end; nothing
was tuned on them.
- Linear probe: frozen encoder (eval mode), BatchNorm1d without affine + linear head, LARS (no
  weight decay), {c['probe_epochs']} epochs on features cached once per image (no augmentation); class-token
  and average-pooled features. {probe_lr_text(res)}
- Partial / full fine-tuning: {c['ft_epochs']} epochs each, the IN-1K recipe scaled down: AdamW + layer
  decay 0.75, lr {c['ft_blr']:g} x batch/256, drop path 0.1, Mixup 0.8 / CutMix 1.0, label smoothing
  0.1, random resized crop (0.35-1) + flip (no RandAugment on 28-px grey images), warmup + cosine.
  k blocks = the last k blocks + fc_norm + head train, the rest frozen in eval mode; "all" trains
  every parameter. The random-init "all" column is the from-scratch supervised ViT with the same
  fine-tuning budget.
- Raw pixels: multinomial logistic regression on standardised pixels (L-BFGS, small L2).

| encoder | linear probe (cls) | linear probe (avg) | k=0 | k=1 | k=2 | all (full fine-tune) |
|---|---|---|---|---|---|---|
{chr(10).join(rows)}
| raw pixels, logistic regression | {fmt(res['pixels'])} | | | | | |

![accuracy vs blocks fine-tuned]({files['png']})

Time per stage (s): {', '.join(f'{k} {v}' for k, v in secs.items())}.
{targets(res)}{''.join(chr(10) + '- ' + n for n in res.get('notes', []))}
"""
    return text
