"""The images a suite trains and tests on, as uint8 tensors in memory: Fashion-MNIST's idx files
(N, 28, 28) or an ImageFolder-layout root with train/ and val/ class folders (N, 3, S, S).

Why in memory rather than a DataLoader per epoch: every arm of a suite (up to ten pretrainings,
probes and fine-tunings) reads the same images, so decoding them once and slicing batches from one
tensor on the device pays the JPEG decoding a single time; ImageNet-100 at 224 px is 19 GB of uint8.
Crops and flips stay per batch on the device (engine.py's `augment`).
"""
import gzip
import os

import numpy as np
import torch

from pretrain.errors import DataError
from tools.ablate.engine import log

FMNIST_DIRS = ("data/fashion-mnist", "/usr/share/datasets/fashion-mnist")
SUBSET_SEED = 0  # which training/validation images a budget's subset takes: fixed, not the arm's seed


def read_idx(path: str) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def load_fmnist(root: str = None) -> dict:
    """Fashion-MNIST's train and test splits as uint8 (N, 28, 28) images and labels, from `root`
    or the first of FMNIST_DIRS that holds the idx files."""
    roots = [root] if root else list(FMNIST_DIRS)
    for r in roots:
        if r and os.path.isfile(os.path.join(r, "train-images-idx3-ubyte.gz")):
            def get(name):
                return torch.from_numpy(read_idx(os.path.join(r, name)).copy())
            return {"train": (get("train-images-idx3-ubyte.gz"),
                              get("train-labels-idx1-ubyte.gz").long()),
                    "test": (get("t10k-images-idx3-ubyte.gz"),
                             get("t10k-labels-idx1-ubyte.gz").long())}
    raise DataError(f"Fashion-MNIST not found in {roots}: apt-get install dataset-fashion-mnist")


def load(scale: dict, budget: dict, root: str = None) -> dict:
    """{'train': (x, y), 'test': (x, y), 'num_classes': n, 'image_dir': folder or None}."""
    kind = scale["data"]["type"]
    root = root or scale["data"].get("root")
    n = {"train": budget["train_images"], "test": budget["test_images"]}
    if kind == "fmnist":
        data = load_fmnist(root)  # the first n images (the idx files are in random class order)
        out = {k: ((x[:n[k]], y[:n[k]]) if n[k] else (x, y)) for k, (x, y) in data.items()}
        return {**out, "num_classes": 10, "image_dir": None}
    if kind == "image_folder":
        return load_image_folder(scale, root, n)
    raise DataError(f"unknown ablation data type {kind!r} in scale {scale['name']!r} (fmnist, image_folder)")


def load_image_folder(scale: dict, root: str, n: dict) -> dict:
    cfg, size = scale["data"], scale["arch"]["img_size"]
    if not root:
        raise DataError(f"scale {scale['name']!r} reads an ImageFolder-layout folder: give it with --data DIR "
                        f"(DIR/{cfg['train']}/<class>/*.jpg and DIR/{cfg['val']}/<class>/*.jpg)")
    if not os.path.isdir(root):
        raise DataError(f"data folder not found: {root}")
    splits = {"train": folder_split(root, cfg["train"]), "test": folder_split(root, cfg["val"])}
    classes = splits["train"].classes
    if splits["test"].classes != classes:
        extra = sorted(set(splits["test"].classes) ^ set(classes))
        raise DataError(f"{root}: {cfg['train']}/ and {cfg['val']}/ have different class folders "
                        f"(in one only: {extra[:5]}{' ...' if len(extra) > 5 else ''})")
    want = cfg.get("num_classes")
    if want and len(classes) != want:
        raise DataError(f"{root}/{cfg['train']} has {len(classes)} class folders; scale {scale['name']!r} "
                        f"expects {want} (set data.num_classes to change it)")
    out = {k: decode_all(ds, n[k], size, cfg.get("workers", 0), k) for k, ds in splits.items()}
    return {**out, "num_classes": len(classes), "image_dir": os.path.join(root, cfg["train"])}


def folder_split(root: str, name: str):
    """torchvision's DatasetFolder (ImageFolder's base) over root/name, class = sub-folder, images
    decoded by the project's reader (any format it reads, a one-line error naming a corrupt file)."""
    from torchvision.datasets import DatasetFolder

    from pretrain.image_io import IMG_EXTENSIONS, decode_file

    path = os.path.join(root, name)
    if not os.path.isdir(path):
        raise DataError(f"{root} has no {name}/ folder: expected the ImageFolder layout "
                        f"{name}/<class>/<image> (found: {sorted(os.listdir(root))[:8]})")
    try:
        return DatasetFolder(path, loader=decode_file, extensions=IMG_EXTENSIONS)
    except FileNotFoundError as e:  # no class folders, or a class folder without images
        raise DataError(f"{path}: {str(e).splitlines()[0]} (expected {name}/<class>/<image>)") from None


class Resized(torch.utils.data.Dataset):
    """Sample i of `ds` resized (shorter side) and centre-cropped to `size`: uint8 (3, size, size)."""

    def __init__(self, ds, index: list, size: int):
        from torchvision.transforms import v2

        self.ds, self.index = ds, index
        self.tf = v2.Compose([v2.Resize(size, antialias=True), v2.CenterCrop(size)])

    def __len__(self):
        return len(self.index)

    def __getitem__(self, i):
        img, label = self.ds[self.index[i]]
        return self.tf(img), label


def decode_all(ds, n: int, size: int, workers: int, split: str) -> tuple:
    """n images of the split (a fixed random subset; 0: all), decoded once into one uint8 tensor."""
    index = list(range(len(ds)))
    if n and n < len(ds):  # ImageFolder lists class by class: a prefix would hold the first classes only
        gen = torch.Generator().manual_seed(SUBSET_SEED)
        index = sorted(torch.randperm(len(ds), generator=gen)[:n].tolist())
    x = torch.empty(len(index), 3, size, size, dtype=torch.uint8)
    y = torch.empty(len(index), dtype=torch.long)
    loader = torch.utils.data.DataLoader(Resized(ds, index, size), batch_size=256, num_workers=workers)
    k = 0
    for b, (imgs, labels) in enumerate(loader):
        x[k:k + len(imgs)], y[k:k + len(imgs)] = imgs, labels
        k += len(imgs)
        if b % 50 == 0:
            log(f"decoding {split} images: {k}/{len(index)} at {size} px")
    return x, y


def to_device(data: dict, device) -> dict:
    """The train and test tensors on the device; a one-line error with what to lower when they do not fit."""
    try:
        return {k: (data[k][0].to(device), data[k][1].to(device)) for k in ("train", "test")}
    except torch.cuda.OutOfMemoryError:
        gb = sum(data[k][0].numel() for k in ("train", "test")) / 2**30
        raise DataError(f"the decoded images ({gb:.1f} GB as uint8) do not fit in GPU memory: lower the budget's "
                        "train_images or the image size (--scale-options arch.img_size=...)") from None
