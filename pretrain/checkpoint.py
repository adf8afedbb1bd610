"""Reading checkpoints from any of the usual layouts, and loading them with a key report."""
import os
from dataclasses import dataclass, field

import torch
import torch.nn as nn


class CheckpointError(RuntimeError):
    """Unreadable checkpoint, or one made for a different architecture."""


def load_file(path: str):
    """The raw object in a checkpoint file, with a one-line error if it cannot be read."""
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:
        raise CheckpointError(f"cannot read checkpoint {path}: {type(e).__name__}: {e}") from None


def state_dict_of(ckpt, path: str) -> dict:
    """State dict from an official MAE file ({'model': ...}), an mmengine checkpoint
    ({'state_dict': ...}), a DDP-wrapped one ('module.' prefixes) or a bare state dict."""
    state = ckpt
    if isinstance(ckpt, dict):
        for key in ("model", "state_dict", "module"):
            if key in ckpt and isinstance(ckpt[key], dict):
                state = ckpt[key]
                break
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path} holds no state dict of tensors")
    return {k[7:] if k.startswith("module.") else k: v for k, v in state.items()}


def read_state_dict(path: str) -> dict:
    return state_dict_of(load_file(path), path)


def check_resumable(work_dir: str) -> None:
    """Fail early, in one line, if the checkpoint `--resume` would load is missing or truncated
    (torch checkpoints are zip files: a cut-off file has no central directory)."""
    import zipfile

    pointer = os.path.join(work_dir, "last_checkpoint")
    if not os.path.exists(pointer):
        return  # nothing saved yet: mmengine starts from scratch
    path = open(pointer).read().strip()
    if not os.path.isfile(path):
        raise CheckpointError(f"cannot resume: {pointer} names {path}, which does not exist")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"cannot resume: {path} is truncated or not a torch checkpoint; point "
                              f"{pointer} at an earlier epoch_N.pth or delete it to start over")


@dataclass
class LoadReport:
    loaded: list = field(default_factory=list)
    missing: list = field(default_factory=list)
    unexpected: list = field(default_factory=list)
    mismatched: list = field(default_factory=list)  # (key, checkpoint shape, model shape)

    def summary(self) -> str:
        lines = [f"loaded {len(self.loaded)} tensors"]
        for name, keys in (("missing from checkpoint", self.missing), ("not used from checkpoint", self.unexpected)):
            if keys:
                lines.append(f"{name} ({len(keys)}): {', '.join(keys[:8])}{' ...' if len(keys) > 8 else ''}")
        for k, a, b in self.mismatched[:8]:
            lines.append(f"shape mismatch {k}: checkpoint {a} vs model {b}")
        return "\n".join(lines)


def load_state(model: nn.Module, state: dict, strict: bool = True, source: str = "checkpoint") -> LoadReport:
    """Load what fits, report the rest; raise `CheckpointError` naming keys when `strict` and
    anything is missing, unused or shaped differently (i.e. another architecture)."""
    own = model.state_dict()
    report = LoadReport()
    usable = {}
    for k, v in state.items():
        if k not in own:
            report.unexpected.append(k)
        elif own[k].shape != v.shape:
            report.mismatched.append((k, tuple(v.shape), tuple(own[k].shape)))
        else:
            usable[k] = v
            report.loaded.append(k)
    report.missing = [k for k in own if k not in state]
    if strict and (report.missing or report.unexpected or report.mismatched):
        raise CheckpointError(f"{source} does not match the model architecture:\n" + report.summary())
    model.load_state_dict(usable, strict=False)
    return report
