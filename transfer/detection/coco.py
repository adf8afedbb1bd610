"""COCO instance annotations (`instances_*.json` + an image folder) as training / evaluation samples.

pycocotools reads the file and decodes polygons and RLE (compressed or not); crowd regions are left
out of the training targets (torchvision's Mask R-CNN has no ignore regions; COCOeval ignores them in
evaluation). Boxes are recomputed from the masks after augmentation, as ViTDet does, so a crop that
cuts an object gives the box of what is left. A malformed file is rejected with one line naming the
first problem found.

Files as annotation tools export them are read too: image and category ids may start at 0, and
annotation ids, which carry no meaning, are renumbered from 1 when they do not start there
(COCOeval takes a ground-truth id of 0 for "unmatched"). labelme's `_background_` category, the
name it gives unlabelled pixels, is not a class when no annotation uses it.
"""
import contextlib
import io
import json
import os
from typing import Optional, Sequence

import torch
from mmengine.logging import print_log
from mmengine.structures import BaseDataElement, InstanceData
from torch.utils.data import Dataset
from torchvision import tv_tensors
from torchvision.io import ImageReadMode, decode_image
from torchvision.ops import masks_to_boxes

from pretrain.errors import DataError
from pretrain.registry import DATASETS

from .transforms import eval_transform, train_transform


def _fail(path: str, msg: str):
    raise DataError(f"malformed COCO annotation file {path}: {msg}")


def check_coco(data, path: str) -> None:
    """Raise `DataError` naming the first structural problem of a COCO instances dict."""
    if not isinstance(data, dict):
        _fail(path, f"top level is a {type(data).__name__}, expected an object")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            _fail(path, f"missing or non-list '{key}'")
    cats = set()
    for c in data["categories"]:
        if not isinstance(c, dict) or "id" not in c or "name" not in c:
            _fail(path, f"category {c!r} needs 'id' and 'name'")
        _check_id(c["id"], cats, "category", path)
    imgs = set()
    for im in data["images"]:
        missing = [k for k in ("id", "file_name", "height", "width") if not isinstance(im, dict) or k not in im]
        if missing:
            _fail(path, f"image {im!r} lacks {missing}")
        _check_id(im["id"], imgs, "image", path)
    ann_ids = set()
    for a in data["annotations"]:
        where = f"annotation {a.get('id') if isinstance(a, dict) else a!r}"
        missing = [k for k in ("id", "image_id", "category_id", "bbox", "segmentation")
                   if not isinstance(a, dict) or k not in a]
        if missing:
            _fail(path, f"{where} lacks {missing}")
        _check_id(a["id"], ann_ids, "annotation", path)
        if a["image_id"] not in imgs:
            _fail(path, f"{where} refers to image {a['image_id']}, which is not in 'images'")
        if a["category_id"] not in cats:
            _fail(path, f"{where} has category {a['category_id']}, which is not in 'categories'")
        box = a["bbox"]
        if not (isinstance(box, list) and len(box) == 4 and all(isinstance(v, (int, float)) for v in box)
                and box[2] >= 0 and box[3] >= 0):
            _fail(path, f"{where}: bbox must be [x, y, width, height] with width, height >= 0, got {box!r}")
        _check_segmentation(a["segmentation"], where, path)


def _check_id(value, seen: set, what: str, path: str) -> None:
    """Ids are integers (from 0 or 1, as the tool that wrote the file numbers them), each once."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        _fail(path, f"{what} id {value!r} is not a non-negative integer")
    if value in seen:
        _fail(path, f"{what} id {value} appears twice")
    seen.add(value)


_RENUMBERED = set()  # files whose renumbering was logged


def renumber_annotations(data: dict, path: str) -> None:
    """Annotation ids 1..N in file order when they do not all start at 1 (labelme numbers from 0;
    COCOeval counts a ground truth of id 0 as unmatched). Ids mean nothing else: results refer to
    images and categories only."""
    anns = data["annotations"]
    if not anns or min(a["id"] for a in anns) >= 1:
        return
    for i, a in enumerate(anns, 1):
        a["id"] = i
    if path not in _RENUMBERED:  # said once per file (a split is read by its dataset and metric)
        _RENUMBERED.add(path)
        print_log(f"{path}: annotation ids start at 0; renumbered 1..{len(anns)} for COCOeval",
                  logger="current")


def class_ids(coco) -> list:
    """The file's category ids that are classes (label k is the k-th, from 1), sorted: all but
    labelme's `_background_` when no annotation uses it."""
    used = {a["category_id"] for a in coco.dataset["annotations"]}
    return sorted(c for c, cat in coco.cats.items() if cat["name"] != "_background_" or c in used)


def _check_segmentation(seg, where: str, path: str) -> None:
    if isinstance(seg, list):
        for poly in seg:
            if not isinstance(poly, list) or len(poly) < 6 or len(poly) % 2:
                _fail(path, f"{where}: a polygon must be a flat list of at least 3 x, y pairs")
    elif isinstance(seg, dict):
        if "counts" not in seg or not (isinstance(seg.get("size"), list) and len(seg["size"]) == 2):
            _fail(path, f"{where}: RLE segmentation needs 'counts' and 'size': [height, width]")
    else:
        _fail(path, f"{where}: segmentation must be polygons (list) or RLE (dict), got {type(seg).__name__}")


def read_coco(path: str):
    """A checked pycocotools COCO object for an instances file (pycocotools' prints silenced)."""
    from pycocotools.coco import COCO  # imported here: building a detector needs no pycocotools

    if not os.path.isfile(path):
        raise DataError(f"COCO annotation file not found: {path}")
    try:
        with open(path) as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"malformed COCO annotation file {path}: not valid JSON ({e})") from None
    check_coco(data, path)
    renumber_annotations(data, path)
    coco = COCO()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


@DATASETS.register_module()
class CocoInstances(Dataset):
    """Samples `dict(inputs=uint8 CHW image, data_samples=BaseDataElement)` from a COCO split.

    `train=True` applies large-scale jitter (scale `scale_range` of `img_size`, crop to `img_size`) and
    flip, and attaches `gt_instances` (boxes, labels 1..K, masks); otherwise the longest side is
    resized to `img_size`. `synthetic=dict(num_train=..., num_val=..., img_size=..., seed=...)` writes
    a generated set at `data_root` first if `ann_file` is absent (for the CPU configs and tests).
    """

    def __init__(self, data_root: str, ann_file: str, img_dir: str, train: bool = False, img_size: int = 1024,
                 scale_range: Sequence[float] = (0.1, 2.0), flip_prob: float = 0.5, filter_empty: bool = False,
                 synthetic: Optional[dict] = None):
        self.ann_file = os.path.join(data_root, ann_file)
        self.img_dir = os.path.join(data_root, img_dir)
        if synthetic is not None and not os.path.isfile(self.ann_file):
            from .synthetic import make_synthetic_coco
            print_log(f"generating a synthetic COCO set in {data_root} ({synthetic})", logger="current")
            make_synthetic_coco(data_root, **synthetic)
        self.coco = read_coco(self.ann_file)
        self.cat_ids = class_ids(self.coco)
        self.label_of = {c: i + 1 for i, c in enumerate(self.cat_ids)}
        self.metainfo = dict(classes=[self.coco.cats[c]["name"] for c in self.cat_ids])
        ids = sorted(self.coco.getImgIds())
        if filter_empty:
            ids = [i for i in ids if any(not a.get("iscrowd", 0) for a in self.coco.imgToAnns[i])]
        self.img_ids, self.train = ids, train
        self.transform = train_transform(img_size, scale_range, flip_prob) if train else eval_transform(img_size)

    def __len__(self) -> int:
        return len(self.img_ids)

    def load_image(self, info: dict) -> torch.Tensor:
        path = os.path.join(self.img_dir, info["file_name"])
        try:
            img = decode_image(path, mode=ImageReadMode.RGB)
        except (RuntimeError, OSError) as e:
            raise DataError(f"cannot read image {path}: {e}") from None
        if tuple(img.shape[1:]) != (info["height"], info["width"]):
            raise DataError(f"image {path} is {img.shape[2]}x{img.shape[1]}, the annotations say "
                            f"{info['width']}x{info['height']}")
        return img

    def __getitem__(self, index: int) -> dict:
        img_id = self.img_ids[index]
        info = self.coco.imgs[img_id]
        img = self.load_image(info)
        sample = BaseDataElement(metainfo=dict(img_id=img_id, ori_shape=tuple(img.shape[1:])))
        if not self.train:
            img = self.transform(img)
            sample.set_metainfo(dict(img_shape=tuple(img.shape[1:])))
            return dict(inputs=img, data_samples=sample)
        anns = [a for a in self.coco.imgToAnns[img_id] if not a.get("iscrowd", 0)]
        h, w = img.shape[1:]
        masks = torch.stack([torch.from_numpy(self.coco.annToMask(a)) for a in anns]) if anns \
            else torch.zeros(0, h, w, dtype=torch.uint8)
        labels = torch.tensor([self.label_of[a["category_id"]] for a in anns], dtype=torch.int64)
        img, masks = self.transform(tv_tensors.Image(img), tv_tensors.Mask(masks))
        keep = masks.flatten(1).amax(1) > 0
        masks, labels = masks[keep].as_subclass(torch.Tensor), labels[keep]
        boxes = masks_to_boxes(masks) + torch.tensor([0.0, 0.0, 1.0, 1.0])  # pixel extents, COCO style
        sample.set_metainfo(dict(img_shape=tuple(img.shape[1:])))
        sample.gt_instances = InstanceData(boxes=boxes, labels=labels, masks=masks)
        return dict(inputs=img.as_subclass(torch.Tensor), data_samples=sample)
