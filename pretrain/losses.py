"""Reconstruction losses: only removed patches count."""
import torch
import torch.nn.functional as F


def masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Official form: per-patch MSE, averaged over patches with mask == 1 (removed).

    `pred`, `target`: (B, N, D); `mask`: (B, N). Visible patches get weight 0.
    """
    per_patch = ((pred.float() - target.float()) ** 2).mean(dim=-1)
    return (per_patch * mask).sum() / mask.sum()


def mse_on_selected(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Same value as `masked_mse` when `pred` / `target` already hold only the removed patches
    (every image removes the same number, so the plain mean is the masked mean)."""
    return ((pred.float() - target.float()) ** 2).mean()


def masked_cross_entropy(logits: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Token-target form of `masked_mse`: per-patch cross-entropy over the vocabulary, averaged over
    patches with mask == 1. `logits`: (B, N, V); `ids`: (B, N) token ids; `mask`: (B, N)."""
    per_patch = F.cross_entropy(logits.float().flatten(0, 1), ids.flatten(), reduction="none").view(ids.shape)
    return (per_patch * mask).sum() / mask.sum()
