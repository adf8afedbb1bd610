"""MAE core: ViT encoder, masking, decoder, targets, losses, data and pretraining hooks."""
from . import data, hooks, optim, resilience  # noqa: F401  (register components)
from .mae import MaskedAutoencoder, build_mae
from .vit import ViT, build_vit

__all__ = ["MaskedAutoencoder", "build_mae", "ViT", "build_vit"]
