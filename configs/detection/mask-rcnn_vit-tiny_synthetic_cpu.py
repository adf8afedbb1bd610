# A Mask R-CNN small enough for a CPU: a 4-block ViT (96 wide, patch 16, windows of 4 with global
# blocks 1 and 3) under the ViTDet pyramid, on a synthetic COCO-layout set of shapes that is generated
# in `data/synthetic_coco` if absent (96 train / 24 val images of about 128 px, seed 0). Minutes on 2
# cores; `mae test` then prints COCO box and mask AP. For the MAE-initialised variant add
# `--cfg-options model.backbone.net.pretrained=PATH/checkpoint-final.pth`.
_base_ = ['_base_/mask-rcnn_vitdet_coco.py']
data_root = 'data/synthetic_coco/'
img_size = 128
synthetic = dict(num_train=96, num_val=24, img_size=128, seed=0)
max_epochs = 12

model = dict(
    num_classes=3,
    pad_size=img_size,
    anchor_sizes=(8, 16, 32, 64, 128),
    head_channels=32, head_convs=1, fc_dim=128,
    backbone=dict(
        out_channels=64,
        net=dict(_delete_=True, type='ViTDet', img_size=img_size, patch_size=16, embed_dim=96, depth=4,
                 num_heads=3, window_size=4, global_blocks=(1, 3), use_rel_pos=True, drop_path_rate=0.0,
                 pretrain_img_size=img_size, pretrained=None)),
    detector=dict(rpn_pre_nms_top_n_train=500, rpn_post_nms_top_n_train=250, rpn_pre_nms_top_n_test=250,
                  rpn_post_nms_top_n_test=250, box_batch_size_per_image=64),
)
train_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, img_size=img_size, scale_range=(0.5, 1.5), synthetic=synthetic))
val_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, img_size=img_size, synthetic=synthetic))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator

train_cfg = dict(_delete_=True, type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
optim_wrapper = dict(precision='fp32', optimizer=dict(lr=3e-4, weight_decay=0.1))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=20),
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=max_epochs, milestones=[9, 11], gamma=0.1),
]
default_hooks = dict(logger=dict(interval=8),
                     checkpoint=dict(by_epoch=True, interval=max_epochs, max_keep_ckpts=1))
log_processor = dict(by_epoch=True)
