"""Pretraining hooks: reconstruction pictures, loss curve, and a guard that stops on a non-finite
loss before anything is saved over the last good checkpoint. The hooks that write checkpoints
(the official-layout export, resume checkpoints) are in `checkpoint/write.py`."""
import json
import math
import os.path as osp

import torch
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from .data import center_square, heldout_crops
from .errors import NonFiniteLoss
from .quality import quality_table
from .registry import HOOKS
from .resilience import faults
from .visualize import (denormalize, fixed_noise, norm_stats, normalize, reconstruction_panels, save_loss_curve,
                        save_reconstruction_png)


def bare_model(runner):
    """The model whose weights are saved and loaded: inside a DDP wrapper, and inside a test-time
    augmentation model (e.g. mmseg's SegTTAModel for multi-scale + flip)."""
    from mmengine.model import BaseTTAModel

    m = runner.model
    m = m.module if is_model_wrapper(m) else m
    return m.module if isinstance(m, BaseTTAModel) else m


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Stop at the first nan/inf loss, naming the iteration and the checkpoint to resume from."""

    priority = "VERY_HIGH"  # before CheckpointHook can write a checkpoint of the broken state

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        loss = (outputs or {}).get("loss")
        loss = float(loss.detach() if hasattr(loss, "detach") else loss) if loss is not None else None
        if loss is not None and not math.isfinite(loss):
            last = osp.join(runner.work_dir, "last_checkpoint")
            ckpt = open(last).read().strip() if osp.exists(last) else "none saved yet"
            raise NonFiniteLoss(f"non-finite loss ({loss}) at epoch {runner.epoch + 1}, iteration "
                                f"{runner.iter + 1}; stopped without saving. Last good checkpoint: {ckpt}")


@HOOKS.register_module()
class ReconstructionHook(Hook):
    """Draws fixed images with a fixed mask every `interval` epochs and at the end, so pictures
    from different epochs (and runs) are comparable. With `heldout=N`, the end of training also
    measures PSNR on the removed patches of N held-out crops against two baselines
    (pretrain/quality.py), logs the table, writes it to `reconstruction_quality.json` and onto the
    final picture, which then also shows the interpolation baseline."""

    priority = "LOW"

    def __init__(self, interval: int = 1, num_images: int = 4, seed: int = 0, heldout: int = 0):
        self.interval, self.num_images, self.seed, self.heldout = interval, num_images, seed, heldout

    def _images(self, runner, size: int) -> torch.Tensor:
        ds = runner.train_dataloader.dataset
        n = min(self.num_images, len(ds))
        return torch.stack([center_square(ds.load_valid(i)[0], size) for i in range(n)])

    def _draw(self, runner, name: str, epochs_done: int, footer: str = "") -> None:
        if not is_main_process():
            return
        model = bare_model(runner)
        if getattr(model, "target_kind", "pixel") == "token":  # predicts token ids: no pixels to draw
            return
        size = model.grid[0] * model.patch_size
        imgs = normalize(self._images(runner, size), *norm_stats(model)).to(next(model.parameters()).device)
        noise = fixed_noise(imgs.shape[0], model.grid[0] * model.grid[1], self.seed).to(imgs.device)
        panels = reconstruction_panels(model, imgs, noise, interpolation=bool(footer))
        faults.point("picture")  # fault injection for the soak test (no-op unless MAE_FAULT is set)
        path = save_reconstruction_png(panels, osp.join(runner.work_dir, name), footer=footer,
                                       title=f"after {epochs_done} epochs, mask ratio {model.sampler.mask_ratio}")
        runner.logger.info(f"reconstruction picture: {path}")

    def _quality(self, runner) -> str:
        """The PSNR table on held-out crops, logged and saved; returns it as text for the picture."""
        model = bare_model(runner)
        stats = norm_stats(model)
        crops = heldout_crops(runner.train_dataloader.dataset, self.heldout)
        imgs = normalize(crops, *stats).to(next(model.parameters()).device)
        noise = fixed_noise(imgs.shape[0], model.grid[0] * model.grid[1], self.seed + 1).to(imgs.device)
        table = quality_table(model, imgs, noise, lambda x: denormalize(x, *stats))
        with open(osp.join(runner.work_dir, "reconstruction_quality.json"), "w") as f:
            json.dump({"psnr_db": table, "heldout_crops": self.heldout, "epochs": runner.epoch}, f, indent=1)
        head = f"PSNR on the removed patches of {self.heldout} held-out crops (higher is better):"
        rows = [f"{v:6.2f} dB  {k}" for k, v in table.items()]
        runner.logger.info("\n".join([head] + ["  " + r for r in rows]))
        return "\n".join([head] + rows)

    def after_train_epoch(self, runner):
        if self.every_n_epochs(runner, self.interval):  # runner.epoch is still 0-based here
            self._draw(runner, f"reconstruction_epoch{runner.epoch + 1}.png", runner.epoch + 1)

    def after_train(self, runner):
        footer = self._quality(runner) if self.heldout and is_main_process() else ""
        self._draw(runner, "reconstruction.png", runner.epoch, footer)


@HOOKS.register_module()
class LossCurveHook(Hook):
    """Keeps the loss of every iteration (carried in checkpoints, so resumed runs plot the whole
    history) and writes `loss_curve.png` each epoch."""

    priority = "LOW"

    def __init__(self):
        self.iters, self.losses = [], []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if outputs and "loss" in outputs:
            self.iters.append(runner.iter + 1)
            self.losses.append(float(outputs["loss"].detach() if hasattr(outputs["loss"], "detach") else outputs["loss"]))

    def after_train_epoch(self, runner):
        if is_main_process() and self.losses:
            save_loss_curve(self.iters, self.losses, osp.join(runner.work_dir, "loss_curve.png"))

    def before_save_checkpoint(self, runner, checkpoint):
        checkpoint["loss_history"] = {"iters": self.iters, "losses": self.losses}

    def after_load_checkpoint(self, runner, checkpoint):
        hist = checkpoint.get("loss_history", {})
        self.iters, self.losses = list(hist.get("iters", [])), list(hist.get("losses", []))
