# Runtime shared by every pretraining job.
default_scope = 'pretrain'  # our registry scope (pretrain/registry.py); old configs say 'mae'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # mmengine's CheckpointHook with atomic saves, a resume checkpoint every `every_minutes` of
    # training, and SIGTERM/SIGUSR1 -> resume checkpoint + exit code 75
    # (pretrain/checkpoint/write.py)
    checkpoint=dict(type='ResilientCheckpointHook', interval=1, max_keep_ckpts=3, save_last=True, every_minutes=30),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)
custom_hooks = [
    dict(type='NonFiniteLossHook'),
    dict(type='OfficialCheckpointHook', interval=20),
    dict(type='ReconstructionHook', interval=20),
    dict(type='LossCurveHook'),
]

# timeout: seconds a process waits in a collective for the others (e.g. for a dead rank) before it fails
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='auto', timeout=600))
train_cfg = dict(type='ResumableEpochBasedTrainLoop')  # continues mid-epoch resume checkpoints
vis_backends = [dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')]
visualizer = dict(type='Visualizer', vis_backends=vis_backends)
log_processor = dict(window_size=10, by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
