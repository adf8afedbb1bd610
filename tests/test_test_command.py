"""`mae test`: piped output without mmengine's record and ending with the metrics table, each
checkpoint's metrics in its own folder beside it (never overwriting another's), a progress line
per stage on a terminal."""
import io
import json
import os
import re
import subprocess
import sys

import pytest

from tools.cli import main
from tools.console import ProgressBarHook, QuietRunner
from tools.test import metrics_table
from tools.train import finalize, import_components, load_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, "configs", "classification", "vit-tiny-p8_ft_embedded_cpu.py")
MODEL = {"model.embed_dim": 48, "model.depth": 1, "model.num_heads": 2}
DATA = {"train_dataloader.batch_size": 8, "train_dataloader.dataset.length": 8,
        "val_dataloader.dataset.length": 8, "test_dataloader.dataset.length": 8}
TEST_ARGS = ["--cfg-options"] + [f"{k}={v}" for k, v in {**MODEL, **DATA}.items()]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Two epochs of the tiny fine-tune (a checkpoint each, validation after the second), trained
    with the progress bar on a fake terminal; (work dir, what the terminal showed)."""
    from rich.console import Console

    import_components()
    work = tmp_path_factory.mktemp("ft")
    options = {**MODEL, **DATA, "train_cfg.max_epochs": 2, "train_cfg.val_interval": 2,
               "default_hooks.checkpoint.interval": 1}
    cfg = finalize(load_config(CONFIG, options), CONFIG, str(work))
    runner = QuietRunner.from_cfg(cfg)
    screen = io.StringIO()
    runner.register_hook(ProgressBarHook(Console(file=screen, force_terminal=True, width=140),
                                         refresh_s=0.0))
    runner.train()
    runner.test()
    return work, screen.getvalue()


def test_a_terminal_shows_one_progress_line_per_stage(run):
    _, screen = run
    ansi = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")
    shown = [ansi.sub("", ln.split("\r")[-1]) for ln in screen.split("\n")]
    shown = [ln for ln in shown if ln.strip()]  # each line as its last redraw left it
    assert [ln.split(" ━")[0] for ln in shown] == ["epoch 1/2", "epoch 2/2", "validation", "test"]
    for line in shown:
        assert "1/1" in line and "it/s" in line and "img/s" in line and "eta 0:00" in line, line
    assert "loss " in shown[0] and "(run " in shown[0] and "loss " not in shown[-1]
    assert "Epoch(" not in screen  # the per-iteration log lines are replaced by the bars


def test_piped_test_output_has_no_record_dump_and_ends_with_its_table(run):
    work, _ = run
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="2")
    argv = ["test", CONFIG, str(work / "epoch_1.pth"), *TEST_ARGS]
    r = subprocess.run([sys.executable, "-m", "tools.cli", *argv], capture_output=True, text=True,
                       cwd=ROOT, env=env, timeout=600)  # stdout is a pipe, as in `| cat`
    assert r.returncode == 0, r.stderr[-3000:]
    for dump in ("System environment", "Runtime environment", "Config:", "Hooks will be executed"):
        assert dump not in r.stdout + r.stderr
    assert "\x1b" not in r.stdout and len(r.stdout.splitlines()) < 20, r.stdout
    saved = json.loads((work / "test_epoch_1" / "test_metrics.json").read_text())
    assert saved["checkpoint"] == str(work / "epoch_1.pth") and saved["metrics"]
    table = metrics_table(saved["metrics"])
    assert r.stdout.rstrip("\n").endswith("\n" + table)
    assert f"wrote {work / 'test_epoch_1' / 'test_metrics.json'}" in r.stdout
    log = next((work / "test_epoch_1").glob("*/*.log")).read_text()
    assert "System environment" in log and "Config:" in log  # the record is in the log file


def test_two_checkpoints_of_one_config_keep_both_metrics_files(run, capsys):
    work, _ = run
    for name in ("epoch_1", "epoch_2"):
        assert main(["test", CONFIG, str(work / f"{name}.pth"), *TEST_ARGS]) == 0
    files = {name: json.loads((work / f"test_{name}" / "test_metrics.json").read_text())
             for name in ("epoch_1", "epoch_2")}
    assert [f["checkpoint"] for f in files.values()] == [str(work / "epoch_1.pth"),
                                                         str(work / "epoch_2.pth")]
    # a folder holding another checkpoint's metrics is refused before any work, file untouched
    kept = (work / "test_epoch_1" / "test_metrics.json").read_text()
    capsys.readouterr()
    argv = ["test", CONFIG, str(work / "epoch_2.pth"), "--work-dir", str(work / "test_epoch_1")]
    assert main(argv + TEST_ARGS) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"mae: error: {work / 'test_epoch_1' / 'test_metrics.json'} holds the metrics "
                   f"of {work / 'epoch_1.pth'}; give another --work-dir (default: "
                   f"test_<checkpoint name>/ beside it)")
    assert (work / "test_epoch_1" / "test_metrics.json").read_text() == kept


def test_a_missing_checkpoint_is_one_line_and_makes_no_folder(tmp_path, capsys):
    assert main(["test", CONFIG, str(tmp_path / "epoch_9.pth")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"mae: error: checkpoint not found: {tmp_path / 'epoch_9.pth'}"
    assert os.listdir(tmp_path) == []
