import logging
import os

import numpy as np
import pytest
import torch
from mmengine.logging import MMLogger
from PIL import Image

from pretrain.data import EmbeddedImages, EpochSeedSampler, ImageFolder, load_image
from pretrain.errors import DataError


def write_images(folder, n, size=(40, 30), sub=""):
    os.makedirs(os.path.join(folder, sub), exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(
            os.path.join(folder, sub, f"img{i}.jpg"))


def test_missing_and_empty_folder(tmp_path):
    with pytest.raises(DataError, match="data folder not found: .*nope"):
        ImageFolder(str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    with pytest.raises(DataError, match="no images .* found under"):
        ImageFolder(str(tmp_path / "empty"))


def test_recursive_any_layout(tmp_path):
    write_images(str(tmp_path), 2)  # flat files
    write_images(str(tmp_path), 3, sub="class_a/deeper")
    ds = ImageFolder(str(tmp_path), img_size=16)
    assert len(ds) == 5
    item = ds[(0, 3)]
    assert item["inputs"].shape == (3, 16, 16) and item["inputs"].dtype == torch.uint8


def test_same_epoch_and_index_same_sample(tmp_path):
    write_images(str(tmp_path), 3, size=(64, 48))
    ds = ImageFolder(str(tmp_path), img_size=16)
    a, b, c = ds[(1, 2)], ds[(1, 2)], ds[(2, 2)]
    assert torch.equal(a["inputs"], b["inputs"]) and a["data_samples"] == b["data_samples"]
    assert a["data_samples"] != c["data_samples"]


def test_corrupt_image_skipped_and_counted(tmp_path, caplog):
    write_images(str(tmp_path), 20)
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    ds = ImageFolder(str(tmp_path), img_size=16, max_bad_fraction=0.1)
    idx = ds.files.index(str(bad))
    logger = MMLogger.get_current_instance()  # mmengine's logger does not propagate to the root one
    logger.addHandler(caplog.handler)
    try:
        item = ds[(0, idx)]  # replaced by the next readable image
        ds[(1, idx)]  # reported once, not at every visit
    finally:
        logger.removeHandler(caplog.handler)
    assert item["inputs"].shape == (3, 16, 16)
    assert ds.bad == {str(bad)}
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and warned[0].startswith(f"skipping: cannot decode image {bad}: ")
    assert warned[0].endswith("1 bad so far")


def test_too_many_corrupt_images_is_an_error(tmp_path):
    write_images(str(tmp_path), 2)
    for i in range(3):
        (tmp_path / f"bad{i}.png").write_bytes(b"garbage")
    ds = ImageFolder(str(tmp_path), img_size=16, max_bad_fraction=0.2)
    with pytest.raises(DataError, match="unreadable"):
        for i in range(len(ds)):
            ds[(0, i)]


def test_truncated_image(tmp_path):
    write_images(str(tmp_path), 4, size=(64, 64))
    path = os.path.join(str(tmp_path), "img0.jpg")
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) // 3])
    ds = ImageFolder(str(tmp_path), img_size=16, max_bad_fraction=0.5)
    for i in range(len(ds)):
        assert ds[(0, i)]["inputs"].shape == (3, 16, 16)


def test_embedded_images_need_no_download():
    ds = EmbeddedImages(img_size=32, length=10)
    assert len(ds) == 10 and len(ds.images) >= 5
    assert ds[(0, 3)]["inputs"].shape == (3, 32, 32)


def test_sampler_passes_epoch():
    ds = EmbeddedImages(img_size=16, length=6)
    s = EpochSeedSampler(ds, shuffle=True, seed=0)
    s.set_epoch(4)
    keys = list(iter(s))
    assert {k[0] for k in keys} == {4} and sorted(k[1] for k in keys) == list(range(6))


def test_load_image_errors(tmp_path):
    with pytest.raises(DataError, match="image not found"):
        load_image(str(tmp_path / "x.jpg"))
    (tmp_path / "x.jpg").write_bytes(b"no")
    with pytest.raises(DataError, match="cannot decode image"):
        load_image(str(tmp_path / "x.jpg"))
