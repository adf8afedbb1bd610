"""Patch helpers: image <-> patch-sequence reshapes in the official layout, per-patch statistics,
and picking tokens by index. No learning here: the loss is in `loss.py`, the target family (what
the decoder predicts) in `target_family.py`."""
import torch


def patchify(imgs: torch.Tensor, p: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, N, p*p*C), each patch flattened as (row, col, channel) like the
    official code, so `decoder_pred` weights are interchangeable."""
    b, c, h, w = imgs.shape
    x = imgs.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 3, 5, 1)
    return x.reshape(b, (h // p) * (w // p), p * p * c)


def unpatchify(x: torch.Tensor, p: int, grid: tuple, c: int = 3) -> torch.Tensor:
    """The inverse of `patchify` for a (rows, cols) `grid`: (B, N, p*p*c) -> (B, c, H, W)."""
    b = x.shape[0]
    h, w = grid
    x = x.reshape(b, h, w, p, p, c).permute(0, 5, 1, 3, 2, 4)
    return x.reshape(b, c, h * p, w * p)


def patch_stats(patches: torch.Tensor, eps: float = 1e-6):
    """(mean, sqrt(var + eps)) of each patch over its pixels (last dimension)."""
    mean = patches.mean(dim=-1, keepdim=True)
    var = patches.var(dim=-1, keepdim=True)
    return mean, (var + eps) ** 0.5


def gather_tokens(x: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """x[b, ids[b]] for (B, N, D) x and (B, K) ids."""
    return torch.gather(x, 1, ids.unsqueeze(-1).expand(-1, -1, x.shape[-1]))
