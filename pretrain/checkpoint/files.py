"""Checkpoint files in every layout we read: ours / official MAE ({'model': ...}), mmengine
({'state_dict': ...}, 'module.' prefixes), bare timm-style state dicts, and Hugging Face folders
or files (model.safetensors / pytorch_model.bin, keys mapped to ours by `hf.from_hf`)."""
import json
import os
from dataclasses import dataclass, field

import torch

from .hf import from_hf, is_hf_state, model_cfg_from_hf


class CheckpointError(RuntimeError):
    """Unreadable checkpoint, or one made for a different architecture."""


HF_WEIGHTS = ("model.safetensors", "pytorch_model.bin")


@dataclass
class Checkpoint:
    """A state dict in our key names, with what the file says about the model that made it."""
    state: dict
    source: str
    layout: str  # 'ours', 'official', 'mmengine', 'timm' or 'hf'
    model_cfg: dict = field(default_factory=dict)  # constructor arguments, when the file records them


def load_file(path: str):
    """The raw object in a torch or safetensors file, with a one-line error if it cannot be read."""
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        if path.endswith(".safetensors"):
            from safetensors.torch import load_file as load_safetensors
            return load_safetensors(path, device="cpu")
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:
        raise CheckpointError(f"cannot read checkpoint {path}: {type(e).__name__}: {e}".splitlines()[0]) from None


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
    if path.endswith(".safetensors"):
        from safetensors.torch import save_file
        save_file(state, path)
    else:
        torch.save({wrap: state} if wrap else state, path)
    return path


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
