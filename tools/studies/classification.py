"""The small-scale classification study (docs/RESULTS.md), in one command:

    python -m tools.studies.classification --out docs

The defaults are the GPU budget (100 pretraining epochs). On a 2-core CPU the study in RESULTS.md used
`--pretrain-epochs 10 --ft-epochs 5` (about 11 minutes of pretraining, 2.5 hours in all).

On Fashion-MNIST (Debian package `dataset-fashion-mnist`): pretrain a tiny MAE on the 60k training
images, then on the 10k test images evaluate linear probes (class token and pooled features),
partial fine-tuning (k = 0, 1, 2 blocks) and full fine-tuning, from the MAE and from a randomly
initialised ViT (whose full fine-tune is the from-scratch supervised baseline with the same
budget), plus a raw-pixel logistic regression. Writes RESULTS.md, study_results.json and
study_partial.png (with `--label`, its own section and files beside those). A study split over
processes (`--inits`, `--evals`) is joined with `--merge DIR...`.

The pretraining, probe and fine-tuning loops are `mae ablate`'s (tools/ablate/engine.py: a
dataset that lives on the device, batches augmented there); this module adds the study's flags,
the raw-pixel baseline, the saved encoder, the report and the merge of split processes.
"""
import argparse
import json
import os
import time

import torch
import torch.nn.functional as F

from pretrain.resilience.atomic import atomic_torch_save, atomic_write
from tools.ablate.data import load_fmnist
from tools.ablate.engine import (ARCH, DECODER, ENCODER_FLAGS, finetune, linear_probes, log,
                                 machine, pretrain_mae, pretrain_setting, spec_of)
from tools.studies.classification_merge import BUDGET_DEFAULTS, merge_results
from tools.studies.classification_report import EVALS, PARTIAL_X, names, write_report

PRETRAIN_FLAGS = ("mask_ratio", "crop_min")  # `--mask-ratio`, `--crop-min`: the MAE pretraining
PARTIAL = tuple(PARTIAL_X.values())  # the k of the partial fine-tunes


def saved_encoder_spec(blob: dict) -> dict:
    """The spec of an encoder saved by `pretrained_encoder` (its settings name a patch size or width
    only when it is not the default), for the tools that probe such a file."""
    return spec_of(argparse.Namespace(**{k: blob.get("settings", {}).get(k) for k in ENCODER_FLAGS}))


def logistic_regression(a: torch.Tensor, y: torch.Tensor, at: torch.Tensor, yt: torch.Tensor, l2: float = 1e-4,
                        steps: int = 300) -> float:
    """Top-1 on (at, yt) of multinomial logistic regression fitted on (a, y) to convergence: features
    standardised with the fitting set's statistics, full batch, L-BFGS, L2 `l2` on the weights. The
    raw-pixel baseline, and tools/studies/probe_convergence.py's check of the LARS probe."""
    mu, sd = a.mean(0), a.std(0) + 1e-3
    a, at = (a - mu) / sd, (at - mu) / sd
    lin = torch.nn.Linear(a.shape[1], int(y.max()) + 1).to(a.device)
    opt = torch.optim.LBFGS(lin.parameters(), lr=1.0, max_iter=steps, history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(lin(a), y) + l2 * lin.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return 100.0 * (lin(at).argmax(1) == yt).float().mean().item()


def pixel_logistic_regression(data, device, steps: int = 300) -> float:
    """The raw-pixel baseline: logistic regression on standardised pixels."""
    (x, y), (xt, yt) = data["train"], data["test"]
    return logistic_regression(x.flatten(1).float() / 255, y, xt.flatten(1).float() / 255, yt, steps=steps)


def study_decoder(args) -> dict:
    """The study's MAE decoder: DECODER with `--decoder-depth` and `--decoder-width` (the paper's Tables
    1a and 1b: a deeper or wider decoder leaves the encoder more abstract features, and so a better
    linear probe)."""
    return {**DECODER, "decoder_depth": args.decoder_depth,
            "decoder_embed_dim": getattr(args, "decoder_width", DECODER["decoder_embed_dim"])}


def pretrained_encoder(x: torch.Tensor, args, device, res: dict) -> tuple:
    """The study's MAE encoder: read back from `OUT/mae_encoder.pth` when a run with the same
    pretraining settings saved it (a stopped study or a re-evaluation does not pretrain again),
    else pretrained now and saved there."""
    key = {k: getattr(args, k) for k in ("pretrain_epochs", "batch", "mae_blr", "seed", "limit")}
    decoder = study_decoder(args)
    if decoder != DECODER:  # only then, so that encoders saved before the flag existed are still reused
        key["decoder"] = decoder
    arch = spec_of(args)["arch"]
    key.update({k: arch[k] for k in ENCODER_FLAGS if arch[k] != ARCH[k]})  # the same, for the encoder flags
    key.update({k: pretrain_setting(args, k) for k in PRETRAIN_FLAGS
                if pretrain_setting(args, k) != BUDGET_DEFAULTS[k]})
    path = os.path.join(args.out, "mae_encoder.pth")
    if os.path.isfile(path):
        blob = torch.load(path, map_location=device, weights_only=True)
        if blob.get("settings") == key:
            log(f"pretrain: reused {path} (made in {blob['seconds']} s)")
            res["seconds"]["pretrain"] = blob["seconds"]
            return blob["state"], blob["losses"]
        log(f"pretrain: {path} was made with other settings ({blob.get('settings')}); pretraining again")
    t = time.time()
    state, losses = pretrain_mae(x, args, device, model_kw=decoder)
    res["seconds"]["pretrain"] = round(time.time() - t, 1)
    log(f"pretrain: {losses[-1]} ({res['seconds']['pretrain']} s)")
    atomic_torch_save({"settings": key, "state": state, "losses": losses, "seconds": res["seconds"]["pretrain"]}, path)
    return state, losses


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m tools.studies.classification",
                                description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--out", default="docs", help="where RESULTS.md, the JSON, the plot and mae_encoder.pth go")
    p.add_argument("--data", default=None, help="folder with the four Fashion-MNIST idx .gz files")
    p.add_argument("--pretrain-epochs", type=int, default=100,
                   help="MAE pretraining epochs over the 60k training images (skipped when OUT/mae_encoder.pth "
                        "from the same settings exists)")
    p.add_argument("--ft-epochs", type=int, default=15, help="epochs of every partial and full fine-tune")
    p.add_argument("--probe-epochs", type=int, default=30, help="LARS epochs of each linear probe")
    p.add_argument("--probe-refits", type=int, default=3,
                   help="refits of each probe on all training images (seeds seed, seed+1, ...); the mean is reported")
    p.add_argument("--batch", type=int, default=256, help="batch size of every stage; lrs scale by batch/256")
    p.add_argument("--mae-blr", type=float, default=1.5e-4 * 8, help="pretraining base lr (x batch/256)")
    p.add_argument("--decoder-depth", type=int, default=DECODER["decoder_depth"],
                   help="MAE decoder blocks; the paper's default is 8")
    p.add_argument("--decoder-width", type=int, default=DECODER["decoder_embed_dim"],
                   help="MAE decoder width (a multiple of its 4 heads); the paper's is half the encoder's")
    p.add_argument("--patch-size", type=int, default=ARCH["patch_size"],
                   help="ViT patch size on the 28-px images (must divide 28); fewer tokens make an epoch cheaper")
    p.add_argument("--embed-dim", type=int, default=ARCH["embed_dim"],
                   help="ViT width (a multiple of its 4 heads); the linear probes read features this wide")
    p.add_argument("--mask-ratio", type=float, default=BUDGET_DEFAULTS["mask_ratio"],
                   help="share of the patches the MAE masks in pretraining (the paper's Figure 5)")
    p.add_argument("--crop-min", type=float, default=BUDGET_DEFAULTS["crop_min"],
                   help="smallest area of the pretraining's random resized crop (the paper's Table 1e)")
    p.add_argument("--ft-blr", type=float, default=1e-3, help="fine-tuning base lr (x batch/256)")
    p.add_argument("--limit", type=int, default=0, help="use only this many train/test images (a quick check)")
    p.add_argument("--seed", type=int, default=0, help="one seed for every stage")
    p.add_argument("--inits", default="mae,random",
                   help="which encoders to evaluate: 'mae', 'random' or both (two processes can split a study)")
    p.add_argument("--evals", default=",".join(EVALS),
                   help="which evaluations to run (a subset lets processes split a study)")
    p.add_argument("--merge", nargs="+", metavar="DIR",
                   help="run nothing: join the results of processes that split a study (their --out folders) "
                        "into one report in --out")
    p.add_argument("--label", default="",
                   help="name of a run beside the main study (e.g. another budget): its own RESULTS.md section, "
                        "JSON and plot instead of replacing the main study's")
    p.add_argument("--note", action="append", default=[], metavar="TEXT",
                   help="a sentence the report carries under the table (why this run, what shared the cores); "
                        "repeatable, and kept by --merge")
    args = p.parse_args(argv)

    def save(res: dict) -> None:  # after every stage, so that a stopped study still leaves what it measured
        # atomic: a study stopped mid-write keeps the last file whole
        os.makedirs(args.out, exist_ok=True)
        atomic_write(os.path.join(args.out, names(args.label)["json"]), json.dumps(res, indent=1))
        if "pixels" in res:
            write_report(res, args.out)

    if args.merge:
        save(merge_results(args.merge, args.out, args.label, EVALS, notes=args.note))
        log(f"merged {len(args.merge)} processes' results into {args.out}")
        return

    def subset(flag: str, value: str, known: list) -> list:
        picked = [v.strip() for v in value.split(",") if v.strip()]
        if not picked or set(picked) - set(known):
            p.error(f"--{flag} takes some of {known}, got {value!r}")
        return picked

    evals = subset("evals", args.evals, list(EVALS))
    dec_heads, heads, img = DECODER["decoder_num_heads"], ARCH["num_heads"], ARCH["img_size"]
    for flag, ok, need in (("probe-refits", args.probe_refits >= 1, "at least 1"),
                           ("decoder-depth", args.decoder_depth >= 1, "at least 1"),
                           ("decoder-width", args.decoder_width >= 1 and args.decoder_width % dec_heads == 0,
                            f"a positive multiple of {dec_heads}"),
                           ("embed-dim", args.embed_dim >= 1 and args.embed_dim % heads == 0,
                            f"a positive multiple of {heads}"),
                           ("mask-ratio", 0 < args.mask_ratio < 1, "between 0 and 1"),
                           ("crop-min", 0 < args.crop_min <= 1, "in (0, 1]"),
                           ("patch-size", args.patch_size >= 1 and img % args.patch_size == 0,
                            f"a divisor of the {img}-px images")):
        if not ok:
            p.error(f"--{flag} must be {need}, got {getattr(args, flag.replace('-', '_'))}")
    inits = subset("inits", args.inits, ["mae", "random"])
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    data = load_fmnist(args.data)
    if args.limit:
        data = {k: (x[:args.limit], y[:args.limit]) for k, (x, y) in data.items()}
    data = {k: (x.to(device), y.to(device)) for k, (x, y) in data.items()}
    os.makedirs(args.out, exist_ok=True)
    config = {k: v for k, v in vars(args).items() if k != "note"}  # the notes are kept once, in res["notes"]
    res = {"config": config, "train_images": len(data["train"][0]), "arch": spec_of(args)["arch"], "decoder": study_decoder(args),
           "machine": machine(),
           "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "seconds": {}, "notes": list(args.note)}

    def timed(name, fn):
        t = time.time()
        value = fn()
        res["seconds"][name] = round(time.time() - t, 1)
        shown = value[1][-1] if isinstance(value, tuple) else value  # pretraining: its last loss
        log(f"{name}: {shown} ({res['seconds'][name]} s)")
        return value

    res["pixels"] = timed("pixel logistic regression", lambda: pixel_logistic_regression(data, device))
    state = None
    if "mae" in inits:
        state, res["pretrain_losses"] = pretrained_encoder(data["train"][0], args, device, res)
        save(res)
    for init_name, init in (("mae", state), ("random", None)):
        if init_name not in inits:
            continue
        r = res[init_name] = {}
        if "probe" in evals:
            r["probe_lr"] = {}
            r["probe"] = timed(f"{init_name} linear probes",
                               lambda: linear_probes(init, data, args, device, details=r["probe_lr"]))
            save(res)
        for k in ("all",) + PARTIAL:  # full fine-tuning first: for random init, the from-scratch baseline
            key = "full" if k == "all" else f"partial{k}"
            if key not in evals:
                continue
            r[key] = timed(f"{init_name} {key}", lambda: finetune(init, k, data, args, device, f"{init_name} {key}"))
            save(res)


if __name__ == "__main__":
    main()
