"""bf16 matmul weights with fp32 master copies in the optimiser (`mae bench pretrain --bf16-weights`).

Why: under autocast every linear weight and bias is cast to bf16 in each forward and its bf16
gradient cast back to fp32 in backward, one small kernel each (about 500 per ViT-L step); at
small batches these launches keep the GPU waiting on the host. Here the linear / patch-projection
parameters live in bf16, AdamW steps fp32 masters, and the two conversions are one multi-tensor
copy each (`torch._foreach_copy_`). The values equal autocast's: the forward sees the bf16
rounding of the fp32 master, and the master gradient is the bf16 gradient widened, as autocast's
cast-backward gives. Layer norms, tokens and embeddings stay fp32 (autocast runs norms in fp32).
"""
import torch
from torch import nn


class MasterWeightStep:
    """Stands in for the optimiser of `model` (AdamW built on its fp32 parameters, not yet stepped):
    `step()` and `zero_grad()` as usual."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer):
        self.low = [p for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))
                    for p in m.parameters(recurse=False) if p.requires_grad]
        self.masters = [nn.Parameter(p.detach().clone()) for p in self.low]
        swap = {id(p): m for p, m in zip(self.low, self.masters)}
        for g in optimizer.param_groups:  # the optimiser steps the fp32 masters of the bf16 weights
            g["params"] = [swap.get(id(p), p) for p in g["params"]]
        masters = {id(m) for m in self.masters}
        self.others = [p for g in optimizer.param_groups for p in g["params"] if id(p) not in masters]
        for m in self.masters:  # gradient buffers, overwritten every step
            m.grad = torch.empty_like(m)
        with torch.no_grad():
            for p in self.low:
                p.data = p.data.to(torch.bfloat16)
        self.optimizer = optimizer

    @torch.no_grad()
    def step(self):
        torch._foreach_copy_([m.grad for m in self.masters], [p.grad for p in self.low])
        self.optimizer.step()
        torch._foreach_copy_(self.low, self.masters)

    def zero_grad(self, set_to_none: bool = True):
        for p in self.low + self.others:
            p.grad = None
