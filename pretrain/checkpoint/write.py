"""Checkpoint writing: the two hooks that write checkpoint files during a run.

- `ResilientCheckpointHook` (config: `default_hooks.checkpoint`): mmengine's resume checkpoints
  (`epoch_N.pth`, `iter_N.pth`, weights + optimiser + schedule), written atomically and on
  preemption; the pieces it builds on (atomic writes, signals, fault points) are in `resilience/`.
- `OfficialCheckpointHook` (in `custom_hooks`): the official MAE layout, `{'model': state_dict}`,
  decoder included, that other toolkits load (the export of a pretraining run).

They live here, beside the modules that read checkpoints (files, arch, hf, load), so that one folder
holds every layout a run writes and every reader of them. Nothing in the reading modules imports
this one: loading weights into a task model never imports training hooks.
"""
import os.path as osp
import threading
import time

import torch
from mmengine.dist import all_reduce, barrier, get_world_size, is_main_process
from mmengine.hooks import CheckpointHook, Hook

from ..errors import ConfigError
from ..hooks import bare_model
from ..registry import HOOKS
from ..resilience import faults
from ..resilience.atomic import (CheckpointSaveError, atomic_torch_save, atomic_write,
                                 remove_stale_temps)
from ..resilience.signals import Preempted, PreemptionFlag

# message-hub key: the newest mid-epoch checkpoint (removed once superseded)
RESUME_POINT = "resume_point"


@HOOKS.register_module()
class ResilientCheckpointHook(CheckpointHook):
    """mmengine's CheckpointHook (resume checkpoints), made safe for long runs on shared clusters.

    What it adds to the parent (whose interval, max_keep_ckpts, save_last, ... all still apply):
    - every file (checkpoint and `last_checkpoint` pointer) is written atomically; the pointer
      moves only after the checkpoint is complete, and old checkpoints are removed only after that
      (the parent removes the oldest one before writing the new one);
    - a resume checkpoint `iter_N.pth` every `every_minutes` of training (0: never), so a kill
      loses at most that much work; `ResumableEpochBasedTrainLoop` continues such a checkpoint
      mid-epoch;
    - on SIGTERM / SIGUSR1: finish the iteration, write `iter_N.pth`, exit with code 75;
    - a failed write (disk full, quota, read-only) stops training with one line naming the path,
      the bytes needed and the last complete checkpoint, instead of training on without
      checkpoints.
    """

    def __init__(self, *args, every_minutes: float = 30, backend_args=None, **kwargs):
        super().__init__(*args, backend_args=backend_args or dict(backend="atomic_local"), **kwargs)
        if every_minutes < 0:
            raise ConfigError("every_minutes must be >= 0 (0: no time-based checkpoints), "
                              f"got {every_minutes}")
        self.every_minutes = every_minutes
        self.flag = PreemptionFlag()
        self._last_save = time.monotonic()

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if is_main_process():
            for path in remove_stale_temps(self.out_dir):
                runner.logger.info(f"removed {path}, left by a run killed while saving")
        if threading.current_thread() is threading.main_thread():
            self.flag.install()
        self._last_save = time.monotonic()

    def after_train(self, runner) -> None:
        super().after_train(runner)
        self.flag.uninstall()

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        super().after_train_iter(runner, batch_idx, data_batch, outputs)
        faults.point("iter", runner.iter + 1)
        stop, due = self._decide()
        end_of_epoch = batch_idx + 1 == len(runner.train_dataloader)
        epoch_save_follows = self.by_epoch and end_of_epoch and (
            self.every_n_epochs(runner, self.interval, self.save_begin)
            or (self.save_last and self.is_last_train_epoch(runner)))
        if stop or (due and not epoch_save_follows):
            why = f" ({self.flag.name or 'signal on another rank'})" if stop else ""
            runner.logger.info(f"saving a resume checkpoint after iteration {runner.iter + 1}{why}")
            path = self.save_resume_point(runner)
        if stop:
            barrier()  # the others wait until rank 0 has written the checkpoint
            self.flag.uninstall()
            raise Preempted(f"{self.flag.name or 'preemption signal'} received: stopped after "
                            f"iteration {runner.iter + 1} with resume checkpoint {path}; run the "
                            "same command with --resume to continue")

    def _decide(self):
        """(stop, due) agreed by all processes, so they save and stop at the same iteration."""
        stop = self.flag.signum is not None
        elapsed = time.monotonic() - self._last_save
        due = self.every_minutes > 0 and elapsed >= 60 * self.every_minutes
        if get_world_size() > 1:
            t = torch.tensor([float(stop), float(due)])
            all_reduce(t, op="max")
            stop, due = bool(t[0]), bool(t[1])
        return stop, due

    def save_resume_point(self, runner) -> str:
        step = runner.iter + 1
        return self._write(runner, f"iter_{step}.pth", dict(epoch=runner.epoch, iter=step),
                           by_epoch=False, resume_point=True)

    def _save_checkpoint_with_step(self, runner, step, meta):
        """The parent's bookkeeping, but the oldest checkpoint is removed after the new one is
        written."""
        stale = []
        again = bool(self.keep_ckpt_ids) and self.keep_ckpt_ids[-1] == step
        if self.max_keep_ckpts > 0 and not again:
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                stale.append(self.filename_tmpl.format(self.keep_ckpt_ids.popleft()))
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info("keep_ckpt_ids", list(self.keep_ckpt_ids))
        self._write(runner, self.filename_tmpl.format(step), meta, self.by_epoch, stale=stale)

    def _write(self, runner, name, meta, by_epoch, stale=(), resume_point=False) -> str:
        path = self.file_backend.join_path(self.out_dir, name)
        stale = list(stale)
        previous = runner.message_hub.get_info(RESUME_POINT)
        if previous and previous != path:
            stale.append(osp.basename(previous))
        runner.message_hub.update_info(RESUME_POINT, path if resume_point else None)
        self.last_ckpt = path
        runner.message_hub.update_info("last_ckpt", path)
        pointer = osp.join(runner.work_dir, "last_checkpoint")
        try:
            runner.save_checkpoint(self.out_dir, name, self.file_client_args,
                                   save_optimizer=self.save_optimizer,
                                   save_param_scheduler=self.save_param_scheduler, meta=meta,
                                   by_epoch=by_epoch, backend_args=self.backend_args, **self.args)
            if is_main_process():
                atomic_write(pointer, path)
        except OSError as e:
            last_good = open(pointer).read().strip() if osp.exists(pointer) else "none yet"
            raise CheckpointSaveError(e.errno, f"{e.strerror or e}; last complete checkpoint: "
                                      f"{last_good}; training stopped: make room, then run again "
                                      "with --resume") from None
        self._last_save = time.monotonic()
        if is_main_process():
            for old in stale:
                old_path = self.file_backend.join_path(self.out_dir, old)
                if old_path != path and self.file_backend.isfile(old_path):
                    self.file_backend.remove(old_path)
        return path


@HOOKS.register_module()
class OfficialCheckpointHook(Hook):
    """Every `interval` epochs and at the end: `checkpoint-{epoch}.pth` = {'model': state_dict},
    the official MAE layout (decoder included) that other toolkits load."""

    priority = "LOW"

    def __init__(self, interval: int = 1):
        self.interval = interval

    def _save(self, runner, name: str, epochs_done: int) -> None:
        if not is_main_process():
            return
        model = bare_model(runner)
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        cfg = runner.cfg.get("model", {})
        meta = {"epoch": epochs_done, "iter": runner.iter,
                "model_cfg": cfg.to_dict() if hasattr(cfg, "to_dict") else dict(cfg)}
        atomic_torch_save({"model": state, "meta": meta}, osp.join(runner.work_dir, name))

    def after_train_epoch(self, runner):
        if self.every_n_epochs(runner, self.interval):  # runner.epoch is still 0-based here
            self._save(runner, f"checkpoint-{runner.epoch + 1}.pth", runner.epoch + 1)

    def after_train(self, runner):
        self._save(runner, "checkpoint-final.pth", runner.epoch)
        if is_main_process():
            path = osp.join(runner.work_dir, "checkpoint-final.pth")
            runner.logger.info(f"official-layout checkpoint: {path}")
