"""Each dataset reader on a tiny tree generated in its real layout, and its one-line errors."""
import json
import os

import numpy as np
import pytest
import torch
from PIL import Image

from pretrain.errors import DataError
from transfer.classification.datasets import ClassFolder, EmbeddedPhotos, ImageNet, build_transform
from transfer.classification.file_lists import INaturalist, Places

T = dict(input_size=16, is_training=False, interpolation="bicubic", crop_pct=1.0)


def write_image(path, value):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(np.full((20, 24, 3), value, np.uint8)).save(path)


def check_items(ds, expected_labels):
    assert [int(ds[i]["data_samples"]) for i in range(len(ds))] == expected_labels
    x = ds[0]["inputs"]
    assert x.shape == (3, 16, 16) and x.dtype == torch.float32


def test_imagenet_layout(tmp_path):
    for split, per_class in (("train", 2), ("val", 1)):
        for c, wnid in enumerate(["n01440764", "n01443537", "n01484850"]):
            for i in range(per_class):
                write_image(str(tmp_path / split / wnid / f"{wnid}_{i}.JPEG"), 40 * c)
    train = ImageNet(str(tmp_path), "train", num_classes=3, transform=T)
    check_items(train, [0, 0, 1, 1, 2, 2])
    # val labels come from train's class folders even when a val class has no images
    for f in os.listdir(tmp_path / "val" / "n01443537"):
        os.remove(tmp_path / "val" / "n01443537" / f)
    os.rmdir(tmp_path / "val" / "n01443537")
    check_items(ImageNet(str(tmp_path), "val", transform=T), [0, 2])
    with pytest.raises(DataError, match="expected 1000"):
        ImageNet(str(tmp_path), "train", num_classes=1000)
    with pytest.raises(DataError, match=r"test not found \(found \['train', 'val'\]\)"):
        ImageNet(str(tmp_path), "test")


def test_class_folder_errors(tmp_path):
    write_image(str(tmp_path / "flat" / "a.png"), 1)
    with pytest.raises(DataError, match="holds 1 images directly"):
        ClassFolder(str(tmp_path / "flat"))
    with pytest.raises(DataError, match="image folder not found"):
        ClassFolder(str(tmp_path / "nope"))
    write_image(str(tmp_path / "tree" / "cat" / "1.png"), 1)
    with pytest.raises(DataError, match=r"lacks: \['cat'\]"):
        ClassFolder(str(tmp_path / "tree"), classes=["dog"])
    (tmp_path / "tree" / "cat" / "2.png").write_bytes(b"not a png")
    ds = ClassFolder(str(tmp_path / "tree"), transform=T)
    with pytest.raises(DataError, match="cannot read image .*2.png"):
        ds[1]


@pytest.mark.parametrize("year,img_dir", [(2017, "train_val_images"), (2018, "train_val2018"),
                                          (2019, "train_val2019")])
def test_inaturalist_layout(tmp_path, year, img_dir):
    cats = [dict(id=i, name=f"species {i}", supercategory="Plantae") for i in range(3)]
    images, anns = [], []
    for n, c in enumerate([2, 0, 1, 2]):
        name = f"{img_dir}/Plantae/{c}/{n:04d}.jpg"
        write_image(str(tmp_path / name), 30 * c)
        images.append(dict(id=100 + n, file_name=name, width=24, height=20))
        anns.append(dict(id=n, image_id=100 + n, category_id=c))
    (tmp_path / f"val{year}.json").write_text(json.dumps(dict(images=images, annotations=anns, categories=cats)))
    ds = INaturalist(str(tmp_path), year=year, split="val", transform=T)
    check_items(ds, [2, 0, 1, 2])
    assert ds.classes == ["species 0", "species 1", "species 2"]
    with pytest.raises(DataError, match=f"annotation file not found: .*train{year}.json"):
        INaturalist(str(tmp_path), year=year, split="train")
    (tmp_path / f"bad{year}.json").write_text(json.dumps(dict(images=images)))
    with pytest.raises(DataError, match=r"lacks \['annotations'\]"):
        INaturalist(str(tmp_path), year=year, ann_file=f"bad{year}.json")


def test_places365_layout(tmp_path):
    lines = []
    for n, (path, label) in enumerate([("a/airfield/00000001.jpg", 0), ("b/bakery/00000001.jpg", 364)]):
        write_image(str(tmp_path / "data_256" / path), n)
        lines.append(f"/{path} {label}")
    (tmp_path / "places365_train_standard.txt").write_text("\n".join(lines) + "\n")
    write_image(str(tmp_path / "val_256" / "Places365_val_00000001.jpg"), 9)
    (tmp_path / "places365_val.txt").write_text("Places365_val_00000001.jpg 165\n")
    check_items(Places(str(tmp_path), 365, "train", transform=T), [0, 364])
    check_items(Places(str(tmp_path), 365, "val", transform=T), [165])
    assert len(Places(str(tmp_path), 365, "val", transform=T).classes) == 365
    (tmp_path / "places365_val.txt").write_text("Places365_val_00000001.jpg 400\n")
    with pytest.raises(DataError, match=r"labels span 400 ... 400, expected 0 ... 364"):
        Places(str(tmp_path), 365, "val")
    with pytest.raises(DataError, match="file list not found: .*train_places205.csv"):
        Places(str(tmp_path), 205, "train")


def test_places205_layout(tmp_path):
    root = tmp_path / "data" / "vision" / "torralba" / "deeplearning" / "images256"
    write_image(str(root / "a" / "abbey" / "gsun_1.jpg"), 3)
    write_image(str(root / "y" / "yard" / "gsun_2.jpg"), 4)
    lists = tmp_path / "trainvalsplit_places205"
    lists.mkdir()
    (lists / "val_places205.csv").write_text("a/abbey/gsun_1.jpg 0\ny/yard/gsun_2.jpg 204\n")
    check_items(Places(str(tmp_path), 205, "val", transform=T), [0, 204])
    (lists / "val_places205.csv").write_text("a/abbey/missing.jpg 0\n")
    with pytest.raises(DataError, match="image not found: .*missing.jpg"):
        Places(str(tmp_path), 205, "val")


def test_embedded_photos_val_views_repeat():
    ds = EmbeddedPhotos("val", length=20, transform=T)
    assert len(ds.classes) >= 2 and int(ds[1]["data_samples"]) == 1
    torch.testing.assert_close(ds[3]["inputs"], ds[3]["inputs"])
    assert not torch.equal(ds[3]["inputs"], ds[3 + len(ds.classes)]["inputs"])


def test_randaugment_posterize_zero_bits():
    """rand-m9-mstd0.5 reaches posterize with 0 bits; the transform must not fail on new Pillow."""
    t = build_transform(dict(input_size=16, is_training=True, auto_augment="rand-m9-mstd0.5-inc1"))
    (ra,) = [s for s in t.transforms if hasattr(s, "ops")]
    (op,) = [o for o in ra.ops if "Posterize" in o.name]
    out = op.aug_fn(Image.new("RGB", (8, 8), (200, 100, 50)), 0)
    assert out.getpixel((0, 0)) == (0, 0, 0)
