"""`mae compare-targets`: the Table-7 layout, and tiny end-to-end runs (classification, detection,
segmentation evaluations) that resume without rerunning."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest

from tools.cli import main
from tools.compare_targets import parse_targets, table
from tools.train import ConfigError

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
EVALS = ["linear probe", "fine-tune"]


def test_table_rows_are_targets_and_last_row_is_token_minus_norm_pixel():
    results = [{"target": "pixel", "linear probe": 60.0, "fine-tune": 82.5},
               {"target": "norm_pixel", "linear probe": 68.0, "fine-tune": 83.5},
               {"target": "token", "linear probe": 67.5, "fine-tune": 83.75}]
    lines = table(results, EVALS).splitlines()
    assert lines[0] == "| target | linear probe | fine-tune |"
    assert [ln.split("|")[1].strip() for ln in lines[2:]] == ["pixel", "norm_pixel", "token", "token - norm_pixel"]
    assert lines[-1] == "| token - norm_pixel | -0.5 | +0.2 |"
    assert "token - norm_pixel" not in table(results[:2], EVALS)


def test_unknown_targets_are_refused():
    with pytest.raises(ConfigError, match="--targets"):
        parse_targets("pixel,tokens")


@pytest.mark.slow
def test_compare_targets_tiny_end_to_end(tmp_path, capsys):
    cfg = tmp_path / "pre.py"
    cfg.write_text(f"_base_ = [{osp.join(REPO, 'configs/pretrain/mae_vit-tiny-p8_demo_cpu.py')!r}]\n"
                   "max_epochs = 1\nwarmup_epochs = 0\ntrain_dataloader = dict(batch_size=8, dataset=dict(length=8))\n"
                   "model = dict(embed_dim=48, depth=1, num_heads=2, decoder_embed_dim=32, decoder_depth=1, "
                   "decoder_num_heads=2)\n")
    argv = ["compare-targets", str(cfg), "--targets", "pixel,norm_pixel,pca,token", "--work-dir", str(tmp_path / "w"),
            "--probe", osp.join(REPO, "configs/classification/vit-tiny-p8_linprobe_embedded_cpu.py"),
            "--finetune", osp.join(REPO, "configs/classification/vit-tiny-p8_ft_embedded_cpu.py"), "--pca-k", "16",
            "--eval-options", "model.embed_dim=48", "model.depth=1", "model.num_heads=2", "train_cfg.max_epochs=1",
            "train_cfg.val_interval=1", "train_dataloader.batch_size=8", "train_dataloader.dataset.length=8",
            "val_dataloader.dataset.length=8", "test_dataloader.dataset.length=8",
            "--tokenizer-options", "max_epochs=1", "model.vocab_size=512", "model.hidden=16",
            "train_dataloader.dataset.length=8", "train_dataloader.batch_size=8"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    for k, target in enumerate(["pixel", "norm_pixel", "pca", "token"], 1):
        assert f"arm {k} of 4: {target}" in out
    assert "| token - norm_pixel |" in out
    w = tmp_path / "w"
    data = json.loads((w / "compare_targets.json").read_text())
    assert [r["target"] for r in data["results"]] == ["pixel", "norm_pixel", "pca", "token"]
    assert all(0 <= r["fine-tune"] <= 100 and 0 <= r["linear probe"] <= 100 for r in data["results"])
    assert (w / "compare_targets.png").stat().st_size > 0 and (w / "tokenizer" / "codebook_usage.json").is_file()
    assert (w / "pca" / "pretrain" / "pca_target.pth").is_file()
    # resumable: a rerun skips the tokenizer and every finished arm, and prints the same table
    assert main(argv) == 0
    again = capsys.readouterr().out
    assert again.count("(done, skipped)") == 5 and "tokenizer: training" not in again
    assert out.splitlines()[-1] == again.splitlines()[-1]


def tiny_pretrain(tmp_path, in_chans=3):
    """The demo config shrunk to one epoch of 8 crops (64 px, patch 8, width 48, 4 blocks)."""
    cfg = tmp_path / "pre.py"
    cfg.write_text(f"_base_ = [{osp.join(REPO, 'configs/pretrain/mae_vit-tiny-p8_demo_cpu.py')!r}]\n"
                   "max_epochs = 1\nwarmup_epochs = 0\ntrain_dataloader = dict(batch_size=8, dataset=dict(length=8))\n"
                   f"model = dict(in_chans={in_chans}, embed_dim=48, depth=4, num_heads=2, decoder_embed_dim=32, decoder_depth=1, "
                   "decoder_num_heads=2)\ncustom_hooks = [dict(type='OfficialCheckpointHook', interval=1)]\n")
    return str(cfg)


def tiny_detection(tmp_path):
    """The CPU Mask R-CNN config at width 48 on 4 + 2 generated 64 px images, 2 iterations, scored once."""
    cfg = tmp_path / "det.py"
    data = tmp_path / "coco"
    cfg.write_text(f"""_base_ = [{osp.join(REPO, 'configs/detection/mask-rcnn_vit-tiny_synthetic_cpu.py')!r}]
data_root = '{data}/'
img_size = 64
synthetic = dict(num_train=4, num_val=2, img_size=img_size, seed=0)
max_epochs = 1
model = dict(pad_size=img_size, head_channels=16, fc_dim=32,
             backbone=dict(out_channels=16, net=dict(img_size=img_size, embed_dim=48, pretrain_img_size=img_size)),
             detector=dict(rpn_pre_nms_top_n_test=50, rpn_post_nms_top_n_test=50))
train_dataloader = dict(batch_size=2, dataset=dict(data_root=data_root, img_size=img_size, synthetic=synthetic))
val_dataloader = dict(batch_size=2, dataset=dict(data_root=data_root, img_size=img_size, synthetic=synthetic))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator
train_cfg = dict(max_epochs=1, val_interval=1, val_begin=2)
param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=2)]
default_hooks = dict(checkpoint=dict(interval=1))
""")
    return str(cfg)


def tiny_segmentation(tmp_path):
    """The CPU UperNet config at width 48 on 4 + 2 generated 64 px scenes, 2 iterations, scored once."""
    cfg = tmp_path / "seg.py"
    data = tmp_path / "ade" / "ADEChallengeData2016"
    cfg.write_text(f"""_base_ = [{osp.join(REPO, 'configs/segmentation/upernet_mae_vit-tiny-p8_synthetic-ade20k-64x64_cpu.py')!r}]
data_root = '{data}'
synthetic = dict(num_train=4, num_val=2, size=(64, 64), num_classes=4, seed=0)
model = dict(backbone=dict(embed_dim=48), neck=dict(embed_dim=48),
             decode_head=dict(in_channels=[48] * 4, channels=16, num_classes=4),
             auxiliary_head=dict(in_channels=48, channels=16, num_classes=4))
train_dataloader = dict(batch_size=2, dataset=dict(data_root=data_root, synthetic=synthetic))
val_dataloader = dict(dataset=dict(data_root=data_root, synthetic=synthetic))
test_dataloader = val_dataloader
train_cfg = dict(max_iters=2, val_interval=2, val_begin=3)
default_hooks = dict(checkpoint=dict(interval=2))
""")
    return str(cfg)


def dense_argv(tmp_path, targets, in_chans=3, **tasks):
    argv = ["compare-targets", tiny_pretrain(tmp_path, in_chans), "--targets", targets, "--work-dir", str(tmp_path / "w"),
            "--probe", "none", "--finetune", "none"]
    for task, make in (("detection", tiny_detection), ("segmentation", tiny_segmentation)):
        if tasks.get(task):
            argv += [f"--{task}", make(tmp_path)]
    return argv


@pytest.mark.slow
def test_compare_targets_detection_and_segmentation_columns(tmp_path, capsys):
    argv = dense_argv(tmp_path, "pixel,norm_pixel", detection=True, segmentation=True)
    argv += ["--segmentation-options", "model.backbone.drop_path_rate=0.0"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "| target | box AP | mask AP | mIoU |" in out
    data = json.loads((tmp_path / "w" / "compare_targets.json").read_text())
    assert data["columns"] == ["box AP", "mask AP", "mIoU"]
    for r in data["results"]:
        metrics = {}
        for task in ("detection", "segmentation"):  # the table holds what `mae test` measured
            metrics.update(json.loads((tmp_path / "w" / r["target"] / task / "test" / "test_metrics.json")
                                      .read_text())["metrics"])
        assert r["box AP"] == pytest.approx(100 * metrics["coco/bbox_mAP"])
        assert r["mask AP"] == pytest.approx(100 * metrics["coco/segm_mAP"])
        assert r["mIoU"] == pytest.approx(metrics["mIoU"]) and 0 <= r["mIoU"] <= 100
    # the detector and the segmenter both started from the arm's encoder, loaded with a report
    for task in ("detection", "segmentation"):
        log = "".join(p.read_text() for p in (tmp_path / "w" / "pixel" / task).rglob("*.log"))
        assert "pixel/pretrain/checkpoint-final.pth" in log
    assert (tmp_path / "w" / "compare_targets.png").stat().st_size > 0


def test_finished_detection_eval_is_not_rerun(tmp_path, capsys):
    argv = dense_argv(tmp_path, "pixel", detection=True)
    assert main(argv) == 0
    first = capsys.readouterr().out
    det = tmp_path / "w" / "pixel" / "detection"
    stamp = (det / "test" / "test_metrics.json").stat().st_mtime_ns
    result = json.loads((tmp_path / "w" / "pixel" / "result.json").read_text())
    # the arm's result lost (a crash before it was saved): the finished test is read back, not rerun
    (tmp_path / "w" / "pixel" / "result.json").unlink()
    assert main(argv) == 0
    again = capsys.readouterr().out
    assert (det / "test" / "test_metrics.json").stat().st_mtime_ns == stamp and len(list(det.glob("epoch_*.pth"))) == 1
    assert "pixel: detection" in again and "(done, read back)" in again and "nothing to resume" not in again
    assert json.loads((tmp_path / "w" / "pixel" / "result.json").read_text()) == result
    assert first.splitlines()[-1] == again.splitlines()[-1]
    # with the result saved: the whole arm is skipped
    assert main(argv) == 0
    assert "arm 1 of 1: pixel (done, skipped)" in capsys.readouterr().out


@pytest.mark.parametrize("task,in_chans,options,misfit", [
    ("segmentation", 3, ["--segmentation-options", "model.backbone.embed_dim=64"], "(64, 3, 8, 8)"),  # width
    ("detection", 1, [], "(48, 1, 16, 16)")])  # a grey-image MAE into the RGB detector
def test_encoder_that_cannot_feed_the_task_backbone_is_a_clear_error(tmp_path, capsys, task, in_chans, options, misfit):
    assert main(dense_argv(tmp_path, "pixel", in_chans, **{task: True}) + options) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"cannot feed the {task} backbone" in err and misfit in err
    assert str(tmp_path / "pre.py") in err and str(tmp_path / f"{task[:3]}.py") in err
    assert not (tmp_path / "w" / "pixel").exists()  # refused before any pretraining


@pytest.mark.slow
def test_piped_output_has_no_record_dump_and_ends_with_its_table(tmp_path):
    """One arm, pretraining and a linear probe, as `mae compare-targets ... | cat` shows it."""
    cfg = tmp_path / "pre.py"
    demo = osp.join(REPO, "configs/pretrain/mae_vit-tiny-p8_demo_cpu.py")
    cfg.write_text(f"_base_ = [{demo!r}]\n"
                   "max_epochs = 1\nwarmup_epochs = 0\n"
                   "train_dataloader = dict(batch_size=8, dataset=dict(length=8))\n"
                   "model = dict(embed_dim=48, depth=1, num_heads=2, decoder_embed_dim=32, "
                   "decoder_depth=1, decoder_num_heads=2)\n")
    argv = ["compare-targets", str(cfg), "--targets", "pixel", "--work-dir", str(tmp_path / "w"),
            "--finetune", "none", "--eval-options", "model.embed_dim=48", "model.depth=1",
            "model.num_heads=2", "train_cfg.max_epochs=1", "train_cfg.val_interval=1",
            "train_dataloader.batch_size=8", "train_dataloader.dataset.length=8",
            "val_dataloader.dataset.length=8", "test_dataloader.dataset.length=8"]
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS="2")
    r = subprocess.run([sys.executable, "-m", "tools.cli", *argv], capture_output=True, text=True,
                       cwd=REPO, env=env, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    for dump in ("System environment", "Runtime environment", "Config:", "Hooks will be executed"):
        assert dump not in r.stdout + r.stderr
    assert "\x1b" not in r.stdout and len(r.stdout.splitlines()) < 40, r.stdout
    md = (tmp_path / "w" / "compare_targets.md").read_text()
    table = md.split("\n\n", 1)[1].rstrip("\n")
    assert table.startswith("| target | linear probe |")
    assert r.stdout.rstrip("\n").endswith("\n" + table)
    # every run's full record is in its own log file
    logs = list((tmp_path / "w").rglob("*.log"))
    assert len(logs) == 2 and all("System environment" in p.read_text() for p in logs)
