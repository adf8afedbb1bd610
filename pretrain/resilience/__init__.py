"""Runs that survive preemption, kills during saves, full disks and bad checkpoints.

Exit codes of `mae train` (for requeue scripts): 0 done, 2 bad input or no readable checkpoint to
resume, 3 non-finite loss, 74 a checkpoint could not be written (disk full, quota, read-only),
75 preempted by SIGTERM/SIGUSR1 after writing a resume checkpoint (run again with --resume).

Here: atomic writes, signal handling, mid-epoch resume, fault injection; the hook that writes the
checkpoints with them is `ResilientCheckpointHook` in `pretrain/checkpoint/write.py`.
"""
from . import atomic, loop, resume  # noqa: F401  (register components)
from .atomic import CheckpointSaveError, atomic_torch_save, atomic_write
from .resume import choose_resume_checkpoint, finished_note, mark_finished
from .signals import EXIT_PREEMPTED, Preempted

EXIT_SAVE_FAILED = 74  # sysexits' EX_IOERR

__all__ = ["CheckpointSaveError", "EXIT_PREEMPTED", "EXIT_SAVE_FAILED", "Preempted", "atomic_torch_save",
           "atomic_write", "choose_resume_checkpoint"]
