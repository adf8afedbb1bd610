"""The small conv encoder / decoder both trainable tokenizers (dVAE, VQ-VAE) share: one cell of the
output grid per `downsample` x `downsample` pixels, cheap enough to train on a CPU."""
import math

import torch.nn as nn


def num_stages(downsample: int) -> int:
    n = int(round(math.log2(downsample))) if downsample >= 1 else -1
    if n < 0 or 2 ** n != downsample:
        raise ValueError(f"tokenizer downsample must be a power of two, got {downsample}")
    return n


def conv_encoder(out_channels: int, hidden: int, downsample: int) -> nn.Sequential:
    """3x3 stem, log2(downsample) stride-2 4x4 convs, then a 1x1 conv to `out_channels` per cell."""
    layers = [nn.Conv2d(3, hidden, 3, padding=1), nn.ReLU()]
    for _ in range(num_stages(downsample)):
        layers += [nn.Conv2d(hidden, hidden, 4, stride=2, padding=1), nn.ReLU()]
    return nn.Sequential(*layers, nn.Conv2d(hidden, out_channels, 1))


def conv_decoder(in_channels: int, hidden: int, downsample: int) -> nn.Sequential:
    """The mirror image: 1x1 conv, log2(downsample) stride-2 transposed convs, 3x3 conv to RGB."""
    layers = [nn.Conv2d(in_channels, hidden, 1), nn.ReLU()]
    for _ in range(num_stages(downsample)):
        layers += [nn.ConvTranspose2d(hidden, hidden, 4, stride=2, padding=1), nn.ReLU()]
    return nn.Sequential(*layers, nn.Conv2d(hidden, 3, 3, padding=1))
