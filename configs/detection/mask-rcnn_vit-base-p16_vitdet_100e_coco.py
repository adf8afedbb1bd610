# ViTDet Mask R-CNN, ViT-B/16 (MAE), COCO, 100 epochs at batch 64 (ViTDet paper: 51.6 box AP, 45.9 mask AP).
_base_ = ['_base_/mask-rcnn_vitdet_coco.py']
