# Runtime shared by every classification job (fine-tune, linear probe, partial fine-tune): the
# project's runtime, with the best checkpoint by top-1 kept and no pretraining hooks.
_base_ = ['../../_base_/default_runtime.py']
custom_imports = dict(imports=['transfer.classification'], allow_failed_imports=False)

default_hooks = dict(checkpoint=dict(max_keep_ckpts=2, save_best='accuracy/top1', rule='greater'))
# EMA of the weights (optional; the paper does not use it): custom_hooks = [dict(type='EMAHook', momentum=1e-4)]
custom_hooks = [dict(type='NonFiniteLossHook')]

val_evaluator = dict(type='TopKAccuracy', topk=(1, 5))
test_evaluator = val_evaluator
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
