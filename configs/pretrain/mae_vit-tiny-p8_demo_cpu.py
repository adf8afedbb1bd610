# The README's main job: a tiny MAE on the photos that ship with scikit-image (no download),
# a few minutes on a 2-core CPU. Leaves checkpoint-final.pth, reconstruction.png, loss_curve.png.
_base_ = ['../_base_/models/mae_vit-base-p16.py', '../_base_/default_runtime.py', '../_base_/schedules/pretrain_800e.py']
base_lr = 8e-3  # lr 1e-3 at batch 32: the tiny demo learns in minutes
max_epochs = 30
warmup_epochs = 3
train_dataloader = dict(
    batch_size=32,
    num_workers=0,
    sampler=dict(type='EpochSeedSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='EmbeddedImages', img_size=64, length=512, scale=(0.2, 1.0)),
)
default_hooks = dict(logger=dict(type='LoggerHook', interval=8), checkpoint=dict(interval=5))
custom_hooks = [
    dict(type='NonFiniteLossHook'),
    dict(type='OfficialCheckpointHook', interval=10),
    dict(type='ReconstructionHook', interval=10),
    dict(type='LossCurveHook'),
]
model = dict(img_size=64, patch_size=8, embed_dim=192, depth=6, num_heads=3, decoder_embed_dim=128,
             decoder_depth=2, decoder_num_heads=4, norm_pix_loss=False,
             data_preprocessor=dict(non_blocking=False))
