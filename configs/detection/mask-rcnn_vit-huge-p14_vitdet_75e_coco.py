# ViTDet Mask R-CNN, ViT-H (MAE ViT-H/14 weights, patch embedding resampled to 16 as ViTDet does),
# COCO, 75 epochs at batch 64: layer decay 0.9, drop path 0.5, global blocks 7, 15, 23, 31, activation
# checkpointing on.
_base_ = ['_base_/mask-rcnn_vitdet_coco.py']
pretrained = 'checkpoints/mae_pretrain_vit_huge.pth'
max_iters = 184375 * 3 // 4
model = dict(backbone=dict(net=dict(arch='vit_huge_patch14', patch_size=16, global_blocks=(7, 15, 23, 31),
                                    drop_path_rate=0.5, use_act_checkpoint=True, pretrained=pretrained)))
optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.9))
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=250),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[int(max_iters * 0.889), int(max_iters * 0.963)], gamma=0.1),
]
