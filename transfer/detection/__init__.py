"""COCO detection and instance segmentation with the MAE ViT (ViTDet backbone, torchvision Mask R-CNN).

Importing this package registers its components in the 'mae' scope; configs list it in
`custom_imports`.
"""
from . import coco, detector, draw, metric, pyramid, vitdet  # noqa: F401
