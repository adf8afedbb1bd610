# Runtime of the segmentation jobs: mmseg's scope, our components loaded through custom_imports.
default_scope = 'mmseg'
custom_imports = dict(imports=['transfer.segmentation'], allow_failed_imports=False)
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=16000, max_keep_ckpts=3, save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # draw=True (e.g. `mae test ... --cfg-options default_hooks.visualization.draw=True`) writes
    # ground truth beside prediction over each image, in ADE20K's fixed palette, to work_dir/<time>/vis_data
    visualization=dict(type='SegVisualizationHook', draw=False, interval=1))
env_cfg = dict(cudnn_benchmark=True, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer', alpha=0.5)
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
tta_model = dict(type='SegTTAModel')
