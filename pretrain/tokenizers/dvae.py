"""Our discrete VAE tokenizer (Gumbel-softmax relaxation, as DALL-E's dVAE), small enough for a CPU.

Encoder: conv stem + log2(downsample) stride-2 convs -> logits over the vocabulary per grid cell.
Training samples a relaxed one-hot with Gumbel-softmax (temperature annealed), looks up a codebook
and decodes back to pixels. Tokenizing is the argmax of the logits.

Loss: reconstruction MSE, DALL-E's KL of each cell to the uniform prior (`kl_weight`), and a usage term
(`usage_weight`): log V minus the mutual information between cells and codes, H(mean q) - mean H(q).
At short budgets the first two alone collapse (measured: 1 of 8192 codes after 3 epochs of the CPU
config): the logits stay near zero, the Gumbel noise picks codes at random, the decoder learns the mean
colour and the argmax settles on one code. The usage term rewards confident cells spread over many
codes, which is what a tokenizer needs (docs/RESULTS.md has the before / after numbers).
"""
import math

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel

from ..registry import MODELS
from .base import IMAGENET_MEAN, IMAGENET_STD, Tokenizer, code_usage
from .files import load_tokenizer_file, tokenizer_state
from .nets import conv_decoder, conv_encoder

KIND = "dvae"


def usage_gap(logq: torch.Tensor) -> torch.Tensor:
    """log V minus the mutual information between cells and codes, H(mean q) - mean H(q), from
    log-probabilities (B, V, h, w): 0 when every cell is sure of its code and the codes are used
    equally, log V when all cells share one code or every cell is uniform."""
    q = logq.exp()
    cell_entropy = -(q * logq).sum(1).mean()
    mean_q = q.mean(dim=(0, 2, 3))
    return math.log(logq.shape[1]) + (mean_q * mean_q.clamp_min(1e-12).log()).sum() + cell_entropy


@MODELS.register_module()
class DiscreteVAE(BaseModel):
    """Inputs: images scaled to [0, 1] by the data preprocessor (mean 0, std 255)."""

    def __init__(self, vocab_size: int = 8192, hidden: int = 64, codebook_dim: int = 64, downsample: int = 8,
                 temperature=(1.0, 0.0625), anneal_iters: int = 2000, kl_weight: float = 1e-3,
                 usage_weight: float = 0.0, hard: bool = False, data_preprocessor=None):
        super().__init__(data_preprocessor=data_preprocessor)
        self.arch = dict(vocab_size=vocab_size, hidden=hidden, codebook_dim=codebook_dim, downsample=downsample)
        self.vocab_size, self.downsample = vocab_size, downsample
        self.temperature, self.anneal_iters, self.kl_weight = tuple(temperature), anneal_iters, kl_weight
        self.usage_weight, self.hard = usage_weight, hard
        self.encoder = conv_encoder(vocab_size, hidden, downsample)
        self.codebook = torch.nn.Embedding(vocab_size, codebook_dim)
        self.decoder = conv_decoder(codebook_dim, hidden, downsample)
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
        soft = F.gumbel_softmax(logits, tau=self.tau(), hard=self.hard, dim=1)
        rec_loss = F.mse_loss(self.decode_onehot(soft), inputs)
        logq = F.log_softmax(logits, dim=1)
        kl = (logq.exp() * (logq + math.log(self.vocab_size))).sum(1).mean()  # to the uniform prior
        if self.training:
            self.step += 1
        stats = code_usage(logits.argmax(1), self.vocab_size)
        return {"loss_rec": rec_loss, "loss_kl": self.kl_weight * kl, "loss_usage": self.usage_weight * usage_gap(logq),
                "perplexity": torch.tensor(stats["perplexity"]), "used": torch.tensor(stats["used_fraction"]),
                "tau": torch.tensor(self.tau())}

    def tokenizer_state(self, usage: dict = None) -> dict:
        return tokenizer_state(self, KIND, usage)


class DVAETokenizer(Tokenizer):
    """Our dVAE's encoder, frozen; its view is the crop at `grid * downsample` pixels in [0, 1]."""

    def __init__(self, checkpoint: str, vocab_size=None, mean=IMAGENET_MEAN, std=IMAGENET_STD):
        vae = load_tokenizer_file(checkpoint, DiscreteVAE, KIND, vocab_size)
        super().__init__(vae.vocab_size, mean, std)
        self.downsample = vae.downsample
        self.encoder = vae.encoder
        self.freeze()

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)
