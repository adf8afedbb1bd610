"""`mae ablate --scale`: a scale (configs/ablate/) changes the model, decoder widths, normalisation,
budgets and data reader, not the code. The default reproduces the classification study's settings;
the ImageNet-100 scale runs end to end on a generated ImageFolder tree (its ViT-B swapped for a tiny
ViT through --scale-options), and a bad --data folder is a one-line error."""
import json
import os

import pytest
import torch
from torchvision.io import write_png

from tools.ablate.runner import run_suite
from tools.ablate.scale import load_scale
from tools.ablate.suites import NAMES, suites
from tools.cli import main
from tools.ablate.engine import ARCH, DECODER, MEAN, STD

# ViT-B at 224 px swapped for a 2-block 32-wide ViT at 32 px; 3 classes; decoding in this process
TINY_VIT = {"arch.img_size": 32, "arch.patch_size": 8, "arch.embed_dim": 32, "arch.depth": 2, "arch.num_heads": 2,
            "decoder.decoder_embed_dim": 16, "decoder.decoder_depth": 1, "decoder.decoder_num_heads": 2,
            "pca_k": 8, "pca_fit_images": 8, "tokenizer.vocab_size": 64, "data.num_classes": 3, "data.workers": 0}
TINY_ARGS = [f"{k}={v}" for k, v in TINY_VIT.items()]
CLASSES = ("n01", "n02", "n03")


def image_tree(root, per_class=(12, 4), size=40):
    """train/ and val/ class folders of RGB PNGs: a bright square whose place depends on the class
    (40 px, so the reader's resize to the scale's 32 px is exercised)."""
    gen = torch.Generator().manual_seed(0)
    for split, n in zip(("train", "val"), per_class):
        for c, name in enumerate(CLASSES):
            os.makedirs(os.path.join(root, split, name))
            for i in range(n):
                img = torch.randint(0, 60, (3, size, size), generator=gen, dtype=torch.uint8)
                img[c % 3, 4 + 10 * c:14 + 10 * c, 6:30] = 230
                write_png(img, os.path.join(root, split, name, f"{i}.png"))
    return str(root)


def test_default_scale_is_the_classification_study():
    s = load_scale()
    assert (s["name"], s["arch"], s["decoder"], s["mean"], s["std"]) == ("fmnist", ARCH, DECODER, MEAN, STD)
    fm = suites(s)
    assert set(fm) == set(NAMES)
    assert [a["name"] for a in fm["decoder"]["arms"]] == [
        "depth 1, width 64", "depth 2, width 64", "depth 4, width 64", "depth 8, width 64",
        "depth 8, width 16", "depth 8, width 32"]
    assert [a["name"] for a in fm["partial"]["arms"]] == ["0 blocks", "1 block", "2 blocks", "all (4) blocks"]
    assert "top 8 of the 16 components of a 4x4 grey patch" in fm["target"]["note"]


def test_imagenet100_scale_has_the_papers_sizes():
    s = load_scale("imagenet100")
    assert (s["arch"]["img_size"], s["arch"]["patch_size"], s["arch"]["in_chans"], s["arch"]["embed_dim"]) == (
        224, 16, 3, 768)
    inet = suites(s)
    widths = {a["model"]["decoder_embed_dim"]: a["paper"]["lin"] for a in inet["decoder"]["arms"]
              if a["model"]["decoder_depth"] == 8}
    assert widths == {128: 69.1, 256: 71.3, 512: 73.5, 1024: 73.1}
    assert inet["decoder"]["reference"] == "depth 8, width 512"
    assert [a["trainable"] for a in inet["partial"]["arms"]] == [0, 1, 2, 4, "all"]
    assert "top 96 of the 768 components of a 16x16 RGB patch" in inet["target"]["note"]
    assert "grey" not in inet["augmentation"]["note"]


def test_imagenet100_scale_end_to_end(tmp_path, capsys):
    data, out = image_tree(tmp_path / "in100"), str(tmp_path / "out")
    args = ["ablate", "augmentation", "--scale", "imagenet100", "--budget", "tiny", "--data", data, "--out", out,
            "--scale-options", *TINY_ARGS]
    assert main(args) == 0
    assert "arm 4/4" in capsys.readouterr().out
    folder = os.path.join(out, "augmentation", "imagenet100-tiny")
    table = open(os.path.join(folder, "augmentation.md")).read()
    assert "`mae ablate augmentation --scale imagenet100`" in table and "ImageNet-100 validation images" in table
    record = json.load(open(os.path.join(folder, "arms", "crop-color-jit__seed0.json")))
    assert record["scale"]["arch"]["in_chans"] == 3 and record["scale"]["name"] == "imagenet100"
    assert 0 <= record["result"]["lin"] <= 100 and 0 <= record["result"]["ft"] <= 100
    # the same scale settings reuse every arm; an arm cached under other settings (arch) reruns
    record["scale"]["arch"]["depth"] = 3
    json.dump(record, open(os.path.join(folder, "arms", "crop-color-jit__seed0.json"), "w"))
    again = run_suite("augmentation", "tiny", out, data_root=data, scale="imagenet100", scale_options=TINY_VIT)
    assert again["trained"] == [("crop + color jit", 0)]


@pytest.mark.slow
def test_imagenet100_target_suite_pca_and_tokens_on_rgb(tmp_path):
    data = image_tree(tmp_path / "in100")
    res = run_suite("target", "tiny", str(tmp_path / "out"), data_root=data, scale="imagenet100",
                    scale_options=TINY_VIT)
    assert set(res["arms"]) == {"pixel (w/o norm)", "pixel (w/ norm)", "PCA", "token"}
    tok = res["arms"]["token"][0]["tokenizer"]
    assert tok["train_images"] == os.path.join(data, "train")  # the image folder itself, not PNG copies
    assert tok["options"]["model.vocab_size"] == 64 and tok["usage"]["vocab_size"] == 64


@pytest.mark.parametrize("layout, message", [
    (None, "give it with --data DIR"),
    ("missing", "data folder not found"),
    ("no-train", "has no train/ folder"),
    ("no-classes", "Couldn't find any class folder"),
    ("class-mismatch", "different class folders"),
    ("wrong-count", "has 3 class folders; scale 'imagenet100' expects 100"),
])
def test_bad_data_folder_is_one_line(tmp_path, capsys, layout, message):
    root = tmp_path / "d"
    if layout in ("no-train", "no-classes"):
        os.makedirs(root / "val")
        if layout == "no-classes":
            os.makedirs(root / "train")
            write_png(torch.zeros(3, 8, 8, dtype=torch.uint8), str(root / "train" / "loose.png"))
    elif layout in ("class-mismatch", "wrong-count"):
        image_tree(root, per_class=(1, 1), size=8)
        if layout == "class-mismatch":
            os.rename(root / "val" / "n03", root / "val" / "n04")
    args = ["ablate", "mask-token", "--scale", "imagenet100", "--budget", "tiny", "--out", str(tmp_path / "o")]
    args += [] if layout is None else ["--data", str(root)]
    if layout != "wrong-count":
        args += ["--scale-options", "data.num_classes=3"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err


def test_unknown_scale_or_budget_is_one_line(tmp_path, capsys):
    assert main(["ablate", "decoder", "--scale", "imagenet1k", "--out", str(tmp_path)]) == 2
    assert "unknown ablation scale 'imagenet1k'" in capsys.readouterr().err
    assert main(["ablate", "decoder", "--scale", "imagenet100", "--budget", "huge", "--out", str(tmp_path)]) == 2
    assert "unknown budget 'huge' for scale 'imagenet100'" in capsys.readouterr().err
    assert main(["ablate", "decoder", "--scale-options", "arch.width=3", "--out", str(tmp_path)]) == 2
    assert "unknown config key 'arch.width'" in capsys.readouterr().err


def test_rgb_normalisation_and_chunked_features(monkeypatch):
    """Per-channel statistics as torchvision's Normalize; the probes' features are the same when the
    images are normalised a chunk at a time (a 224-px training set does not fit as float at once)."""
    from torchvision.transforms import v2

    from tools.ablate import engine as sc
    from transfer.classification.probe_cache import cache_features

    s = load_scale("imagenet100", TINY_VIT)
    spec = {**sc.FMNIST_SPEC, "arch": s["arch"], "mean": tuple(s["mean"]), "std": tuple(s["std"]), "num_classes": 3}
    x = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8)
    want = v2.Normalize(s["mean"], s["std"])(x.float() / 255)
    assert torch.allclose(sc.normalise(x, spec), want, atol=1e-6)
    torch.manual_seed(0)
    model = sc.build(None, spec, global_pool=False, probe_bn=True, trainable="head")
    whole = cache_features(model, sc.normalise(x, spec))
    monkeypatch.setattr(sc, "FEATURE_CHUNK", 4)
    assert torch.allclose(sc.features(model, x, spec, torch.device("cpu")), whole, atol=1e-5)
