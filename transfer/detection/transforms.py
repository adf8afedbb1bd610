"""ViTDet's augmentation with torchvision's v2 transforms (images and per-instance masks together).

Training: large-scale jitter (rescale so the image fits `scale` x the train size, scale drawn from
0.1-2.0), a random crop of at most the train size, horizontal flip; padding to the train size happens
once, when the batch is formed (`detector.PaddedBatch`). Evaluation: longest side to the test size.
"""
import torch
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F
from torchvision.transforms.v2._utils import query_size


class RandomCropUpTo(v2.Transform):
    """Random crop of min(side, size) along each side; smaller images pass whole (they are padded
    later). Written here because v2.RandomCrop pads small images instead (detectron2's FixedSizeCrop
    is crop-then-pad-at-the-end)."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def make_params(self, flat_inputs):
        h, w = query_size(flat_inputs)
        ch, cw = min(h, self.size), min(w, self.size)
        top = int(torch.randint(0, h - ch + 1, ()))
        left = int(torch.randint(0, w - cw + 1, ()))
        return dict(top=top, left=left, height=ch, width=cw)

    def transform(self, inpt, params):
        return F.crop(inpt, **params)


def train_transform(size: int, scale_range=(0.1, 2.0), flip_prob: float = 0.5) -> v2.Compose:
    return v2.Compose([
        v2.ScaleJitter((size, size), scale_range=tuple(scale_range), antialias=True),
        RandomCropUpTo(size),
        v2.RandomHorizontalFlip(flip_prob),
    ])


def eval_transform(size: int) -> v2.Resize:
    return v2.Resize(size=None, max_size=size, antialias=True)
