"""Vector-quantised VAE tokenizer (VQ-VAE), the issue's alternative to the Gumbel-softmax dVAE.

The same conv encoder / decoder as our dVAE (nets.py); between them `vector-quantize-pytorch`'s
`VectorQuantize` (the `tokens` extra) snaps each cell's feature to its nearest code: codebook updated
by exponential moving averages, commitment loss, optional k-means initialisation and replacement of
dead codes (codes no batch uses are reset to encoder outputs, the library's remedy for collapse).
Tokenizing is the nearest code's index, computed by the library in eval mode.
"""
import torch
import torch.nn.functional as F
from mmengine.model import BaseModel

from ..registry import MODELS
from .base import IMAGENET_MEAN, IMAGENET_STD, Tokenizer, TokenizerError, code_usage
from .files import load_tokenizer_file, tokenizer_state
from .nets import conv_decoder, conv_encoder

KIND = "vq"


def _vector_quantize():
    try:
        from vector_quantize_pytorch import VectorQuantize
    except ImportError as e:
        raise TokenizerError(f"the VQ tokenizer needs `pip install -e .[tokens]` ({e})") from e
    return VectorQuantize


@MODELS.register_module()
class VQVAE(BaseModel):
    """Inputs: images scaled to [0, 1] by the data preprocessor (mean 0, std 255)."""

    def __init__(self, vocab_size: int = 512, hidden: int = 64, codebook_dim: int = 32, downsample: int = 8,
                 decay: float = 0.8, commitment_weight: float = 0.25, kmeans_init: bool = False,
                 dead_code_threshold: float = 0.0, data_preprocessor=None):
        super().__init__(data_preprocessor=data_preprocessor)
        self.arch = dict(vocab_size=vocab_size, hidden=hidden, codebook_dim=codebook_dim, downsample=downsample)
        self.vocab_size, self.downsample = vocab_size, downsample
        self.encoder = conv_encoder(codebook_dim, hidden, downsample)
        self.quantizer = _vector_quantize()(
            dim=codebook_dim, codebook_size=vocab_size, decay=decay, commitment_weight=commitment_weight,
            kmeans_init=kmeans_init, threshold_ema_dead_code=dead_code_threshold, accept_image_fmap=True)
        self.decoder = conv_decoder(codebook_dim, hidden, downsample)

    @property
    def initialised(self) -> bool:
        """False until k-means has initialised the codebook (the first training batch)."""
        return bool(self.quantizer._codebook.initted)

    def quantize(self, x: torch.Tensor):
        """(quantised features, ids (B, h, w), commitment loss)."""
        return self.quantizer(self.encoder(x))

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor):
        """(reconstruction from the codes in [0, 1], token ids) for pictures and usage statistics."""
        q, ids, _ = self.quantize(x)
        return self.decoder(q).clamp(0, 1), ids

    def forward(self, inputs, data_samples=None, mode: str = "loss"):
        q, ids, commit = self.quantize(inputs)
        if mode == "predict":
            return ids
        stats = code_usage(ids, self.vocab_size)
        return {"loss_rec": F.mse_loss(self.decoder(q), inputs), "loss_commit": commit.sum(),
                "perplexity": torch.tensor(stats["perplexity"]), "used": torch.tensor(stats["used_fraction"])}

    def tokenizer_state(self, usage: dict = None) -> dict:
        return tokenizer_state(self, KIND, usage)


class VQTokenizer(Tokenizer):
    """The VQ-VAE's encoder and codebook, frozen; the same view as our dVAE's."""

    def __init__(self, checkpoint: str, vocab_size=None, mean=IMAGENET_MEAN, std=IMAGENET_STD):
        vae = load_tokenizer_file(checkpoint, VQVAE, KIND, vocab_size)
        if not vae.initialised:
            raise TokenizerError(f"{checkpoint}: the VQ codebook was never initialised (k-means runs on the first "
                                 "training batch): train the tokenizer before using it")
        super().__init__(vae.vocab_size, mean, std)
        self.downsample = vae.downsample
        self.encoder, self.quantizer = vae.encoder, vae.quantizer
        self.freeze()

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        return self.quantizer(self.encoder(x))[1]
