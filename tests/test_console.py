"""What `mae train` prints: log lines without control characters when piped, the environment and
config in the log file only, warnings on stderr, no registry warning, a progress bar on a terminal."""
import glob
import io
import os
import subprocess
import sys

import numpy as np
from PIL import Image

import pretrain  # noqa: F401  (registers our components)
from tools.console import ProgressBarHook, QuietRunner
from tools.train import finalize, load_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_piped_train_is_plain_log_lines(demo_config, tiny_options, tmp_path):
    data = tmp_path / "photos"
    data.mkdir()
    rng = np.random.default_rng(0)
    for i in range(40):
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(data / f"{i}.png")
    (data / "broken.png").write_bytes(b"not a png")  # one warning, which belongs on stderr
    opts = {k: v for k, v in tiny_options.items() if k != "train_dataloader.dataset.length"}
    opts.update({"train_dataloader.dataset.root": str(data), "train_dataloader.dataset.max_bad_fraction": 0.1,
                 "max_epochs": 1, "warmup_epochs": 0})
    args = [f"{k}={v}" for k, v in opts.items()]
    r = subprocess.run([sys.executable, "-m", "tools.cli", "train", demo_config.replace("demo", "folder"),
                        "--work-dir", str(tmp_path / "wd"), "--cfg-options", *args],
                       capture_output=True, text=True, cwd=ROOT)  # stdout is a pipe, as in `| cat`
    assert r.returncode == 0, r.stderr[-3000:]
    out, err = r.stdout, r.stderr
    assert "Epoch(train) [1][" in out  # the log lines stay when there is no terminal
    assert "\x1b" not in out and "\r" not in out  # no colour codes, no progress-bar redraws
    assert "System environment" not in out and "Config:" not in out and "Hooks will be executed" not in out
    assert len(out.splitlines()) < 30, out
    assert "skipping: cannot decode image" in err and "skipping" not in out
    assert "mae.registry" not in out + err
    log = open(glob.glob(str(tmp_path / "wd" / "*" / "*.log"))[0]).read()
    assert "System environment" in log and "Config:" in log and "skipping: cannot decode image" in log
    assert f"every log line: {glob.glob(str(tmp_path / 'wd' / '*' / '*.log'))[0]}" in out


def test_progress_bar_shows_speed_eta_and_loss(demo_config, tiny_options, tmp_path):
    from rich.console import Console

    cfg = finalize(load_config(demo_config, dict(tiny_options, experiment_name="bar")), demo_config,
                   str(tmp_path))
    runner = QuietRunner.from_cfg(cfg)
    buf = io.StringIO()
    runner.register_hook(ProgressBarHook(Console(file=buf, force_terminal=True, width=140), refresh_s=0.0))
    runner.train()
    screen = buf.getvalue()
    for text in ("epoch 1/2", "epoch 2/2", "4/4", "it/s", "img/s", "eta ", "(run ", "loss "):
        assert text in screen, (text, screen[-2000:])
    assert "Epoch(train)" not in screen  # the per-iteration lines are replaced by the bar
