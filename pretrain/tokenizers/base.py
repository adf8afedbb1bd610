"""The tokenizer interface: frozen, its own input view (resolution) and pixel scaling."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import CheckpointError

IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


class TokenizerError(CheckpointError):
    """A tokenizer file of the wrong kind or vocabulary, or a grid that does not match."""


def code_usage(ids: torch.Tensor, vocab_size: int) -> dict:
    """How many codes are used (and which fraction of the vocabulary) and the perplexity of their
    frequencies (= vocabulary size when uniform, 1 when collapsed to one code)."""
    counts = torch.bincount(ids.flatten(), minlength=vocab_size).float()
    p = counts / counts.sum()
    entropy = -(p[p > 0] * p[p > 0].log()).sum()
    used = int((counts > 0).sum())
    return {"used_codes": used, "used_fraction": used / vocab_size, "perplexity": float(entropy.exp()),
            "vocab_size": vocab_size}


class Tokenizer(nn.Module):
    """Maps the MAE's normalised images (B, 3, H, W) to token ids (B, h, w) on the patch grid.

    The view: the same crop as the MAE sees, un-normalised to [0, 1] and resized to
    `grid * downsample` pixels (for DALL-E at patch 16 this is BEiT's half-resolution view), then
    `scale` maps pixels to the tokenizer's input range. Subclasses give `downsample`, `scale` and
    `logits` (ids are their argmax), or override `tokens` (a vector quantiser's nearest code).
    """

    downsample: int = 8

    def __init__(self, vocab_size: int, mean=IMAGENET_MEAN, std=IMAGENET_STD):
        super().__init__()
        self.vocab_size = int(vocab_size)
        self.register_buffer("img_mean", torch.tensor(mean).view(1, 3, 1, 1) / 255.0, persistent=False)
        self.register_buffer("img_std", torch.tensor(std).view(1, 3, 1, 1) / 255.0, persistent=False)

    def freeze(self) -> "Tokenizer":
        for p in self.parameters():
            p.requires_grad_(False)
        return self.eval()

    def train(self, mode: bool = True):  # always frozen: no dropout / batch-norm updates
        return super().train(False)

    def scale(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def view(self, imgs: torch.Tensor, grid: tuple) -> torch.Tensor:
        x = (imgs.float() * self.img_std + self.img_mean).clamp(0, 1)
        size = (grid[0] * self.downsample, grid[1] * self.downsample)
        if tuple(x.shape[-2:]) != size:
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True).clamp(0, 1)
        return self.scale(x)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.logits(x)
        if logits.shape[1] != self.vocab_size:
            raise TokenizerError(f"tokenizer gave {logits.shape[1]} logits per cell, expected {self.vocab_size}")
        return logits.argmax(dim=1)

    @torch.no_grad()
    def forward(self, imgs: torch.Tensor, grid: tuple) -> torch.Tensor:
        ids = self.tokens(self.view(imgs, grid))
        if tuple(ids.shape[-2:]) != tuple(grid):
            raise TokenizerError(f"tokenizer gave a {tuple(ids.shape[-2:])} grid of ids, expected {tuple(grid)}")
        return ids
