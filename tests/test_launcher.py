"""`mae train` runs any task's config, `mae test` evaluates any config's test loop; the
pretraining recipe (lr from the batch, schedule, mask seeds) touches pretraining configs only."""
import json
import os
import subprocess
import sys

import pytest
import torch

from tools.config import finalize, load_config
from tools.train import train

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# A task package as transfer/ will hold one: a model, a dataset and a metric registered in our
# scope, loaded by the config's custom_imports. Its dataset takes no `seed`, so the pretraining
# recipe reaching it would be an error. The config names the scope 'mae', its old name.
TASK_MODULE = '''
import torch
import torch.nn as nn
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseModel
from torch.utils.data import Dataset

from pretrain.registry import DATASETS, METRICS, MODELS


@DATASETS.register_module(force=True)
class TinyVectors(Dataset):
    """Points in 8-D labelled by which of 3 fixed centres they are closest to."""
    def __init__(self, length, data_seed):
        g = torch.Generator().manual_seed(data_seed)
        centres = torch.randn(3, 8, generator=torch.Generator().manual_seed(123)) * 3
        self.y = torch.randint(0, 3, (length,), generator=g)
        self.x = centres[self.y] + torch.randn(length, 8, generator=g)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return dict(inputs=self.x[i], data_samples=self.y[i])


@MODELS.register_module(force=True)
class TinyClassifier(BaseModel):
    def __init__(self, in_dim=8, num_classes=3):
        super().__init__()
        self.fc = nn.Linear(in_dim, num_classes)

    def forward(self, inputs, data_samples=None, mode="tensor"):
        logits = self.fc(inputs)
        if mode == "loss":
            return dict(loss=nn.functional.cross_entropy(logits, data_samples))
        if mode == "predict":
            return [dict(pred=int(p), gt=int(t)) for p, t in zip(logits.argmax(1), data_samples)]
        return logits


@METRICS.register_module(force=True)
class TinyAccuracy(BaseMetric):
    default_prefix = "tiny"

    def process(self, data_batch, data_samples):
        self.results.extend(data_samples)

    def compute_metrics(self, results):
        return dict(accuracy=100.0 * sum(r["pred"] == r["gt"] for r in results) / len(results))
'''

TASK_CONFIG = '''
custom_imports = dict(imports=['launcher_tiny_task'], allow_failed_imports=False)
default_scope = 'mae'
model = dict(type='TinyClassifier', in_dim=8, num_classes=3)
train_dataloader = dict(batch_size=4, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=True),
                        collate_fn=dict(type='default_collate'), dataset=dict(type='TinyVectors', length=32, data_seed=0))
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=2)
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.1))
test_dataloader = dict(batch_size=8, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
                       collate_fn=dict(type='default_collate'), dataset=dict(type='TinyVectors', length=24, data_seed=1))
test_cfg = dict(type='TestLoop')
test_evaluator = dict(type='TinyAccuracy')
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=1), logger=dict(type='LoggerHook', interval=1))
'''


def cli(*args, pythonpath=None):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join([str(pythonpath), ROOT, env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", "tools.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env=env)


def write_config(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_config_file_may_hold_any_top_level_keys(demo_config, tiny_options, tmp_path):
    """mmseg-style top-level keys in a file are accepted and the demo still trains."""
    cfg = write_config(tmp_path, "demo_plus.py", f"_base_ = [{demo_config!r}]\ncrop_size = (64, 64)\n"
                                                 f"train_pipeline = []\ndataset_type = 'X'\nnorm_cfg = dict(type='BN')\n")
    runner = train(cfg, work_dir=str(tmp_path / "run"), options=dict(tiny_options, max_epochs=1, warmup_epochs=0))
    assert runner.cfg.crop_size == (64, 64) and runner.cfg.train_pipeline == []
    assert (tmp_path / "run" / "checkpoint-final.pth").exists()


def test_misspelled_override_is_one_line_naming_the_key(demo_config, tmp_path):
    cfg = write_config(tmp_path, "demo_plus.py", f"_base_ = [{demo_config!r}]\ncrop_size = (64, 64)\n"
                                                 f"train_pipeline = []\n")
    r = cli("train", cfg, "--work-dir", str(tmp_path / "wd"), "--cfg-options", "max_epochz=1")
    assert r.returncode == 2, r.stderr[-2000:]
    (line,) = r.stderr.strip().splitlines()
    assert line.startswith("mae: error: unknown config key 'max_epochz'") and "Traceback" not in r.stderr
    known = line.split("known there: ")[1]
    assert all(f"'{k}'" in known for k in ("max_epochs", "crop_size", "train_pipeline", "model"))


def test_pretrain_recipe_applies_to_pretraining_configs_only(demo_config, tiny_options, tmp_path):
    cfg = finalize(load_config(demo_config, tiny_options), demo_config, str(tmp_path))
    batch = cfg.train_dataloader.batch_size
    assert cfg.optim_wrapper.optimizer.lr == pytest.approx(cfg.base_lr * batch / 256)
    assert cfg.train_dataloader.dataset.seed == cfg.randomness.seed
    assert cfg.train_cfg.max_epochs == cfg.max_epochs and cfg.param_scheduler[0]["type"] == "WarmupCosineLR"

    off = finalize(load_config(demo_config, dict(tiny_options, pretrain_recipe=False)), demo_config, str(tmp_path))
    assert "lr" not in off.optim_wrapper.optimizer and "seed" not in off.train_dataloader.dataset
    assert "param_scheduler" not in off or not off.param_scheduler

    task = write_config(tmp_path, "task.py", TASK_CONFIG)
    sys.path.insert(0, str(tmp_path))
    (tmp_path / "launcher_tiny_task.py").write_text(TASK_MODULE)
    try:
        cfg = finalize(load_config(task), task, str(tmp_path))
    finally:
        sys.path.remove(str(tmp_path))
    assert cfg.optim_wrapper.optimizer.lr == 0.1 and "seed" not in cfg.train_dataloader.dataset
    assert "param_scheduler" not in cfg


def test_train_then_test_a_task_config(tmp_path):
    """A task package loaded by custom_imports trains with `mae train` and is evaluated by
    `mae test`: table on stdout, JSON in the work dir, the same accuracy as computed here."""
    (tmp_path / "launcher_tiny_task.py").write_text(TASK_MODULE)
    cfg = write_config(tmp_path, "task.py", TASK_CONFIG)
    r = cli("train", cfg, "--work-dir", str(tmp_path / "train"), pythonpath=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Failed to" not in r.stdout + r.stderr, r.stderr[-3000:]  # no scope warning
    ckpt = tmp_path / "train" / "epoch_2.pth"
    r = cli("test", cfg, str(ckpt), "--work-dir", str(tmp_path / "test"), "--cfg-options",
            "test_dataloader.batch_size=5", pythonpath=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "loaded weights:" in r.stdout + r.stderr and "loaded 2 tensors" in r.stdout + r.stderr

    sys.path.insert(0, str(tmp_path))
    try:
        from launcher_tiny_task import TinyClassifier, TinyVectors
    finally:
        sys.path.remove(str(tmp_path))
    model = TinyClassifier()
    model.load_state_dict(torch.load(ckpt, map_location="cpu", weights_only=False)["state_dict"])
    data = TinyVectors(length=24, data_seed=1)
    with torch.no_grad():
        expected = 100.0 * (model(data.x).argmax(1) == data.y).float().mean().item()

    saved = json.loads((tmp_path / "test" / "test_metrics.json").read_text())
    assert saved["metrics"]["tiny/accuracy"] == pytest.approx(expected)
    assert saved["checkpoint"] == str(ckpt)
    table = r.stdout.split("metric", 1)[1].splitlines()
    assert any(line.split() == ["tiny/accuracy", f"{expected:.4f}"] for line in table), r.stdout[-2000:]


def test_test_needs_a_test_loop(demo_config, tmp_path):
    (tmp_path / "any.pth").write_bytes(b"")  # a missing checkpoint is an error of its own, first
    r = cli("test", demo_config, str(tmp_path / "any.pth"), "--work-dir", str(tmp_path))
    assert r.returncode == 2
    (line,) = r.stderr.strip().splitlines()
    assert line == f"mae: error: {demo_config} has no test loop: test_dataloader, test_cfg, test_evaluator not set"


def test_mae_test_help():
    r = cli("test", "--help")
    assert r.returncode == 0 and "usage: mae test" in r.stdout and "checkpoint" in r.stdout


def test_only_config_errors_are_one_line():
    """A component given an argument it does not take is a config error; a TypeError raised
    inside a component is a bug and keeps its traceback (the CLI re-raises it)."""
    from pretrain.registry import MODELS
    from tools.cli import _run, builder_error

    @MODELS.register_module(force=True)
    class LauncherBuggy:
        def __init__(self, width=1):
            len(width)  # a bug: TypeError inside the component

    with pytest.raises(TypeError) as bad_key:
        MODELS.build(dict(type="LauncherBuggy", widht=2))
    assert builder_error(bad_key.value) == f"config error: {bad_key.value.args[0]}"
    assert "unexpected keyword argument 'widht'" in builder_error(bad_key.value)
    with pytest.raises(TypeError) as bug:
        MODELS.build(dict(type="LauncherBuggy", width=2))
    assert builder_error(bug.value) is None
    with pytest.raises(TypeError, match="has no len"):
        _run(lambda: MODELS.build(dict(type="LauncherBuggy", width=2)))
    assert _run(lambda: MODELS.build(dict(type="LauncherBuggy", widht=2))) == 2
