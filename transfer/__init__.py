"""Downstream tasks over the pretrained ViT (classification, detection, segmentation).

Depends on `pretrain`, never the other way round.
"""
