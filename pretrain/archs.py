"""The named ViT architectures: one table for model builders, benchmarks and the checkpoint reader.

Head counts are not stored in weights, so this table is also how a checkpoint without a config
gets them (see `pretrain.checkpoint.infer_arch`).
"""
from typing import NamedTuple, Optional

from .errors import ConfigError


class ViTArch(NamedTuple):
    embed_dim: int
    depth: int
    num_heads: int
    patch_size: int

    def kwargs(self) -> dict:
        """Constructor arguments of `ViT` / `MaskedAutoencoder`."""
        return self._asdict()


class DecoderArch(NamedTuple):
    """MAE decoder; the default is the paper's (8 blocks, 512 wide, 16 heads) for ViT-B/L/H."""
    embed_dim: int = 512
    depth: int = 8
    num_heads: int = 16

    def kwargs(self) -> dict:
        return dict(decoder_embed_dim=self.embed_dim, decoder_depth=self.depth, decoder_num_heads=self.num_heads)


MAE_DECODER = DecoderArch()

ARCHS = {
    "vit_tiny_patch16": ViTArch(192, 12, 3, 16),
    "vit_small_patch16": ViTArch(384, 12, 6, 16),
    "vit_base_patch16": ViTArch(768, 12, 12, 16),
    "vit_large_patch16": ViTArch(1024, 24, 16, 16),
    "vit_huge_patch14": ViTArch(1280, 32, 16, 14),
}


def get_arch(name: str) -> ViTArch:
    """Table row by name; a `mae_` prefix (the MAE builders' names) is accepted."""
    key = name[4:] if name.startswith("mae_") else name
    if key not in ARCHS:
        raise ConfigError(f"unknown ViT {name!r}; choose one of {sorted(ARCHS)}")
    return ARCHS[key]


def find_arch(embed_dim: int, depth: int, patch_size: int) -> Optional[str]:
    """Name of the table row with this width, depth and patch size, or None."""
    for name, a in ARCHS.items():
        if (a.embed_dim, a.depth, a.patch_size) == (embed_dim, depth, patch_size):
            return name
    return None
