"""Which checkpoint `--resume` loads, and how mmengine reads it.

The newest checkpoint is normally complete (saves are atomic), but a disk can still corrupt one or a
user can copy a half-written file. We check the candidates newest first (the file `last_checkpoint`
names, then every other resume checkpoint by modification time) and take the first whose zip
records all pass their CRC-32 check: torch's zip writer stores one per record, and a flipped or
missing byte fails it. This reads each file once, which costs seconds even for the largest models.
"""
import glob
import os
import os.path as osp
import zipfile

from mmengine.runner.checkpoint import CheckpointLoader

from ..checkpoint.files import first_line, load_file
from ..errors import CheckpointError

PATTERNS = ("epoch_*.pth", "iter_*.pth")


@CheckpointLoader.register_scheme(prefixes="", force=True)
def load_from_local(filename, map_location=None):
    """mmengine's local loader, but never falling back to unpickling code (see pretrain.checkpoint)."""
    return load_file(osp.expanduser(filename), map_location=map_location)


def unreadable_reason(path: str):
    """None if `path` is a complete torch checkpoint, else a few words on what is wrong."""
    if not osp.isfile(path):
        return "missing"
    try:
        with zipfile.ZipFile(path) as z:
            bad = z.testzip()
    except zipfile.BadZipFile:
        return "truncated or not a torch checkpoint"
    except Exception as e:  # unreadable disk block, permissions, ...
        return f"{type(e).__name__}: {first_line(e)}"
    return f"corrupt (record {bad} fails its CRC check)" if bad else None


def candidates(work_dir: str) -> list:
    pointer = osp.join(work_dir, "last_checkpoint")
    named = [open(pointer).read().strip()] if osp.exists(pointer) else []
    found = {p for pat in PATTERNS for p in glob.glob(osp.join(glob.escape(work_dir), pat))}
    others = sorted(found, key=lambda p: osp.getmtime(p), reverse=True)
    seen = {osp.realpath(p) for p in named}
    return named + [p for p in others if osp.realpath(p) not in seen]


def choose_resume_checkpoint(work_dir: str):
    """(path, note): the newest readable checkpoint, or None when nothing was saved yet (start over);
    `note` is one line when newer ones had to be passed over. None readable: CheckpointError."""
    found = candidates(work_dir)
    if not found:
        return None, None
    first = unreadable_reason(found[0])
    if first is None:
        return found[0], None
    for path in found[1:]:
        if unreadable_reason(path) is None:
            return path, f"newest checkpoint {found[0]} is {first}; resuming from {path}"
    older = f" and none of the {len(found) - 1} older ones is readable" if len(found) > 1 else ""
    raise CheckpointError(f"cannot resume: {found[0]} is {first}{older}; delete the work dir's checkpoints "
                          "to start over")


FINISHED = "finished.json"  # written by `mae train` after a run ends: which checkpoint it ended with


def mark_finished(work_dir: str, epoch: int, iteration: int) -> None:
    """Record that the run in `work_dir` completed (hooks that run after training included), with
    which checkpoint and how far, so a later `--resume` can tell "finished" from "killed after its
    last save" without reading the checkpoint."""
    import json

    from .atomic import atomic_write

    pointer = osp.join(work_dir, "last_checkpoint")
    if not osp.exists(pointer):
        return
    path = open(pointer).read().strip()
    atomic_write(osp.join(work_dir, FINISHED), json.dumps(
        {"checkpoint": path, "mtime_ns": os.stat(path).st_mtime_ns, "epoch": epoch, "iter": iteration}))


def finished_note(path: str, train_cfg) -> str:
    """One line if the run that wrote the checkpoint at `path` finished and `train_cfg` asks for no
    more (so `--resume` has nothing to do), else None. A run killed after its last checkpoint but
    before its final export resumes as usual, which completes it."""
    import json

    try:
        done_with = json.load(open(osp.join(osp.dirname(path), FINISHED)))
        if done_with["checkpoint"] != path or done_with["mtime_ns"] != os.stat(path).st_mtime_ns:
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if train_cfg.get("max_epochs") is not None:
        done, total, unit = done_with.get("epoch"), train_cfg["max_epochs"], "epoch"
    elif train_cfg.get("max_iters") is not None:
        done, total, unit = done_with.get("iter"), train_cfg["max_iters"], "iteration"
    else:
        return None
    if done is None or done < total:
        return None
    return (f"the run in {osp.dirname(path)} already finished ({unit} {done} of {total}, {osp.basename(path)}); "
            f"nothing to do: raise max_{'epochs' if unit == 'epoch' else 'iters'} to train further, or use "
            "another --work-dir to start over")
