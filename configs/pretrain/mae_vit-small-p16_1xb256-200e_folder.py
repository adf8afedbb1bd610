# Small-scale recipe for one GPU: ViT-S/16 with a 4x256 decoder on any image folder
# (e.g. ImageNet-100), batch 256, 200 epochs, bf16 where supported.
_base_ = ['../_base_/models/mae_vit-base-p16.py', '../_base_/default_runtime.py', '../_base_/datasets/imagenet_pretrain.py',
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
model = dict(embed_dim=384, num_heads=6, decoder_embed_dim=256, decoder_depth=4, decoder_num_heads=8)
