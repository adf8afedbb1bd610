# MAE ViT-L/16 linear probe on ImageNet-1K (paper: 75.8 top-1), 50 epochs.
_base_ = ['./vit-base-p16_linprobe-90e_in1k.py']
epochs = 50
model = dict(embed_dim=1024, depth=24, num_heads=16)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=True, begin=0, end=10, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=True, begin=10, end=epochs, T_max=epochs - 10,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=epochs)
