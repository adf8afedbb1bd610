"""Readers for datasets described by annotation files: iNaturalist (json), Places (file lists).

Each takes the dataset's root as distributed and its own annotation file names, checks that the
files and image folders are where that release puts them, and says what is missing.
"""
import json
import os
from typing import Optional

from pretrain.errors import ConfigError, DataError
from pretrain.registry import DATASETS

from .datasets import LabelledImages

# iNaturalist: (annotation file, image folder) per year; file_name in the json starts with it.
INAT = {2017: ("{split}2017.json", "train_val_images"), 2018: ("{split}2018.json", "train_val2018"),
        2019: ("{split}2019.json", "train_val2019")}
# Places: file list and image folder per (version, split), as in the official archives.
PLACES = {
    (205, "train"): ("trainvalsplit_places205/train_places205.csv", "data/vision/torralba/deeplearning/images256"),
    (205, "val"): ("trainvalsplit_places205/val_places205.csv", "data/vision/torralba/deeplearning/images256"),
    (365, "train"): ("places365_train_standard.txt", "data_256"),
    (365, "val"): ("places365_val.txt", "val_256"),
}


def check_exists(path: str, what: str, hint: str = "") -> None:
    if not os.path.exists(path):
        raise DataError(f"{what} not found: {path}{hint}")


def check_first_last(samples: list, source: str) -> None:
    """Image paths are checked at the ends of the list (a wrong image root shows there); a file
    missing elsewhere is named when it is read."""
    for path, _ in (samples[0], samples[-1]):
        check_exists(path, "image", f" (listed in {source})")


@DATASETS.register_module()
class INaturalist(LabelledImages):
    """iNaturalist 2017 / 2018 / 2019 from the release's json (COCO-like: images, annotations,
    categories). Labels are the category ids in sorted order (0 ... C-1 in these releases)."""

    def __init__(self, data_root: str, year: int = 2018, split: str = "train", ann_file: Optional[str] = None,
                 transform: Optional[dict] = None):
        if year not in INAT:
            raise ConfigError(f"iNaturalist year must be one of {sorted(INAT)}, got {year}")
        pattern, img_dir = INAT[year]
        ann = os.path.join(data_root, ann_file or pattern.format(split=split))
        check_exists(data_root, "iNaturalist root")
        check_exists(ann, f"iNaturalist {year} annotation file",
                     f" (expected {pattern.format(split='train')} and {pattern.format(split='val')} in {data_root})")
        check_exists(os.path.join(data_root, img_dir), f"iNaturalist {year} image folder")
        try:
            with open(ann) as f:
                data = json.load(f)
        except (OSError, ValueError) as e:
            raise DataError(f"cannot read {ann}: {e}") from None
        missing = [k for k in ("images", "annotations") if k not in data]
        if missing:
            raise DataError(f"{ann} lacks {missing}: not an iNaturalist annotation file")
        files = {img["id"]: img["file_name"] for img in data["images"]}
        cat_ids = sorted({c["id"] for c in data.get("categories", [])} or
                         {a["category_id"] for a in data["annotations"]})
        label_of = {c: i for i, c in enumerate(cat_ids)}
        names = {c["id"]: c.get("name", str(c["id"])) for c in data.get("categories", [])}
        samples = []
        for a in data["annotations"]:
            if a["image_id"] not in files:
                raise DataError(f"{ann}: annotation {a.get('id')} names image {a['image_id']}, which is not listed")
            samples.append((os.path.join(data_root, files[a["image_id"]]), label_of[a["category_id"]]))
        if not samples:
            raise DataError(f"{ann} has no annotated images")
        check_first_last(samples, ann)
        super().__init__(samples, [names.get(c, str(c)) for c in cat_ids], transform)


@DATASETS.register_module()
class FileList(LabelledImages):
    """Images listed in a text file, one `relative/path label` per line (paths relative to
    `img_dir`, a leading '/' allowed): the layout of Places and of many other releases."""

    def __init__(self, data_root: str, ann_file: str, img_dir: str = "", num_classes: Optional[int] = None,
                 transform: Optional[dict] = None):
        check_exists(data_root, "dataset root")
        ann, images = os.path.join(data_root, ann_file), os.path.join(data_root, img_dir)
        check_exists(ann, "file list")
        check_exists(images, "image folder")
        samples = []
        with open(ann) as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                parts = line.rsplit(maxsplit=1)
                if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
                    raise DataError(f"{ann}:{n}: expected 'path label', got {line.strip()!r}")
                samples.append((os.path.join(images, parts[0].lstrip("/")), int(parts[1])))
        if not samples:
            raise DataError(f"{ann} lists no images")
        labels = {label for _, label in samples}
        count = num_classes if num_classes is not None else max(labels) + 1
        if min(labels) < 0 or max(labels) >= count:
            raise DataError(f"{ann}: labels span {min(labels)} ... {max(labels)}, expected 0 ... {count - 1}")
        check_first_last(samples, ann)
        super().__init__(samples, [str(i) for i in range(count)], transform)


@DATASETS.register_module()
class Places(FileList):
    """Places205 / Places365-Standard in their archives' layout (file lists and image folders
    as distributed; 256x256 images)."""

    def __init__(self, data_root: str, version: int = 365, split: str = "train", transform: Optional[dict] = None):
        if (version, split) not in PLACES:
            raise ConfigError(f"Places version/split must be one of {sorted(PLACES)}, got {(version, split)}")
        ann_file, img_dir = PLACES[(version, split)]
        super().__init__(data_root, ann_file, img_dir, num_classes=version, transform=transform)
