"""What the decoder predicts for each removed patch, selected by config (paper Tables 1d and 7).

`pixel` (normalised-image pixels), `norm_pixel` (each patch standardised), `pca` (coefficients on
the top-k principal components of training patches) and `token` (a frozen tokenizer's id).
Each target knows the decoder's output width, makes the target of the removed patches, scores a
prediction with the loss of `loss.py` and, where it can, maps a prediction back to pixels.
"""
import torch
import torch.nn as nn

from .loss import masked_cross_entropy, masked_mse, pixel_target, token_accuracy
from .patches import gather_tokens, patchify

KINDS = ("pixel", "norm_pixel", "pca", "token")


class PixelTarget(nn.Module):
    def __init__(self, norm: bool):
        super().__init__()
        self.kind = "norm_pixel" if norm else "pixel"

    def out_dim(self, patch_dim: int) -> int:
        return patch_dim

    def make(self, imgs, ids, patch_size, grid):
        return pixel_target(gather_tokens(patchify(imgs, patch_size), ids), self.kind == "norm_pixel")

    def loss(self, pred, target):
        return masked_mse(pred, target), {}

    def to_pixels(self, pred):
        return pred


class PCATarget(nn.Module):
    """Coefficients `(x - mean) @ components.T` of each normalised-image patch. The basis is
    fitted once on training patches (`pretrain.pca.PCATargetHook`) and kept as buffers, so it is
    stored in every checkpoint of the run."""

    kind = "pca"

    def __init__(self, patch_dim: int, k: int = 96):
        super().__init__()
        if not 0 < k <= patch_dim:
            raise ValueError(f"pca target needs 0 < k <= patch dimension {patch_dim}, got k={k}")
        self.k = k
        self.register_buffer("mean", torch.zeros(patch_dim))
        self.register_buffer("components", torch.zeros(k, patch_dim))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))

    def out_dim(self, patch_dim: int) -> int:
        return self.k

    def set_basis(self, mean: torch.Tensor, components: torch.Tensor) -> None:
        self.mean.copy_(mean)
        self.components.copy_(components[: self.k])
        self.fitted.fill_(True)

    def encode(self, patches):
        return (patches.float() - self.mean) @ self.components.T

    def make(self, imgs, ids, patch_size, grid):
        if not bool(self.fitted):
            raise RuntimeError("the pca target has no basis yet: add dict(type='PCATargetHook') to custom_hooks")
        return self.encode(gather_tokens(patchify(imgs, patch_size), ids))

    def loss(self, pred, target):
        return masked_mse(pred, target), {}

    def to_pixels(self, pred):
        return pred.float() @ self.components + self.mean


class TokenTarget(nn.Module):
    """Token ids from a frozen tokenizer; loss: cross-entropy over the vocabulary, plus token accuracy.
    The tokenizer is kept outside the module tree so the MAE's state dict keeps the official keys."""

    kind = "token"

    def __init__(self, tokenizer: dict, vocab_size=None, mean=None, std=None):
        super().__init__()
        from .tokenizers import build_tokenizer
        cfg = dict(tokenizer, vocab_size=vocab_size or tokenizer.get("vocab_size"))
        if mean is not None:
            cfg.update(mean=tuple(mean), std=tuple(std))
        self._tokenizer = (build_tokenizer(cfg),)

    @property
    def tokenizer(self):
        return self._tokenizer[0]

    def out_dim(self, patch_dim: int) -> int:
        return self.tokenizer.vocab_size

    def make(self, imgs, ids, patch_size, grid):
        tok = self.tokenizer
        if tok.img_mean.device != imgs.device:
            tok.to(imgs.device)
        with torch.autocast(imgs.device.type, enabled=False):
            tokens = tok(imgs.float(), grid).flatten(1)
        return torch.gather(tokens, 1, ids)

    def loss(self, pred, target):
        return masked_cross_entropy(pred, target), {"token_acc": token_accuracy(pred, target)}

    def to_pixels(self, pred):
        return None


def build_target(spec, patch_dim: int, norm_pix_loss: bool = False, mean=None, std=None) -> nn.Module:
    """`None` keeps the `norm_pix_loss` switch; else 'pixel' / 'norm_pixel' / 'pca' / 'token' or a dict
    with that `type` and its options (pca: `k`; token: `tokenizer`, `vocab_size`)."""
    if spec is None:
        return PixelTarget(norm_pix_loss)
    spec = dict(type=spec) if isinstance(spec, str) else dict(spec)
    kind = spec.pop("type", None)
    if kind in ("pixel", "norm_pixel"):
        if spec:
            raise ValueError(f"target {kind!r} takes no options, got {sorted(spec)}")
        return PixelTarget(kind == "norm_pixel")
    if kind == "pca":
        return PCATarget(patch_dim, **spec)
    if kind == "token":
        if "tokenizer" not in spec:
            raise ValueError("target 'token' needs tokenizer=dict(type='dvae', checkpoint=...) or type='dalle'")
        return TokenTarget(mean=mean, std=std, **spec)
    raise ValueError(f"unknown target {kind!r}; choose one of {list(KINDS)}")
