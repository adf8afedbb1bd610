"""Our ViT as an mmseg backbone: feature maps from chosen blocks, for UperNet through a 4-level neck.

It is `pretrain.vit.ViT` itself (same parameter names as the MAE checkpoints, so they load without
renaming) plus what the paper's segmentation recipe adds: drop path, an optional BEiT-style relative
position bias per block (zero-initialised, as MAE's transfer does), and a learnable absolute position
embedding sized for the crop. The final `norm` is not used (features are taken inside the network),
so it is dropped and reported as unused when a checkpoint is loaded.
"""
from typing import Optional, Sequence

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmseg.registry import MODELS
from timm.layers import resize_rel_pos_bias_table
from timm.models.beit import gen_relative_position_index

from pretrain.errors import ConfigError
from pretrain.vit import ARCHS, ViT

# Blocks (0-based) whose outputs feed the neck: after blocks 4, 6, 8, 12 of ViT-B (BEiT/MAE recipe),
# 8, 12, 16, 24 of ViT-L.
DEFAULT_OUT_INDICES = {12: (3, 5, 7, 11), 24: (7, 11, 15, 23)}


def add_rel_pos_bias(block: nn.Module, grid: tuple, num_heads: int) -> None:
    """Give a timm block's attention a BEiT relative position bias table (named as in BEiT,
    `blocks.N.attn.relative_position_bias_table`, so layer decay puts it in block N's layer)."""
    size = (2 * grid[0] - 1) * (2 * grid[1] - 1) + 3  # + cls->token, token->cls, cls->cls
    block.attn.relative_position_bias_table = nn.Parameter(torch.zeros(size, num_heads))


@MODELS.register_module()
class MAEViT(ViT):
    """ViT backbone returning `(B, D, H/p, W/p)` maps after the blocks in `out_indices` (0-based).

    `pretrained`: an MAE checkpoint (ours, official, mmengine or timm layout) loaded in
    `init_weights` with a report of missing / unused / resized keys; mmseg's `model.pretrained`
    is passed here by `EncoderDecoder`.
    """

    def __init__(self, arch: Optional[str] = "vit_base_patch16", img_size=512, out_indices: Sequence[int] = None,
                 drop_path_rate: float = 0.1, use_rel_pos_bias: bool = True, pretrained: Optional[str] = None,
                 init_cfg=None, **kwargs):
        if arch is not None:
            if arch not in ARCHS:
                raise ConfigError(f"unknown ViT {arch!r}; choose one of {sorted(ARCHS)}")
            dim, depth, heads, patch = ARCHS[arch]
            kwargs = dict(dict(embed_dim=dim, depth=depth, num_heads=heads, patch_size=patch), **kwargs)
        super().__init__(img_size=img_size, drop_path_rate=drop_path_rate, learnable_pos_embed=True, **kwargs)
        depth = len(self.blocks)
        if out_indices is None:
            if depth not in DEFAULT_OUT_INDICES:
                raise ConfigError(f"no default out_indices for a {depth}-block ViT: set out_indices")
            out_indices = DEFAULT_OUT_INDICES[depth]
        self.out_indices = tuple(out_indices)
        bad = [i for i in self.out_indices if not 0 <= i < depth]
        if bad:
            raise ConfigError(f"out_indices {bad} out of range for a {depth}-block ViT")
        self.norm = nn.Identity()  # unused: features come from inside the network
        self.use_rel_pos_bias = use_rel_pos_bias
        if use_rel_pos_bias:
            heads = self.blocks[0].attn.num_heads
            for blk in self.blocks:
                add_rel_pos_bias(blk, self.grid, heads)
            self.register_buffer("relative_position_index", gen_relative_position_index(self.grid),
                                 persistent=False)
        self.pretrained = pretrained
        self.init_cfg = init_cfg
        self.load_report = None

    # ---- weights ----------------------------------------------------------------------------
    def init_weights(self) -> None:
        if self.pretrained:
            from .weights import load_mae_checkpoint
            self.load_report = load_mae_checkpoint(self, self.pretrained)
            print_log(f"backbone initialised from {self.pretrained}: {self.load_report.summary()}",
                      logger="current")

    # ---- relative position bias -------------------------------------------------------------
    def rel_pos_bias(self, block: nn.Module, grid: tuple) -> torch.Tensor:
        """(1, heads, 1+N, 1+N) additive attention bias for a grid; other grids than the training
        one (whole-image inference) get the table resampled as BEiT does."""
        table = block.attn.relative_position_bias_table
        if tuple(grid) == self.grid:
            index = self.relative_position_index
        else:
            index = gen_relative_position_index(grid, device=table.device)
            size = (2 * grid[0] - 1) * (2 * grid[1] - 1) + 3
            table = resize_rel_pos_bias_table(table, grid, (size, table.shape[1]), old_window_size=self.grid)
        n = index.shape[0]
        return table[index.view(-1)].view(n, n, -1).permute(2, 0, 1).unsqueeze(0)

    # ---- forward ----------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> tuple:
        grid = self.grid_of(x)
        t = self.tokens(x)
        outs = {}
        for i, blk in enumerate(self.blocks[:max(self.out_indices) + 1]):
            bias = self.rel_pos_bias(blk, grid).to(t.dtype) if self.use_rel_pos_bias else None
            t = blk(t, attn_mask=bias)
            if i in self.out_indices:
                outs[i] = t[:, 1:].transpose(1, 2).reshape(t.shape[0], -1, *grid)
        return tuple(outs[i] for i in self.out_indices)
