# ViTDet Mask R-CNN, ViT-L/16 (MAE), COCO, 100 epochs at batch 64: layer decay 0.8, drop path 0.4,
# global attention in blocks 5, 11, 17, 23.
_base_ = ['_base_/mask-rcnn_vitdet_coco.py']
pretrained = 'checkpoints/mae_pretrain_vit_large.pth'
model = dict(backbone=dict(net=dict(arch='vit_large_patch16', global_blocks=(5, 11, 17, 23), drop_path_rate=0.4,
                                    pretrained=pretrained)))
optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.8))
