"""`tokenizer.pth`: one file per trained tokenizer, tagged with its kind, vocabulary and architecture,
so that a file of the wrong kind or vocabulary is refused in one line before any training starts."""
import os.path as osp

import torch

from .base import TokenizerError

KINDS = {"dvae": "mae-dvae-tokenizer", "vq": "mae-vq-tokenizer"}  # config type -> the file's `kind`
NAMES = {"dvae": "Gumbel-softmax dVAE", "vq": "vector-quantised VAE"}


def tokenizer_state(model, kind: str, usage: dict = None) -> dict:
    return {"kind": KINDS[kind], "vocab_size": model.vocab_size, "arch": dict(model.arch),
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}, "usage": usage or {}}


def read_tokenizer_file(path: str) -> dict:
    """The file's contents; refuses a missing file, a non-tokenizer file or an unknown kind."""
    if not osp.isfile(path):
        raise TokenizerError(f"tokenizer checkpoint not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise TokenizerError(f"{path} is not a tokenizer checkpoint ({str(e).splitlines()[0]})") from e
    kind = obj.get("kind") if isinstance(obj, dict) else None
    if kind not in KINDS.values():
        what = f"kind {kind!r}" if kind else f"keys {sorted(obj)[:5]}" if isinstance(obj, dict) else type(obj).__name__
        raise TokenizerError(f"{path} is not a tokenizer checkpoint ({what}; expected kind "
                             f"{' or '.join(map(repr, KINDS.values()))}, written as tokenizer.pth by "
                             "`mae train configs/tokenizer/...`)")
    return obj


def tokenizer_type(path: str) -> str:
    """'dvae' or 'vq': the `type` a token target needs for this file."""
    kind = read_tokenizer_file(path)["kind"]
    return next(t for t, k in KINDS.items() if k == kind)


def load_tokenizer_file(path: str, model_class, kind: str, vocab_size=None):
    """The trained model in `path`, which must be of `kind` (and `vocab_size`, when given)."""
    obj = read_tokenizer_file(path)
    if obj["kind"] != KINDS[kind]:
        other = next(t for t, k in KINDS.items() if k == obj["kind"])
        raise TokenizerError(f"{path} is a {NAMES[other]} tokenizer (kind {obj['kind']!r}), not a {NAMES[kind]} "
                             f"one: use tokenizer=dict(type={other!r}, checkpoint=...)")
    if vocab_size is not None and int(vocab_size) != obj["vocab_size"]:
        raise TokenizerError(f"tokenizer {path} has vocabulary {obj['vocab_size']}, the config asks for {vocab_size}")
    model = model_class(**obj["arch"])
    try:
        model.load_state_dict(obj["state_dict"])
    except RuntimeError as e:
        raise TokenizerError(f"{path}: its weights do not fit its own architecture "
                             f"({str(e).splitlines()[0]})") from e
    return model.eval()
