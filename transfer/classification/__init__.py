"""Classification transfer: fine-tuning, linear probing and partial fine-tuning of an MAE ViT.

Configs load it with `custom_imports = dict(imports=['transfer.classification'])`; importing it
registers the model, datasets, metric and LARS in the 'mae' scope.
"""
from . import datasets, file_lists, lars, metric  # noqa: F401  (register components)
from .model import ViTClassifier

__all__ = ["ViTClassifier"]
