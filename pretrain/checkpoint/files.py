"""Checkpoint files in every layout we read: ours / official MAE ({'model': ...}), mmengine
({'state_dict': ...}, 'module.' prefixes), bare timm-style state dicts, and Hugging Face folders
or files (model.safetensors / pytorch_model.bin, keys mapped to ours by `hf.from_hf`).

Torch files are unpickled with `weights_only=True` (tensors, containers, numbers and the few mmengine
and numpy types our resume checkpoints hold): a file that needs code to unpickle is refused unless
it was named with `trust_checkpoint` (the `--trust-checkpoint PATH` option)."""
import json
import os
import pickle
import re
from dataclasses import dataclass, field

import torch

from .hf import from_hf, is_hf_state, model_cfg_from_hf
from ..errors import CheckpointError  # noqa: F401  (raised here; importable from here)


HF_WEIGHTS = ("model.safetensors", "pytorch_model.bin")


@dataclass
class Checkpoint:
    """A state dict in our key names, with what the file says about the model that made it."""
    state: dict
    source: str
    layout: str  # 'ours', 'official', 'mmengine', 'timm' or 'hf'
    model_cfg: dict = field(default_factory=dict)  # constructor arguments, when the file records them


class UntrustedCheckpoint(CheckpointError):
    """The file can only be unpickled by running code named inside it."""


_TRUSTED = set()


def trust_checkpoint(path: str) -> None:
    """Allow full unpickling (which can run code) of this one file."""
    _TRUSTED.add(os.path.realpath(path))


def _safe_globals() -> list:
    from mmengine.runner.checkpoint import get_torch_safe_globals  # HistoryBuffer, numpy scalars/dtypes

    return get_torch_safe_globals()


def load_file(path: str, map_location="cpu"):
    """The raw object in a torch or safetensors file, with a one-line error if it cannot be read."""
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        if path.endswith(".safetensors"):
            from safetensors.torch import load_file as load_safetensors
            return load_safetensors(path, device="cpu")
        if os.path.realpath(path) in _TRUSTED:
            return torch.load(path, map_location=map_location, weights_only=False)
        with torch.serialization.safe_globals(_safe_globals()):
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        code = re.search(r"GLOBAL (\S+)", str(e))
        if code:
            raise UntrustedCheckpoint(f"refusing to load {path}: unpickling it would run code ({code.group(1)}); "
                                      f"if you trust its source, pass --trust-checkpoint {path}") from None
        raise CheckpointError(f"cannot read checkpoint {path}: {first_line(e)}") from None
    except Exception as e:
        raise CheckpointError(f"cannot read checkpoint {path}: {type(e).__name__}: {first_line(e)}") from None


def first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def unwrap(ckpt, path: str) -> tuple:
    """(state dict, layout name, meta dict) from any of the torch layouts."""
    state, layout, meta = ckpt, "timm", {}
    if isinstance(ckpt, dict):
        meta = ckpt.get("meta") if isinstance(ckpt.get("meta"), dict) else {}
        for key, name in (("model", "official"), ("state_dict", "mmengine"), ("module", "mmengine")):
            if isinstance(ckpt.get(key), dict):
                state, layout = ckpt[key], name
                break
    if layout == "official" and meta.get("model_cfg"):
        layout = "ours"
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path} holds no state dict of tensors")
    if any(k.startswith("module.") for k in state):
        layout = "mmengine"
    return {k[7:] if k.startswith("module.") else k: v for k, v in state.items()}, layout, meta


def hf_weights_file(folder: str) -> str:
    for name in HF_WEIGHTS:
        if os.path.isfile(os.path.join(folder, name)):
            return os.path.join(folder, name)
    raise CheckpointError(f"{folder} is a folder without {' or '.join(HF_WEIGHTS)} (a Hugging Face model folder "
                          f"has one); found: {', '.join(sorted(os.listdir(folder))[:8]) or 'nothing'}")


def load_checkpoint(path: str) -> Checkpoint:
    """Read any supported checkpoint file or Hugging Face folder into our key names."""
    path = os.fspath(path)
    hf_config = None
    if os.path.isdir(path):
        weights = hf_weights_file(path)
        cfg_path = os.path.join(path, "config.json")
        hf_config = json.load(open(cfg_path)) if os.path.isfile(cfg_path) else None
    else:
        weights = path
    state, layout, meta = unwrap(load_file(weights), path)
    model_cfg = {k: v for k, v in dict(meta.get("model_cfg") or {}).items() if k != "type"}
    if is_hf_state(state):
        state, layout = from_hf(state), "hf"
        model_cfg = model_cfg_from_hf(hf_config) if hf_config else {}
    if not state:
        raise CheckpointError(f"{path} is empty: no tensors to load")
    return Checkpoint(state, path, layout, model_cfg)


def read_checkpoint(path: str) -> dict:
    """State dict in our key names (official MAE / timm naming) from any supported layout."""
    return load_checkpoint(path).state


read_state_dict = read_checkpoint  # older name, still used by tests and scripts


def save_state(state: dict, path: str, wrap: str = None) -> str:
    """Write a state dict: safetensors when `path` ends so, else torch (`{wrap: state}` if given)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in state.items()}
    from ..resilience.atomic import atomic_torch_save, atomic_write  # temp file, fsync, rename

    if path.endswith(".safetensors"):
        from safetensors.torch import save
        atomic_write(path, save(state))
    else:
        atomic_torch_save({wrap: state} if wrap else state, path)
    return path

