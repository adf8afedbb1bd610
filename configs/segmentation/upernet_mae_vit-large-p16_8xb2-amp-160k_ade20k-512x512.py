# The paper's ADE20K recipe for ViT-L (MAE Table 5): features after blocks 8, 12, 16, 24.
# Layer decay: the paper does not state ViT-L's for ADE20K; 0.75 is MAE's ViT-L fine-tuning value.
_base_ = './upernet_mae_vit-base-p16_8xb2-amp-160k_ade20k-512x512.py'
model = dict(
    backbone=dict(arch='vit_large_patch16', out_indices=(7, 11, 15, 23)),
    neck=dict(embed_dim=1024),
    decode_head=dict(in_channels=[1024, 1024, 1024, 1024], channels=1024),
    auxiliary_head=dict(in_channels=1024))
optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.75))
