"""How good is a reconstruction? PSNR on the removed patches only, against two baselines that
see the same visible patches: their mean colour, and linear interpolation between their pixels.

A model that only learned colours ties the first baseline; one that beats interpolation has
learned structure that smooth filling cannot give. All images are in [0, 1] pixel units.
"""
from typing import Optional

import numpy as np
import torch

from .patches import patch_stats, patchify, unpatchify


@torch.no_grad()
def reconstruct(model, imgs: torch.Tensor, noise: Optional[torch.Tensor] = None):
    """(prediction, removed) for normalised `imgs`: the predicted image (normalised units, every
    patch predicted; visible ones are not used) and the removed-pixel mask (B, 1, H, W) in {0, 1}.

    Norm-pix models predict per-patch standardised pixels; they are mapped back with each target
    patch's own mean and std, as the paper's figures do (so that model's PSNR uses information
    from the removed patches: fair only for plain-pixel models)."""
    was_training = model.training
    model.eval()
    p = model.patch_size
    pred, mask = model.reconstruct(imgs, noise)
    model.train(was_training)
    pred = pred.float()
    if model.norm_pix_loss:
        mean, std = patch_stats(patchify(imgs, p))
        pred = pred * std + mean
    grid = (imgs.shape[-2] // p, imgs.shape[-1] // p)
    removed = unpatchify(mask.float().unsqueeze(-1).expand(-1, -1, p * p), p, grid, c=1)
    return unpatchify(pred, p, grid), removed


def psnr_removed(pred: torch.Tensor, target: torch.Tensor, removed: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR (dB, peak 1) over the removed pixels of (B, C, H, W) images in [0, 1]."""
    m = removed.expand_as(target)
    mse = ((pred.clamp(0, 1) - target) ** 2 * m).flatten(1).sum(1) / m.flatten(1).sum(1)
    return -10 * torch.log10(mse.clamp_min(1e-10))


def visible_mean_fill(target: torch.Tensor, removed: torch.Tensor) -> torch.Tensor:
    """Every removed pixel gets the mean colour of the image's visible pixels."""
    vis = 1 - removed
    mean = (target * vis).sum((2, 3), keepdim=True) / vis.sum((2, 3), keepdim=True).clamp_min(1)
    return target * vis + mean * removed


def interpolation_fill(target: torch.Tensor, removed: torch.Tensor) -> torch.Tensor:
    """Removed pixels by linear interpolation over a triangulation of the visible pixels (scipy's
    griddata: the 2-D scattered-data form of bilinear filling), nearest visible pixel outside
    their convex hull."""
    from scipy.interpolate import griddata

    out = target.clone()
    h, w = target.shape[-2:]
    yy, xx = np.mgrid[0:h, 0:w]
    for i in range(target.shape[0]):
        gone = removed[i, 0].cpu().numpy() > 0.5
        if not gone.any() or gone.all():
            continue
        pts = np.stack([yy[~gone], xx[~gone]], 1)
        vals = target[i].permute(1, 2, 0).cpu().numpy()[~gone]
        q = np.stack([yy[gone], xx[gone]], 1)
        lin = griddata(pts, vals, q, method="linear")
        holes = np.isnan(lin).any(1)
        if holes.any():
            lin[holes] = griddata(pts, vals, q[holes], method="nearest")
        filled = out[i].permute(1, 2, 0).cpu().numpy().copy()
        filled[gone] = lin
        out[i] = torch.from_numpy(filled).permute(2, 0, 1).to(out)
    return out


def quality_table(model, imgs: torch.Tensor, noise: torch.Tensor, denorm) -> dict:
    """Mean PSNR (dB) on the removed patches of normalised `imgs` for the model and both
    baselines; `denorm` maps normalised images to [0, 1]."""
    pred, removed = reconstruct(model, imgs, noise)
    target = denorm(imgs)
    fills = {"MAE": denorm(pred), "mean colour of visible patches": visible_mean_fill(target, removed),
             "linear interpolation from visible pixels": interpolation_fill(target, removed)}
    return {name: psnr_removed(img, target, removed).mean().item() for name, img in fills.items()}
