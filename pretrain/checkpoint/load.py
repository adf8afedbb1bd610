"""Loading weights into a model: encoder extraction, position-table resizing, strict key checks,
and one report (missing / unexpected / resized / dropped keys) that every task logs."""
import os
from collections import Counter
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

import torch.nn as nn

from ..pos_embed import is_sincos, resample_pos_embed
from .arch import infer_arch
from .files import CheckpointError, load_checkpoint
from .hf import from_hf, is_hf_state

ENCODER_KEYS = ("cls_token", "pos_embed")
ENCODER_PREFIXES = ("patch_embed.", "blocks.", "norm.")
PRETRAIN_ONLY = ("decoder_", "mask_token", "encoder_mask_token")  # MAE pretraining keys no task uses
TASK_PREFIXES = ("backbone.net.", "backbone.", "encoder.")  # detectron2, mmseg / mmdet, other wrappers


def is_encoder_key(key: str) -> bool:
    return key in ENCODER_KEYS or key.startswith(ENCODER_PREFIXES)


def key_groups(state: dict, most: int = 6) -> str:
    """'decoder_blocks (96), decoder_embed (2), ...': what a state dict holds, in one line."""
    counts = Counter(k.split(".")[0] for k in state)
    text = ", ".join(f"{name} ({n})" for name, n in counts.most_common(most))
    return text + (" ..." if len(counts) > most else "") if counts else "no keys"


def encoder_state(state: dict, source: str = "these weights") -> dict:
    """Only the ViT encoder's keys (patch_embed, cls_token, pos_embed, blocks, norm); from a task
    checkpoint whose ViT sits under 'backbone.' / 'backbone.net.' / 'encoder.', that ViT's."""
    enc = {k: v for k, v in state.items() if is_encoder_key(k)}
    for prefix in TASK_PREFIXES:
        if enc:
            break
        enc = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix) and is_encoder_key(k[len(prefix):])}
    if not enc:
        raise CheckpointError(f"no ViT encoder in {source} (no patch_embed/blocks/pos_embed keys); "
                              f"found {len(state)} keys: {key_groups(state)}")
    return enc


@dataclass
class LoadReport:
    source: str = "checkpoint"
    loaded: list = field(default_factory=list)
    missing: list = field(default_factory=list)  # in the model, not in the checkpoint
    unexpected: list = field(default_factory=list)  # in the checkpoint, not in the model
    resized: list = field(default_factory=list)  # (key, checkpoint shape, model shape, how)
    mismatched: list = field(default_factory=list)  # (key, checkpoint shape, model shape)
    dropped: list = field(default_factory=list)  # non-encoder keys left out for an encoder-only model

    def summary(self) -> str:
        """One line for the log: what was loaded, missing, unused, resized and left out."""
        return f"{self.source}: {self.details()}"

    def details(self) -> str:
        def keys(ks):
            return f"({len(ks)}): {', '.join(ks[:8])}{' ...' if len(ks) > 8 else ''}"
        parts = [f"loaded {len(self.loaded)} tensors"]
        if self.missing:
            parts.append("missing from checkpoint " + keys(self.missing))
        if self.unexpected:
            parts.append("not used from checkpoint " + keys(self.unexpected))
        parts += [f"resized {k} {a} -> {b} ({how})" for k, a, b, how in self.resized]
        parts += [f"shape mismatch {k}: checkpoint {a} vs model {b}" for k, a, b in self.mismatched[:8]]
        if self.dropped:
            parts.append(f"left out (not encoder) {key_groups(dict.fromkeys(self.dropped))}")
        return "; ".join(parts)


def own_grid(model: nn.Module, key: str, n: int):
    grid = getattr(model, "grid", None)
    if key == "pos_embed" and grid is not None and grid[0] * grid[1] == n:
        return tuple(grid)
    side = int(round(n ** 0.5))
    if side * side != n:
        raise CheckpointError(f"cannot tell the grid of the model's {key} ({n} patches): not a square")
    return side, side


def resize_pos_embeds(model: nn.Module, state: dict, own: dict, report: LoadReport) -> dict:
    """Position tables (any key ending 'pos_embed', class token first) brought to the model's grid."""
    state = dict(state)
    for k, v in list(state.items()):
        if not k.endswith("pos_embed") or k not in own or own[k].shape == v.shape:
            continue
        if v.ndim != 3 or own[k].ndim != 3 or v.shape[-1] != own[k].shape[-1]:
            continue  # left to the shape check: another width is another architecture
        n_old, n_new = v.shape[1] - 1, own[k].shape[1] - 1
        old = int(round(n_old ** 0.5))
        if old * old != n_old:
            raise CheckpointError(f"{report.source}: {k} has {n_old} patches, not a square grid; cannot resize it")
        how = "sin-cos recomputed" if is_sincos(v, (old, old)) else "interpolated"
        state[k] = resample_pos_embed(v, own_grid(model, k, n_new), (old, old))
        report.resized.append((k, tuple(v.shape), tuple(own[k].shape), how))
    return state


def matches(key: str, patterns) -> bool:
    return any(fnmatchcase(key, p) for p in patterns)


def load_pretrained(model: nn.Module, path_or_state, *, strict: bool = True, allow_missing=(),
                    allow_unexpected=(), source: str = None) -> LoadReport:
    """Load a checkpoint (a path in any supported layout, or a state dict) into `model`.

    A checkpoint with exactly the model's keys loads whole. Otherwise a model without an MAE
    decoder gets the encoder only (plus any other keys it has, e.g. a fine-tuned head). Position
    tables are resized to the model's grid. With `strict`, missing keys not matching
    `allow_missing` (fnmatch patterns such as 'head.*') and unused keys not matching
    `allow_unexpected` are an error naming them; another width is always an error.
    """
    if isinstance(path_or_state, (str, os.PathLike)):
        ckpt = load_checkpoint(path_or_state)
        state, source = ckpt.state, source or ckpt.source
    else:
        state, source = dict(path_or_state), source or "the given state dict"
        if is_hf_state(state):
            state = from_hf(state)
    if not state:
        raise CheckpointError(f"{source} is empty: no tensors to load")
    report = LoadReport(source=source)
    own = model.state_dict()
    whole = set(state) == set(own)  # a checkpoint of this very model (e.g. `mae test` on a trained task)
    # a task model whose ViT keys sit at the top level: take the encoder (a model that nests its ViT,
    # e.g. a detector's `backbone.net.*`, gets its own checkpoints as they are)
    if not whole and not any(k.startswith(PRETRAIN_ONLY) for k in own) and any(is_encoder_key(k) for k in own):
        enc = encoder_state(state, source)
        kept = {**{k: v for k, v in state.items() if k in own and not is_encoder_key(k)}, **enc}
        report.dropped = [k for k in state if k not in kept]
        state = kept
    elif not whole and not any(is_encoder_key(k) for k in state):
        encoder_state(state, source)  # raises, naming what the file holds
    w = "patch_embed.proj.weight"
    if w in own and w in state and own[w].shape != state[w].shape:
        raise CheckpointError(f"{source} does not match the model architecture: it holds a "
                              f"{infer_arch(state).describe()} ({w} {tuple(state[w].shape)}), the model has "
                              f"{w} {tuple(own[w].shape)}")
    state = resize_pos_embeds(model, state, own, report)
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
    bad = ([k for k in report.missing if not matches(k, allow_missing)] or
           [k for k in report.unexpected if not matches(k, allow_unexpected)] or report.mismatched)
    if strict and bad:
        raise CheckpointError(f"{source} does not match the model architecture: " + report.details())
    model.load_state_dict(usable, strict=False)
    return report


def load_state(model: nn.Module, state: dict, strict: bool = True, source: str = "checkpoint") -> LoadReport:
    """`load_pretrained` for a state dict already read (e.g. `load_from` in a training config)."""
    return load_pretrained(model, state, strict=strict, source=source)
