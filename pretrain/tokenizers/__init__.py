"""Frozen image tokenizers for the token-target MAE: image -> one token id per encoder patch.

Three implementations: our own discrete VAE (`dvae`, Gumbel-softmax) and vector-quantised VAE (`vq`,
needs the `tokens` extra), both trained with `mae train configs/tokenizer/...`, and the DALL-E dVAE
encoder from a local `encoder.pkl` (`dalle`, needs the `dalle` extra).
"""
from .base import Tokenizer, TokenizerError, code_usage
from .dvae import DiscreteVAE, DVAETokenizer
from .files import load_tokenizer_file, tokenizer_type
from .vq import VQVAE, VQTokenizer

__all__ = ["Tokenizer", "TokenizerError", "code_usage", "DiscreteVAE", "DVAETokenizer", "VQVAE", "VQTokenizer",
           "load_tokenizer_file", "tokenizer_type", "build_tokenizer"]


def build_tokenizer(cfg: dict) -> Tokenizer:
    """`dict(type='dvae' or 'vq', checkpoint=PATH)` or `dict(type='dalle', encoder=PATH)`, plus the image
    normalisation the MAE sees (`mean`, `std` in 0-255 units) so the tokenizer can undo it."""
    cfg = dict(cfg)
    kind = cfg.pop("type", None)
    if kind == "dvae":
        return DVAETokenizer(**cfg)
    if kind == "vq":
        return VQTokenizer(**cfg)
    if kind == "dalle":
        from .dalle import DALLETokenizer
        return DALLETokenizer(**cfg)
    raise TokenizerError(f"unknown tokenizer type {kind!r}; choose 'dvae' or 'vq' (ours, tokenizer.pth) "
                         "or 'dalle' (DALL-E encoder.pkl)")
