# The ADE20K recipe shrunk to minutes on a CPU: a 4-block ViT (patch 8, width 64) on the synthetic
# ADE20K-layout set, generated on first use into data_root (32 training and 8 validation 128x128
# scenes of 8 classes, seed 0). Same model family, pipeline, metric and sliding-window test.
#   mae train configs/segmentation/upernet_mae_vit-tiny-p8_synthetic-ade20k-64x64_cpu.py
#   mae test  configs/segmentation/upernet_mae_vit-tiny-p8_synthetic-ade20k-64x64_cpu.py \
#       work_dirs/upernet_mae_vit-tiny-p8_synthetic-ade20k-64x64_cpu/iter_200.pth
_base_ = ['./upernet_mae_vit-base-p16_8xb2-amp-160k_ade20k-512x512.py']
crop_size = (64, 64)
dim = 64
data_root = 'data/synthetic_ade20k/ADEChallengeData2016'
synthetic = dict(num_train=32, num_val=8, size=(128, 128), num_classes=8, seed=0)
norm_cfg = dict(type='BN', requires_grad=True)  # also under torchrun on CPUs (gloo has no SyncBN)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(arch=None, img_size=crop_size, patch_size=8, embed_dim=dim, depth=4, num_heads=2,
                  out_indices=(0, 1, 2, 3), drop_path_rate=0.05),
    neck=dict(embed_dim=dim, norm_cfg=norm_cfg),
    decode_head=dict(in_channels=[dim] * 4, channels=dim, num_classes=synthetic['num_classes'], norm_cfg=norm_cfg),
    auxiliary_head=dict(in_channels=dim, channels=32, num_classes=synthetic['num_classes'], norm_cfg=norm_cfg),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(43, 43)))  # stride 2/3 of the crop, as 341/512
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomResize', scale=(512, 128), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(512, 128), keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False,
                        dataset=dict(type='SyntheticADE20KDataset', data_root=data_root, synthetic=synthetic,
                                     pipeline=train_pipeline))
val_dataloader = dict(num_workers=0, persistent_workers=False, dataset=dict(type='SyntheticADE20KDataset', data_root=data_root, synthetic=synthetic,
                                   pipeline=test_pipeline))
test_dataloader = val_dataloader
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(lr=1e-3))  # fp32: CPUs have no fp16 AMP
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=20),
    dict(type='PolyLR', eta_min=0.0, power=1.0, by_epoch=False, begin=20, end=200),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=200, val_interval=100)
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=100))
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
