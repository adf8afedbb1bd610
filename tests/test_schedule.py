"""The pretraining lr schedule at any length: the official warmup + cosine per iteration, also with
one iteration per epoch, and a warmup that does not fit the run is shortened with a notice."""
import math

import pytest
import torch
from mmengine.hooks import Hook

from pretrain.registry import HOOKS
from pretrain.schedule import PAPER_WARMUP_SHARE, WarmupCosineLR, pretrain_schedule
from tools.train import train


def official_lr(step: int, iters_per_epoch: int, base: float, warmup: float, epochs: int) -> float:
    """main_pretrain.py's adjust_learning_rate at a fractional epoch (written out for the check)."""
    epoch = step / iters_per_epoch
    if epoch < warmup:
        return base * epoch / warmup
    return base * 0.5 * (1.0 + math.cos(math.pi * (epoch - warmup) / (epochs - warmup)))


@pytest.mark.parametrize("iters_per_epoch,warmup,epochs", [(1, 1, 3), (3, 1, 3), (5, 2.5, 7), (4, 0, 2)])
def test_closed_form_equals_official_at_every_step(iters_per_epoch, warmup, epochs):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    sched = WarmupCosineLR.build_iter_from_epoch(opt, warmup=warmup, begin=0, end=epochs,
                                                 epoch_length=iters_per_epoch)
    for step in range(epochs * iters_per_epoch):
        assert opt.param_groups[0]["lr"] == pytest.approx(official_lr(step, iters_per_epoch, 0.1, warmup, epochs),
                                                          abs=1e-12), step
        opt.step()
        sched.step()


def test_warmup_that_does_not_fit_is_shortened_with_a_notice():
    sched, notice = pretrain_schedule(3, 40)
    assert sched[0]["warmup"] == pytest.approx(3 * PAPER_WARMUP_SHARE) and sched[0]["end"] == 3
    assert notice and "warmup_epochs=40" in notice and "max_epochs=3" in notice and "\n" not in notice
    assert pretrain_schedule(30, 3) == ([dict(type="WarmupCosineLR", warmup=3, eta_min=0.0, by_epoch=True, begin=0,
                                              end=30, convert_to_iter_based=True)], None)
    with pytest.raises(ValueError, match="max_epochs must be positive"):
        pretrain_schedule(0, 0)


@HOOKS.register_module(force=True)
class RecordLrHook(Hook):
    """The lr each optimiser step uses."""

    def __init__(self):
        self.lrs = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.lrs.append(runner.optim_wrapper.optimizer.param_groups[0]["lr"])


@pytest.mark.parametrize("warmup", [1, None])  # None: the config's 3 epochs, which do not fit 3 epochs
def test_three_epochs_of_one_iteration(demo_config, tiny_options, tmp_path, warmup):
    opts = dict(tiny_options, **{"train_dataloader.dataset.length": 4, "train_dataloader.batch_size": 4,
                                 "max_epochs": 3, "custom_hooks": [dict(type="RecordLrHook")],
                                 "experiment_name": f"short{warmup}"})
    opts.pop("warmup_epochs")
    if warmup is not None:
        opts["warmup_epochs"] = warmup
    runner = train(demo_config, str(tmp_path), options=opts)
    lrs = next(h for h in runner.hooks if isinstance(h, RecordLrHook)).lrs
    base = runner.cfg.optim_wrapper.optimizer.lr
    w = warmup if warmup is not None else 3 * PAPER_WARMUP_SHARE
    assert len(lrs) == 3
    assert lrs == pytest.approx([official_lr(s, 1, base, w, 3) for s in range(3)], abs=1e-12)
    assert max(lrs) > 0.4 * base  # the run trains: no lr stuck near zero
