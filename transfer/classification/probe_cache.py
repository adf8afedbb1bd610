"""Linear probes on cached features: the frozen encoder runs once per image, then any number of
probes (other lrs, epochs, seeds, cls-token or pooled features) train on the stored features.

Equal to probing through the whole model when the probe sees each image as it was cached (no
augmentation): the encoder is frozen and in eval mode, so its features do not change.
"""
import copy
import math
import os
from typing import Optional, Sequence

import torch
import torch.nn as nn

from .lars import MAELars


@torch.no_grad()
def cache_features(model: nn.Module, images: torch.Tensor, batch_size: int = 512, path: Optional[str] = None,
                   autocast_dtype: Optional[torch.dtype] = None) -> torch.Tensor:
    """`model.pooled` of every image (float32, on the images' device); saved to `path` if given,
    and read from it instead when it exists."""
    if path and os.path.isfile(path):
        return torch.load(path, map_location=images.device)
    was_training = model.training
    model.eval()
    out = []
    for i in range(0, len(images), batch_size):
        with torch.autocast(images.device.type, dtype=autocast_dtype or torch.float32,
                            enabled=autocast_dtype is not None):
            out.append(model.pooled(images[i:i + batch_size]).float())
    model.train(was_training)
    feats = torch.cat(out)
    if path:
        torch.save(feats.cpu(), path)
    return feats


def fit_probe(head: nn.Module, feats: torch.Tensor, labels: torch.Tensor, epochs: int, batch_size: int = 256,
              base_lr: float = 0.1, warmup_epochs: int = 1, weight_decay: float = 0.0, seed: int = 0) -> nn.Module:
    """Train `head` (the probe: BatchNorm1d(affine=False) + linear) on cached features with the
    official probe recipe: LARS, lr = base_lr * batch / 256, linear warmup then cosine per step."""
    gen = torch.Generator(device="cpu").manual_seed(seed)
    opt = MAELars(head.parameters(), lr=base_lr * batch_size / 256, weight_decay=weight_decay)
    peak = opt.param_groups[0]["lr"]
    steps_per_epoch = len(feats) // batch_size
    total, warm = epochs * steps_per_epoch, warmup_epochs * steps_per_epoch
    head.train()
    step = 0
    for _ in range(epochs):
        order = torch.randperm(len(feats), generator=gen).to(feats.device)
        for i in range(steps_per_epoch):
            idx = order[i * batch_size:(i + 1) * batch_size]
            lr = peak * (step / warm if step < warm else 0.5 * (1 + math.cos(math.pi * (step - warm) / (total - warm))))
            for g in opt.param_groups:
                g["lr"] = lr
            loss = nn.functional.cross_entropy(head(feats[idx]), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
    return head.eval()


def held_out_split(n: int, val_fraction: float = 1 / 6, seed: int = 0, device=None) -> tuple:
    """(held-out indices, training indices) of `n` training images: one seeded permutation, so every
    probe that chooses a setting on held-out images (this LARS lr, the L2 of
    tools/studies/probe_convergence.py) holds out the same images."""
    gen = torch.Generator(device="cpu").manual_seed(seed)
    order = torch.randperm(n, generator=gen).to(device)
    n_val = max(1, int(n * val_fraction))
    return order[:n_val], order[n_val:]


def choose_probe_lr(head: nn.Module, feats: torch.Tensor, labels: torch.Tensor, base_lrs: Sequence[float],
                    epochs: int, batch_size: int = 256, val_fraction: float = 1 / 6, seed: int = 0) -> tuple:
    """The base lr whose probe scores best on a held-out part of the TRAINING features, so the lr is
    never chosen on the test set. Needed because the paper's lr rule (0.1 x batch/256, tuned for
    batch 16384 and 90 epochs) leaves a small-batch probe far from converged: LARS steps are
    lr x 0.001 of each weight's norm. Returns (best base lr, {base lr: held-out top-1}); `head`
    is left untouched (each candidate trains a copy)."""
    val, train = held_out_split(len(feats), val_fraction, seed, feats.device)
    scores = {}
    for lr in base_lrs:
        h = fit_probe(copy.deepcopy(head), feats[train], labels[train], epochs=epochs,
                      batch_size=min(batch_size, len(train)), base_lr=lr, seed=seed)
        scores[lr] = probe_accuracy(h, feats[val], labels[val])
    best = max(scores, key=lambda lr: (scores[lr], -lr))  # ties: the smaller lr
    return best, scores


def refit_probe(head: nn.Module, feats: torch.Tensor, labels: torch.Tensor, held_out: dict, epochs: int,
                batch_size: int = 256, seed: int = 0, tolerance: float = 5.0) -> tuple:
    """Refit `head` in place on all the training features with the base lr that scored best in
    `held_out` ({base lr: held-out top-1}, from `choose_probe_lr`), falling back to the next one when
    the refit diverged: its top-1 on the very features it was fitted on lands more than `tolerance`
    points below that lr's held-out score, or a weight is not finite. Needed because LARS leaves the
    bias's step unadapted (lr x gradient), so a large base lr that was stable on five sixths of the
    data can throw the bias about on all of it (seen: held-out 82.7, refit at chance). If no refit
    passes (tiny sets, whose held-out scores are noise), the one that fits the training features best
    is kept. Uses training features only. Returns (head, base lr used, [lrs whose refits were set aside])."""
    tried = []
    for lr in sorted(held_out, key=lambda lr: (-held_out[lr], lr)):
        h = fit_probe(copy.deepcopy(head), feats, labels, epochs=epochs, batch_size=batch_size, base_lr=lr, seed=seed)
        fit = probe_accuracy(h, feats, labels) if all(torch.isfinite(p).all() for p in h.parameters()) else -1.0
        tried.append((lr, fit, h))
        if fit >= held_out[lr] - tolerance:
            break
    else:
        best = max(tried, key=lambda t: t[1])  # the first of equals: held-out order breaks ties
        tried.remove(best)
        tried.append(best)
    lr, _, h = tried[-1]
    head.load_state_dict(h.state_dict())
    return head.eval(), lr, [t[0] for t in tried[:-1]]


@torch.no_grad()
def probe_accuracy(head: nn.Module, feats: torch.Tensor, labels: torch.Tensor) -> float:
    head.eval()
    return 100.0 * (head(feats).argmax(1) == labels).float().mean().item()
