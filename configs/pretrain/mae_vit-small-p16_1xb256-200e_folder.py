# Small-scale recipe for one GPU: ViT-S/16 with a 4x256 decoder on any image folder
# (e.g. ImageNet-100), batch 256, 200 epochs, bf16 where supported.
_base_ = ['../_base_/default_runtime.py', '../_base_/datasets/imagenet_pretrain.py',
          '../_base_/schedules/pretrain_800e.py']
max_epochs = 200
warmup_epochs = 20
train_dataloader = dict(batch_size=256, num_workers=8)
custom_hooks = [
    dict(type='NonFiniteLossHook'),
    dict(type='OfficialCheckpointHook', interval=10),
    dict(type='ReconstructionHook', interval=10),
    dict(type='LossCurveHook'),
]
model = dict(
    type='MaskedAutoencoder', img_size=224, patch_size=16, embed_dim=384, depth=12, num_heads=6,
    decoder_embed_dim=256, decoder_depth=4, decoder_num_heads=8, mlp_ratio=4.0,
    norm_pix_loss=True, mask_ratio=0.75, mask_sampler='random',
    data_preprocessor=dict(type='ImgDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375]))
