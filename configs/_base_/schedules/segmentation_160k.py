# The paper's ADE20K schedule (BEiT's segmentation recipe, as MAE used it): AdamW lr 1e-4, wd 0.05,
# layer-wise lr decay 0.65 (ViT-B), 1500 iterations linear warmup then poly (power 1) to 0,
# 160k iterations at total batch 16 (100 epochs of ADE20K's 20,210 images), fp16 AMP.
optim_wrapper = dict(
    type='AmpOptimWrapper',  # fp16 autocast with mmengine's dynamic loss scaler (its default)
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='pretrain.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.65, variant='mmseg'))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, by_epoch=False, begin=1500, end=160000),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=160000, val_interval=16000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
auto_scale_lr = dict(enable=False, base_batch_size=16)
