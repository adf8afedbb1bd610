"""Patch <-> image reshapes and the pixel reconstruction target."""
import torch


def patchify(imgs: torch.Tensor, p: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, N, p*p*C), each patch flattened as (row, col, channel) like the
    official code, so `decoder_pred` weights are interchangeable."""
    b, c, h, w = imgs.shape
    x = imgs.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 3, 5, 1)
    return x.reshape(b, (h // p) * (w // p), p * p * c)


def unpatchify(x: torch.Tensor, p: int, grid: tuple, c: int = 3) -> torch.Tensor:
    b = x.shape[0]
    h, w = grid
    x = x.reshape(b, h, w, p, p, c).permute(0, 5, 1, 3, 2, 4)
    return x.reshape(b, c, h * p, w * p)


def patch_stats(patches: torch.Tensor, eps: float = 1e-6):
    mean = patches.mean(dim=-1, keepdim=True)
    var = patches.var(dim=-1, keepdim=True)
    return mean, (var + eps) ** 0.5


def pixel_target(patches: torch.Tensor, norm_pix: bool) -> torch.Tensor:
    """Target per patch: raw (normalised-image) pixels, or each patch standardised by its own
    mean and std, `(x - mean) / sqrt(var + 1e-6)` (the paper's 'norm pix')."""
    if not norm_pix:
        return patches
    mean, std = patch_stats(patches)
    return (patches - mean) / std


def gather_tokens(x: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """x[b, ids[b]] for (B, N, D) x and (B, K) ids."""
    return torch.gather(x, 1, ids.unsqueeze(-1).expand(-1, -1, x.shape[-1]))
