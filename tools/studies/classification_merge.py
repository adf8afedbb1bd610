"""Joining a classification study that ran as several processes (`--inits`, `--evals`): a study on
two CPU cores takes hours, and split processes are how it finishes within a session."""
import copy
import json
import os
import re

from pretrain.errors import DataError
from tools.ablate.engine import ARCH, DECODER, PRETRAIN_DEFAULTS

PIXELS_RERUN_SPREAD = 0.5  # points: reruns of the float32 pixel baseline differ by ~0.1; more means other data
BUDGET_KEYS = ("pretrain_epochs", "ft_epochs", "probe_epochs", "batch", "mae_blr", "ft_blr", "limit", "seed",
               "decoder_depth", "decoder_width", "patch_size", "embed_dim", "mask_ratio", "crop_min")
# what only the MAE results depend on: a random-init process may come from a study that pretrained otherwise
PRETRAIN_KEYS = ("pretrain_epochs", "mae_blr", "decoder_depth", "decoder_width", "mask_ratio", "crop_min")
# flags added after studies were run: what their results files, which lack the key, were run with
# (the engine's defaults, from configs/ablate/fmnist.py and PRETRAIN_DEFAULTS: one source)
BUDGET_DEFAULTS = {"decoder_depth": DECODER["decoder_depth"],
                   "decoder_width": DECODER["decoder_embed_dim"], "patch_size": ARCH["patch_size"],
                   "embed_dim": ARCH["embed_dim"], **PRETRAIN_DEFAULTS}


def budget_of(config: dict) -> dict:
    """A run's budget, with the defaults of flags added after it ran (what the merge and
    tools/studies/probe_pilots compare)."""
    return {k: config[k] if k in config else BUDGET_DEFAULTS[k] for k in BUDGET_KEYS}


def read_results(d: str, who: str = "") -> dict:
    """The one study_results*.json in a run's --out folder (`who` prefixes the error: which tool asked)."""
    found = [f for f in sorted(os.listdir(d)) if re.fullmatch(r"study_results(_.+)?\.json", f)] \
        if os.path.isdir(d) else []
    if len(found) != 1:
        raise DataError(f"{who}{d} holds {len(found)} study results files (study_results*.json), not one")
    with open(os.path.join(d, found[0])) as f:
        return json.load(f)


def merge_results(dirs: list, out: str, label: str = "", evals: tuple = (), notes: tuple = ()) -> dict:
    """One study from the results of processes that split it (`--inits`, `--evals`): each DIR's
    study_results.json must have the same budget and seed, and no evaluation may be measured twice
    with different values; the stage times and a note naming each process's share are kept. `evals`:
    the study's evaluation names, which the note lists per process. `notes` (`--note`): the caller's
    own, after the processes' notes and before the merge's. One DIR: its result, with `notes`, as
    its own command made it (a finished run's report gains notes without being run again)."""
    parts = [(d, read_results(d, "--merge: ")) for d in dirs]
    # the report's settings (pretraining, decoder) are those of the first process that measured the MAE
    first_dir, res = next(((d, part) for d, part in parts if part.get("mae")), parts[0])
    res = copy.deepcopy(res)
    budget = budget_of(res["config"])
    res["seconds"], res["notes"], shares = {}, [], []  # notes: each part's own, then the merge's
    for d, part in parts:
        other = budget_of(part["config"])
        keys = [k for k in BUDGET_KEYS if part.get("mae") or k not in PRETRAIN_KEYS]
        diff = {k: (budget[k], other[k]) for k in keys if budget[k] != other[k]}
        if diff:
            raise DataError(f"--merge: {d} was run with another budget than {first_dir}: {diff}")
        if abs(part["pixels"] - res["pixels"]) > PIXELS_RERUN_SPREAD:
            raise DataError(f"--merge: the pixel baseline is {res['pixels']:.2f} in {first_dir} and "
                            f"{part['pixels']:.2f} in {d}: the data or the code differ")
        for init in ("mae", "random"):
            for key, value in part.get(init, {}).items():
                have = res.setdefault(init, {}).get(key)
                if have is not None and have != value:
                    raise DataError(f"--merge: {init} {key} is {have} in one process and {value} in {d}")
                res[init][key] = value
        if part.get("mae") and "pretrain_losses" in part:
            res["pretrain_losses"] = part["pretrain_losses"]
        res["seconds"].update(part["seconds"])
        res["notes"] += [n for n in part.get("notes", []) if n not in res["notes"]]
        res["date"] = max(res["date"], part["date"])
        measured = [f"{init} {', '.join(k for k in part[init] if k in evals)}" for init in ("mae", "random")
                    if part.get(init)]
        shares.append(f"`--out {d} --inits {part['config']['inits']} --evals {part['config'].get('evals', 'all')}` "
                      f"({'; '.join(measured) or 'pixels only'}; {part['machine']})")
    res["notes"] += [n for n in notes if n not in res["notes"]]
    if len(parts) == 1:  # one process's result put in `out` with `--note`s: still what its own command made
        res["config"].update(out=out, label=label)
        return res
    res["config"].update(out=out, inits="mae,random", evals="merged", label=label)
    pixels = [part["pixels"] for _, part in parts]
    res["pixels"] = sorted(pixels)[len(pixels) // 2]
    if max(pixels) > min(pixels):
        res["notes"].append(f"The raw-pixel baseline is the median of the processes' runs, which ranged "
                            f"{min(pixels):.2f}-{max(pixels):.2f}: float32 L-BFGS over 60k images is not "
                            f"bit-reproducible from run to run on the CPU.")
    cmd = (f"python -m tools.studies.classification --out {out} "
           f"--merge {' '.join(d for d, _ in parts)}")
    cmd += f" --label '{label}'" if label else ""
    res["notes"] += [f"Merged by `{cmd}` from {len(parts)} processes on the same code and seed: "
                    + "; ".join(shares) + ". Stage times are each process's own, so processes that ran side by "
                    "side on the same cores show inflated times."]
    return res
