"""Preemption, mid-epoch resume, atomic saves, full disks, fallback resume and untrusted files.

Runs are tiny (4 iterations per epoch, fp32 so resumed and uninterrupted runs compare exactly);
faults are real: a SIGTERM the process sends itself, an OSError raised inside the file write,
a checkpoint file with a flipped byte (see pretrain/resilience/faults.py)."""
import argparse
import errno
import os
import re

import pytest
import torch

from pretrain.checkpoint import CheckpointError, UntrustedCheckpoint, load_file, trust_checkpoint
from pretrain.resilience import EXIT_PREEMPTED, EXIT_SAVE_FAILED, atomic_write, choose_resume_checkpoint, faults
from pretrain.resilience.atomic import CheckpointSaveError
from tests.conftest import TINY
from tools.cli import _run

FAST = dict(TINY, custom_hooks=[dict(type="LossCurveHook")], **{
    "optim_wrapper.precision": "fp32", "visualizer.vis_backends": [dict(type="LocalVisBackend")]})


def train(demo_config, work_dir, resume=False, **options):
    """One `mae train` in this process; returns its exit code (as tools.cli maps errors to codes)."""
    from tools import train as t
    opts = dict(FAST, experiment_name=os.path.basename(str(work_dir)) + str(resume), **options)
    return _run(lambda: t.train(demo_config, work_dir=str(work_dir), resume=resume, options=opts))


def final(work_dir):
    ckpt = load_file(str(work_dir / "epoch_2.pth"))
    return ckpt["state_dict"], ckpt["loss_history"]["losses"]


def assert_same_run(a, b):
    (wa, la), (wb, lb) = final(a), final(b)
    assert la == lb and len(la) == 8
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k


@pytest.fixture(scope="module")
def reference(tmp_path_factory, demo_config_path):
    work = tmp_path_factory.mktemp("reference")
    assert train(demo_config_path, work) == 0
    return work


@pytest.fixture(scope="module")
def demo_config_path():
    from tests.conftest import DEMO
    return os.path.abspath(DEMO)


@pytest.fixture(autouse=True)
def fresh_fault_counts(monkeypatch):
    monkeypatch.setattr(faults, "_counts", {})


def test_sigterm_saves_mid_epoch_and_resume_equals_uninterrupted(demo_config_path, reference, tmp_path,
                                                                  monkeypatch):
    monkeypatch.setenv(faults.ENV, "term@iter:3")  # SIGTERM arrives during iteration 3 (epoch 1)
    assert train(demo_config_path, tmp_path) == EXIT_PREEMPTED
    assert open(tmp_path / "last_checkpoint").read().strip().endswith("iter_3.pth")
    assert not (tmp_path / "epoch_1.pth").exists()
    monkeypatch.delenv(faults.ENV)
    assert train(demo_config_path, tmp_path, resume=True) == 0
    assert_same_run(reference, tmp_path)
    assert not (tmp_path / "iter_3.pth").exists()  # superseded by epoch_1.pth, then removed


def test_time_based_checkpoint_then_crash_resumes_mid_epoch(demo_config_path, reference, tmp_path, monkeypatch):
    monkeypatch.setenv(faults.ENV, "raise@iter:7")  # a crash right after iteration 7 (epoch 2)
    every = {"default_hooks.checkpoint.every_minutes": 1e-9}  # a resume checkpoint after every iteration
    with pytest.raises(faults.InjectedFault):
        train(demo_config_path, tmp_path, **every)
    assert open(tmp_path / "last_checkpoint").read().strip().endswith("iter_6.pth")
    assert sorted(p.name for p in tmp_path.glob("*.pth")) == ["epoch_1.pth", "iter_6.pth"]  # older iter_N removed
    monkeypatch.delenv(faults.ENV)
    assert train(demo_config_path, tmp_path, resume=True, **every) == 0
    assert_same_run(reference, tmp_path)


def test_full_disk_stops_with_one_line_and_keeps_previous(demo_config_path, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(faults.ENV, "enospc@save:2")  # the disk fills while epoch_2.pth is written
    assert train(demo_config_path, tmp_path) == EXIT_SAVE_FAILED
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith("mae: error: cannot write ") and "epoch_2.pth: disk full; it needs " in line, line
    assert "last complete checkpoint: " in line and line.count("epoch_1.pth") == 1, line
    assert open(tmp_path / "last_checkpoint").read().strip().endswith("epoch_1.pth")
    assert sorted(p.name for p in tmp_path.iterdir() if "pth" in p.name) == ["epoch_1.pth"]  # no temp file left
    load_file(str(tmp_path / "epoch_1.pth"))


def test_atomic_write_failure_leaves_old_file(tmp_path, monkeypatch):
    path = str(tmp_path / "f.bin")
    atomic_write(path, b"old")

    def no_space(fd):
        raise OSError(errno.EDQUOT, "quota")
    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(CheckpointSaveError, match=r"f.bin: disk quota exceeded; it needs 5 bytes, \d+ bytes free"):
        atomic_write(path, b"newer")
    assert open(path, "rb").read() == b"old" and os.listdir(tmp_path) == ["f.bin"]


def flip_byte(path):
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0xFF  # inside a tensor record: torch.load would not notice, the CRC does
    open(path, "wb").write(data)


def test_corrupt_newest_falls_back_to_older(demo_config_path, reference, tmp_path, capsys):
    import shutil
    for name in ("epoch_1.pth", "epoch_2.pth", "last_checkpoint"):
        shutil.copy(reference / name, tmp_path / name)
    (tmp_path / "last_checkpoint").write_text(str(tmp_path / "epoch_2.pth"))
    os.utime(tmp_path / "epoch_1.pth", (1, 1))
    flip_byte(tmp_path / "epoch_2.pth")
    path, note = choose_resume_checkpoint(str(tmp_path))
    assert path.endswith("epoch_1.pth")
    assert re.fullmatch(rf"newest checkpoint {tmp_path}/epoch_2.pth is corrupt \(record \S+ fails its CRC check\); "
                        rf"resuming from {tmp_path}/epoch_1.pth", note), note
    open(tmp_path / "epoch_1.pth", "r+b").truncate(100)
    with pytest.raises(CheckpointError, match=r"cannot resume: .*epoch_2.pth is corrupt .* and none of the 1 older"):
        choose_resume_checkpoint(str(tmp_path))
    assert train(demo_config_path, tmp_path, resume=True) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("mae: error:")]
    assert len(err) == 1 and "cannot resume" in err[0]


def test_checkpoint_that_carries_code_is_refused_unless_trusted(tmp_path):
    path = str(tmp_path / "official_style.pth")
    torch.save({"model": {"w": torch.ones(2)}, "args": argparse.Namespace(lr=1.0)}, path)
    with pytest.raises(UntrustedCheckpoint) as e:
        load_file(path)
    assert str(e.value) == (f"refusing to load {path}: unpickling it would run code (argparse.Namespace); "
                            f"if you trust its source, pass --trust-checkpoint {path}")
    trust_checkpoint(path)
    assert load_file(path)["args"].lr == 1.0
