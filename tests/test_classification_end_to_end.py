"""Tiny end-to-end classification runs from a checkpoint our pretrainer made: fine-tune, linear
probe and partial fine-tune with `mae train`'s code path, then `mae test` on the results."""
import os
import subprocess
import sys

import pytest
import torch

from pretrain.checkpoint import read_state_dict
from tests.conftest import DEMO, TINY

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CFG = os.path.join(ROOT, "configs", "classification")

# The tiny CPU configs shrunk to a 32-px, 2-block ViT (the pretraining TINY model) and a few steps.
SHRINK = {
    "model.img_size": 32, "model.patch_size": 8, "model.embed_dim": 32, "model.depth": 2, "model.num_heads": 2,
    "train_dataloader.dataset.length": 32, "train_dataloader.batch_size": 8,
    "train_dataloader.dataset.transform.input_size": 32, "val_dataloader.dataset.transform.input_size": 32,
    "test_dataloader.dataset.transform.input_size": 32, "val_dataloader.dataset.length": 30,
    "test_dataloader.dataset.length": 30, "train_cfg.max_epochs": 2, "train_cfg.val_interval": 2,
    "optim_wrapper.precision": "fp32", "default_hooks.logger.interval": 1,
}


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """checkpoint-final.pth of a 1-epoch tiny pretraining run (official layout, decoder included)."""
    from tools.train import train

    work = tmp_path_factory.mktemp("pretrain")
    train(DEMO, work_dir=str(work), options=dict(TINY, max_epochs=1, warmup_epochs=0))
    return str(work / "checkpoint-final.pth")


def run(config, work_dir, pretrained, **extra):
    from tools.train import train

    options = dict(SHRINK, load_from=pretrained, **extra)
    return train(os.path.join(CFG, config), work_dir=str(work_dir), options=options)


def last_val_top1(runner):
    return runner.message_hub.get_scalar("val/accuracy/top1").current()


@pytest.mark.slow
def test_finetune_then_mae_test(pretrained, tmp_path):
    from tools.test import evaluate

    runner = run("vit-tiny-p8_ft_embedded_cpu.py", tmp_path / "ft", pretrained)
    ckpt = str(tmp_path / "ft" / "epoch_2.pth")
    result = evaluate(os.path.join(CFG, "vit-tiny-p8_ft_embedded_cpu.py"), ckpt, work_dir=str(tmp_path / "test"),
                      options={k: v for k, v in SHRINK.items() if not k.startswith(("train", "optim"))})
    m = result["metrics"]
    assert set(m) == {"accuracy/top1", "accuracy/top5"} and 0 <= m["accuracy/top1"] <= m["accuracy/top5"] <= 100
    # the test loop on the saved checkpoint reproduces the last validation of the run
    assert m["accuracy/top1"] == pytest.approx(last_val_top1(runner))
    assert os.path.isfile(result["json"])


@pytest.mark.slow
def test_linear_probe_keeps_the_encoder(pretrained, tmp_path):
    run("vit-tiny-p8_linprobe_embedded_cpu.py", tmp_path / "lin", pretrained)
    before, after = read_state_dict(pretrained), read_state_dict(str(tmp_path / "lin" / "epoch_2.pth"))
    encoder = [k for k in after if not k.startswith("head.")]
    assert encoder and all(torch.equal(after[k], before[k]) for k in encoder)
    assert after["head.0.num_batches_tracked"] > 0 and after["head.0.running_var"].ne(1).any()
    assert after["head.1.weight"].abs().max() > 0


@pytest.mark.slow
def test_partial_finetune_cli(pretrained, tmp_path):
    """`mae train` then `mae test` from the command line, one block tuned."""
    opts = [f"{k}={v}" for k, v in SHRINK.items()] + [f"load_from={pretrained}", "model.trainable=1"]
    cfg = os.path.join(CFG, "vit-tiny-p8_partial_embedded_cpu.py")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    r = subprocess.run([sys.executable, "-m", "tools.cli", "train", cfg, "--work-dir", str(tmp_path / "p"),
                        "--cfg-options", *opts], cwd=ROOT, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    before, after = read_state_dict(pretrained), read_state_dict(str(tmp_path / "p" / "epoch_2.pth"))
    assert torch.equal(after["blocks.0.mlp.fc1.weight"], before["blocks.0.mlp.fc1.weight"])
    assert not torch.equal(after["blocks.1.mlp.fc1.weight"], before["blocks.1.mlp.fc1.weight"])
    r = subprocess.run([sys.executable, "-m", "tools.cli", "test", cfg, str(tmp_path / "p" / "epoch_2.pth"),
                        "--work-dir", str(tmp_path / "pt"), "--cfg-options",
                        *[o for o in opts if o.startswith(("model.", "test_"))]],
                       cwd=ROOT, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "accuracy/top1" in r.stdout
