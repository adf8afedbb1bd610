"""Config files for every `mae` job: load, check overrides, fill in what follows from the machine.

A config file may hold any top-level keys its task uses (mmseg's `crop_size`, `train_pipeline`,
`dataset_type`, `norm_cfg`, ...). An override (`--cfg-options`) must name a key that exists, so a
typo is an error rather than a silently added key.
"""
import os
import os.path as osp

from mmengine.config import Config, ConfigDict

from pretrain.errors import ConfigError
from pretrain.recipe import apply_pretrain_recipe, is_pretraining
from pretrain.registry import rename_old_scope

# Runner.from_cfg's arguments (plus the pretraining recipe's switch): an override may set these
# even when the config file does not.
RUNNER_KEYS = {
    "model", "work_dir", "train_dataloader", "val_dataloader", "test_dataloader", "train_cfg", "val_cfg",
    "test_cfg", "auto_scale_lr", "optim_wrapper", "param_scheduler", "val_evaluator", "test_evaluator",
    "default_hooks", "custom_hooks", "data_preprocessor", "load_from", "resume", "launcher", "env_cfg",
    "log_processor", "log_level", "visualizer", "default_scope", "randomness", "experiment_name", "cfg",
    "vis_backends", "strategy", "compile", "model_wrapper_cfg", "find_unused_parameters", "sync_bn",
    "pretrain_recipe"}


def load_config(path: str, options: dict = None) -> Config:
    """The config file (its `custom_imports` imported) with the overrides merged in."""
    if not osp.isfile(path):
        raise ConfigError(f"config file not found: {path}")
    cfg = Config.fromfile(path)
    # keys under a component whose `type` is replaced in the same call are that new type's business
    retyped = tuple(k[:-len("type")] for k in (options or {}) if k.endswith(".type"))
    for key in options or {}:
        if not (retyped and key.startswith(retyped)):
            check_key(cfg, key, path)
    cfg.merge_from_dict(options or {})
    return rename_old_scope(cfg)  # configs that name our scope 'mae'


def check_key(cfg: Config, dotted: str, path: str) -> None:
    """An override must name an existing key (a typo would otherwise be silently added)."""
    node, parts = cfg, dotted.split(".")
    if len(parts) == 1 and parts[0] in RUNNER_KEYS:
        return
    for i, part in enumerate(parts):
        if isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
            continue
        if not isinstance(node, (dict, ConfigDict, Config)) or part not in node:
            where = ".".join(parts[:i]) or "top level"
            known = sorted(node.keys()) if isinstance(node, (dict, ConfigDict, Config)) else []
            raise ConfigError(f"unknown config key '{dotted}' ('{part}' is not in {where} of {path}); "
                              f"known there: {known}")
        node = node[part]


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def finalize(cfg: Config, config_path: str, work_dir: str = None, resume: bool = False) -> Config:
    """Fill in what follows from the machine (work dir, launcher, process group), then the
    pretraining recipe for pretraining configs (`pretrain/recipe.py`)."""
    cfg.work_dir = work_dir or cfg.get("work_dir") or osp.join(
        "work_dirs", osp.splitext(osp.basename(config_path))[0])
    cfg.resume = bool(resume or cfg.get("resume", False))
    cfg.launcher = "pytorch" if world_size() > 1 else "none"
    import torch
    cfg.setdefault("env_cfg", ConfigDict())
    cfg.env_cfg.setdefault("dist_cfg", {})
    if cfg.env_cfg.dist_cfg.get("backend", "auto") == "auto":
        cfg.env_cfg.dist_cfg.backend = "nccl" if torch.cuda.is_available() else "gloo"
    if world_size() > 1 and not torch.cuda.is_available():
        # mmengine's launcher and DDP wrapper assume one GPU per process; on CPUs we start the gloo
        # group ourselves (mmengine then reuses it) and wrap without device ids.
        if not torch.distributed.is_initialized():
            from datetime import timedelta
            timeout = timedelta(seconds=cfg.env_cfg.dist_cfg.get("timeout", 1800))  # a dead rank ends the job
            torch.distributed.init_process_group(backend="gloo", timeout=timeout)
        cfg.model_wrapper_cfg = dict(type="MMDistributedDataParallel", device_ids=None, broadcast_buffers=False,
                                     find_unused_parameters=cfg.get("find_unused_parameters", False))
    if is_pretraining(cfg):
        apply_pretrain_recipe(cfg, world_size())
    return cfg
