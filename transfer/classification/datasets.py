"""Labelled image datasets for classification: class folders (ImageNet-style and generic) and
the embedded photos for runs without any dataset. iNaturalist and Places readers are in
`file_lists.py`.

Every reader checks its layout when built and says what is missing. Items are
{'inputs': float CHW tensor, 'data_samples': int64 label}; images go through a timm transform
(`timm.data.create_transform`, the one the official MAE fine-tuning uses), given as its keyword
arguments, e.g. dict(input_size=224, is_training=True, auto_augment='rand-m9-mstd0.5-inc1',
interpolation='bicubic', re_prob=0.25, re_mode='pixel').
"""
import os
import warnings
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from PIL import Image, ImageOps
from timm.data import create_transform
from torch.utils.data import Dataset

from pretrain.data import IMG_EXTENSIONS, embedded_images
from pretrain.errors import ConfigError, DataError
from pretrain.registry import DATASETS

EVAL_TRANSFORM = dict(input_size=224, is_training=False, interpolation="bicubic", crop_pct=0.875)


def build_transform(transform: Optional[dict]):
    cfg = dict(EVAL_TRANSFORM if transform is None else transform)
    built = create_transform(**cfg)
    patch_posterize(built)
    return built


def read_rgb(path: str) -> Image.Image:
    try:
        with Image.open(path) as img:
            return img.convert("RGB")
    except FileNotFoundError:
        raise DataError(f"image not found: {path}") from None
    except Exception as e:  # truncated, corrupt or not an image
        raise DataError(f"cannot read image {path}: {type(e).__name__}: {e}") from None


class LabelledImages(Dataset):
    """Base: a list of (image path, label) and the class names; subclasses fill them."""

    def __init__(self, samples: List[Tuple[str, int]], classes: Sequence[str], transform: Optional[dict] = None):
        self.samples, self.classes = samples, list(classes)
        self.transform = build_transform(transform)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict:
        path, label = self.samples[index]
        return {"inputs": self.transform(read_rgb(path)), "data_samples": torch.tensor(label, dtype=torch.int64)}

    @property
    def targets(self) -> List[int]:
        return [label for _, label in self.samples]


def is_image(name: str) -> bool:
    return name.lower().endswith(IMG_EXTENSIONS)


def class_dirs(root: str) -> List[str]:
    if not os.path.isdir(root):
        raise DataError(f"image folder not found: {root}")
    names = sorted(d.name for d in os.scandir(root) if d.is_dir() and not d.name.startswith("."))
    if not names:
        loose = [f for f in os.listdir(root) if is_image(f)]
        hint = (f" (it holds {len(loose)} images directly: put each class's images in a sub-folder named "
                f"after the class; for the ImageNet val set, sort it into class folders first)") if loose else ""
        raise DataError(f"no class folders under {root}{hint}")
    return names


def folder_samples(root: str, classes: Sequence[str]) -> List[Tuple[str, int]]:
    present = set(class_dirs(root))
    unknown = sorted(present - set(classes))
    if unknown:
        raise DataError(f"{root} has class folders that the class list lacks: {unknown[:5]}"
                        f"{' ...' if len(unknown) > 5 else ''}")
    samples = []
    for label, name in enumerate(classes):
        d = os.path.join(root, name)
        if not os.path.isdir(d):
            continue  # a class with no images in this split (allowed for val folders)
        for sub, _, files in sorted(os.walk(d, followlinks=True)):
            samples += [(os.path.join(sub, f), label) for f in sorted(files) if is_image(f)]
    if not samples:
        raise DataError(f"no images ({', '.join(IMG_EXTENSIONS)}) in the class folders under {root}")
    return samples


@DATASETS.register_module()
class ClassFolder(LabelledImages):
    """Generic ImageFolder: `root/<class name>/**/<image>`; labels follow the sorted class
    names, or the given `classes` list (so that a val folder uses the train folder's labels)."""

    def __init__(self, root: str, classes: Optional[Sequence[str]] = None, transform: Optional[dict] = None):
        classes = list(classes) if classes is not None else class_dirs(root)
        super().__init__(folder_samples(root, classes), classes, transform)
        self.root = root


@DATASETS.register_module()
class ImageNet(ClassFolder):
    """ImageNet-style tree: `data_root/train/<wnid>/*.JPEG` and `data_root/val/<wnid>/*.JPEG`.
    Labels are the sorted class folders of `train/`, for every split, so train and val agree;
    `num_classes` (1000 for IN-1K) is checked when given."""

    def __init__(self, data_root: str, split: str = "train", num_classes: Optional[int] = None,
                 transform: Optional[dict] = None):
        if not os.path.isdir(data_root):
            raise DataError(f"ImageNet root not found: {data_root}")
        split_dir = os.path.join(data_root, split)
        if not os.path.isdir(split_dir):
            found = sorted(d for d in os.listdir(data_root) if os.path.isdir(os.path.join(data_root, d)))
            raise DataError(f"ImageNet split folder {split_dir} not found (found {found}); expected "
                            f"{data_root}/train/<class>/... and {data_root}/val/<class>/...")
        train_dir = os.path.join(data_root, "train")
        classes = class_dirs(train_dir if os.path.isdir(train_dir) else split_dir)
        if num_classes is not None and len(classes) != num_classes:
            raise DataError(f"{data_root}: {len(classes)} class folders, expected {num_classes}")
        super().__init__(split_dir, classes, transform)


@DATASETS.register_module()
class EmbeddedPhotos(Dataset):
    """A labelled task that needs no download: which of scikit-image's sample photos a view
    comes from (label = photo index). Train views are the transform's random crops of the whole
    photo; val views are fixed per index (a seeded crop of 30-70% of the photo's side, then
    the transform), so evaluation is repeatable."""

    def __init__(self, split: str = "train", length: int = 256, transform: Optional[dict] = None, seed: int = 0):
        if split not in ("train", "val"):
            raise ConfigError(f"split must be 'train' or 'val', got {split!r}")
        self.split, self.length, self.seed = split, length, seed
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.photos = [Image.fromarray(t.permute(1, 2, 0).numpy()) for t in embedded_images()]
        self.classes = [f"photo{i}" for i in range(len(self.photos))]
        self.transform = build_transform(transform)

    def __len__(self) -> int:
        return self.length

    def view(self, index: int) -> Image.Image:
        photo = self.photos[index % len(self.photos)]
        if self.split == "train":
            return photo
        rng = np.random.default_rng([self.seed, index])
        w, h = photo.size
        side = int(min(w, h) * rng.uniform(0.3, 0.7))
        x, y = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
        return photo.crop((x, y, x + side, y + side))

    def __getitem__(self, index: int) -> dict:
        label = index % len(self.photos)
        return {"inputs": self.transform(self.view(index)), "data_samples": torch.tensor(label, dtype=torch.int64)}


def _posterize(img: Image.Image, bits_to_keep: int, **_) -> Image.Image:
    """timm's posterize with 0 bits allowed again: RandAugment's 'PosterizeIncreasing' reaches 0
    bits at high magnitudes, which Pillow < 11 turned into a black image and Pillow >= 11 refuses
    (ValueError 'bits must be between or equal to 1 and 8'). Same result as the old Pillow."""
    if bits_to_keep >= 8:
        return img
    if bits_to_keep <= 0:
        return Image.new(img.mode, img.size)
    return ImageOps.posterize(img, bits_to_keep)


def patch_posterize(transform) -> None:
    for t in getattr(transform, "transforms", []):
        for op in getattr(t, "ops", []):
            if "Posterize" in getattr(op, "name", ""):
                op.aug_fn = _posterize
