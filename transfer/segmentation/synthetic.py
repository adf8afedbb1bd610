"""Synthetic scenes written in the real ADE20K layout, so the real reader and pipeline are exercised.

Each class has a fixed look (colour, stripe orientation and frequency), drawn once from the seed, so
a model can learn it; each scene is a few background regions (bands with wavy borders) plus pasted
objects (ellipses, rectangles, triangles). Labels are exact, in ADE20K's encoding: class c of the 150
is stored as c + 1, and 0 ("other") marks pixels to ignore (a thin seam around objects here).

No mmseg import here: `mae synth-ade20k` (tools/) and the `SyntheticADE20KDataset` both use it.
"""
import json
import os
import os.path as osp

import cv2
import numpy as np

from pretrain.errors import ConfigError

SPLITS = {"training": "ADE_train", "validation": "ADE_val"}
MARKER = "synthetic.json"


def class_looks(num_classes: int, seed: int) -> list:
    """One fixed look per class: BGR colour, stripe angle, stripe period (pixels), stripe contrast."""
    rng = np.random.default_rng([seed, 0])
    looks = []
    for _ in range(num_classes):
        looks.append(dict(colour=rng.uniform(30, 225, 3), angle=rng.uniform(0, np.pi),
                          period=rng.uniform(4, 16), contrast=rng.uniform(15, 45)))
    return looks


def paint(look: dict, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A (h, w, 3) float texture for one class: its colour plus its stripes plus pixel noise."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    phase = rng.uniform(0, 2 * np.pi)
    along = xx * np.cos(look["angle"]) + yy * np.sin(look["angle"])
    stripes = np.sin(2 * np.pi * along / look["period"] + phase) * look["contrast"]
    return look["colour"][None, None, :] + stripes[..., None] + rng.normal(0, 6, (h, w, 1))


def background_label(h: int, w: int, classes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """2-3 horizontal bands (sky / wall / floor-like) with wavy borders."""
    bands = min(int(rng.integers(2, 4)), len(classes))
    ids = rng.choice(classes, size=bands, replace=False)
    cuts = np.sort(rng.uniform(0.2, 0.8, bands - 1)) * h
    xx = np.arange(w)
    label = np.full((h, w), ids[0], np.int32)
    yy = np.arange(h)[:, None]
    for k, cut in enumerate(cuts):
        wave = cut + rng.uniform(2, h / 10) * np.sin(2 * np.pi * xx / rng.uniform(w / 3, w) + rng.uniform(0, 6))
        label[yy >= wave[None, :]] = ids[k + 1]
    return label


def object_mask(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """One random ellipse, rectangle or triangle as a uint8 mask."""
    m = np.zeros((h, w), np.uint8)
    cx, cy = int(rng.uniform(0.1, 0.9) * w), int(rng.uniform(0.1, 0.9) * h)
    rx, ry = int(rng.uniform(0.06, 0.2) * w) + 2, int(rng.uniform(0.06, 0.2) * h) + 2
    kind = rng.integers(3)
    if kind == 0:
        cv2.ellipse(m, (cx, cy), (rx, ry), float(rng.uniform(0, 180)), 0, 360, 1, -1)
    elif kind == 1:
        cv2.rectangle(m, (cx - rx, cy - ry), (cx + rx, cy + ry), 1, -1)
    else:
        pts = np.array([[cx, cy - ry], [cx - rx, cy + ry], [cx + rx, cy + ry]], np.int32)
        cv2.fillPoly(m, [pts], 1)
    return m


def make_scene(h: int, w: int, looks: list, stuff: np.ndarray, things: np.ndarray, rng, max_objects=4):
    """(image uint8 HxWx3 BGR, label uint8 HxW in ADE20K encoding: class index + 1, 0 = ignore)."""
    label = background_label(h, w, stuff, rng)
    seam = np.zeros((h, w), bool)
    for _ in range(rng.integers(1, max_objects + 1)):
        m = object_mask(h, w, rng).astype(bool)
        label[m] = rng.choice(things)
        edge = cv2.morphologyEx(m.astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)).astype(bool)
        seam |= edge
    image = np.zeros((h, w, 3), np.float32)
    for c in np.unique(label):
        region = label == c
        image[region] = paint(looks[c], h, w, rng)[region]
    out_label = (label + 1).astype(np.uint8)
    out_label[seam] = 0  # ADE20K's "other": ignored by the loss and the metric
    return np.clip(image, 0, 255).astype(np.uint8), out_label


def write_ade20k(root: str, num_train: int = 32, num_val: int = 8, size=(128, 128), num_classes: int = 8,
                 seed: int = 0, progress: bool = False) -> str:
    """Write `root/images/{training,validation}/*.jpg` and `root/annotations/.../*.png`.

    Uses the first `num_classes` ADE20K class ids (half as background "stuff", half as objects).
    Returns `root`. Same arguments, same files (up to JPEG encoding)."""
    if not 2 <= num_classes <= 150:
        raise ConfigError(f"num_classes must be in [2, 150], got {num_classes}")
    h, w = (size, size) if isinstance(size, int) else tuple(size)
    looks = class_looks(num_classes, seed)
    classes = np.arange(num_classes)
    stuff, things = classes[: max(2, num_classes // 2)], classes[max(2, num_classes // 2):]
    if len(things) == 0:
        things = stuff
    for split, count in (("training", num_train), ("validation", num_val)):
        img_dir, ann_dir = osp.join(root, "images", split), osp.join(root, "annotations", split)
        os.makedirs(img_dir, exist_ok=True)
        os.makedirs(ann_dir, exist_ok=True)
        for i in range(count):
            rng = np.random.default_rng([seed, 1 if split == "training" else 2, i])
            image, label = make_scene(h, w, looks, stuff, things, rng)
            name = f"{SPLITS[split]}_{i + 1:08d}"
            cv2.imwrite(osp.join(img_dir, name + ".jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 95])
            cv2.imwrite(osp.join(ann_dir, name + ".png"), label)
        if progress:
            print(f"wrote {count} {split} images to {img_dir}")
    with open(osp.join(root, MARKER), "w") as f:
        json.dump(dict(num_train=num_train, num_val=num_val, size=[h, w], num_classes=num_classes, seed=seed), f)
    return root
