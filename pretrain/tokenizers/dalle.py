"""The DALL-E dVAE encoder as a tokenizer (BEiT's targets), from a local `encoder.pkl`.

`dall-e` 0.1 pickles whole modules and its `load_model` calls `torch.load` with torch's
`weights_only=True` default, which refuses its classes. We load only the file the user names,
with an allow-list of exactly the classes the DALL-E encoder is built from (no arbitrary code).
"""
import collections
import os.path as osp

import torch
import torch.nn as nn

from .base import IMAGENET_MEAN, IMAGENET_STD, Tokenizer, TokenizerError

LOGIT_LAPLACE_EPS = 0.1  # DALL-E's pixel mapping, as BEiT uses it


def _dall_e():
    try:
        import attr  # noqa: F401  (dall-e imports it without declaring the `attrs` package)
        import dall_e.encoder
        import dall_e.utils
    except ImportError as e:
        raise TokenizerError(f"the DALL-E tokenizer needs `pip install -e .[dalle]` ({e})") from e
    return dall_e


def load_dalle_encoder(path: str) -> nn.Module:
    dall_e = _dall_e()
    if not osp.isfile(path):
        raise TokenizerError(f"DALL-E encoder file not found: {path}")
    allowed = [dall_e.encoder.Encoder, dall_e.encoder.EncoderBlock, dall_e.utils.Conv2d, nn.Sequential, nn.ReLU,
               nn.MaxPool2d, nn.Identity, collections.OrderedDict, torch.device]
    try:
        with torch.serialization.safe_globals(allowed):
            model = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle of something else: refuse rather than execute it
        raise TokenizerError(f"{path} is not a DALL-E dVAE encoder.pkl ({str(e).splitlines()[0]})") from e
    if not isinstance(model, dall_e.encoder.Encoder):
        raise TokenizerError(f"{path} is not a DALL-E encoder.pkl (it holds a {type(model).__name__})")
    return model


class DALLETokenizer(Tokenizer):
    downsample = 8

    def __init__(self, encoder: str, vocab_size=None, mean=IMAGENET_MEAN, std=IMAGENET_STD):
        model = load_dalle_encoder(encoder)
        if vocab_size is not None and vocab_size != model.vocab_size:
            raise TokenizerError(f"DALL-E encoder {encoder} has vocabulary {model.vocab_size}, "
                                 f"the config asks for {vocab_size}")
        super().__init__(model.vocab_size, mean, std)
        model.use_mixed_precision = False
        self.encoder = model
        self.freeze()

    def scale(self, x: torch.Tensor) -> torch.Tensor:
        return (1 - 2 * LOGIT_LAPLACE_EPS) * x + LOGIT_LAPLACE_EPS

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x.float())
