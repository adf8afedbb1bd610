"""The tiny CPU detection config end to end, as a user runs it: `mae train` generates the synthetic
set and trains, `mae test` on the checkpoint prints the COCO box and mask AP tables, writes the
metrics, COCO results json and prediction pictures; no known-harmless third-party notice on the
way."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
CONFIG = os.path.join(ROOT, "configs", "detection", "mask-rcnn_vit-tiny_synthetic_cpu.py")
# what detection runs printed before transfer/quiet.py and draw.py's empty-picture case
NOISE = ["boxes doesn't contain any box", "Fail to import ``MultiScaleDeformableAttention``",
         "Could not import OneDL"]


def mae(*args, cwd):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""), OMP_NUM_THREADS="2")
    return subprocess.run([sys.executable, "-m", "tools.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=1200)


@pytest.mark.slow
def test_tiny_detection_train_then_test(tmp_path):
    small = ["train_dataloader.dataset.synthetic.num_train=8", "train_dataloader.dataset.synthetic.num_val=4",
             "val_dataloader.dataset.synthetic.num_train=8", "val_dataloader.dataset.synthetic.num_val=4",
             "test_dataloader.dataset.synthetic.num_train=8", "test_dataloader.dataset.synthetic.num_val=4",
             "train_cfg.max_epochs=1", "train_cfg.val_interval=1"]
    train = mae("train", CONFIG, "--work-dir", "work", "--cfg-options", *small, cwd=tmp_path)
    assert train.returncode == 0, train.stderr[-3000:]
    assert not [n for n in NOISE if n in train.stdout + train.stderr], train.stderr
    assert (tmp_path / "data/synthetic_coco/annotations/instances_val2017.json").is_file()
    ckpt = tmp_path / "work" / "epoch_1.pth"
    assert ckpt.is_file()

    test = mae("test", CONFIG, str(ckpt), "--work-dir", "eval", "--cfg-options", *small[4:6],
               "custom_hooks.0.img_ids=[1,2]", "custom_hooks.0.score_thr=0.0", cwd=tmp_path)
    assert test.returncode == 0, test.stderr[-3000:]
    out = test.stdout + test.stderr
    assert not [n for n in NOISE if n in out], test.stderr
    assert "COCO bbox AP over 4 images" in out and "COCO segm AP over 4 images" in out
    assert "Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]" in out
    metrics = json.loads((tmp_path / "eval" / "test_metrics.json").read_text())["metrics"]
    for key in ("coco/bbox_mAP", "coco/bbox_mAP_50", "coco/segm_mAP", "coco/segm_mAP_75"):
        assert 0.0 <= metrics[key] <= 1.0
    assert sorted(os.listdir(tmp_path / "eval" / "predictions")) == ["1.png", "2.png"]
    results = [p for d in os.listdir(tmp_path / "eval") if (tmp_path / "eval" / d).is_dir()
               for p in os.listdir(tmp_path / "eval" / d) if p.startswith("coco_results")]
    assert sorted(results) == ["coco_results.bbox.json", "coco_results.segm.json"]
