"""Which parts of a ViT classifier train: fine-tuning, linear probing, partial fine-tuning.

One config key, `trainable`, covers the paper's whole Figure 9 axis:
  'all'       every parameter (end-to-end fine-tuning)
  'head'      only the head (linear probing; the encoder, final norm included, is frozen)
  k (int)     the last k blocks, the final norm (`fc_norm` or `norm`) and the head; k = 0 ... depth
  'last_mlp'  the MLP sub-block of the last block (its norm2 and mlp), final norm and head
              (the paper's "half a block" point)
Frozen modules are kept in eval mode by the model's `train()`, so drop path and dropout are off
in them, as a frozen feature extractor should be.
"""
from typing import List, Union

import torch.nn as nn

from pretrain.errors import ConfigError

NAMED = ("all", "head", "last_mlp")


def check_trainable(trainable: Union[str, int], depth: int) -> None:
    if isinstance(trainable, bool) or not (trainable in NAMED or isinstance(trainable, int)):
        raise ConfigError(f"trainable must be one of {NAMED} or a number of blocks, got {trainable!r}")
    if isinstance(trainable, int) and not 0 <= trainable <= depth:
        raise ConfigError(f"trainable={trainable} blocks is outside 0 ... {depth} for a {depth}-block ViT")


def _final_norm(model: nn.Module) -> nn.Module:
    return model.fc_norm if getattr(model, "global_pool", False) else model.norm


def trainable_modules(model: nn.Module, trainable: Union[str, int]) -> List[nn.Module]:
    """The modules whose parameters train (for 'all': the whole model)."""
    depth = len(model.blocks)
    check_trainable(trainable, depth)
    if trainable == "all":
        return [model]
    if trainable == "head":
        return [model.head]
    if trainable == "last_mlp":
        last = model.blocks[-1]
        return [last.norm2, last.mlp, last.ls2, _final_norm(model), model.head]
    return [*model.blocks[depth - trainable:], _final_norm(model), model.head]


def frozen_modules(model: nn.Module, trainable: Union[str, int]) -> List[nn.Module]:
    """The largest modules none of whose parameters train (they are put in eval mode)."""
    if trainable == "all":
        return []
    keep = trainable_modules(model, trainable)
    keep_ids = {id(m) for k in keep for m in k.modules()}
    frozen = []

    def visit(module: nn.Module) -> None:
        for child in module.children():
            if id(child) in keep_ids:
                continue
            inside = {id(m) for m in child.modules()}
            if inside & keep_ids:  # holds something that trains: look deeper
                visit(child)
            else:
                frozen.append(child)

    visit(model)
    return frozen


def apply_trainable(model: nn.Module, trainable: Union[str, int]) -> None:
    """Set `requires_grad` so that exactly the chosen parts train."""
    keep = trainable_modules(model, trainable)
    for p in model.parameters():
        p.requires_grad = False
    for m in keep:
        for p in m.parameters():
            p.requires_grad = True
