"""LARS for the linear probe: timm's `Lars`, with the official MAE parameter rule.

The official MAE LARS adapts the step by the trust ratio and applies weight decay only for
parameters with more than one dimension (weights), never for biases or norm parameters. timm's
`Lars` does both per parameter group when the group's `always_adapt` is set or its weight decay
is non-zero; this class only splits the parameters into those two groups. With the probe's
weight decay of 0 the update equals the official one (tests/test_classification_optim.py).
"""
from timm.optim import Lars

from pretrain.errors import ConfigError
from pretrain.registry import OPTIMIZERS


@OPTIMIZERS.register_module(name="LARS")
class MAELars(Lars):
    def __init__(self, params, lr: float = 0.0, weight_decay: float = 0.0, momentum: float = 0.9,
                 trust_coeff: float = 0.001, **kwargs):
        params = list(params)
        if params and isinstance(params[0], dict):
            raise ConfigError("LARS groups the parameters itself (weights vs biases and norms): "
                             "give it the parameters, not parameter groups (no paramwise_cfg)")
        params = [p for p in params if p.requires_grad]
        groups = [
            dict(params=[p for p in params if p.ndim > 1], always_adapt=True),
            dict(params=[p for p in params if p.ndim <= 1], weight_decay=0.0, always_adapt=False),
        ]
        super().__init__([g for g in groups if g["params"]], lr=lr, momentum=momentum,
                         weight_decay=weight_decay, trust_coeff=trust_coeff, **kwargs)

