"""Feature pyramids over one plain ViT (stride 16) for torchvision's Mask R-CNN.

- `SimpleFeaturePyramid` (ViTDet): every level from the last block's map, by deconvolution (x4, x2),
  identity, or max-pooling (x0.5).
- `MultiBlockPyramid` (the MAE paper's detection adapter): the same up/down-sampling, but level i is
  made from block i of several evenly spaced blocks.
Both then apply a 1x1 and a 3x3 convolution with channel LayerNorm, and add a stride-64 level by
subsampling the stride-32 one. Module names follow detectron2's (`net`, `simfp_<log2 stride>`), so
the weights of the whole backbone keep detectron2's key layout.
"""
import math
from collections import OrderedDict
from typing import Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.layers import LayerNorm2d

from pretrain.errors import ConfigError
from pretrain.registry import MODELS
from pretrain.archs import get_arch

from .vitdet import evenly_spaced


class ConvNorm(nn.Conv2d):
    """Bias-free convolution followed by channel LayerNorm (detectron2's `Conv2d(norm='LN')`)."""

    def __init__(self, cin: int, cout: int, kernel: int):
        super().__init__(cin, cout, kernel, padding=kernel // 2, bias=False)
        self.norm = LayerNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(super().forward(x))


def rescale(dim: int, scale: float) -> tuple:
    """Layers taking a stride-16 map of `dim` channels to stride 16/scale, and their out width."""
    if scale == 4.0:
        return [nn.ConvTranspose2d(dim, dim // 2, 2, 2), LayerNorm2d(dim // 2), nn.GELU(),
                nn.ConvTranspose2d(dim // 2, dim // 4, 2, 2)], dim // 4
    if scale == 2.0:
        return [nn.ConvTranspose2d(dim, dim // 2, 2, 2)], dim // 2
    if scale == 1.0:
        return [], dim
    if scale == 0.5:
        return [nn.MaxPool2d(2, 2)], dim
    raise ConfigError(f"pyramid scale factor {scale} not supported; use 4.0, 2.0, 1.0 or 0.5")


class _Pyramid(nn.Module):
    """Shared part: level i = convs(rescale(feature source_i, scale_i)), plus the stride-64 level."""

    def __init__(self, net: Union[dict, nn.Module], out_channels: int, scale_factors: Sequence[float],
                 sources: Sequence[int], top_block: bool):
        super().__init__()
        self.net = MODELS.build(net) if isinstance(net, dict) else net
        self.out_channels, self.sources, self.top_block = out_channels, tuple(sources), top_block
        stride = self.net.patch_size
        self.strides = [int(stride / s) for s in scale_factors]
        if any(b != 2 * a for a, b in zip(self.strides, self.strides[1:])):
            raise ConfigError(f"pyramid strides {self.strides} are not consecutive powers of two")
        self.stage_names = []
        for scale, src in zip(scale_factors, self.sources):
            layers, width = rescale(self.net.out_channels[src], scale)
            layers += [ConvNorm(width, out_channels, 1), ConvNorm(out_channels, out_channels, 3)]
            name = f"simfp_{int(math.log2(stride / scale))}"
            self.add_module(name, nn.Sequential(*layers))
            self.stage_names.append(name)
        self.level_names = [f"p{int(math.log2(s))}" for s in self.strides]
        if top_block:
            self.level_names.append(f"p{int(math.log2(self.strides[-1])) + 1}")

    @property
    def size_divisor(self) -> int:
        """Input sides must be multiples of this (the coarsest stride before the top block)."""
        return self.strides[-1]

    def forward(self, x: torch.Tensor) -> "OrderedDict[str, torch.Tensor]":
        feats = self.net(x)
        levels = [getattr(self, name)(feats[src]) for name, src in zip(self.stage_names, self.sources)]
        if self.top_block:  # detectron2's LastLevelMaxPool: stride-2 subsampling of the top level
            levels.append(F.max_pool2d(levels[-1], kernel_size=1, stride=2))
        return OrderedDict(zip(self.level_names, levels))


@MODELS.register_module()
class SimpleFeaturePyramid(_Pyramid):
    """ViTDet's pyramid: all levels from the last block (strides 4, 8, 16, 32, + 64)."""

    def __init__(self, net: Union[dict, nn.Module], out_channels: int = 256,
                 scale_factors: Sequence[float] = (4.0, 2.0, 1.0, 0.5), top_block: bool = True):
        super().__init__(net, out_channels, scale_factors, [-1] * len(scale_factors), top_block)


@MODELS.register_module()
class MultiBlockPyramid(_Pyramid):
    """The MAE paper's pyramid: level i from the i-th of several evenly spaced blocks (the ViT's
    `out_indices`, e.g. 2, 5, 8, 11 for ViT-B), highest resolution from the earliest block."""

    def __init__(self, net: Union[dict, nn.Module], out_channels: int = 256,
                 scale_factors: Sequence[float] = (4.0, 2.0, 1.0, 0.5), top_block: bool = True):
        if isinstance(net, dict) and net.get("out_indices") is None:
            depth = get_arch(net["arch"]).depth if net.get("arch") else net.get("depth", 12)
            net = dict(net, out_indices=evenly_spaced(depth, len(scale_factors)))
        super().__init__(net, out_channels, scale_factors, range(len(scale_factors)), top_block)
        if len(self.net.out_indices) != len(scale_factors):
            raise ConfigError(f"MultiBlockPyramid needs one ViT block per level: got out_indices "
                             f"{self.net.out_indices} for {len(scale_factors)} levels")

