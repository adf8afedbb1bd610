"""Fault injection for the soak test and the fault tests: `MAE_FAULT=ACTION@POINT:N[:RANK]`.

Real failures at chosen moments, reached through the ordinary code path (no mocks):
  ACTION  kill (SIGKILL to itself), term (SIGTERM to itself), enospc (OSError ENOSPC), raise (RuntimeError)
  POINT   save: half-way through writing the N-th checkpoint file (.pth) of this process
          iter: right after training iteration N (1-based, counted over the whole run)
          picture: just before the N-th reconstruction picture of this process is written
  RANK    only that process of a distributed job (default: every process)
Several faults may be given, comma-separated. Unset (the normal case) it costs one dict lookup.
"""
import errno
import os
import signal

from ..errors import ConfigError

ENV = "MAE_FAULT"
_counts = {}


class InjectedFault(RuntimeError):
    pass


def parse(spec: str) -> list:
    faults = []
    for item in filter(None, (s.strip() for s in spec.split(","))):
        try:
            action, rest = item.split("@")
            point, n, *rank = rest.split(":")
            faults.append((action, point, int(n), int(rank[0]) if rank else None))
        except ValueError:
            raise ConfigError(f"{ENV}={spec!r}: each fault is ACTION@POINT:N[:RANK], e.g. kill@save:2") from None
        if action not in ("kill", "term", "enospc", "raise") or point not in ("save", "iter", "picture"):
            raise ConfigError(f"{ENV}: unknown action or point in {item!r}")
    return faults


def point(name: str, n: int = None, path: str = "") -> None:
    """Called at each fault point; `n` is the iteration for 'iter', counted here for 'save'."""
    spec = os.environ.get(ENV)
    if not spec:
        return
    if name in ("save", "picture"):
        if name == "save" and not path.endswith(".pth"):
            return
        n = _counts[name] = _counts.get(name, 0) + 1
    rank = int(os.environ.get("RANK", "0"))
    for action, where, at, only in parse(spec):
        if where != name or at != n or (only is not None and only != rank):
            continue
        if action == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        elif action == "term":
            os.kill(os.getpid(), signal.SIGTERM)
        elif action == "enospc":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
        else:
            raise InjectedFault(f"injected fault at {name} {n} on rank {rank}")
