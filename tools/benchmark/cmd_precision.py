"""`mae bench precision`: the demo's training loss under bf16 autocast against fp32, same seed.

Both runs go through `mae train` with the same config and seed, so they see the same crops, flips
and masks; only the autocast precision differs. We compare per-epoch mean losses (one step's loss
is too noisy to compare across two diverging trajectories) and save both curves as a PNG.
On a CPU without AVX512-BF16/AMX bf16 matrix products are emulated, so the bf16 run is slow there.
"""
import json
import math
import os
import os.path as osp
import statistics
import time

DEMO = osp.join(osp.dirname(__file__), "..", "..", "configs", "pretrain",
                "mae_vit-tiny-p8_demo_cpu.py")


def iters_per_epoch(cfg) -> int:
    """Steps in one epoch of `cfg`'s loader (its dataset length over the total batch)."""
    import pretrain

    pretrain.register_all()
    from pretrain.registry import DATASETS

    from mmengine.registry import DefaultScope

    loader = cfg.train_dataloader
    # the config's scope, not whatever scope is current
    with DefaultScope.overwrite_default_scope(cfg.get("default_scope", "pretrain")):
        n = len(DATASETS.build(loader.dataset))
    return max(1, n // loader.batch_size) if loader.get("drop_last", False) else math.ceil(n / loader.batch_size)


def loss_history(runner) -> list:
    from pretrain.errors import ConfigError
    from pretrain.hooks import LossCurveHook

    hooks = [h for h in runner.hooks if isinstance(h, LossCurveHook)]
    if not hooks:
        raise ConfigError("the config has no LossCurveHook, so per-step losses are not recorded")
    return list(hooks[0].losses)


def epoch_means(losses: list, per_epoch: int) -> list:
    return [statistics.fmean(losses[i:i + per_epoch]) for i in range(0, len(losses), per_epoch)]


def run_precision_check(config: str, steps: int, work_dir: str, options: dict, precisions=("fp32", "bf16"),
                        tolerance: float = 0.02, log=print) -> dict:
    from tools.train import load_config, train

    per_epoch = iters_per_epoch(load_config(config, options))
    epochs = math.ceil(steps / per_epoch)
    runs = {}
    for prec in precisions:
        opts = dict(options, max_epochs=epochs, **{"optim_wrapper.precision": prec})
        log(f"== {prec}: {epochs} epochs x {per_epoch} steps of {osp.basename(config)}", flush=True)
        t = time.perf_counter()
        runner = train(config, work_dir=osp.join(work_dir, prec), options=opts)
        runs[prec] = {"losses": loss_history(runner), "seconds": time.perf_counter() - t}
    ref, low = (runs[p] for p in precisions)
    means = {p: epoch_means(runs[p]["losses"], per_epoch) for p in precisions}
    rel = [abs(b - a) / abs(a) for a, b in zip(means[precisions[0]], means[precisions[1]])]
    step_rel = [abs(b - a) / abs(a) for a, b in zip(ref["losses"], low["losses"])]
    out = {"config": osp.abspath(config), "options": options, "steps": len(ref["losses"]), "epochs": epochs,
           "steps_per_epoch": per_epoch, "precisions": list(precisions), "runs": runs, "epoch_mean_loss": means,
           "epoch_rel_diff": rel, "max_epoch_rel_diff": max(rel), "final_epoch_rel_diff": rel[-1],
           "max_step_rel_diff": max(step_rel),
           "tolerance": tolerance, "within_tolerance": max(rel) <= tolerance}
    return out


def print_precision(out: dict) -> None:
    a, b = out["precisions"]
    print(f"\n{'epoch':>5} {a + ' loss':>10} {b + ' loss':>10} {'rel diff':>9}")
    for i, (x, y, r) in enumerate(zip(out["epoch_mean_loss"][a], out["epoch_mean_loss"][b], out["epoch_rel_diff"])):
        print(f"{i + 1:>5} {x:>10.4f} {y:>10.4f} {r:>8.2%}")
    print(f"{out['steps']} steps; {a} run {out['runs'][a]['seconds']:.0f} s, {b} run {out['runs'][b]['seconds']:.0f} s")
    verdict = "within" if out["within_tolerance"] else "NOT within"
    print(f"per-epoch mean loss, {b} vs {a}: max relative difference {out['max_epoch_rel_diff']:.2%}, "
          f"last epoch {out['final_epoch_rel_diff']:.2%} ({verdict} {out['tolerance']:.0%}); "
          f"largest single-step difference {out['max_step_rel_diff']:.2%}")


def plot_precision(out: dict, path: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(7, 5.5), sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    per = out["steps_per_epoch"]
    for p in out["precisions"]:
        losses = out["runs"][p]["losses"]
        ax.plot(range(1, len(losses) + 1), losses, lw=0.8, alpha=0.6, label=f"{p} (per step)")
        ax.plot([per * (i + 0.5) for i in range(len(out["epoch_mean_loss"][p]))], out["epoch_mean_loss"][p],
                marker="o", ms=3, label=f"{p} (epoch mean)")
    ax.set_ylabel("loss (masked patches)")
    ax.set_title(f"bf16 autocast vs fp32, same seed: {osp.basename(out['config'])}")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    ax2.plot([per * (i + 0.5) for i in range(len(out["epoch_rel_diff"]))], [100 * r for r in out["epoch_rel_diff"]],
             marker="o", ms=3, color="k")
    ax2.axhline(100 * out["tolerance"], color="r", ls="--", lw=1, label="tolerance")
    ax2.set_xlabel("step")
    ax2.set_ylabel("epoch-mean |diff| (%)")
    ax2.legend(fontsize=8)
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def cmd_precision(args) -> dict:
    out = run_precision_check(args.config, args.steps, args.work_dir, dict(args.cfg_options or {}),
                              tolerance=args.tolerance)
    print_precision(out)
    if args.png:
        print(f"wrote {plot_precision(out, args.png)}")
    if args.json:
        os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
        print(f"wrote {args.json}")
    return out


def add_parser(sub) -> None:
    from tools.cli_args import DictAction

    s = sub.add_parser("precision", help="demo training loss: bf16 autocast against fp32 at the same seed")
    s.add_argument("--config", default=osp.normpath(DEMO), help="training config (default: the README demo)")
    s.add_argument("--steps", type=int, default=200, help="at least this many steps (whole epochs)")
    s.add_argument("--tolerance", type=float, default=0.02, help="allowed relative difference of epoch-mean losses")
    s.add_argument("--work-dir", default="work_dirs/bench/precision", help="where both runs train")
    s.add_argument("--json", default=None, help="write the results here")
    s.add_argument("--png", default="work_dirs/bench/precision.png", help="loss curves ('' for none)")
    s.add_argument("--cfg-options", nargs="+", action=DictAction, default={}, help="as for mae train")
    s.set_defaults(func=cmd_precision)
