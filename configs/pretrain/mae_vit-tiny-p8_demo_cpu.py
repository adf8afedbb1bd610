# The README's main job: a tiny MAE on the photos that ship with scikit-image (no download),
# a few minutes on a 2-core CPU. Leaves checkpoint-final.pth, reconstruction.png, loss_curve.png.
_base_ = ['../_base_/models/mae_vit-base-p16.py', '../_base_/default_runtime.py', '../_base_/schedules/pretrain_800e.py']
base_lr = 3.2e-2  # lr 2e-3 at batch 16: many small steps, so the tiny demo learns structure in minutes
max_epochs = 30
warmup_epochs = 3
train_dataloader = dict(
    batch_size=16,
    num_workers=0,
    sampler=dict(type='EpochSeedSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    # photos downscaled once to 256 px on the short side: crops cost a quarter, content is the same
    dataset=dict(type='EmbeddedImages', img_size=64, length=512, scale=(0.2, 1.0), short_side=256),
)
default_hooks = dict(logger=dict(type='LoggerHook', interval=16), checkpoint=dict(interval=5))
custom_hooks = [
    dict(type='NonFiniteLossHook'),
    dict(type='OfficialCheckpointHook', interval=10),
    # the end of training prints PSNR on 64 held-out crops against two baselines (pretrain/quality.py)
    dict(type='ReconstructionHook', interval=10, heldout=64),
    dict(type='LossCurveHook'),
]
model = dict(img_size=64, patch_size=8, embed_dim=192, depth=6, num_heads=3, decoder_embed_dim=128,
             decoder_depth=2, decoder_num_heads=4, norm_pix_loss=False,
             data_preprocessor=dict(non_blocking=False))
