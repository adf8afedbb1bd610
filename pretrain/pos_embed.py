"""Fixed 2-D sine-cosine position embeddings (MAE / MoCo v3 layout).

Written here rather than taken from timm because the official checkpoints store this exact
channel layout, and `pos_embed` must match them bit for bit; timm's 2-D helper orders the
sin/cos halves and the grid axes differently.
"""
import numpy as np
import torch

from .errors import ConfigError


def sincos_1d(dim: int, pos: np.ndarray) -> np.ndarray:
    if dim % 2:
        raise ConfigError(f"sin-cos embedding width must be even, got {dim}")
    omega = 1.0 / 10000 ** (np.arange(dim // 2, dtype=np.float64) / (dim / 2.0))
    out = np.einsum("m,d->md", pos.reshape(-1).astype(np.float64), omega)
    return np.concatenate([np.sin(out), np.cos(out)], axis=1)


def sincos_2d(dim: int, grid_h: int, grid_w: int, cls_token: bool = False) -> torch.Tensor:
    """(1 + H*W, dim) table if `cls_token`, else (H*W, dim); the cls row is zeros.

    Channel layout follows the official code: the first half embeds the column (w) index, the
    second half the row (h) index, over a row-major grid.
    """
    if dim % 4:
        raise ConfigError(f"2-D sin-cos embedding width must be divisible by 4, got {dim}")
    gw, gh = np.meshgrid(np.arange(grid_w, dtype=np.float32), np.arange(grid_h, dtype=np.float32))
    emb = np.concatenate([sincos_1d(dim // 2, gw), sincos_1d(dim // 2, gh)], axis=1)
    if cls_token:
        emb = np.concatenate([np.zeros((1, dim)), emb], axis=0)
    return torch.from_numpy(emb).float()


def sincos_like(table: torch.Tensor, grid: tuple) -> torch.Tensor:
    """A (1, 1+H*W, D) sin-cos table for `grid`, on the device and dtype of `table`."""
    return sincos_2d(table.shape[-1], *grid, cls_token=True).unsqueeze(0).to(table)


def is_sincos(table: torch.Tensor, grid: tuple) -> bool:
    """Whether a (1, 1+H*W, D) table is the fixed sin-cos one (so it can be recomputed exactly)."""
    d = table.shape[-1]
    if d % 4 or table.shape[-2] != 1 + grid[0] * grid[1]:
        return False
    return torch.allclose(table.detach().float().cpu().reshape(-1, d), sincos_2d(d, *grid, cls_token=True), atol=1e-5)


def resample_pos_embed(table: torch.Tensor, grid: tuple, old_grid: tuple = None, sincos: bool = None) -> torch.Tensor:
    """(1, 1+h*w, D) position table for another grid: the class-token row kept, the patch part
    interpolated bicubically; a fixed sin-cos table (`sincos`, detected from the values when
    None) is recomputed exactly instead. `old_grid` defaults to the square the table implies.

    timm's resampler with antialias off: that is the official MAE `interpolate_pos_embed`
    (plain bicubic), so fine-tuning at another size sees the same table as the official code.
    """
    from timm.layers import resample_abs_pos_embed

    n = table.shape[-2] - 1
    if old_grid is None:
        side = int(round(n ** 0.5))
        if side * side != n:
            raise ValueError(f"position table of {n} patches is not a square grid; give its grid")
        old_grid = (side, side)
    if tuple(grid) == tuple(old_grid):
        return table
    if is_sincos(table, old_grid) if sincos is None else sincos:
        return sincos_like(table, grid)
    return resample_abs_pos_embed(table, list(grid), list(old_grid), num_prefix_tokens=1, antialias=False)
