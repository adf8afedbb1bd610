"""Mask samplers: which patches the encoder sees.

Every sampler returns a `MaskSpec`: `ids_shuffle` (B, N) with the K visible patches first
(`ids_keep`) and the removed ones after (`ids_masked`), `mask` (B, N) with 1 = removed, and
`ids_restore` (B, N) that undoes the shuffle. All samplers keep
the same number K of patches per image so the encoder batch stays dense (no sparse ops).
"""
import math
from dataclasses import dataclass
from typing import Optional

import torch

from .errors import ConfigError


@dataclass
class MaskSpec:
    ids_shuffle: torch.Tensor  # (B, N): visible patches first, then removed ones
    len_keep: int
    mask: torch.Tensor
    ids_restore: torch.Tensor

    @property
    def ids_keep(self) -> torch.Tensor:
        return self.ids_shuffle[:, :self.len_keep]

    @property
    def ids_masked(self) -> torch.Tensor:
        return self.ids_shuffle[:, self.len_keep:]


def check_ratio(mask_ratio: float) -> float:
    if not 0.0 < float(mask_ratio) < 1.0:
        raise ConfigError(f"mask_ratio must be in (0, 1), got {mask_ratio}")
    return float(mask_ratio)


def num_keep(num_patches: int, mask_ratio: float) -> int:
    """Patches the encoder sees: `int(N * (1 - mask_ratio))`, rounded down as the official
    `random_masking` does (ratio 0.7 keeps 58 of 196, 0.9 keeps 19), at least one."""
    return max(1, int(num_patches * (1 - mask_ratio)))


def mask_from_noise(noise: torch.Tensor, len_keep: int) -> MaskSpec:
    """Ascending argsort of `noise`; the first `len_keep` positions are kept.

    This is the paper's implementation: a uniform permutation per sample when noise is uniform,
    and any deterministic pattern when the caller chooses the noise.
    """
    ids_shuffle = torch.argsort(noise, dim=1)
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    mask = torch.ones_like(noise)
    mask[:, :len_keep] = 0
    mask = torch.gather(mask, 1, ids_restore)
    return MaskSpec(ids_shuffle, len_keep, mask, ids_restore)


def _low32(x: torch.Tensor) -> torch.Tensor:
    """x mod 2**32 for int64 x (floor shift, so negative x maps into [0, 2**32) too)."""
    return x - ((x >> 32) << 32)


def hash_uniform(seeds: torch.Tensor, n: int) -> torch.Tensor:
    """(B,) integer seeds -> (B, n) uniform [0, 1) noise, identical on every device and process.

    A small counter-based integer hash (32-bit arithmetic kept inside int64, so no overflow)
    rather than torch generators: it is vectorised over the batch and needs no RNG state, which
    is what makes masks independent of batch splitting and of resuming.
    """
    # The multipliers 0x9E3779B1 and 0x85EBCA6B written as their int32 twins (c - 2**32: same low
    # 32 bits), and mod 2**32 as shifts rather than `& 0xFFFFFFFF`: compiled kernels (Triton)
    # take integer literals as int32, and any constant >= 2**31 stops the compile.
    x = _low32(seeds.long().view(-1, 1) * -1640531535 + torch.arange(n, device=seeds.device).view(1, -1) * -2048144789)
    for _ in range(2):
        x = _low32((x ^ (x >> 16)) * 0x45D9F3B)
    x = x ^ (x >> 16)
    return (x >> 8).float() / float(1 << 24)


class RandomMasking:
    """Uniform sampling without replacement (the paper's default)."""

    def __init__(self, mask_ratio: float = 0.75):
        self.mask_ratio = check_ratio(mask_ratio)

    def noise(self, seeds: torch.Tensor, grid: tuple) -> torch.Tensor:
        return hash_uniform(seeds, grid[0] * grid[1])

    def __call__(self, batch: int, grid: tuple, device, noise: Optional[torch.Tensor] = None,
                 seeds: Optional[torch.Tensor] = None) -> MaskSpec:
        """Noise, if given, decides the mask; else per-sample `seeds`; else fresh random seeds."""
        n = grid[0] * grid[1]
        if noise is None:
            if seeds is None:
                seeds = torch.randint(0, 2**31 - 1, (batch,), device=device)
            noise = self.noise(seeds.to(device), grid)
        elif noise.shape != (batch, n):
            raise ValueError(f"noise must have shape (batch, num_patches) = {(batch, n)}, got {tuple(noise.shape)}")
        return mask_from_noise(noise.to(device), num_keep(n, self.mask_ratio))


class BlockMasking(RandomMasking):
    """BEiT-style block-wise masking: rectangles of random size and aspect are removed until the
    target count is reached (then topped up / trimmed at random so every image keeps exactly K)."""

    def __init__(self, mask_ratio: float = 0.75, min_block: int = 16, min_aspect: float = 0.3):
        super().__init__(mask_ratio)
        self.min_block, self.log_aspect = min_block, (math.log(min_aspect), math.log(1 / min_aspect))

    def _one(self, h: int, w: int, target: int, seed: int) -> torch.Tensor:
        gen = torch.Generator().manual_seed(seed)
        m = torch.zeros(h, w)
        for _ in range(1000):
            if m.sum() >= target:
                break
            left = int(target - m.sum())
            area = float(torch.empty(1).uniform_(min(self.min_block, left), max(left, self.min_block), generator=gen))
            aspect = math.exp(float(torch.empty(1).uniform_(*self.log_aspect, generator=gen)))
            bh = max(1, min(h, int(round(math.sqrt(area * aspect)))))
            bw = max(1, min(w, int(round(math.sqrt(area / aspect)))))
            top = int(torch.randint(0, h - bh + 1, (1,), generator=gen))
            lft = int(torch.randint(0, w - bw + 1, (1,), generator=gen))
            m[top:top + bh, lft:lft + bw] = 1
        return m.flatten()

    def noise(self, seeds: torch.Tensor, grid: tuple) -> torch.Tensor:
        # Masked blocks get noise in [1, 2), visible patches [0, 1): the argsort then keeps visible
        # patches first and the exact count is enforced by `mask_from_noise`.
        h, w = grid
        target = h * w - num_keep(h * w, self.mask_ratio)
        blocks = torch.stack([self._one(h, w, target, int(s)) for s in seeds.tolist()])
        return blocks.to(seeds.device) + hash_uniform(seeds, h * w)


class GridMasking(RandomMasking):
    """Keep one patch of every 2x2 cell (the paper's 'grid' sampler, ratio 0.75 by construction)."""

    def __init__(self, mask_ratio: float = 0.75):
        if abs(mask_ratio - 0.75) > 1e-9:
            raise ConfigError(f"grid masking keeps 1 of every 4 patches: mask_ratio must be 0.75, got {mask_ratio}")
        super().__init__(mask_ratio)

    def noise(self, seeds: torch.Tensor, grid: tuple) -> torch.Tensor:
        h, w = grid
        rows = torch.arange(h).view(h, 1).expand(h, w)
        cols = torch.arange(w).view(1, w).expand(h, w)
        keep = ((rows % 2 == 0) & (cols % 2 == 0)).flatten().float()
        # kept cells sort first; ties broken by position so the pattern is fixed
        noise = (1 - keep) + torch.arange(h * w) / (h * w * 2)
        return noise.unsqueeze(0).expand(seeds.shape[0], -1).contiguous().to(seeds.device)


SAMPLERS = {"random": RandomMasking, "block": BlockMasking, "grid": GridMasking}


def build_sampler(kind: str, mask_ratio: float):
    if kind not in SAMPLERS:
        raise ConfigError(f"unknown mask sampler {kind!r}; choose one of {sorted(SAMPLERS)}")
    return SAMPLERS[kind](mask_ratio)
