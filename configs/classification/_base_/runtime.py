# Runtime shared by every classification job (fine-tune, linear probe, partial fine-tune).
default_scope = 'mae'
custom_imports = dict(imports=['transfer.classification'], allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=2, save_last=True,
                    save_best='accuracy/top1', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)
# EMA of the weights (optional; the paper does not use it): custom_hooks = [dict(type='EMAHook', momentum=1e-4)]
custom_hooks = [dict(type='NonFiniteLossHook')]

env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='auto'))
vis_backends = [dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')]
visualizer = dict(type='Visualizer', vis_backends=vis_backends)
log_processor = dict(window_size=10, by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)

val_evaluator = dict(type='TopKAccuracy', topk=(1, 5))
test_evaluator = val_evaluator
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
