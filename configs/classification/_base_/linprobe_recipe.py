# Linear probing, the official MAE IN-1K recipe: frozen encoder (eval mode), class-token
# features, BatchNorm1d without affine before the linear head, LARS (lr 0.1 * 16384 / 256, no
# weight decay), 10 warmup epochs then cosine. Total batch 16384 = 512 per GPU x 32 GPUs; with fewer
# GPUs raise optim_wrapper.accumulative_counts so that the product stays 16384 (the lr assumes it).
_base_ = ['./runtime.py']
img_size = 224
blr = 0.1
epochs = 90
warmup = 10

model = dict(type='ViTClassifier', num_classes=1000, img_size=img_size, patch_size=16, embed_dim=768, depth=12,
             num_heads=12, drop_path_rate=0.0, global_pool=False, probe_bn=True, head_init_std=0.01,
             trainable='head')

train_transform = dict(input_size=img_size, is_training=True, interpolation='bicubic', color_jitter=None,
                       auto_augment=None, re_prob=0.0)

optim_wrapper = dict(type='PrecisionOptimWrapper', precision='auto',
                     optimizer=dict(type='LARS', lr=blr * 16384 / 256, weight_decay=0.0, momentum=0.9))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=True, begin=0, end=warmup, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=True, begin=warmup, end=epochs, T_max=epochs - warmup,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=epochs, val_interval=1)
