"""The pretraining loss, in one place (the official code's `forward_loss`, mmpretrain's
`MAEPretrainHead.loss`): only removed patches count.

- pixel targets: per-patch MSE against the patch's pixels, or with `norm_pix` against the patch
  standardised by its own mean and std (the paper's 'norm pix');
- token targets: cross-entropy against a frozen tokenizer's ids (paper Table 7), plus accuracy.

`MaskedAutoencoder.forward_loss` calls these through its target (`target_family.py`). The decoder
predicts the removed patches only, so `pred` / `target` hold just those, (B, N_removed, D): every
image removes the same number, so the plain mean is the masked mean. Given `mask` (B, N), 1 =
removed, they hold every patch and visible ones get weight 0: the official formula, as written.
"""
import torch
import torch.nn.functional as F

from .patches import patch_stats


def pixel_target(patches: torch.Tensor, norm_pix: bool) -> torch.Tensor:
    """Target per patch: raw (normalised-image) pixels, or each patch standardised by its own
    mean and std, `(x - mean) / sqrt(var + 1e-6)`."""
    if not norm_pix:
        return patches
    mean, std = patch_stats(patches)
    return (patches - mean) / std


def masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor = None) -> torch.Tensor:
    """Mean squared error over the removed patches; `pred`, `target`: (B, N, D)."""
    if mask is None:
        return ((pred.float() - target.float()) ** 2).mean()
    per_patch = ((pred.float() - target.float()) ** 2).mean(dim=-1)
    return (per_patch * mask).sum() / mask.sum()


def masked_cross_entropy(logits: torch.Tensor, ids: torch.Tensor,
                         mask: torch.Tensor = None) -> torch.Tensor:
    """Cross-entropy over the vocabulary, averaged over the removed patches; `logits`: (B, N, V),
    `ids`: (B, N) token ids."""
    if mask is None:
        return F.cross_entropy(logits.float().flatten(0, 1), ids.flatten())
    per_patch = F.cross_entropy(logits.float().flatten(0, 1), ids.flatten(), reduction="none")
    return (per_patch.view(ids.shape) * mask).sum() / mask.sum()


def token_accuracy(logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Fraction of patches whose most likely token is the target's (logged, no gradient)."""
    return (logits.detach().argmax(-1) == ids).float().mean()
