# End-to-end fine-tuning, the official MAE IN-1K recipe for ViT-B (ViT-L/H override the
# lr, layer decay, drop path and epochs). Total batch 1024 = 128 per GPU x 8 GPUs; with fewer GPUs
# raise optim_wrapper.accumulative_counts so that the product stays 1024 (the lr assumes it).
_base_ = ['./runtime.py']
img_size = 224
blr = 5e-4  # base lr: lr = blr * 1024 / 256
epochs = 100
warmup = 5

model = dict(type='ViTClassifier', num_classes=1000, img_size=img_size, patch_size=16, embed_dim=768, depth=12,
             num_heads=12, drop_path_rate=0.1, global_pool=True, head_init_std=2e-5, trainable='all',
             label_smoothing=0.1, mixup=dict(mixup_alpha=0.8, cutmix_alpha=1.0, label_smoothing=0.1))

train_transform = dict(input_size=img_size, is_training=True, auto_augment='rand-m9-mstd0.5-inc1',
                       interpolation='bicubic', color_jitter=None, re_prob=0.25, re_mode='pixel', re_count=1)

optim_wrapper = dict(
    type='PrecisionOptimWrapper', precision='auto',
    optimizer=dict(type='AdamW', lr=blr * 1024 / 256, weight_decay=0.05, betas=(0.9, 0.999)),
    constructor='LayerDecayOptimWrapperConstructor', paramwise_cfg=dict(layer_decay_rate=0.65, variant='mae'))
# per-iteration linear warmup, then half-cycle cosine to 1e-6 (scaled per layer like the lr itself)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=True, begin=0, end=warmup, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min_ratio=1e-6 / (blr * 1024 / 256), by_epoch=True, begin=warmup,
         end=epochs, T_max=epochs - warmup, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=epochs, val_interval=1)
