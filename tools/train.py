"""`mae train CONFIG`: one mmengine Runner job from one config file, for any task."""
import os

from tools.config import ConfigError, finalize, load_config  # noqa: F401  (the launcher's API)


def load_weights(runner, path: str, pretrained: bool = False) -> None:
    """Strict load through pretrain's checkpoint library (any layout it reads), report logged:
    mmengine's own `load_from` only warns about keys that do not fit. With `pretrained` (a
    training run's `load_from`), a task model's `load_from_rules()` name the keys it adds to a
    pretrained encoder (a new head, say), which may then be absent from the file."""
    from pretrain.checkpoint import load_pretrained
    from pretrain.hooks import bare_model

    model = bare_model(runner)
    rules = model.load_from_rules() if pretrained and hasattr(model, "load_from_rules") else {}
    report = load_pretrained(model, path, strict=True, **rules)
    runner.logger.info(f"loaded weights: {report.summary()}")


def close_distributed() -> None:
    """Destroy the process group once every rank is done. Without it, torch 2.14 can abort a gloo
    rank at interpreter exit ("terminate called without an active exception", SIGABRT) after a
    run that finished its work: the exit code would then read as a failure. Called only after
    success: with a rank still inside a collective, a barrier here would hang."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def import_components() -> None:
    """Register our components in the 'pretrain' scope: pretrain's and transfer's shared ones (layer
    decay, task models); a task package with heavy dependencies comes via its config's `custom_imports`."""
    import pretrain
    import transfer  # noqa: F401

    pretrain.register_all()


def train(config_path: str, work_dir: str = None, resume=False, options: dict = None,
          verbose: bool = False):
    """Build and run the Runner; returns it (for tests and scripts), or None when `resume` finds the
    run already finished. `resume`: False, True (start fresh if nothing was saved yet, with a notice)
    or "strict" (an error then). `verbose`: mmengine's full console output (environment, config,
    every log line) instead of the quiet one."""
    import_components()
    from tools.console import build_runner

    cfg = finalize(load_config(config_path, options), config_path, work_dir, bool(resume))
    os.makedirs(cfg.work_dir, exist_ok=True)
    load_from, cfg.load_from = cfg.get("load_from"), None
    note = None
    if cfg.resume:  # the newest readable checkpoint (None: nothing saved yet)
        from pretrain.resilience import choose_resume_checkpoint, finished_note
        cfg.load_from, note = choose_resume_checkpoint(cfg.work_dir)
        if cfg.load_from is None:
            if resume == "strict":
                raise ConfigError(f"--resume=strict: nothing to resume in {cfg.work_dir} (no checkpoint saved yet)")
            print(f"mae: nothing to resume in {cfg.work_dir}: starting fresh", flush=True)
            cfg.resume = False
        else:
            done = finished_note(cfg.load_from, cfg.train_cfg)
            if done:
                print(f"mae: {done}", flush=True)
                return None
    runner = build_runner(cfg, verbose)
    if note:
        runner.logger.warning(note)
    if load_from and not cfg.resume:
        load_weights(runner, load_from, pretrained=True)
    runner.train()
    from mmengine.dist import is_main_process
    from pretrain.resilience import mark_finished
    if is_main_process():  # asked before the process group is gone (every rank is rank 0 then)
        mark_finished(cfg.work_dir, runner.epoch, runner.iter)
    close_distributed()
    return runner
