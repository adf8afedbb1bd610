"""A synthetic COCO-format instance-segmentation set, generated with exact masks.

Shapes of several categories are pasted on random textured backgrounds; later shapes occlude earlier
ones. An unoccluded shape is stored as the polygon it was rasterised from (by pycocotools, so the
stored polygon decodes to exactly the drawn mask); an occluded one as the compressed RLE of its
visible pixels. Some images get a crowd region (uncompressed RLE, `iscrowd=1`), some no objects.
Written in the COCO layout (`train2017/`, `val2017/`, `annotations/instances_*2017.json`, ids from 1),
so the real reader and evaluator are what tests and the CPU study exercise.
"""
import json
import os

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils

CATEGORIES = ("rectangle", "ellipse", "triangle")


def texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Smooth random colour field plus fine noise: a background with structure at two scales."""
    coarse = rng.uniform(0, 255, size=(4, 4, 3)).astype(np.uint8)
    field = np.asarray(Image.fromarray(coarse).resize((w, h), Image.BICUBIC), dtype=np.float32)
    return np.clip(field + rng.normal(0, 18, size=(h, w, 3)), 0, 255)


def shape_polygon(rng: np.random.Generator, category: str, h: int, w: int, scale=(0.15, 0.45)) -> list:
    """Vertices (flat x, y list) of one random shape of the category inside an h x w image; its box
    sides are `scale` (min, max) fractions of the shorter image side."""
    side = min(h, w)
    bw, bh = rng.uniform(*scale, size=2) * side
    cx, cy = rng.uniform(bw / 2, w - bw / 2), rng.uniform(bh / 2, h - bh / 2)
    if category == "rectangle":
        pts = [(-1, -1), (1, -1), (1, 1), (-1, 1)]
    elif category == "ellipse":
        t = np.linspace(0, 2 * np.pi, 32, endpoint=False)
        pts = list(zip(np.cos(t), np.sin(t)))
    else:
        pts = [(0, -1), (1, 1), (-1, 1)]
    return [float(v) for x, y in pts for v in (cx + x * bw / 2, cy + y * bh / 2)]


def rasterise(polygon: list, h: int, w: int) -> np.ndarray:
    return mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects([polygon], h, w))).astype(bool)


def make_image(rng: np.random.Generator, h: int, w: int, max_objects: int, crowd: bool, scale=(0.15, 0.45),
               num_categories: int = len(CATEGORIES)) -> tuple:
    """One picture and its instances: list of (category index, polygon or None, visible mask, iscrowd);
    categories drawn from the first `num_categories` of CATEGORIES."""
    img = texture(rng, h, w)
    objects = []
    for _ in range(int(rng.integers(1, max_objects + 1)) if max_objects else 0):
        cat = int(rng.integers(num_categories))
        poly = shape_polygon(rng, CATEGORIES[cat], h, w, scale)
        mask = rasterise(poly, h, w)
        colour = rng.uniform(0, 255, size=3)
        img[mask] = np.clip(colour + rng.normal(0, 10, size=(int(mask.sum()), 3)), 0, 255)
        for other in objects:  # the new shape hides part of the earlier ones
            other[2] &= ~mask
        objects.append([cat, poly, mask, 0])
    if crowd:  # a cluster of small same-category blobs annotated as one crowd region
        cat, mask = int(rng.integers(num_categories)), np.zeros((h, w), bool)
        for _ in range(5):
            r = max(2, min(h, w) // 20)
            y, x = int(rng.integers(r, h - r)), int(rng.integers(r, w - r))
            mask[y - r:y + r, x - r:x + r] = True
        img[mask] = rng.uniform(0, 255, size=3)
        for obj in objects:
            obj[2] &= ~mask
        objects.append([cat, None, mask, 1])
    for obj in objects:
        if obj[1] is not None and not np.array_equal(obj[2], rasterise(obj[1], h, w)):
            obj[1] = None  # occluded: its polygon no longer describes it, store the RLE
    objects = [o for o in objects if o[2].sum() >= 16]
    return img.astype(np.uint8), objects


def annotation(ann_id: int, img_id: int, cat: int, poly, mask: np.ndarray, crowd: int) -> dict:
    ys, xs = np.nonzero(mask)
    bbox = [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)]
    if poly is not None:
        seg = [poly]
    elif crowd:  # COCO stores crowd regions as uncompressed RLE (column-major run lengths)
        flat = mask.T.reshape(-1)
        bounds = np.concatenate([[0], np.flatnonzero(flat[1:] != flat[:-1]) + 1, [flat.size]])
        counts = np.diff(bounds).tolist()
        seg = {"counts": [0] + counts if flat[0] else counts, "size": list(mask.shape)}
    else:
        rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
        seg = {"counts": rle["counts"].decode("ascii"), "size": list(mask.shape)}
    return dict(id=ann_id, image_id=img_id, category_id=cat + 1, bbox=bbox, area=float(mask.sum()),
                segmentation=seg, iscrowd=crowd)


def write_split(root: str, split: str, num_images: int, img_size: int, seed: int, max_objects: int = 4,
                crowd_every: int = 5, empty_every: int = 7, scale=(0.15, 0.45),
                num_categories: int = len(CATEGORIES)) -> str:
    """Write `<root>/<split>2017/*.jpg` and `<root>/annotations/instances_<split>2017.json`."""
    rng = np.random.default_rng([seed, 0 if split == "train" else 1])
    img_dir, ann_dir = os.path.join(root, f"{split}2017"), os.path.join(root, "annotations")
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(ann_dir, exist_ok=True)
    images, anns = [], []
    for img_id in range(1, num_images + 1):
        h, w = (int(img_size * f) for f in rng.uniform(0.75, 1.0, size=2))
        empty = empty_every and img_id % empty_every == 0
        pixels, objects = make_image(rng, h, w, 0 if empty else max_objects,
                                     crowd=bool(crowd_every) and img_id % crowd_every == 0 and not empty,
                                 scale=scale, num_categories=num_categories)
        name = f"{img_id:012d}.png"
        Image.fromarray(pixels).save(os.path.join(img_dir, name))
        images.append(dict(id=img_id, file_name=name, height=h, width=w))
        for obj in objects:
            anns.append(annotation(len(anns) + 1, img_id, *obj))
    data = dict(info=dict(description=f"synthetic shapes, seed {seed}"), licenses=[], images=images,
                annotations=anns, categories=[dict(id=i + 1, name=n, supercategory="shape")
                                              for i, n in enumerate(CATEGORIES[:num_categories])])
    path = os.path.join(ann_dir, f"instances_{split}2017.json")
    with open(path + ".tmp", "w") as f:
        json.dump(data, f)
    os.replace(path + ".tmp", path)
    return path


def make_synthetic_coco(root: str, num_train: int = 64, num_val: int = 16, img_size: int = 128, seed: int = 0,
                        max_objects: int = 4, object_scale=(0.15, 0.45), num_categories: int = len(CATEGORIES)) -> dict:
    """Generate both splits; returns the annotation file of each. `object_scale`: (min, max) box side
    as a fraction of the shorter image side; `num_categories`: how many of CATEGORIES are used."""
    if not 0 < object_scale[0] <= object_scale[1] <= 1:
        raise ValueError(f"object_scale {tuple(object_scale)}: need 0 < min <= max <= 1")
    if not 1 <= num_categories <= len(CATEGORIES):
        raise ValueError(f"num_categories {num_categories}: need 1 to {len(CATEGORIES)}")
    return {split: write_split(root, split, n, img_size, seed, max_objects, scale=tuple(object_scale),
                               num_categories=num_categories)
            for split, n in (("train", num_train), ("val", num_val))}
