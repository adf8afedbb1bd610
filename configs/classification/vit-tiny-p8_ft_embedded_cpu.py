# Tiny CPU fine-tune that needs no dataset: the demo's ViT (64 px, patch 8, 192 wide, 6 blocks) learns
# which of scikit-image's 15 sample photos a crop comes from. The IN-1K recipe (layer decay, drop
# path, Mixup/CutMix, RandAug, random erasing, label smoothing, warmup + cosine) at a small scale:
#   mae train configs/pretrain/mae_vit-tiny-p8_demo_cpu.py --work-dir work_dirs/demo
#   mae train configs/classification/vit-tiny-p8_ft_embedded_cpu.py \
#       --cfg-options load_from=work_dirs/demo/checkpoint-final.pth
_base_ = ['./_base_/embedded_photos_cpu.py', './_base_/finetune_recipe.py']
img_size = 64
blr = 1e-3
epochs = 10
warmup = 1
model = dict(num_classes=15, img_size=img_size, patch_size=8, embed_dim=192, depth=6, num_heads=3)

train_transform = dict(input_size=img_size, is_training=True, auto_augment='rand-m9-mstd0.5-inc1',
                       interpolation='bicubic', color_jitter=None, re_prob=0.25, re_mode='pixel', re_count=1)
train_dataloader = dict(dataset=dict(transform=train_transform))

optim_wrapper = dict(optimizer=dict(lr=blr * 32 / 256))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=True, begin=0, end=warmup, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min_ratio=1e-2, by_epoch=True, begin=warmup, end=epochs,
         T_max=epochs - warmup, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=epochs, val_interval=5)
default_hooks = dict(logger=dict(interval=4), checkpoint=dict(interval=5))
