"""The small-scale classification study (docs/RESULTS.md), in one command:

    python -m tools.study_classification --out docs

The defaults are the GPU budget (100 pretraining epochs). On a 2-core CPU the study in RESULTS.md used
`--pretrain-epochs 10 --ft-epochs 5` (about 11 minutes of pretraining, 2.5 hours in all).

On Fashion-MNIST (Debian package `dataset-fashion-mnist`): pretrain a tiny MAE on the 60k training
images, then on the 10k test images evaluate linear probes (class token and pooled features),
partial fine-tuning (k = 0, 1, 2 blocks) and full fine-tuning, from the MAE and from a randomly
initialised ViT (whose full fine-tune is the from-scratch supervised baseline with the same
budget), plus a raw-pixel logistic regression. Writes RESULTS.md, study_results.json and
study_partial.png (with `--label`, its own section and files beside those). A study split over
processes (`--inits`, `--evals`) is joined with `--merge DIR...`.

Our components are the ones a config run uses (MaskedAutoencoder, ViTClassifier, the layer-decay
constructor, LARS, timm Mixup/CutMix and losses, the checkpoint library). The loops are written
here rather than run through mmengine's Runner because the study repeats ten trainings on a 28-px
dataset that lives on the GPU: batches are sliced and augmented there (random resized crop + flip
as one batched affine resampling), which a per-image DataLoader cannot feed fast enough.
"""
import argparse
import copy
import gzip
import json
import math
import os
import platform
import subprocess
import time

import numpy as np
import torch
import torch.nn.functional as F

from pretrain.checkpoint import encoder_state, load_pretrained
from pretrain.resilience.atomic import atomic_torch_save, atomic_write
from pretrain.data import DataError
from pretrain.mae import MaskedAutoencoder
from pretrain.optim import build_adamw
from transfer.classification import ViTClassifier
from transfer.classification.probe_cache import cache_features, choose_probe_lr, probe_accuracy, refit_probe
from transfer.layer_decay import LayerDecayOptimWrapperConstructor
from tools.study_merge import BUDGET_DEFAULTS, merge_results
from tools.study_report import ASPECT, EVALS, PARTIAL_X, names, write_report

FMNIST_DIRS = ("data/fashion-mnist", "/usr/share/datasets/fashion-mnist")
MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST training-set pixel statistics
ARCH = dict(img_size=28, patch_size=BUDGET_DEFAULTS["patch_size"], in_chans=1, embed_dim=BUDGET_DEFAULTS["embed_dim"],
            depth=4, num_heads=4)
ENCODER_FLAGS = ("patch_size", "embed_dim")  # `--patch-size`, `--embed-dim`: they change both encoders
PRETRAIN_FLAGS = ("mask_ratio", "crop_min")  # `--mask-ratio`, `--crop-min`: they change only the MAE pretraining
DECODER = dict(decoder_embed_dim=BUDGET_DEFAULTS["decoder_width"], decoder_depth=BUDGET_DEFAULTS["decoder_depth"],
               decoder_num_heads=4)
# What the loops below train, unless `args.spec` replaces it (`mae ablate --scale`, configs/ablate/):
# the encoder, default decoder, per-channel normalisation and class count.
FMNIST_SPEC = dict(arch=ARCH, decoder=DECODER, mean=MEAN, std=STD, num_classes=10)
FEATURE_CHUNK = 8192  # images normalised at a time for the probes' features (a multiple of their batch of 512)
PARTIAL = tuple(PARTIAL_X.values())  # the k of the partial fine-tunes
PROBE_LRS = (0.1, 1.0, 10.0, 100.0)  # LARS base lrs tried on held-out training images (0.1: the paper's rule)


def read_idx(path: str) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def load_fmnist(root: str = None) -> dict:
    roots = [root] if root else list(FMNIST_DIRS)
    for r in roots:
        if r and os.path.isfile(os.path.join(r, "train-images-idx3-ubyte.gz")):
            get = lambda name: torch.from_numpy(read_idx(os.path.join(r, name)).copy())  # noqa: E731
            return {"train": (get("train-images-idx3-ubyte.gz"), get("train-labels-idx1-ubyte.gz").long()),
                    "test": (get("t10k-images-idx3-ubyte.gz"), get("t10k-labels-idx1-ubyte.gz").long())}
    raise DataError(f"Fashion-MNIST not found in {roots}: apt-get install dataset-fashion-mnist")


def spec_of(args) -> dict:
    """The data and model spec: a caller's own (`mae ablate`'s scales), else Fashion-MNIST's with
    `--patch-size` and `--embed-dim` (both the MAE and the random-init encoder are built with them)."""
    if getattr(args, "spec", None):
        return args.spec
    changed = {k: getattr(args, k) for k in ENCODER_FLAGS if getattr(args, k, None) not in (None, ARCH[k])}
    return {**FMNIST_SPEC, "arch": {**ARCH, **changed}} if changed else FMNIST_SPEC


def saved_encoder_spec(blob: dict) -> dict:
    """The spec of an encoder saved by `pretrained_encoder` (its settings name a patch size or width
    only when it is not the default), for the tools that probe such a file."""
    return spec_of(argparse.Namespace(**{k: blob.get("settings", {}).get(k) for k in ENCODER_FLAGS}))


def normalise(x: torch.Tensor, spec: dict = None) -> torch.Tensor:
    """uint8 grey (N, H, W) or (N, C, H, W) images -> standardised float (N, C, H, W)."""
    mean, std = (spec["mean"], spec["std"]) if spec else (MEAN, STD)
    if x.dim() == 3:  # grey: scalar statistics, exactly the study's arithmetic
        return ((x.float() / 255 - mean) / std).unsqueeze(1)
    stat = lambda v: torch.as_tensor(v, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)  # noqa: E731
    return (x.float() / 255 - stat(mean)) / stat(std)


def augment(x: torch.Tensor, scale=(0.2, 1.0), gen: torch.Generator = None) -> torch.Tensor:
    """Random resized crop (area in `scale`, aspect 3/4 ... 4/3) + horizontal flip for a batch,
    as one affine resampling per image (bilinear)."""
    b, dev = x.shape[0], x.device
    u = torch.rand(b, 5, generator=gen, device=dev)
    area = scale[0] + (scale[1] - scale[0]) * u[:, 0]
    ratio = torch.exp(math.log(ASPECT[0]) + (math.log(ASPECT[1]) - math.log(ASPECT[0])) * u[:, 1])
    w, h = (area * ratio).sqrt().clamp(max=1), (area / ratio).sqrt().clamp(max=1)
    cx, cy = (1 - w) * (2 * u[:, 2] - 1), (1 - h) * (2 * u[:, 3] - 1)
    flip = torch.where(u[:, 4] < 0.5, -1.0, 1.0)
    theta = torch.zeros(b, 2, 3, device=dev)
    theta[:, 0, 0], theta[:, 0, 2], theta[:, 1, 1], theta[:, 1, 2] = w * flip, cx, h, cy
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def warmup_steps(epochs: int, steps_per_epoch: int) -> int:
    """A tenth of the schedule, in whole epochs from 10 epochs up (the recipes' 1-in-10), in steps
    below that: a 1-epoch run with a 1-epoch warmup would never reach its cosine decay."""
    if epochs >= 10:
        return (epochs // 10) * steps_per_epoch
    return max(1, epochs * steps_per_epoch // 10)


def lr_factor(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return step / warmup
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def batches(n: int, batch: int, gen: torch.Generator, device):
    order = torch.randperm(n, generator=gen).to(device)
    for i in range(n // batch):
        yield order[i * batch:(i + 1) * batch]


def autocast(device):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def pretrain_setting(args, key: str):
    """`--mask-ratio` / `--crop-min`, or the default for callers without them (`mae ablate`'s arms)."""
    return getattr(args, key, BUDGET_DEFAULTS[key])


def pretrain_mae(x: torch.Tensor, args, device, model_kw: dict = None, setup=None, transform=None) -> tuple:
    """`model_kw` overrides MaskedAutoencoder arguments (the ablation arms of `mae ablate`), `setup(mae)`
    runs before training (a PCA target's basis), `transform(idx, epoch)` gives the augmented uint8
    images x[idx] in place of the batched crop + flip (the augmentation ablation)."""
    torch.manual_seed(args.seed)
    spec = spec_of(args)
    kw = {**spec["arch"], **spec["decoder"], "norm_pix_loss": True, "mask_ratio": pretrain_setting(args, "mask_ratio"),
          **(model_kw or {})}
    mae = MaskedAutoencoder(**kw).to(device)
    if setup is not None:
        setup(mae)
    opt = build_adamw(mae, lr=args.mae_blr * args.batch / 256, weight_decay=0.05, betas=(0.9, 0.95))
    peak = [g["lr"] for g in opt.param_groups]
    gen = torch.Generator().manual_seed(args.seed)
    aug_gen = torch.Generator(device=device).manual_seed(args.seed)
    steps = len(x) // args.batch
    total, warm = args.pretrain_epochs * steps, warmup_steps(args.pretrain_epochs, steps)
    losses, step, crop = [], 0, (pretrain_setting(args, "crop_min"), 1.0)
    for epoch in range(args.pretrain_epochs):
        for idx in batches(len(x), args.batch, gen, device):
            for g, p in zip(opt.param_groups, peak):
                g["lr"] = p * lr_factor(step, total, warm)
            if transform:
                imgs = normalise(transform(idx, epoch), spec)
            else:
                imgs = augment(normalise(x[idx], spec), crop, aug_gen)
            with autocast(device):
                loss, _, _ = mae.forward_mae(imgs)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
        losses.append(round(loss.item(), 4))  # last batch of each epoch
        if epoch % max(1, args.pretrain_epochs // 10) == 0 or epoch == args.pretrain_epochs - 1:
            log(f"pretrain epoch {epoch + 1}/{args.pretrain_epochs} loss {loss.item():.4f}")
    return encoder_state(mae.state_dict(), "the study's MAE"), losses


def build(init, spec: dict = FMNIST_SPEC, **kw) -> ViTClassifier:
    model = ViTClassifier(num_classes=spec["num_classes"], **spec["arch"], **kw)
    if init is not None:
        report = load_pretrained(model, init, source="the study's MAE", **model.load_from_rules())
        assert not report.resized
    return model


@torch.no_grad()
def test_top1(model, x, y, device, spec: dict = None) -> float:
    model.eval()
    correct = 0
    for i in range(0, len(x), 1000):
        with autocast(device):
            correct += (model(normalise(x[i:i + 1000], spec)).argmax(1) == y[i:i + 1000]).sum().item()
    return 100.0 * correct / len(x)


def finetune(init, trainable, data, args, device, name: str = "fine-tune") -> float:
    """The IN-1K fine-tuning recipe, small: AdamW + layer decay 0.75, drop path 0.1, Mixup 0.8 /
    CutMix 1.0, label smoothing 0.1, random resized crop + flip, warmup + cosine. Logs each epoch's
    last loss and an ETA (a CPU fine-tune runs for many minutes)."""
    torch.manual_seed(args.seed)
    spec = spec_of(args)
    model = build(init, spec, drop_path_rate=0.1, trainable=trainable,
                  mixup=dict(mixup_alpha=0.8, cutmix_alpha=1.0, label_smoothing=0.1)).to(device)
    ctor = LayerDecayOptimWrapperConstructor(
        dict(type="OptimWrapper", optimizer=dict(type="AdamW", lr=args.ft_blr * args.batch / 256,
                                                 weight_decay=0.05, betas=(0.9, 0.999))),
        dict(layer_decay_rate=0.75, variant="mae"))
    opt = ctor(model).optimizer
    peak = [g["lr"] for g in opt.param_groups]
    (x, y), (xt, yt) = data["train"], data["test"]
    gen = torch.Generator().manual_seed(args.seed)
    aug_gen = torch.Generator(device=device).manual_seed(args.seed)
    steps = len(x) // args.batch
    total, warm = args.ft_epochs * steps, warmup_steps(args.ft_epochs, steps)
    step, start = 0, time.time()
    model.train()
    for epoch in range(args.ft_epochs):
        for idx in batches(len(x), args.batch, gen, device):
            for g, p in zip(opt.param_groups, peak):
                g["lr"] = p * lr_factor(step, total, warm)
            with autocast(device):
                loss = model(augment(normalise(x[idx], spec), (0.35, 1.0), aug_gen), y[idx], mode="loss")["loss"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
        spent = time.time() - start
        log(f"{name} epoch {epoch + 1}/{args.ft_epochs} loss {loss.item():.4f} "
            f"({spent:.0f} s, ETA {spent / (epoch + 1) * (args.ft_epochs - epoch - 1) / 60:.1f} min)")
    return test_top1(model, xt, yt, device, spec)


def features(model, x: torch.Tensor, spec: dict, device) -> torch.Tensor:
    """The frozen encoder's pooled features of uint8 images, normalised a chunk at a time (224-px
    RGB training sets would not fit in memory as float all at once); the same batches of 512."""
    dtype = torch.bfloat16 if device.type == "cuda" else None
    return torch.cat([cache_features(model, normalise(x[i:i + FEATURE_CHUNK], spec), autocast_dtype=dtype)
                      for i in range(0, len(x), FEATURE_CHUNK)])


def probe_model(init, pool: str, spec: dict) -> ViTClassifier:
    """The frozen encoder with the probe head (BatchNorm1d without affine + linear) on `pool` features."""
    return build(init, spec, global_pool=pool == "avg", probe_bn=True, head_init_std=0.01, trainable="head")


def linear_probes(init, data, args, device, pools=("cls", "avg"), details: dict = None) -> dict:
    """Class-token and pooled-feature probes on features cached once per image. The LARS base lr
    of each is chosen on a held-out sixth of the training images, then the probe is refit on all
    of them `--probe-refits` times (seeds seed, seed+1, ...) and each refit scored once on the test
    images; the mean is returned. Several refits because one refit of the MAE class-token probe
    moved ~2 points with only the seed or the thread count changed (tools/probe_spread.py), more
    than some of the gaps the study reports. `details` receives the chosen lrs, their held-out
    scores and every refit's test top-1."""
    (x, y), (xt, yt) = data["train"], data["test"]
    refits = range(args.seed, args.seed + args.probe_refits)
    out = {}
    for name in pools:
        torch.manual_seed(args.seed)
        model = probe_model(init, name, spec_of(args)).to(device)
        f, ft = (features(model, a, spec_of(args), device) for a in (x, xt))
        _, held_out = choose_probe_lr(model.head, f, y, PROBE_LRS, epochs=args.probe_epochs, batch_size=args.batch,
                                       seed=args.seed)
        tops, lrs, rejected = [], [], set()
        for seed in refits:
            head, lr, dropped = refit_probe(copy.deepcopy(model.head), f, y, held_out, epochs=args.probe_epochs,
                                            batch_size=args.batch, seed=seed)
            tops.append(probe_accuracy(head, ft, yt))
            lrs.append(lr)
            rejected.update(dropped)
        out[name] = sum(tops) / len(tops)
        if details is not None:
            details[name] = {"base_lr": lrs[0], "held_out_top1": {str(k): round(v, 2) for k, v in held_out.items()}}
            if len(set(lrs)) > 1:  # a refit fell back to another lr (refit_probe)
                details[name]["refit_base_lr"] = lrs
            if len(tops) > 1:
                details[name]["refit_seeds"] = list(refits)
                details[name]["refit_test_top1"] = [round(t, 2) for t in tops]
            if rejected:
                details[name]["diverged_on_refit"] = sorted(rejected)
        log(f"probe ({name}): base lr {lrs} chosen on held-out training images {held_out}"
            f"{f' (refit diverged at {sorted(rejected)})' if rejected else ''}; test {[round(t, 2) for t in tops]}, "
            f"mean {out[name]:.2f}")
    return out


def logistic_regression(a: torch.Tensor, y: torch.Tensor, at: torch.Tensor, yt: torch.Tensor, l2: float = 1e-4,
                        steps: int = 300) -> float:
    """Top-1 on (at, yt) of multinomial logistic regression fitted on (a, y) to convergence: features
    standardised with the fitting set's statistics, full batch, L-BFGS, L2 `l2` on the weights. The
    raw-pixel baseline, and tools/probe_convergence.py's check of the LARS probe."""
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


def machine() -> str:
    try:
        cpu = [ln.split(":", 1)[1].strip() for ln in subprocess.run(["lscpu"], capture_output=True, text=True)
               .stdout.splitlines() if ln.startswith("Model name")][0]
    except Exception:
        cpu = platform.processor() or "unknown CPU"
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    # the thread count changes float sums, and the probe's refit is sensitive to them (RESULTS)
    n = torch.get_num_threads()
    return f"{gpu}; CPU {cpu}, {n} torch thread{'' if n == 1 else 's'}"


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
    p = argparse.ArgumentParser(prog="python -m tools.study_classification", description=__doc__.split("\n")[0],
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
