# Runtime shared by every pretraining job.
default_scope = 'mae'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3, save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)
custom_hooks = [
    dict(type='NonFiniteLossHook'),
    dict(type='OfficialCheckpointHook', interval=20),
    dict(type='ReconstructionHook', interval=20),
    dict(type='LossCurveHook'),
]

env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='auto'))
vis_backends = [dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')]
visualizer = dict(type='Visualizer', vis_backends=vis_backends)
log_processor = dict(window_size=10, by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
