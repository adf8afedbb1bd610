"""Reconstruction pictures: original / masked / reconstruction / reconstruction + visible."""
import os
from typing import Optional

import torch
from matplotlib.figure import Figure  # a bare Figure draws to files without pyplot or a backend switch

from .quality import interpolation_fill, reconstruct

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def norm_stats(model) -> tuple:
    """(mean, std) in [0, 1] units that the model was trained with: its data preprocessor's, or
    ImageNet's (the official checkpoints') when it has none."""
    dp = getattr(model, "data_preprocessor", None)
    if getattr(dp, "_enable_normalize", False):
        return tuple((dp.mean.flatten() / 255).tolist()), tuple((dp.std.flatten() / 255).tolist())
    return IMAGENET_MEAN, IMAGENET_STD


def normalize(imgs_uint8: torch.Tensor, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> torch.Tensor:
    m = torch.tensor(mean).view(1, -1, 1, 1)
    s = torch.tensor(std).view(1, -1, 1, 1)
    return (imgs_uint8.float() / 255.0 - m) / s


def denormalize(x: torch.Tensor, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> torch.Tensor:
    m = torch.tensor(mean, device=x.device).view(1, -1, 1, 1)
    s = torch.tensor(std, device=x.device).view(1, -1, 1, 1)
    return (x * s + m).clamp(0, 1)


def reconstruction_panels(model, imgs: torch.Tensor, noise: Optional[torch.Tensor] = None,
                          interpolation: bool = False) -> dict:
    """Panels as (B, 3, H, W) tensors in [0, 1] from normalised `imgs`; `interpolation` adds the
    linear-interpolation baseline (pretrain/quality.py) for comparison."""
    pred, m = reconstruct(model, imgs, noise)
    stats = norm_stats(model)
    original = denormalize(imgs, *stats)
    panels = {
        "original": original,
        "masked": original * (1 - m) + 0.5 * m,
        "reconstruction": denormalize(pred, *stats),
        "reconstruction + visible": denormalize(imgs * (1 - m) + pred * m, *stats),
    }
    if interpolation:
        panels["linear interpolation"] = interpolation_fill(original, m)
    return panels


def save_reconstruction_png(panels: dict, path: str, title: str = "", footer: str = "") -> str:
    names = list(panels)
    n = panels[names[0]].shape[0]
    fig = Figure(figsize=(2.6 * len(names), 2.6 * n))
    axes = fig.subplots(n, len(names), squeeze=False)
    for r in range(n):
        for c, name in enumerate(names):
            ax = axes[r][c]
            ax.imshow(panels[name][r].permute(1, 2, 0).cpu().numpy())
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(name, fontsize=10)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    if footer:  # below the panels, in the room made for it
        fig.subplots_adjust(bottom=0.04 + 0.13 / n * footer.count("\n"))
        fig.text(0.5, 0.01, footer, ha="center", va="bottom", multialignment="left", fontsize=10, family="monospace")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


def fixed_noise(batch: int, num_patches: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(batch, num_patches, generator=torch.Generator().manual_seed(seed))


def save_loss_curve(iters: list, losses: list, path: str, title: str = "MAE reconstruction loss") -> str:
    fig = Figure(figsize=(6, 3.6))
    ax = fig.subplots()
    ax.plot(iters, losses, lw=1)
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss (masked patches)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path
