"""The ADE20K route as a user takes it: `mae train` on the tiny CPU config (its synthetic ADE20K-layout
set generated on first use), then `mae test` on the checkpoint, through `python -m tools.cli`, with
no known-harmless third-party notice (transfer/quiet.py) on stdout or stderr."""
import glob
import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("mmseg", reason="segmentation needs the 'seg' extra: pip install -e .[seg]")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, "configs", "segmentation", "upernet_mae_vit-tiny-p8_synthetic-ade20k-64x64_cpu.py")
pytestmark = pytest.mark.slow


def mae(*args, cwd):
    """`mae ...` run from `cwd` (the config's relative data_root lands there), this checkout's code;
    its stdout, once checked for the notices that segmentation runs printed before."""
    from transfer.quiet import KNOWN_HARMLESS

    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="2")
    p = subprocess.run([sys.executable, "-m", "tools.cli", *args], cwd=cwd, env=env, capture_output=True,
                       text=True, timeout=1200)
    assert p.returncode == 0, (p.stdout[-2000:], p.stderr[-4000:])
    noise = [words for words, *_ in KNOWN_HARMLESS] + ["Could not import OneDL",
                                                       "The prefix is not set in metric class"]
    assert not [n for n in noise if n in p.stdout + p.stderr], p.stderr[-4000:]
    return p.stdout


def test_tiny_ade20k_train_then_test_prints_miou_macc_aacc_and_draws_pictures(tmp_path):
    work = str(tmp_path / "work")
    mae("train", CONFIG, "--work-dir", work, "--cfg-options", "train_cfg.max_iters=4", "train_cfg.val_interval=4",
        "default_hooks.checkpoint.interval=4", "model.test_cfg.stride=[64,64]", cwd=tmp_path)
    root = tmp_path / "data" / "synthetic_ade20k" / "ADEChallengeData2016"
    assert len(os.listdir(root / "images" / "training")) == 32  # generated on first use
    assert (tmp_path / "work" / "iter_4.pth").exists()

    out = mae("test", CONFIG, os.path.join(work, "iter_4.pth"), "--work-dir", str(tmp_path / "test"),
              "--cfg-options", "model.test_cfg.stride=[64,64]", "default_hooks.visualization.draw=True", cwd=tmp_path)
    for name in ("aAcc", "mIoU", "mAcc"):
        assert name in out, out
    metrics = json.load(open(tmp_path / "test" / "test_metrics.json"))["metrics"]
    assert {"aAcc", "mIoU", "mAcc"} <= set(metrics) and 0 <= metrics["mIoU"] <= 100
    pictures = glob.glob(str(tmp_path / "test" / "*" / "vis_data" / "vis_image" / "*.png"))
    assert len(pictures) == 8  # ground truth beside prediction, one per validation image

    # the multi-scale + flip variant loads the same checkpoint into the model inside SegTTAModel
    ms = CONFIG.replace("_cpu.py", "_cpu-ms.py")
    out = mae("test", ms, os.path.join(work, "iter_4.pth"), "--work-dir", str(tmp_path / "test_ms"),
              "--cfg-options", "model.module.test_cfg.stride=[64,64]", cwd=tmp_path)
    assert {"aAcc", "mIoU", "mAcc"} <= set(json.load(open(tmp_path / "test_ms" / "test_metrics.json"))["metrics"])
