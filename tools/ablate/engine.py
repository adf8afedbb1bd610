"""The training loops `mae ablate` runs, and the classification study with it
(tools/studies/classification.py imports them; nothing here imports the studies).

On a small dataset that lives on the device (Fashion-MNIST, or an ImageFolder scale decoded once by
data.py): MAE pretraining, linear probes on cached features, partial and full fine-tuning, with
batches sliced and augmented there (random resized crop + flip as one batched affine resampling),
which a per-image DataLoader cannot feed fast enough. The components are the ones a config run uses
(MaskedAutoencoder, ViTClassifier, the layer-decay constructor, LARS, timm Mixup/CutMix and losses,
the checkpoint library). The default model is Fashion-MNIST's, read from configs/ablate/fmnist.py:
one source for `mae ablate`'s default scale and the study.
"""
import copy
import math
import platform
import subprocess
import time

import torch
import torch.nn.functional as F

from pretrain.checkpoint import encoder_state, load_pretrained
from pretrain.mae import MaskedAutoencoder
from pretrain.optim import build_adamw
from tools.ablate.scale import load_scale
from transfer.classification import ViTClassifier
from transfer.classification.probe_cache import (cache_features, choose_probe_lr, probe_accuracy,
                                                 refit_probe)
from transfer.layer_decay import LayerDecayOptimWrapperConstructor

_FMNIST = load_scale("fmnist")
MEAN, STD = _FMNIST["mean"], _FMNIST["std"]  # Fashion-MNIST training-set pixel statistics
ARCH, DECODER = _FMNIST["arch"], _FMNIST["decoder"]  # the tiny ViT and its MAE decoder
# What the loops below train, unless `args.spec` replaces it (`mae ablate --scale`,
# configs/ablate/): the encoder, default decoder, per-channel normalisation and class count.
FMNIST_SPEC = dict(arch=ARCH, decoder=DECODER, mean=MEAN, std=STD, num_classes=10)
ENCODER_FLAGS = ("patch_size", "embed_dim")  # args that change both encoders (the study's flags)
# The pretraining's mask ratio and smallest crop area where the caller's args lack them (`mae
# ablate`'s arms; the study's --mask-ratio and --crop-min defaults), and the crop's aspect range
PRETRAIN_DEFAULTS = {"mask_ratio": 0.75, "crop_min": 0.2}
ASPECT = (3 / 4, 4 / 3)
FEATURE_CHUNK = 8192  # images normalised at a time for the probes' features (a multiple of 512)
PROBE_LRS = (0.1, 1.0, 10.0, 100.0)  # LARS base lrs tried on held-out images (0.1: the paper's)


def spec_of(args) -> dict:
    """The data and model spec: a caller's own (`mae ablate`'s scales), else Fashion-MNIST's with
    `--patch-size` and `--embed-dim` (both the MAE and the random-init encoder are built with
    them)."""
    if getattr(args, "spec", None):
        return args.spec
    changed = {k: getattr(args, k) for k in ENCODER_FLAGS
               if getattr(args, k, None) not in (None, ARCH[k])}
    return {**FMNIST_SPEC, "arch": {**ARCH, **changed}} if changed else FMNIST_SPEC


def normalise(x: torch.Tensor, spec: dict = None) -> torch.Tensor:
    """uint8 grey (N, H, W) or (N, C, H, W) images -> standardised float (N, C, H, W)."""
    mean, std = (spec["mean"], spec["std"]) if spec else (MEAN, STD)
    if x.dim() == 3:  # grey: scalar statistics, exactly the study's arithmetic
        return ((x.float() / 255 - mean) / std).unsqueeze(1)

    def stat(v):
        return torch.as_tensor(v, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
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
    """`--mask-ratio` / `--crop-min`, or the default for callers without them (`mae ablate`'s
    arms)."""
    return getattr(args, key, PRETRAIN_DEFAULTS[key])


def pretrain_mae(x: torch.Tensor, args, device, model_kw: dict = None, setup=None,
                 transform=None) -> tuple:
    """`model_kw` overrides MaskedAutoencoder arguments (the ablation arms of `mae ablate`),
    `setup(mae)` runs before training (a PCA target's basis), `transform(idx, epoch)` gives the
    augmented uint8 images x[idx] in place of the batched crop + flip (the augmentation
    ablation)."""
    torch.manual_seed(args.seed)
    spec = spec_of(args)
    kw = {**spec["arch"], **spec["decoder"], "norm_pix_loss": True,
          "mask_ratio": pretrain_setting(args, "mask_ratio"), **(model_kw or {})}
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
            logits = model(normalise(x[i:i + 1000], spec))
            correct += (logits.argmax(1) == y[i:i + 1000]).sum().item()
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
                imgs = augment(normalise(x[idx], spec), (0.35, 1.0), aug_gen)
                loss = model(imgs, y[idx], mode="loss")["loss"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
        spent = time.time() - start
        eta = spent / (epoch + 1) * (args.ft_epochs - epoch - 1) / 60
        log(f"{name} epoch {epoch + 1}/{args.ft_epochs} loss {loss.item():.4f} "
            f"({spent:.0f} s, ETA {eta:.1f} min)")
    return test_top1(model, xt, yt, device, spec)


def features(model, x: torch.Tensor, spec: dict, device) -> torch.Tensor:
    """The frozen encoder's pooled features of uint8 images, normalised a chunk at a time (224-px
    RGB training sets would not fit in memory as float all at once); the same batches of 512."""
    dtype = torch.bfloat16 if device.type == "cuda" else None
    return torch.cat([cache_features(model, normalise(x[i:i + FEATURE_CHUNK], spec),
                                     autocast_dtype=dtype)
                      for i in range(0, len(x), FEATURE_CHUNK)])


def probe_model(init, pool: str, spec: dict) -> ViTClassifier:
    """The frozen encoder with the probe head (BatchNorm1d without affine + linear) on `pool`
    features."""
    return build(init, spec, global_pool=pool == "avg", probe_bn=True, head_init_std=0.01,
                 trainable="head")


def linear_probes(init, data, args, device, pools=("cls", "avg"), details: dict = None) -> dict:
    """Class-token and pooled-feature probes on features cached once per image. The LARS base lr
    of each is chosen on a held-out sixth of the training images, then the probe is refit on all
    of them `--probe-refits` times (seeds seed, seed+1, ...) and each refit scored once on the test
    images; the mean is returned. Several refits because one refit of the MAE class-token probe
    moved ~2 points with only the seed or the thread count changed (tools/studies/probe_spread.py),
    more than some of the gaps the study reports. `details` receives the chosen lrs, their
    held-out scores and every refit's test top-1."""
    (x, y), (xt, yt) = data["train"], data["test"]
    refits = range(args.seed, args.seed + args.probe_refits)
    out = {}
    for name in pools:
        torch.manual_seed(args.seed)
        model = probe_model(init, name, spec_of(args)).to(device)
        f, ft = (features(model, a, spec_of(args), device) for a in (x, xt))
        _, held_out = choose_probe_lr(model.head, f, y, PROBE_LRS, epochs=args.probe_epochs,
                                      batch_size=args.batch, seed=args.seed)
        tops, lrs, rejected = [], [], set()
        for seed in refits:
            head, lr, dropped = refit_probe(copy.deepcopy(model.head), f, y, held_out,
                                            epochs=args.probe_epochs, batch_size=args.batch,
                                            seed=seed)
            tops.append(probe_accuracy(head, ft, yt))
            lrs.append(lr)
            rejected.update(dropped)
        out[name] = sum(tops) / len(tops)
        if details is not None:
            details[name] = {"base_lr": lrs[0],
                             "held_out_top1": {str(k): round(v, 2) for k, v in held_out.items()}}
            if len(set(lrs)) > 1:  # a refit fell back to another lr (refit_probe)
                details[name]["refit_base_lr"] = lrs
            if len(tops) > 1:
                details[name]["refit_seeds"] = list(refits)
                details[name]["refit_test_top1"] = [round(t, 2) for t in tops]
            if rejected:
                details[name]["diverged_on_refit"] = sorted(rejected)
        log(f"probe ({name}): base lr {lrs} chosen on held-out training images {held_out}"
            f"{f' (refit diverged at {sorted(rejected)})' if rejected else ''}; "
            f"test {[round(t, 2) for t in tops]}, mean {out[name]:.2f}")
    return out


def machine() -> str:
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        cpu = [ln.split(":", 1)[1].strip() for ln in lscpu.splitlines()
               if ln.startswith("Model name")][0]
    except Exception:
        cpu = platform.processor() or "unknown CPU"
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    # the thread count changes float sums, and the probe's refit is sensitive to them (RESULTS)
    n = torch.get_num_threads()
    return f"{gpu}; CPU {cpu}, {n} torch thread{'' if n == 1 else 's'}"
