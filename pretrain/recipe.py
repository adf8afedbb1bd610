"""The pretraining recipe: what `mae train` adds to a pretraining config, and to no other.

Applied when the config's model is our `MaskedAutoencoder`, or when the config declares
`pretrain_recipe = True` (another pretraining model); `pretrain_recipe = False` turns it off.
Task configs (classification, detection, segmentation, mmseg's own) are run as written.

From the top-level keys `base_lr`, `max_epochs` and `warmup_epochs` it sets, as the paper does:
- the lr from the real total batch: base_lr * per-process batch * processes * accumulation / 256;
- `train_cfg.max_epochs`, and (unless the config gives one) a linear warmup over `warmup_epochs`
  then a half-cycle cosine to 0, stepped every iteration (pretrain/schedule.py);
- the training dataset's `seed` (from `randomness.seed`), from which each sample's mask is drawn,
  so masks do not depend on how the batch is split over processes or on resuming.
"""
import sys

from .errors import ConfigError
from .schedule import pretrain_schedule

MAE_TYPES = ("MaskedAutoencoder", "pretrain.MaskedAutoencoder")


def is_pretraining(cfg) -> bool:
    declared = cfg.get("pretrain_recipe")
    if declared is not None:
        return bool(declared)
    model = cfg.get("model") or {}
    return model.get("type") in MAE_TYPES if hasattr(model, "get") else False


def apply_pretrain_recipe(cfg, world_size: int = 1):
    """Fill in lr, schedule and mask seeds from the recipe's keys (see the module docstring)."""
    seed = cfg.get("randomness", {}).get("seed", 0)
    cfg.train_dataloader.dataset.setdefault("seed", seed)
    accum = cfg.optim_wrapper.get("accumulative_counts", 1)
    total_batch = cfg.train_dataloader.batch_size * world_size * accum
    if "base_lr" in cfg:
        cfg.optim_wrapper.optimizer.lr = cfg.base_lr * total_batch / 256
    if "max_epochs" in cfg:
        cfg.train_cfg = cfg.get("train_cfg") or dict(type="EpochBasedTrainLoop")
        cfg.train_cfg.max_epochs = cfg.max_epochs
        if not cfg.get("param_scheduler"):
            try:
                cfg.param_scheduler, notice = pretrain_schedule(cfg.max_epochs, cfg.get("warmup_epochs", 0))
            except ValueError as e:
                raise ConfigError(str(e)) from None
            if notice:
                print(f"mae: note: {notice}", file=sys.stderr)
    return cfg
