"""The plain ViT encoder shared by pretraining and every transfer task.

Parameter names match the official MAE / timm checkpoints (`patch_embed.proj`, `cls_token`,
`pos_embed`, `blocks.N.*`, `norm`), so weights move both ways without renaming. Blocks are
timm's (fused scaled-dot-product attention, drop path).
"""
from functools import partial
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.layers import PatchEmbed
from timm.models.vision_transformer import Block

from .archs import ARCHS, get_arch  # noqa: F401  (ARCHS re-exported: the one architecture table)
from .errors import ConfigError
from .pos_embed import resample_pos_embed, sincos_2d
from .patches import gather_tokens


def check_image_size(h: int, w: int, patch: int) -> None:
    if h % patch or w % patch:
        raise ConfigError(f"image size {h}x{w} is not divisible by the patch size {patch}")


class ViT(nn.Module):
    """ViT backbone: tokens in, tokens out; heads live with the task that needs them."""

    def __init__(self, img_size=224, patch_size=16, in_chans=3, embed_dim=768, depth=12, num_heads=12,
                 mlp_ratio=4.0, qkv_bias=True, drop_path_rate=0.0, learnable_pos_embed=False, **kwargs):
        super().__init__(**kwargs)
        img_size = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
        check_image_size(*img_size, patch_size)
        self.patch_size, self.embed_dim, self.in_chans = patch_size, embed_dim, in_chans
        self.grid = (img_size[0] // patch_size, img_size[1] // patch_size)
        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim, strict_img_size=False)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(sincos_2d(embed_dim, *self.grid, cls_token=True).unsqueeze(0),
                                      requires_grad=learnable_pos_embed)
        dpr = torch.linspace(0, drop_path_rate, depth, device="cpu").tolist()  # cpu: also under a meta device
        norm = partial(nn.LayerNorm, eps=1e-6)
        self.blocks = nn.ModuleList([
            Block(embed_dim, num_heads, mlp_ratio, qkv_bias=qkv_bias, drop_path=dpr[i], norm_layer=norm)
            for i in range(depth)])
        self.norm = norm(embed_dim)

    # ---- geometry -------------------------------------------------------------------------
    def grid_of(self, x: torch.Tensor) -> tuple:
        h, w = x.shape[-2:]
        check_image_size(h, w, self.patch_size)
        return h // self.patch_size, w // self.patch_size

    def pos_embed_for(self, grid: tuple) -> torch.Tensor:
        """Position table (1, 1+N, D) for any grid: the stored one, or a resampled one."""
        if tuple(grid) == self.grid:
            return self.pos_embed
        # fixed sin-cos: recomputed exactly; learned: interpolated
        return resample_pos_embed(self.pos_embed, grid, self.grid, sincos=not self.pos_embed.requires_grad)

    # ---- forward ----------------------------------------------------------------------------
    def tokens(self, x: torch.Tensor, ids: Optional[torch.Tensor] = None, num_visible: Optional[int] = None,
               mask_token: Optional[torch.Tensor] = None) -> torch.Tensor:
        """[cls, patch tokens], each plus its position embedding: the input of the blocks.

        `ids` (B, M) picks patches in that order (MAE: the visible ones). They are projected after
        the selection, so the patch embedding runs only on what the encoder sees. With `mask_token`
        (1, 1, D) only the first `num_visible` of `ids` are projected and the others are that token
        (the paper's encoder-with-mask-tokens ablation).
        """
        b = x.shape[0]
        pos = self.pos_embed_for(self.grid_of(x))
        if ids is None:
            t = self.patch_embed(x) + pos[:, 1:]
        else:
            k = ids.shape[1] if mask_token is None else num_visible
            t = self.project_patches(x, ids[:, :k])
            if mask_token is not None:
                t = torch.cat([t, mask_token.expand(b, ids.shape[1] - k, -1).to(t.dtype)], dim=1)
            t = t + gather_tokens(pos[:, 1:].expand(b, -1, -1), ids)
        cls = (self.cls_token + pos[:, :1]).expand(b, -1, -1).to(t.dtype)
        return torch.cat([cls, t], dim=1)

    def project_patches(self, x: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        """`patch_embed` of the patches `ids` (B, K) only: (B, K, D). `proj` is a stride-p conv,
        i.e. one linear map of each flattened patch, so it can run on the selected patches."""
        p = self.patch_size
        b, c, h, w = x.shape
        # (B, N, C*p*p) in the conv weight's (c, i, j) order
        patches = x.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 1, 3, 5).flatten(3).flatten(1, 2)
        proj = self.patch_embed.proj
        return self.patch_embed.norm(F.linear(gather_tokens(patches, ids), proj.weight.flatten(1), proj.bias))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        t = self.tokens(x)
        for blk in self.blocks:
            t = blk(t)
        return self.norm(t)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_features(x)

    def get_intermediate_layers(self, x: torch.Tensor, indices: Sequence[int], norm: bool = False,
                                reshape: bool = True) -> list:
        """Outputs of the given blocks (0-based), as (B, D, h, w) maps when `reshape`."""
        grid = self.grid_of(x)
        wanted, outs = set(indices), {}
        bad = [i for i in wanted if not 0 <= i < len(self.blocks)]
        if bad:
            raise ConfigError(f"block indices {bad} out of range for a {len(self.blocks)}-block ViT")
        t = self.tokens(x)
        for i, blk in enumerate(self.blocks[:max(wanted) + 1]):
            t = blk(t)
            if i in wanted:
                o = self.norm(t) if norm else t
                o = o[:, 1:]
                if reshape:
                    o = o.transpose(1, 2).reshape(o.shape[0], -1, *grid)
                outs[i] = o
        return [outs[i] for i in indices]

    def no_weight_decay(self) -> set:
        return {"pos_embed", "cls_token"}


def build_vit(arch: str, **kwargs) -> ViT:
    """A ViT of a named architecture (`pretrain.archs.ARCHS`); kwargs override the table."""
    return ViT(**{**get_arch(arch).kwargs(), **kwargs})
