"""Frozen image tokenizers for the token-target MAE: image -> one token id per encoder patch.

Two implementations: our own discrete VAE (`dvae`, trained with `mae train configs/tokenizer/...`)
and the DALL-E dVAE encoder from a local `encoder.pkl` (`dalle`, needs the `dalle` extra).
"""
from .base import Tokenizer, TokenizerError
from .dvae import DiscreteVAE, DVAETokenizer, load_tokenizer_file

__all__ = ["Tokenizer", "TokenizerError", "DiscreteVAE", "DVAETokenizer", "load_tokenizer_file", "build_tokenizer"]


def build_tokenizer(cfg: dict) -> Tokenizer:
    """`dict(type='dvae', checkpoint=PATH)` or `dict(type='dalle', encoder=PATH)`, plus the image
    normalisation the MAE sees (`mean`, `std` in 0-255 units) so the tokenizer can undo it."""
    cfg = dict(cfg)
    kind = cfg.pop("type", None)
    if kind == "dvae":
        return DVAETokenizer(**cfg)
    if kind == "dalle":
        from .dalle import DALLETokenizer
        return DALLETokenizer(**cfg)
    raise TokenizerError(f"unknown tokenizer type {kind!r}; choose 'dvae' (ours) or 'dalle' (DALL-E encoder.pkl)")
