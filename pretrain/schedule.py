"""The paper's learning-rate schedule: linear warmup from 0, then half-cycle cosine to 0.

Written as one closed-form scheduler (the official `adjust_learning_rate`, stepped every
iteration) because mmengine's LinearLR and CosineAnnealingLR are chainable: each step multiplies
the current lr. With a one-iteration warmup, LinearLR never steps past its start factor and the
cosine then decays from there, so the lr stays near 0 for the whole run. A closed form depends on
the iteration number only: it cannot get stuck and resumes exactly.
"""
import math

from mmengine.optim.scheduler.lr_scheduler import LRSchedulerMixin
from mmengine.optim.scheduler.param_scheduler import INF, _ParamScheduler

from .registry import PARAM_SCHEDULERS

# Warmup share of the paper's schedule (40 of 800 epochs), used when a short run leaves no room
# for the configured warmup.
PAPER_WARMUP_SHARE = 40 / 800


class _WarmupCosine(_ParamScheduler):
    def __init__(self, optimizer, param_name: str, warmup: float = 0, eta_min: float = 0.0, begin: int = 0,
                 end: int = INF, last_step: int = -1, by_epoch: bool = True, verbose: bool = False):
        if end == INF:
            raise ValueError("WarmupCosineLR needs an `end` (the last epoch or iteration of the run)")
        if not 0 <= warmup < end - begin:
            raise ValueError(f"warmup ({warmup}) must be in [0, end - begin = {end - begin})")
        self.warmup, self.eta_min = warmup, eta_min
        super().__init__(optimizer, param_name, begin=begin, end=end, last_step=last_step, by_epoch=by_epoch,
                         verbose=verbose)

    @classmethod
    def build_iter_from_epoch(cls, *args, warmup=0, begin=0, end=INF, by_epoch=True, epoch_length=None, **kwargs):
        """Epochs -> iterations; the warmup may end inside an epoch, as in the official code."""
        if not by_epoch or not epoch_length:
            raise ValueError("convert_to_iter_based needs by_epoch=True and the epoch length")
        return cls(*args, warmup=warmup * epoch_length, begin=int(begin * epoch_length),
                   end=int(end * epoch_length) if end != INF else INF, by_epoch=False, **kwargs)

    def factor(self, step: int) -> float:
        if step < self.warmup:
            return step / self.warmup
        return 0.5 * (1.0 + math.cos(math.pi * (step - self.warmup) / (self.end - self.begin - self.warmup)))

    def _get_value(self) -> list:
        f = self.factor(self.last_step)
        return [self.eta_min + (base - self.eta_min) * f for base in self.base_values]


@PARAM_SCHEDULERS.register_module()
class WarmupCosineLR(LRSchedulerMixin, _WarmupCosine):
    """lr(step) = base * step / warmup while step < warmup, then
    eta_min + (base - eta_min) * (1 + cos(pi * (step - warmup) / (total - warmup))) / 2."""


def pretrain_schedule(max_epochs: int, warmup_epochs: float) -> tuple:
    """(param_scheduler list, notice or None) for `max_epochs` with `warmup_epochs` of warmup.

    A warmup that does not fit the run (at or above `max_epochs`) is shortened to the paper's share
    of the run instead of failing, and the notice says so."""
    if max_epochs <= 0:
        raise ValueError(f"max_epochs must be positive, got {max_epochs}")
    if warmup_epochs < 0:
        raise ValueError(f"warmup_epochs must be >= 0, got {warmup_epochs}")
    notice = None
    if warmup_epochs >= max_epochs:
        short = max_epochs * PAPER_WARMUP_SHARE
        notice = (f"warmup_epochs={warmup_epochs} does not fit max_epochs={max_epochs}: warming up for "
                  f"{short:g} epochs instead ({PAPER_WARMUP_SHARE:.0%} of the run, the paper's share)")
        warmup_epochs = short
    return [dict(type="WarmupCosineLR", warmup=warmup_epochs, eta_min=0.0, by_epoch=True, begin=0,
                 end=max_epochs, convert_to_iter_based=True)], notice
