"""2-process torchrun (gloo) must train exactly like 1 process with the same global batch."""
import glob
import json
import os
import subprocess
import sys

import torch

from pretrain.checkpoint import read_state_dict
from tests.conftest import TINY

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def losses(work_dir):
    (path,) = glob.glob(os.path.join(work_dir, "*", "vis_data", "scalars.json"))
    return [json.loads(line)["loss"] for line in open(path) if '"loss"' in line]


def launch(prefix, work_dir, batch, demo_config):
    opts = [f"{k}={v}" for k, v in TINY.items() if k != "train_dataloader.batch_size"]
    cmd = prefix + ["-m", "tools.cli", "train", demo_config, "--work-dir", str(work_dir), "--cfg-options",
                    *opts, f"train_dataloader.batch_size={batch}"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-3000:]


def test_two_process_gloo_equals_one_process(tmp_path, demo_config):
    launch([sys.executable], tmp_path / "one", 4, demo_config)
    launch([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29531"],
           tmp_path / "two", 2, demo_config)
    one, two = losses(tmp_path / "one"), losses(tmp_path / "two")
    assert len(one) == len(two) == 8
    assert max(abs(a - b) for a, b in zip(one, two)) < 1e-5, (one, two)
    a = read_state_dict(str(tmp_path / "one" / "checkpoint-final.pth"))
    b = read_state_dict(str(tmp_path / "two" / "checkpoint-final.pth"))
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-5), k
