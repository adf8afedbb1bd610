"""Our discrete VAE tokenizer (Gumbel-softmax relaxation, as DALL-E's dVAE), small enough for a CPU.

Encoder: conv stem + log2(downsample) stride-2 convs -> logits over the vocabulary per grid cell.
Training samples a relaxed one-hot with Gumbel-softmax (temperature annealed), looks up a codebook
and decodes back to pixels; the loss is reconstruction MSE plus a KL to the uniform prior, which keeps
codes in use. Tokenizing is the argmax of the logits. The finished tokenizer is one file
(`tokenizer.pth`) with its kind, vocabulary and architecture, so a wrong file is refused clearly.
"""
import math
import os.path as osp

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModel

from ..registry import MODELS
from .base import IMAGENET_MEAN, IMAGENET_STD, Tokenizer, TokenizerError

KIND = "mae-dvae-tokenizer"


def _layers(downsample: int) -> int:
    n = int(round(math.log2(downsample)))
    if downsample < 1 or 2 ** n != downsample:
        raise ValueError(f"dVAE downsample must be a power of two, got {downsample}")
    return n


def code_usage(ids: torch.Tensor, vocab_size: int) -> dict:
    """How many codes are used and the perplexity of their frequencies (= vocab when uniform,
    1 when collapsed to one code)."""
    counts = torch.bincount(ids.flatten(), minlength=vocab_size).float()
    p = counts / counts.sum()
    entropy = -(p[p > 0] * p[p > 0].log()).sum()
    return {"used_codes": int((counts > 0).sum()), "perplexity": float(entropy.exp()), "vocab_size": vocab_size}


@MODELS.register_module()
class DiscreteVAE(BaseModel):
    """Inputs: images scaled to [0, 1] by the data preprocessor (mean 0, std 255)."""

    def __init__(self, vocab_size: int = 8192, hidden: int = 64, codebook_dim: int = 64, downsample: int = 8,
                 temperature=(1.0, 0.0625), anneal_iters: int = 2000, kl_weight: float = 1e-3,
                 data_preprocessor=None):
        super().__init__(data_preprocessor=data_preprocessor)
        n = _layers(downsample)
        self.arch = dict(vocab_size=vocab_size, hidden=hidden, codebook_dim=codebook_dim, downsample=downsample)
        self.vocab_size, self.downsample = vocab_size, downsample
        self.temperature, self.anneal_iters, self.kl_weight = tuple(temperature), anneal_iters, kl_weight
        enc = [nn.Conv2d(3, hidden, 3, padding=1), nn.ReLU()]
        for _ in range(n):
            enc += [nn.Conv2d(hidden, hidden, 4, stride=2, padding=1), nn.ReLU()]
        self.encoder = nn.Sequential(*enc, nn.Conv2d(hidden, vocab_size, 1))
        self.codebook = nn.Embedding(vocab_size, codebook_dim)
        dec = [nn.Conv2d(codebook_dim, hidden, 1), nn.ReLU()]
        for _ in range(n):
            dec += [nn.ConvTranspose2d(hidden, hidden, 4, stride=2, padding=1), nn.ReLU()]
        self.decoder = nn.Sequential(*dec, nn.Conv2d(hidden, 3, 3, padding=1))
        self.register_buffer("step", torch.zeros((), dtype=torch.long))

    def tau(self) -> float:
        """Exponential anneal from temperature[0] to temperature[1] over `anneal_iters` steps."""
        t0, t1 = self.temperature
        frac = min(1.0, float(self.step) / max(1, self.anneal_iters))
        return t0 * (t1 / t0) ** frac

    def decode_onehot(self, onehot: torch.Tensor) -> torch.Tensor:
        return self.decoder(torch.einsum("bvhw,vd->bdhw", onehot, self.codebook.weight))

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor):
        """(hard reconstruction in [0, 1], token ids) for pictures and usage statistics."""
        ids = self.encoder(x).argmax(1)
        onehot = F.one_hot(ids, self.vocab_size).permute(0, 3, 1, 2).float()
        return self.decode_onehot(onehot).clamp(0, 1), ids

    def forward(self, inputs, data_samples=None, mode: str = "loss"):
        logits = self.encoder(inputs)
        if mode == "predict":
            return logits.argmax(1)
        soft = F.gumbel_softmax(logits, tau=self.tau(), hard=False, dim=1)
        recon = self.decode_onehot(soft)
        rec_loss = F.mse_loss(recon, inputs)
        logq = F.log_softmax(logits, dim=1)
        kl = (logq.exp() * (logq + math.log(self.vocab_size))).sum(1).mean()
        if self.training:
            self.step += 1
        stats = code_usage(logits.argmax(1), self.vocab_size)
        return {"loss_rec": rec_loss, "loss_kl": self.kl_weight * kl,
                "perplexity": torch.tensor(stats["perplexity"]), "tau": torch.tensor(self.tau())}

    def tokenizer_state(self, usage: dict = None) -> dict:
        return {"kind": KIND, "vocab_size": self.vocab_size, "arch": dict(self.arch),
                "state_dict": {k: v.detach().cpu() for k, v in self.state_dict().items()}, "usage": usage or {}}


def load_tokenizer_file(path: str, vocab_size=None) -> DiscreteVAE:
    """A `tokenizer.pth` written by our dVAE training; anything else is refused in one line."""
    if not osp.isfile(path):
        raise TokenizerError(f"tokenizer checkpoint not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise TokenizerError(f"{path} is not a tokenizer checkpoint ({str(e).splitlines()[0]})") from e
    kind = obj.get("kind") if isinstance(obj, dict) else None
    if kind != KIND:
        what = f"kind {kind!r}" if kind else f"keys {sorted(obj)[:5]}" if isinstance(obj, dict) else type(obj).__name__
        raise TokenizerError(f"{path} is not a dVAE tokenizer checkpoint ({what}; expected kind {KIND!r}, "
                             f"written as tokenizer.pth by `mae train configs/tokenizer/...`)")
    if vocab_size is not None and int(vocab_size) != obj["vocab_size"]:
        raise TokenizerError(f"tokenizer {path} has vocabulary {obj['vocab_size']}, the config asks for {vocab_size}")
    model = DiscreteVAE(**obj["arch"])
    model.load_state_dict(obj["state_dict"])
    return model.eval()


class DVAETokenizer(Tokenizer):
    """Our dVAE's encoder, frozen; its view is the crop at `grid * downsample` pixels in [0, 1]."""

    def __init__(self, checkpoint: str, vocab_size=None, mean=IMAGENET_MEAN, std=IMAGENET_STD):
        vae = load_tokenizer_file(checkpoint, vocab_size)
        super().__init__(vae.vocab_size, mean, std)
        self.downsample = vae.downsample
        self.encoder = vae.encoder
        self.freeze()

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)
