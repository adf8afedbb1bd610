"""Reading checkpoints from any of the usual layouts, and loading them with a key report."""
import os
from dataclasses import dataclass, field

import torch
import torch.nn as nn


class CheckpointError(RuntimeError):
    """Unreadable checkpoint, or one made for a different architecture."""


def read_state_dict(path: str) -> dict:
    """State dict from an official MAE file ({'model': ...}), an mmengine checkpoint
    ({'state_dict': ...}), a DDP-wrapped one ('module.' prefixes) or a bare state dict."""
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:
        raise CheckpointError(f"cannot read checkpoint {path}: {type(e).__name__}: {e}") from None
    state = ckpt
    if isinstance(ckpt, dict):
        for key in ("model", "state_dict", "module"):
            if key in ckpt and isinstance(ckpt[key], dict):
                state = ckpt[key]
                break
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path} holds no state dict of tensors")
    return {k[7:] if k.startswith("module.") else k: v for k, v in state.items()}


def read_meta(path: str) -> dict:
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    return ckpt.get("meta", {}) if isinstance(ckpt, dict) else {}


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
