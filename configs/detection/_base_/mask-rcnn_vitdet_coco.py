# ViTDet's COCO recipe (Li et al. 2022) on torchvision's Mask R-CNN: ViT-B/16 from an MAE checkpoint,
# window attention (14) with global blocks 2, 5, 8, 11, decomposed relative positions, the simple
# feature pyramid, large-scale jitter at 1024, AdamW lr 1e-4 wd 0.1 with layer decay 0.7, 184375
# iterations at total batch 64 (~100 epochs of COCO train2017), lr x0.1 at 88.9% and 96.3%, 250
# warmup iterations, bf16/fp16 autocast. Set `data_root` and `pretrained` to your files.
_base_ = ['../../_base_/default_runtime.py']
custom_imports = dict(imports=['transfer.detection'], allow_failed_imports=False)

data_root = 'data/coco/'
pretrained = 'checkpoints/mae_pretrain_vit_base.pth'  # official MAE release or `mae train` output
img_size = 1024
total_batch = 64  # ViTDet: 64 images per step; per-process batch = total_batch / processes

model = dict(
    type='MaskRCNN',
    num_classes=80,
    pad_size=img_size,
    backbone=dict(
        type='SimpleFeaturePyramid',
        out_channels=256,
        net=dict(type='ViTDet', arch='vit_base_patch16', img_size=img_size, window_size=14,
                 global_blocks=(2, 5, 8, 11), use_rel_pos=True, drop_path_rate=0.1,
                 use_act_checkpoint=False, pretrain_img_size=224, pretrained=pretrained)),
)

train_dataloader = dict(
    batch_size=2,  # x 32 processes = 64
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='CocoInstances', data_root=data_root, ann_file='annotations/instances_train2017.json',
                 img_dir='train2017', train=True, img_size=img_size, scale_range=(0.1, 2.0),
                 filter_empty=True),
)
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='CocoInstances', data_root=data_root, ann_file='annotations/instances_val2017.json',
                 img_dir='val2017', train=False, img_size=img_size),
)
test_dataloader = val_dataloader
val_evaluator = dict(type='CocoMetric', ann_file=data_root + 'annotations/instances_val2017.json',
                     iou_types=('bbox', 'segm'))
test_evaluator = val_evaluator

max_iters = 184375
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    type='PrecisionOptimWrapper',
    precision='auto',  # bf16 where fast; 'fp16' on GPUs without bf16 (ViTDet's AMP)
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.1),
    constructor='LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.7, variant='vitdet'),
)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=250),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters, milestones=[163889, 177546], gamma=0.1),
]

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(by_epoch=False, interval=5000, max_keep_ckpts=2, save_last=True),  # the runtime's resilient hook
)
# pictures of the predictions on a few validation images (<work_dir>/predictions/<image id>.png)
custom_hooks = [dict(type='PredictionPicturesHook', img_ids=None, num_images=4, score_thr=0.5),
                dict(type='NonFiniteLossHook')]
log_processor = dict(window_size=20, by_epoch=False)
