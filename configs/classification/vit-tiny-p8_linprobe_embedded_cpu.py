# Tiny CPU linear probe (no dataset needed) on the demo's ViT: frozen encoder in eval mode, class
# token, BatchNorm1d(affine=False) + linear head, LARS, warmup + cosine: the IN-1K probe recipe small.
#   mae train configs/classification/vit-tiny-p8_linprobe_embedded_cpu.py \
#       --cfg-options load_from=work_dirs/demo/checkpoint-final.pth
_base_ = ['./_base_/embedded_photos_cpu.py', './_base_/linprobe_recipe.py']
img_size = 64
epochs = 10
warmup = 1
model = dict(num_classes=15, img_size=img_size, patch_size=8, embed_dim=192, depth=6, num_heads=3)

train_transform = dict(input_size=img_size, is_training=True, interpolation='bicubic', color_jitter=None,
                       auto_augment=None, re_prob=0.0)
train_dataloader = dict(batch_size=64, dataset=dict(transform=train_transform))

# LARS steps are relative to each weight's norm (lr x 0.001 per step), so a run of 40 steps keeps the
# paper's absolute lr (0.1 x 16384 / 256 = 6.4) instead of scaling it down to batch 64.
optim_wrapper = dict(optimizer=dict(lr=6.4))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=True, begin=0, end=warmup, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=True, begin=warmup, end=epochs, T_max=epochs - warmup,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=epochs, val_interval=5)
default_hooks = dict(logger=dict(interval=4), checkpoint=dict(interval=5))
