# UperNet on the MAE ViT-B/16 (the paper's Table 5 model), in mmseg's conventions.
# Features after blocks 4, 6, 8, 12 (0-based out_indices 3, 5, 7, 11) -> Feature2Pyramid (x4, x2, x1,
# x0.5) -> UPerHead, with an FCNHead on the third level as auxiliary loss (weight 0.4).
# SyncBN: mmengine turns it into plain BatchNorm in a single process, and keeps it under torchrun.
norm_cfg = dict(type='SyncBN', requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=(512, 512))
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    pretrained=None,  # path to an MAE checkpoint (ours, official, timm or HF): loaded with a key report
    backbone=dict(
        type='MAEViT',
        arch='vit_base_patch16',
        img_size=(512, 512),  # the pretrained position table is resized to this grid on load
        out_indices=(3, 5, 7, 11),
        drop_path_rate=0.1,
        use_rel_pos_bias=True),  # zero-initialised, as in MAE's transfer experiments
    neck=dict(type='Feature2Pyramid', embed_dim=768, rescales=[4, 2, 1, 0.5], norm_cfg=norm_cfg),
    decode_head=dict(
        type='UPerHead',
        in_channels=[768, 768, 768, 768],
        in_index=[0, 1, 2, 3],
        pool_scales=(1, 2, 3, 6),
        channels=768,
        dropout_ratio=0.1,
        num_classes=150,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    auxiliary_head=dict(
        type='FCNHead',
        in_channels=768,
        in_index=2,
        channels=256,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        num_classes=150,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4)),
    train_cfg=dict(),
    # sliding window as in the paper's evaluation; test_cfg=dict(mode='whole') for whole images
    test_cfg=dict(mode='slide', crop_size=(512, 512), stride=(341, 341)))
