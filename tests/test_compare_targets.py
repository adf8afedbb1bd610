"""`mae compare-targets`: the Table-7 layout, and a tiny end-to-end run that resumes without rerunning."""
import json
import os.path as osp

import pytest

from tools.cli import main
from tools.compare_targets import parse_targets, table
from tools.train import ConfigError

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
EVALS = [("linear probe", "p.py"), ("fine-tune", "f.py")]


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
    assert out.splitlines()[-2] == again.splitlines()[-2]
