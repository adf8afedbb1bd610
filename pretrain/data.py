"""Pretraining data: ImageFolder trees and the embedded default images.

Every random choice for a sample (crop, flip, mask noise) comes from a seed made of the run's
seed, the epoch and the sample index. So a resumed run sees exactly the samples and masks of an
uninterrupted one, and a batch split over N processes is masked as it would be in one.
"""
import logging
import os
import warnings
from typing import Optional

import numpy as np
import torch
from mmengine.dataset import DefaultSampler
from mmengine.logging import print_log
from torch.utils.data import Dataset
from torchvision.transforms import v2

from .errors import DataError
from .image_io import IMG_EXTENSIONS, decode_file
from .registry import DATA_SAMPLERS, DATASETS

EMBEDDED = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry", "retina",
            "camera", "coins", "moon", "brick", "grass", "gravel", "cell", "clock")


# Epoch number of held-out crops (quality checks): training epochs never reach it, so these crops and
# their flips are ones the model was never shown (the source images may be the training ones).
HELDOUT_EPOCH = 2 ** 32 - 1


def heldout_crops(ds, n: int) -> torch.Tensor:
    """`n` uint8 crops of `ds` drawn with the held-out seed, as (n, 3, H, W)."""
    return torch.stack([ds[(HELDOUT_EPOCH, i % len(ds))]["inputs"] for i in range(n)])


def sample_seed(seed: int, epoch: int, index: int) -> int:
    return int(np.random.SeedSequence([seed, epoch, index]).generate_state(1, dtype=np.uint32)[0])


CROPS = ("random_size", "fixed_size", "none")


def pretrain_transform(img_size: int, scale=(0.2, 1.0), crop: str = "random_size", color_jitter: float = 0.0):
    """The paper's augmentation: random resized crop (bicubic) + horizontal flip. The others are the
    paper's Table 1e ablation: `crop='fixed_size'` (resize to img_size * 256/224, random img_size crop,
    flip: ImageNet's 224-of-256 crop), `crop='none'` (resize + centre crop, no flip), and
    `color_jitter=s` after the crop (torchvision ColorJitter: brightness, contrast, saturation +-s)."""
    bicubic = dict(interpolation=v2.InterpolationMode.BICUBIC, antialias=True)
    if crop == "random_size":
        steps = [v2.RandomResizedCrop(img_size, scale=tuple(scale), **bicubic), v2.RandomHorizontalFlip()]
    elif crop == "fixed_size":
        steps = [v2.Resize(round(img_size * 256 / 224), **bicubic), v2.RandomCrop(img_size), v2.RandomHorizontalFlip()]
    elif crop == "none":
        steps = [v2.Resize(img_size, **bicubic), v2.CenterCrop(img_size)]
    else:
        raise ValueError(f"unknown crop {crop!r}; choose one of {list(CROPS)}")
    if color_jitter:
        steps.append(v2.ColorJitter(brightness=color_jitter, contrast=color_jitter, saturation=color_jitter))
    return v2.Compose(steps)


@DATA_SAMPLERS.register_module()
class EpochSeedSampler(DefaultSampler):
    """DefaultSampler that hands the dataset (epoch, index) so augmentation can be seeded."""

    def __iter__(self):
        return ((self.epoch, i) for i in super().__iter__())


class SeededAugDataset(Dataset):
    """Base: subclasses load image `i` as a uint8 CHW tensor; this class crops and seeds."""

    def __init__(self, img_size: int = 224, scale=(0.2, 1.0), seed: int = 0, crop: str = "random_size",
                 color_jitter: float = 0.0):
        self.img_size, self.seed = img_size, seed
        self.transform = pretrain_transform(img_size, scale, crop, color_jitter)

    def load(self, index: int) -> torch.Tensor:
        raise NotImplementedError

    def __getitem__(self, key):
        epoch, index = key if isinstance(key, tuple) else (0, key)
        img, index = self.load_valid(index)
        s = sample_seed(self.seed, epoch, index)
        with torch.random.fork_rng(devices=[]):
            # the CPU generator only: torch.manual_seed also queues CUDA seeding (~20 ms a call here)
            torch.default_generator.manual_seed(s)
            img = self.transform(img)
        # `data_samples` carries the per-sample mask seed through mmengine's preprocessor
        return {"inputs": img.contiguous(), "data_samples": torch.tensor(s, dtype=torch.int64)}

    def load_valid(self, index: int):
        return self.load(index), index


@DATASETS.register_module()
class ImageFolder(SeededAugDataset):
    """Every image under `root`, recursively; any class layout or none.

    Unreadable images are skipped (replaced by the next readable one), counted, and reported once
    each with their path; more than `max_bad_fraction` of the attempted reads failing is an error.
    """

    def __init__(self, root: str, img_size: int = 224, scale=(0.2, 1.0), seed: int = 0,
                 max_bad_fraction: float = 0.01, crop: str = "random_size", color_jitter: float = 0.0):
        super().__init__(img_size, scale, seed, crop, color_jitter)
        if not os.path.isdir(root):
            raise DataError(f"data folder not found: {root}")
        self.root = root
        self.files = sorted(
            os.path.join(d, f) for d, _, fs in os.walk(root, followlinks=True) for f in fs
            if f.lower().endswith(IMG_EXTENSIONS))
        if not self.files:
            raise DataError(f"no images ({', '.join(IMG_EXTENSIONS)}) found under {root}")
        self.max_bad_fraction = max_bad_fraction
        self.bad = set()

    def __len__(self):
        return len(self.files)

    def load(self, index: int) -> torch.Tensor:
        return decode_file(self.files[index])

    def load_valid(self, index: int):
        for step in range(len(self.files)):
            i = (index + step) % len(self.files)
            try:
                return self.load(i), i
            except DataError as e:  # corrupt, truncated or unsupported file
                if self.files[i] not in self.bad:
                    self.bad.add(self.files[i])
                    print_log(f"skipping: {e}; {len(self.bad)} bad so far", logger="current",
                              level=logging.WARNING)
                if len(self.bad) > max(1.0, self.max_bad_fraction * len(self.files)):
                    raise DataError(
                        f"{len(self.bad)} of {len(self.files)} images under {self.root} are unreadable "
                        f"(limit {self.max_bad_fraction:.1%}); last: {self.files[i]}") from None
        raise DataError(f"no readable image under {self.root}")


def embedded_images(short_side: int = 0) -> list:
    """Natural photographs shipped inside scikit-image (no download), as uint8 CHW RGB tensors;
    with `short_side`, larger ones are downscaled to it once (cheaper crops, same content)."""
    import skimage.data

    imgs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in EMBEDDED:
            try:
                a = np.asarray(getattr(skimage.data, name)())
            except Exception:  # some skimage builds fetch a few images at run time: skip those
                continue
            if a.ndim == 2:
                a = np.repeat(a[..., None], 3, axis=2)
            img = torch.from_numpy(np.ascontiguousarray(a[..., :3])).permute(2, 0, 1).contiguous()
            if short_side and min(img.shape[-2:]) > short_side:
                img = v2.functional.resize(img, short_side, interpolation=v2.InterpolationMode.BICUBIC,
                                           antialias=True)
            imgs.append(img)
    if not imgs:
        raise DataError("scikit-image ships no loadable sample images here: pip install scikit-image")
    return imgs


@DATASETS.register_module()
class EmbeddedImages(SeededAugDataset):
    """The default source: `length` random crops per epoch from scikit-image's sample photos
    (`short_side`: downscale larger photos to this once; 0 keeps them as shipped)."""

    def __init__(self, img_size: int = 224, length: int = 1024, scale=(0.2, 1.0), seed: int = 0,
                 short_side: int = 0, crop: str = "random_size", color_jitter: float = 0.0):
        super().__init__(img_size, scale, seed, crop, color_jitter)
        self.images, self.length = embedded_images(short_side), length

    def __len__(self):
        return self.length

    def load(self, index: int) -> torch.Tensor:
        return self.images[index % len(self.images)]


def load_image(path: str, img_size: Optional[int] = None) -> torch.Tensor:
    """One image file -> uint8 CHW RGB, centre-cropped and resized to `img_size` (for pictures)."""
    img = decode_file(path)
    return center_square(img, img_size) if img_size else img


def center_square(img: torch.Tensor, size: int) -> torch.Tensor:
    s = min(img.shape[-2:])
    img = v2.functional.center_crop(img, [s, s])
    return v2.functional.resize(img, [size, size], interpolation=v2.InterpolationMode.BICUBIC, antialias=True)
