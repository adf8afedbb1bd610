"""Optimiser pieces for pretraining: two AdamW parameter groups and a precision-aware wrapper.

mmengine's DefaultOptimWrapperConstructor makes one parameter group per tensor when decay
rules are set, which defeats fused/foreach AdamW; two groups keep the update a single fused
kernel. mmengine's AmpOptimWrapper refuses CPUs, so bf16/fp32 autocast is here; fp16 (CUDA, loss
scaler) is mmengine's AmpOptimWrapper itself.
"""
from contextlib import contextmanager, nullcontext

import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper

from .registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS
from .errors import ConfigError

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def param_groups(model: nn.Module, weight_decay: float, decay_tokens: bool = True) -> list:
    """The official main_pretrain.py rule (timm's `add_weight_decay` with no skip list): decay every
    trainable parameter of 2+ dims except biases, so `cls_token` and `mask_token` are decayed; norms
    and biases are not, and the fixed position tables are frozen. `decay_tokens=False` also keeps
    the model's `no_weight_decay()` names (class and mask tokens) out of decay, as fine-tuning does."""
    skip = set() if decay_tokens else set(getattr(model, "no_weight_decay", lambda: set())())
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if p.ndim <= 1 or name.endswith(".bias") or name in skip:
            no_decay.append(p)
        else:
            decay.append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def fused_supported(model: nn.Module) -> bool:
    return all(p.dtype.is_floating_point and p.device.type in ("cpu", "cuda") for p in model.parameters())


def build_adamw(model: nn.Module, lr: float, weight_decay: float = 0.05, betas=(0.9, 0.95),
                fused: bool = True, decay_tokens: bool = True) -> torch.optim.AdamW:
    return torch.optim.AdamW(param_groups(model, weight_decay, decay_tokens), lr=lr, betas=tuple(betas),
                             fused=fused and fused_supported(model))


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class PretrainOptimWrapperConstructor:
    """optim_wrapper = dict(constructor='PretrainOptimWrapperConstructor',
    optimizer=dict(lr=..., weight_decay=..., betas=...), type='PrecisionOptimWrapper', ...)

    Weight decay follows the official pretraining (see `param_groups`);
    `paramwise_cfg=dict(decay_tokens=False)` keeps the class and mask tokens out of decay."""

    PARAMWISE_KEYS = ("decay_tokens",)

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg=None):
        self.cfg = dict(optim_wrapper_cfg)
        self.paramwise = dict(paramwise_cfg or {})
        unknown = sorted(set(self.paramwise) - set(self.PARAMWISE_KEYS))
        if unknown:
            raise ConfigError(f"PretrainOptimWrapperConstructor: unknown paramwise_cfg keys {unknown}; "
                              f"known: {list(self.PARAMWISE_KEYS)}")

    def __call__(self, model: nn.Module) -> OptimWrapper:
        model = getattr(model, "module", model)
        cfg = dict(self.cfg)
        opt = dict(cfg.pop("optimizer"))
        kind = opt.pop("type", "AdamW")
        if kind != "AdamW":
            raise ConfigError(f"pretraining uses AdamW, got optimizer type {kind!r}")
        optimizer = build_adamw(model, **opt, decay_tokens=self.paramwise.get("decay_tokens", True))
        cfg.setdefault("type", "PrecisionOptimWrapper")
        if cfg["type"] == "PrecisionOptimWrapper":
            device_type = next(model.parameters()).device.type
            if resolve_precision(cfg.get("precision", "auto"), device_type) == "fp16":
                cfg.pop("precision")
                cfg.update(type="AmpOptimWrapper", dtype="float16")  # mmengine's dynamic loss scaler
        return OPTIM_WRAPPERS.build(cfg, default_args=dict(optimizer=optimizer))


def bf16_supported(device_type: str) -> bool:
    """bf16 pays off on CUDA with bf16 support, and on CPUs with native bf16 matmul (AVX512-BF16
    or AMX); elsewhere (e.g. AVX2-only CPUs) bf16 matmuls are emulated and far slower."""
    if device_type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device_type == "cpu":
        return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    return False


def resolve_precision(precision: str, device_type: str) -> str:
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "auto":
        return "bf16" if bf16_supported(device_type) else "fp32"
    if precision == "fp16" and device_type != "cuda":
        raise ConfigError("fp16 training needs a CUDA device; use precision='bf16' or 'fp32' on the CPU")
    return precision


def autocast_for(precision: str, device_type: str):
    if precision == "fp32":
        return nullcontext()
    return torch.autocast(device_type, dtype=torch.bfloat16 if precision == "bf16" else torch.float16)


@OPTIM_WRAPPERS.register_module()
class PrecisionOptimWrapper(OptimWrapper):
    """OptimWrapper with autocast: precision 'auto' (bf16 where it is fast, else fp32), 'fp32' or
    'bf16' (no loss scaling needed). 'fp16' is built as mmengine's AmpOptimWrapper by
    `PretrainOptimWrapperConstructor`."""

    def __init__(self, optimizer, precision: str = "auto", **kwargs):
        super().__init__(optimizer, **kwargs)
        params = [p for g in optimizer.param_groups for p in g["params"]]
        self.device_type = params[0].device.type if params else "cpu"
        self.precision = resolve_precision(precision, self.device_type)
        if self.precision == "fp16":
            raise ConfigError("fp16 needs a loss scaler: use PretrainOptimWrapperConstructor (it builds "
                             "mmengine's AmpOptimWrapper) or type='AmpOptimWrapper'")

    @contextmanager
    def optim_context(self, model: nn.Module):
        with super().optim_context(model), autocast_for(self.precision, self.device_type):
            yield
