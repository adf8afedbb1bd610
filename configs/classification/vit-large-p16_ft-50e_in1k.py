# MAE ViT-L/16 fine-tuned on ImageNet-1K (paper: 85.9 top-1): lr 1e-3, layer decay 0.75, drop path 0.2, 50 epochs.
_base_ = ['./vit-base-p16_ft-100e_in1k.py']
blr = 1e-3
epochs = 50
model = dict(embed_dim=1024, depth=24, num_heads=16, drop_path_rate=0.2)
optim_wrapper = dict(optimizer=dict(lr=blr * 1024 / 256), paramwise_cfg=dict(layer_decay_rate=0.75))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=True, begin=0, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min_ratio=1e-6 / (blr * 1024 / 256), by_epoch=True, begin=5,
         end=epochs, T_max=epochs - 5, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=epochs)
