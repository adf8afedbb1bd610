"""Layer-wise learning-rate decay for fine-tuning a ViT: one mmengine optimiser-wrapper constructor.

    optim_wrapper = dict(constructor='LayerDecayOptimWrapperConstructor',
                         optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
                         paramwise_cfg=dict(layer_decay_rate=0.75, num_layers=None, variant='mae'))

With L ViT blocks, layer 0 is the input embedding, block i is layer i+1 and everything after the
blocks (norm, heads, necks) is layer L+1; a parameter's lr is lr * rate ** (L + 1 - layer). The
three reference rules agree on that and differ in the details reproduced here:

- 'mae' (official MAE `lr_decay.py`): patch_embed, cls_token, pos_embed in layer 0; no weight
  decay on 1-D parameters (biases, norms) and on pos_embed and cls_token.
- 'vitdet' (detectron2 `get_vit_lr_decay_rate` with the ViTDet configs' optimiser): patch_embed
  and pos_embed in layer 0, a class token (if any) and blocks' '.residual.' parts in the last
  layer; no weight decay on normalisation layers and pos_embed, but biases are decayed.
- 'mmseg' (mmseg `LearningRateDecayOptimizerConstructor`, from BEiT's code, which the MAE paper
  used for ADE20K): cls_token, mask_token, pos_embed, patch_embed in layer 0; no weight decay on
  1-D parameters and biases. Its pos_embed/cls_token exemption compares the full name, so under
  'backbone.' they are decayed: kept so that results match the reference runs.

Parameter names are read relative to the ViT inside the model ('', 'backbone.' or
'backbone.net.', found automatically, or `backbone='...'`). Written here rather than taken from
mmseg/mmpretrain because each of those hard-codes its own ViT's names (mmseg: 'layers', ours and
the official MAE's: 'blocks') and mmseg is an optional dependency.
"""
import re

import torch.nn as nn
from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor

from pretrain.errors import ConfigError
from pretrain.registry import OPTIM_WRAPPER_CONSTRUCTORS

VARIANTS = ("mae", "vitdet", "mmseg")
BACKBONE_PREFIXES = ("", "backbone.", "backbone.net.")
BLOCK = re.compile(r"^(blocks|layers)\.(\d+)\.")
NORMS = (nn.LayerNorm, nn.GroupNorm, nn.LocalResponseNorm, nn.modules.batchnorm._NormBase)


def find_backbone(names: list) -> str:
    """The prefix under which the model's ViT blocks live."""
    for prefix in BACKBONE_PREFIXES:
        if any(BLOCK.match(n[len(prefix):]) for n in names if n.startswith(prefix)):
            return prefix
    raise ConfigError("layer decay needs a ViT: no parameters named blocks.N / layers.N "
                     f"under any of {[p or '(top level)' for p in BACKBONE_PREFIXES]}")


def layer_id(name: str, prefix: str, num_layers: int, variant: str) -> int:
    """Layer of one parameter: 0 embedding, i+1 for block i, num_layers+1 for the rest."""
    last = num_layers + 1
    if not name.startswith(prefix):
        return last
    rel = name[len(prefix):]
    block = BLOCK.match(rel)
    if block and not (variant == "vitdet" and ".residual." in rel):
        return int(block.group(2)) + 1
    embed = {"mae": ("cls_token", "pos_embed"), "vitdet": ("pos_embed",),
             "mmseg": ("cls_token", "mask_token", "pos_embed")}[variant]
    if rel in embed or rel.startswith("patch_embed."):
        return 0
    return last


def decays(name: str, param, prefix: str, variant: str, norm_params: set) -> bool:
    """Whether weight decay applies to this parameter under the variant's rule."""
    rel = name[len(prefix):] if name.startswith(prefix) else name
    if variant == "vitdet":
        return name not in norm_params and rel.split(".")[-1] != "pos_embed"
    if param.ndim <= 1 or name.endswith(".bias"):
        return False
    if variant == "mmseg":
        return name not in ("pos_embed", "cls_token")  # the full name, as the reference does
    return rel not in ("pos_embed", "cls_token")


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LayerDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """paramwise_cfg: layer_decay_rate (default 0.75), num_layers (default: the number of ViT
    blocks), variant ('mae', 'vitdet' or 'mmseg'), backbone (prefix of the ViT's names; found
    automatically when not given). Groups carry `layer_id`, `lr_scale` and `param_names`."""

    KEYS = ("layer_decay_rate", "num_layers", "variant", "backbone")

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: dict = None):
        cfg = dict(layer_decay_rate=0.75, num_layers=None, variant="mae", backbone=None)
        unknown = sorted(set(paramwise_cfg or {}) - set(self.KEYS))
        if unknown:
            raise ConfigError(f"LayerDecayOptimWrapperConstructor: unknown paramwise_cfg keys {unknown}; "
                             f"known: {list(self.KEYS)}")
        cfg.update(paramwise_cfg or {})
        if cfg["variant"] not in VARIANTS:
            raise ConfigError(f"layer decay variant must be one of {VARIANTS}, got {cfg['variant']!r}")
        if not 0.0 < float(cfg["layer_decay_rate"]) <= 1.0:
            raise ConfigError(f"layer_decay_rate must be in (0, 1], got {cfg['layer_decay_rate']}")
        super().__init__(optim_wrapper_cfg, cfg)

    def add_params(self, params: list, module: nn.Module, **kwargs) -> None:
        cfg = self.paramwise_cfg
        # the ViT's depth counts frozen blocks too (partial fine-tuning trains only the last k, or none)
        every = [n for n, _ in module.named_parameters()]
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        prefix = cfg["backbone"] if cfg["backbone"] is not None else find_backbone(every)
        num_layers = cfg["num_layers"]
        if num_layers is None:
            num_layers = 1 + max(int(BLOCK.match(n[len(prefix):]).group(2)) for n in every
                                 if n.startswith(prefix) and BLOCK.match(n[len(prefix):]))
        norm_params = {f"{m}.{p}" if m else p for m, mod in module.named_modules() if isinstance(mod, NORMS)
                       for p, _ in mod.named_parameters(recurse=False)}
        rate, wd = float(cfg["layer_decay_rate"]), self.base_wd or 0.0
        groups = {}
        for name, p in named:
            lid = layer_id(name, prefix, num_layers, cfg["variant"])
            decay = decays(name, p, prefix, cfg["variant"], norm_params)
            key = (lid, decay)
            if key not in groups:
                scale = rate ** (num_layers + 1 - lid)
                groups[key] = dict(params=[], param_names=[], layer_id=lid, lr_scale=scale,
                                   lr=self.base_lr * scale, weight_decay=wd if decay else 0.0)
            groups[key]["params"].append(p)
            groups[key]["param_names"].append(name)
        print_log(f"layer decay ({cfg['variant']}): rate {rate}, {num_layers} blocks under "
                  f"'{prefix or '(top level)'}', {len(groups)} parameter groups", logger="current")
        params.extend(groups[k] for k in sorted(groups))
