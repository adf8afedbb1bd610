"""Atomic file writes: a kill at any moment leaves either the old file or the complete new one.

Every write goes to a temporary file in the same folder, is flushed and fsync'ed, then renamed
over the target (rename is atomic on POSIX file systems) and the folder is fsync'ed so the rename
itself survives a power cut. mmengine writes checkpoints with a plain `open(path, 'wb')`, so we
register a subclass of its `LocalBackend` (`backend='atomic_local'`) that writes this way.
"""
import errno
import glob
import os
import shutil

from mmengine.fileio import LocalBackend, register_backend

from . import faults

TMP_MARK = ".tmp-"  # temporary files are `<name>.tmp-<pid>`; leftovers of killed runs are removed


class CheckpointSaveError(OSError):
    """A checkpoint (or pointer, or export) could not be written; the previous one is intact."""

    def __str__(self):
        return str(self.strerror)


def _fsync_dir(folder: str) -> None:
    try:
        fd = os.open(folder or ".", os.O_RDONLY)
    except OSError:  # some file systems do not let a folder be opened; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_error(path: str, nbytes: int, err: OSError) -> CheckpointSaveError:
    """One line: what could not be written, why, how many bytes it needs and how many are free."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        free = f"{shutil.disk_usage(folder).free} bytes free there"
    except OSError:
        free = "free space unknown"
    why = {errno.ENOSPC: "disk full", errno.EDQUOT: "disk quota exceeded",
           errno.EROFS: "read-only file system"}.get(err.errno, err.strerror or type(err).__name__)
    e = CheckpointSaveError(err.errno, f"cannot write {path}: {why}; it needs {nbytes} bytes, {free}")
    e.filename = path
    return e


def atomic_write(path: str, data) -> None:
    """Write bytes or str to `path` atomically; an OSError becomes a one-line CheckpointSaveError."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    folder = os.path.dirname(os.path.abspath(path))
    tmp = f"{path}{TMP_MARK}{os.getpid()}"
    try:
        os.makedirs(folder, exist_ok=True)
        with open(tmp, "wb") as f:
            half = len(data) // 2
            f.write(data[:half])
            faults.point("save", path=path)  # fault injection (soak): kill or fail half-way through
            f.write(data[half:])
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(folder)
    except OSError as err:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise save_error(path, len(data), err) from None


def atomic_torch_save(obj, path: str) -> None:
    import io

    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write(path, buf.getbuffer())


def remove_stale_temps(folder: str) -> list:
    """Remove the temporary files that killed runs left behind (never a finished file)."""
    removed = []
    for path in glob.glob(os.path.join(glob.escape(folder), f"*{TMP_MARK}*")):
        try:
            os.remove(path)
            removed.append(path)
        except OSError:
            pass
    return removed


@register_backend("atomic_local")
class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend with atomic `put` / `put_text` (used by our checkpoint hook)."""

    def put(self, obj: bytes, filepath) -> None:
        atomic_write(str(filepath), obj)

    def put_text(self, obj: str, filepath, encoding: str = "utf-8") -> None:
        atomic_write(str(filepath), obj.encode(encoding))
