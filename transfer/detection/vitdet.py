"""The ViTDet backbone: our plain ViT with windowed attention and a few global blocks.

Follows Li et al., *Exploring Plain Vision Transformer Backbones for Object Detection*. Tokens stay
a (B, H, W, C) map; most blocks attend inside non-overlapping windows, a few evenly spaced ones
attend globally; optional decomposed relative position terms (MViTv2) are added to the logits.
Parameter names are those of detectron2's `ViT` (and of the official MAE encoder for the shared
parts), so a state dict moves between the two without renaming. Written here because detectron2
cannot be installed and timm's ViTDet variant names its parameters differently.
"""
import math
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from timm.layers import DropPath, Mlp, PatchEmbed, trunc_normal_

from pretrain.errors import ConfigError
from pretrain.registry import MODELS
from pretrain.archs import get_arch

def evenly_spaced(depth: int, n: int = 4) -> tuple:
    """The last block of each of n equal groups: (2, 5, 8, 11) for 12 blocks (ViTDet's global
    blocks, and the blocks the multi-block pyramid reads)."""
    if depth % n:
        raise ConfigError(f"cannot split {depth} blocks into {n} equal groups")
    return tuple(range(depth // n - 1, depth, depth // n))


def window_partition(x: torch.Tensor, window: int):
    """(B, H, W, C) -> (B * nWindows, window, window, C), zero-padding H, W up to multiples of
    `window`; also returns the padded size for `window_unpartition`."""
    b, h, w, c = x.shape
    ph, pw = (window - h % window) % window, (window - w % window) % window
    if ph or pw:
        x = F.pad(x, (0, 0, 0, pw, 0, ph))
    hp, wp = h + ph, w + pw
    x = x.view(b, hp // window, window, wp // window, window, c).transpose(2, 3)
    return x.reshape(-1, window, window, c), (hp, wp)


def window_unpartition(windows: torch.Tensor, window: int, padded: tuple, size: tuple) -> torch.Tensor:
    """Inverse of `window_partition`: windows back to (B, H, W, C), padding removed."""
    hp, wp = padded
    b = windows.shape[0] // ((hp // window) * (wp // window))
    x = windows.view(b, hp // window, wp // window, window, window, -1).transpose(2, 3)
    x = x.reshape(b, hp, wp, -1)
    return x[:, :size[0], :size[1]].contiguous()


def rel_pos_table(q_size: int, k_size: int, rel_pos: torch.Tensor) -> torch.Tensor:
    """(q_size, k_size, C) embeddings of every query-key offset along one axis; the learnt table
    is linearly resampled when it was made for another size (as detectron2 does)."""
    length = 2 * max(q_size, k_size) - 1
    if rel_pos.shape[0] != length:
        rel_pos = F.interpolate(rel_pos.T.unsqueeze(0), size=length, mode="linear").squeeze(0).T
    q = torch.arange(q_size, device=rel_pos.device)[:, None] * max(k_size / q_size, 1.0)
    k = torch.arange(k_size, device=rel_pos.device)[None, :] * max(q_size / k_size, 1.0)
    return rel_pos[((q - k) + (k_size - 1) * max(q_size / k_size, 1.0)).long()]


def rel_pos_bias(q: torch.Tensor, rel_pos_h: torch.Tensor, rel_pos_w: torch.Tensor, size: tuple) -> torch.Tensor:
    """Decomposed relative-position logits (B, HW, HW) for queries q (B, HW, C) over an H x W map."""
    h, w = size
    rq = q.reshape(q.shape[0], h, w, -1)
    bias_h = torch.einsum("bhwc,hkc->bhwk", rq, rel_pos_table(h, h, rel_pos_h).to(q.dtype))
    bias_w = torch.einsum("bhwc,wkc->bhwk", rq, rel_pos_table(w, w, rel_pos_w).to(q.dtype))
    return (bias_h[..., :, None] + bias_w[..., None, :]).reshape(q.shape[0], h * w, h * w)


class Attention(nn.Module):
    """Multi-head self-attention over a (B, H, W, C) map, with optional decomposed rel-pos."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True, use_rel_pos: bool = False,
                 rel_pos_zero_init: bool = True, input_size: tuple = (14, 14)):
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.use_rel_pos = use_rel_pos
        if use_rel_pos:
            head_dim = dim // num_heads
            self.rel_pos_h = nn.Parameter(torch.zeros(2 * input_size[0] - 1, head_dim))
            self.rel_pos_w = nn.Parameter(torch.zeros(2 * input_size[1] - 1, head_dim))
            if not rel_pos_zero_init:
                trunc_normal_(self.rel_pos_h, std=0.02)
                trunc_normal_(self.rel_pos_w, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        qkv = self.qkv(x).reshape(b, h * w, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # (B, heads, HW, head_dim)
        bias = None
        if self.use_rel_pos:  # the bias uses the unscaled queries, as in detectron2
            bias = rel_pos_bias(q.reshape(b * self.num_heads, h * w, -1), self.rel_pos_h, self.rel_pos_w, (h, w))
            bias = bias.view(b, self.num_heads, h * w, h * w)
        x = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        return self.proj(x.transpose(1, 2).reshape(b, h, w, c))


class Block(nn.Module):
    """Pre-norm transformer block; `window` > 0 makes its attention windowed."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, qkv_bias: bool = True,
                 drop_path: float = 0.0, window: int = 0, use_rel_pos: bool = False,
                 rel_pos_zero_init: bool = True, input_size: tuple = (14, 14)):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads, qkv_bias, use_rel_pos, rel_pos_zero_init,
                              input_size=(window, window) if window else input_size)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), act_layer=nn.GELU)
        self.window = window

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm1(x)
        if self.window:
            size = y.shape[1:3]
            y, padded = window_partition(y, self.window)
            y = window_unpartition(self.attn(y), self.window, padded, size)
        else:
            y = self.attn(y)
        x = x + self.drop_path(y)
        return x + self.drop_path(self.mlp(self.norm2(x)))


@MODELS.register_module()
class ViTDet(nn.Module):
    """Plain ViT for detection: image (B, 3, H, W) -> feature maps (B, C, H/p, W/p) of the blocks
    in `out_indices` (default: the last one).

    `pos_embed` keeps the pretraining grid (with its class-token row, as in the MAE checkpoints and
    detectron2) and is resized bicubically to the input grid on the fly. `pretrained` names an MAE
    checkpoint (ours or official); `init_weights` loads its encoder and logs the key report.
    """

    def __init__(self, arch: Optional[str] = None, img_size: int = 1024, patch_size: Optional[int] = None, in_chans: int = 3,
                 embed_dim: int = 768, depth: int = 12, num_heads: int = 12, mlp_ratio: float = 4.0,
                 qkv_bias: bool = True, drop_path_rate: float = 0.0, window_size: int = 14,
                 global_blocks: Optional[Sequence[int]] = None, use_rel_pos: bool = True,
                 rel_pos_zero_init: bool = True, use_act_checkpoint: bool = False, pretrain_img_size: int = 224,
                 out_indices: Optional[Sequence[int]] = None, pretrained: Optional[str] = None):
        super().__init__()
        if arch is not None:
            a = get_arch(arch)
            embed_dim, depth, num_heads, patch_size = a.embed_dim, a.depth, a.num_heads, patch_size or a.patch_size
        patch_size = patch_size or 16
        if global_blocks is None:
            global_blocks = evenly_spaced(depth)
        self.global_blocks = tuple(global_blocks)
        self.out_indices = tuple(sorted(out_indices)) if out_indices is not None else (depth - 1,)
        bad = [i for i in self.global_blocks + self.out_indices if not 0 <= i < depth]
        if bad:
            raise ConfigError(f"block indices {bad} out of range for a {depth}-block ViT")
        self.patch_size, self.embed_dim, self.depth = patch_size, embed_dim, depth
        self.pretrained, self.use_act_checkpoint = pretrained, use_act_checkpoint
        self.patch_embed = PatchEmbed(None, patch_size, in_chans, embed_dim, output_fmt="NHWC",
                                      strict_img_size=False)
        grid = pretrain_img_size // patch_size
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + grid * grid, embed_dim))
        dpr = torch.linspace(0, drop_path_rate, depth).tolist()
        input_size = (img_size // patch_size, img_size // patch_size)
        self.blocks = nn.ModuleList([
            Block(embed_dim, num_heads, mlp_ratio, qkv_bias, dpr[i], 0 if i in self.global_blocks else window_size,
                  use_rel_pos, rel_pos_zero_init, input_size) for i in range(depth)])
        trunc_normal_(self.pos_embed, std=0.02)
        self.apply(self._init_layer)

    @staticmethod
    def _init_layer(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    @property
    def out_channels(self) -> list:
        return [self.embed_dim] * len(self.out_indices)

    def abs_pos(self, h: int, w: int) -> torch.Tensor:
        """Position embedding (1, h, w, C) for an h x w token map (class-token row dropped)."""
        table = self.pos_embed[:, 1:]
        side = math.isqrt(table.shape[1])
        table = table.reshape(1, side, side, -1)
        if (side, side) == (h, w):
            return table
        return F.interpolate(table.permute(0, 3, 1, 2), size=(h, w), mode="bicubic",
                             align_corners=False).permute(0, 2, 3, 1)

    def forward(self, x: torch.Tensor) -> list:
        x = self.patch_embed(x)
        x = x + self.abs_pos(*x.shape[1:3])
        outs = []
        for i, blk in enumerate(self.blocks[:max(self.out_indices) + 1]):
            if self.use_act_checkpoint and self.training and torch.is_grad_enabled():
                x = cp.checkpoint(blk, x, use_reentrant=False)
            else:
                x = blk(x)
            if i in self.out_indices:
                outs.append(x.permute(0, 3, 1, 2))
        return outs
