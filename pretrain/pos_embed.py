"""Fixed 2-D sine-cosine position embeddings (MAE / MoCo v3 layout).

Written here rather than taken from timm because the official checkpoints store this exact
channel layout, and `pos_embed` must match them bit for bit; timm's 2-D helper orders the
sin/cos halves and the grid axes differently.
"""
import numpy as np
import torch


def sincos_1d(dim: int, pos: np.ndarray) -> np.ndarray:
    if dim % 2:
        raise ValueError(f"sin-cos embedding width must be even, got {dim}")
    omega = 1.0 / 10000 ** (np.arange(dim // 2, dtype=np.float64) / (dim / 2.0))
    out = np.einsum("m,d->md", pos.reshape(-1).astype(np.float64), omega)
    return np.concatenate([np.sin(out), np.cos(out)], axis=1)


def sincos_2d(dim: int, grid_h: int, grid_w: int, cls_token: bool = False) -> torch.Tensor:
    """(1 + H*W, dim) table if `cls_token`, else (H*W, dim); the cls row is zeros.

    Channel layout follows the official code: the first half embeds the column (w) index, the
    second half the row (h) index, over a row-major grid.
    """
    if dim % 4:
        raise ValueError(f"2-D sin-cos embedding width must be divisible by 4, got {dim}")
    gw, gh = np.meshgrid(np.arange(grid_w, dtype=np.float32), np.arange(grid_h, dtype=np.float32))
    emb = np.concatenate([sincos_1d(dim // 2, gw), sincos_1d(dim // 2, gh)], axis=1)
    if cls_token:
        emb = np.concatenate([np.zeros((1, dim)), emb], axis=0)
    return torch.from_numpy(emb).float()


def sincos_like(table: torch.Tensor, grid: tuple) -> torch.Tensor:
    """A (1, 1+H*W, D) sin-cos table for `grid`, on the device and dtype of `table`."""
    return sincos_2d(table.shape[-1], *grid, cls_token=True).unsqueeze(0).to(table)
