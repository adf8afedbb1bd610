"""`mae train CONFIG`: one mmengine Runner job from one config file."""
import os
import os.path as osp

from mmengine.config import Config, ConfigDict

# Keys a pretraining config may hold at the top level: Runner.from_cfg's arguments plus ours.
RUNNER_KEYS = {
    "model", "work_dir", "train_dataloader", "val_dataloader", "test_dataloader", "train_cfg", "val_cfg",
    "test_cfg", "auto_scale_lr", "optim_wrapper", "param_scheduler", "val_evaluator", "test_evaluator",
    "default_hooks", "custom_hooks", "data_preprocessor", "load_from", "resume", "launcher", "env_cfg",
    "log_processor", "log_level", "visualizer", "default_scope", "randomness", "experiment_name", "cfg",
    "vis_backends", "strategy", "compile", "model_wrapper_cfg", "find_unused_parameters", "sync_bn"}
OUR_KEYS = {"base_lr", "max_epochs", "warmup_epochs", "data_root"}


class ConfigError(ValueError):
    pass


def load_config(path: str, options: dict = None) -> Config:
    if not osp.isfile(path):
        raise ConfigError(f"config file not found: {path}")
    cfg = Config.fromfile(path)
    # keys under a component whose `type` is replaced in the same call are that new type's business
    retyped = tuple(k[:-len("type")] for k in (options or {}) if k.endswith(".type"))
    for key in options or {}:
        if not (retyped and key.startswith(retyped)):
            check_key(cfg, key, path)
    cfg.merge_from_dict(options or {})
    unknown = sorted(set(cfg.keys()) - RUNNER_KEYS - OUR_KEYS)
    if unknown:
        raise ConfigError(f"unknown config key(s) {unknown} in {path}; known: {sorted(RUNNER_KEYS | OUR_KEYS)}")
    return cfg


def check_key(cfg: Config, dotted: str, path: str) -> None:
    """An override must name an existing key (a typo would otherwise be silently added)."""
    node, parts = cfg, dotted.split(".")
    if len(parts) == 1 and parts[0] in RUNNER_KEYS | OUR_KEYS:
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
    """Fill in what follows from the config: work dir, launcher, lr from the real batch, schedule."""
    cfg.work_dir = work_dir or cfg.get("work_dir") or osp.join(
        "work_dirs", osp.splitext(osp.basename(config_path))[0])
    cfg.resume = bool(resume or cfg.get("resume", False))
    cfg.launcher = "pytorch" if world_size() > 1 else "none"
    import torch
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

    seed = cfg.get("randomness", {}).get("seed", 0)
    cfg.train_dataloader.dataset.setdefault("seed", seed)
    accum = cfg.optim_wrapper.get("accumulative_counts", 1)
    total_batch = cfg.train_dataloader.batch_size * world_size() * accum
    if "base_lr" in cfg:
        cfg.optim_wrapper.optimizer.lr = cfg.base_lr * total_batch / 256
    if "max_epochs" in cfg:
        cfg.train_cfg = cfg.get("train_cfg") or dict(type="EpochBasedTrainLoop")
        cfg.train_cfg.max_epochs = cfg.max_epochs
        if not cfg.get("param_scheduler"):
            cfg.param_scheduler = pretrain_schedule(cfg.max_epochs, cfg.get("warmup_epochs", 0))
    return cfg


def pretrain_schedule(max_epochs: int, warmup_epochs: int) -> list:
    if not 0 <= warmup_epochs < max_epochs:
        raise ConfigError(f"warmup_epochs ({warmup_epochs}) must be in [0, max_epochs={max_epochs})")
    sched = []
    if warmup_epochs:
        sched.append(dict(type="LinearLR", start_factor=1e-6, by_epoch=True, begin=0, end=warmup_epochs,
                          convert_to_iter_based=True))
    sched.append(dict(type="CosineAnnealingLR", eta_min=0.0, by_epoch=True, begin=warmup_epochs,
                      end=max_epochs, T_max=max_epochs - warmup_epochs, convert_to_iter_based=True))
    return sched


def train(config_path: str, work_dir: str = None, resume: bool = False, options: dict = None):
    """Build and run the Runner; returns it (for tests and scripts)."""
    import pretrain  # noqa: F401  (registers our components)
    import transfer  # noqa: F401  (and the downstream ones: layer decay, task models)
    from mmengine.runner import Runner

    cfg = finalize(load_config(config_path, options), config_path, work_dir, resume)
    os.makedirs(cfg.work_dir, exist_ok=True)
    load_from, cfg.load_from = cfg.get("load_from"), None
    note = None
    if cfg.resume:  # the newest readable checkpoint (None: nothing saved yet, start over)
        from pretrain.resilience import choose_resume_checkpoint
        cfg.load_from, note = choose_resume_checkpoint(cfg.work_dir)
    runner = Runner.from_cfg(cfg)
    if note:
        runner.logger.warning(note)
    if load_from and not cfg.resume:
        # mmengine only warns about mismatched keys; a checkpoint of another architecture is an error here
        from pretrain.checkpoint import load_state, read_state_dict
        from pretrain.hooks import bare_model
        report = load_state(bare_model(runner), read_state_dict(load_from), strict=True, source=load_from)
        runner.logger.info(f"initialised from {load_from}: {report.summary()}")
    runner.train()
    return runner
