"""MAE core: ViT encoder, masking, decoder, targets, losses, data and pretraining hooks.

Importing a submodule (e.g. `pretrain.vit`) imports only what it needs: no hooks, data readers or
plotting. `register_all()` registers every component in our registry scope, 'pretrain' (mmengine
also does it on the first lookup there, through `pretrain.registry.LOCATIONS`).
"""
import importlib

_LAZY = {"MaskedAutoencoder": "mae", "build_mae": "mae", "ViT": "vit", "build_vit": "vit"}

__all__ = ["MaskedAutoencoder", "build_mae", "ViT", "build_vit", "register_all"]


def register_all() -> None:
    from .registry import LOCATIONS

    for module in LOCATIONS:
        importlib.import_module(module)


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
