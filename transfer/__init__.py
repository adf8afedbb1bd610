"""Downstream tasks over the pretrained ViT (classification, detection, segmentation).

Depends on `pretrain`, never the other way round.
"""
from . import layer_decay  # noqa: F401,E402  (registers LayerDecayOptimWrapperConstructor in the 'mae' scope)
