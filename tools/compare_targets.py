"""`mae compare-targets`: pixel vs token targets (the paper's Tables 1d and 7) in one command.

One MAE per target, all from the same pretraining config (same data, budget and seed), each then
evaluated with the same linear-probe and fine-tune configs and, when given, a detection config (COCO
box and mask AP) and a segmentation config (mIoU), each run as `mae train` / `mae test` would with the
arm's checkpoint as the config's pretrained weights (`tools/dense_eval.py`). Results:
`compare_targets.md` (rows: targets, columns: evaluations, last row: token - norm_pixel),
`compare_targets.json` and `compare_targets.png`. Every finished step leaves a file, so a rerun skips
what is done, and an evaluation added later runs on the finished arms.
"""
import json
import os
import os.path as osp

from pretrain.errors import ConfigError
from tools import dense_eval

KINDS = ("pixel", "norm_pixel", "pca", "token")  # pretrain.target_family.KINDS, without importing torch here

DEFAULT_TOKENIZER = "configs/tokenizer/dvae-v512-d8_embedded_cpu.py"
EVALS = (("linear probe", "configs/classification/vit-tiny-p8_linprobe_embedded_cpu.py"),
         ("fine-tune", "configs/classification/vit-tiny-p8_ft_embedded_cpu.py"))


def parse_targets(text: str) -> list:
    targets = [t.strip() for t in text.split(",") if t.strip()]
    bad = [t for t in targets if t not in KINDS]
    if bad or not targets or len(set(targets)) != len(targets):
        raise ConfigError(f"--targets must list distinct targets from {list(KINDS)}, got {text!r}")
    return targets


def arm_config(config: str, target: str, out_dir: str, tokenizer: str = None, pca_k: int = 96) -> str:
    """A config file for one arm: the shared pretraining config plus its target (kept with the run)."""
    from tools.config import load_config

    base = load_config(config)
    spec = {"pixel": dict(type="pixel"), "norm_pixel": dict(type="norm_pixel"),
            "pca": dict(type="pca", k=pca_k)}.get(target)
    if target == "token":  # 'dvae' or 'vq', as the trained file says
        from pretrain.tokenizers import tokenizer_type
        spec = dict(type="token", tokenizer=dict(type=tokenizer_type(tokenizer), checkpoint=tokenizer))
    hooks = [h for h in base.get("custom_hooks", []) if not (target == "token" and h["type"] == "ReconstructionHook")]
    if target == "pca":
        hooks = [dict(type="PCATargetHook")] + hooks
    path = osp.join(out_dir, f"pretrain_{target}.py")
    with open(path, "w") as f:
        f.write(f"_base_ = [{osp.abspath(config)!r}]\nmodel = dict(target={spec!r})\n"
                f"custom_hooks = {[dict(h) for h in hooks]!r}\n")
    return path


def top1(metrics: dict) -> float:
    keys = [k for k in metrics if k.split("/")[-1] == "top1"]
    if not keys:
        raise ConfigError(f"the evaluation config reported no top-1 accuracy (metrics: {sorted(metrics)})")
    return float(metrics[keys[0]])


def run_eval(config: str, work_dir: str, checkpoint: str, options: dict = None,
             verbose: bool = False) -> dict:
    """Trains and tests one evaluation config from the MAE `checkpoint`; returns the test metrics.

    Built here rather than through `tools.train.train`, whose key check is the pretraining one and
    whose `load_from` is a strict full-model load: an evaluation loads only the encoder, with the
    task model's own rules (the new head may be missing, the decoder is left out). The console is
    `mae train`'s (tools/console.py) unless `verbose`."""
    from mmengine.config import Config
    from pretrain.checkpoint import load_pretrained
    from pretrain.hooks import bare_model
    from tools.config import check_key
    from tools.console import build_runner
    from tools.train import import_components

    import_components()

    if not osp.isfile(config):
        raise ConfigError(f"config file not found: {config}")
    cfg = Config.fromfile(config)
    for key in options or {}:
        check_key(cfg, key, config)
    cfg.merge_from_dict(dict(options or {}))
    cfg.work_dir, cfg.load_from, cfg.resume, cfg.launcher = work_dir, None, False, "none"
    runner = build_runner(cfg, verbose)
    model = bare_model(runner)
    rules = model.load_from_rules() if hasattr(model, "load_from_rules") else {}
    report = load_pretrained(model, checkpoint, source=checkpoint, **rules)
    runner.logger.info(f"initialised from {report.summary()}")
    runner.train()
    return runner.test()


def eval_columns(name: str, task: str) -> list:
    """A classification evaluation is one column (top-1); a detection or segmentation one, its metrics."""
    return [name] if task == "classification" else dense_eval.columns(task)


def all_columns(evals) -> list:
    return [c for name, _, task in evals for c in eval_columns(name, task)]


def save_result(path: str, result: dict) -> None:
    with open(path + ".tmp", "w") as f:
        json.dump(result, f, indent=1)
    os.replace(path + ".tmp", path)


def run_arm(config, target, arm_dir, evals, tokenizer, pca_k, pretrain_options, options, log,
            result, verbose=False) -> dict:
    """Pretrain (unless its checkpoint exists), then every evaluation whose columns `result` lacks;
    `result` is saved after each one. `options`: task -> config overrides. `verbose`: mmengine's
    full console output for every run."""
    from tools.train import train

    os.makedirs(arm_dir, exist_ok=True)
    ckpt = osp.join(arm_dir, "pretrain", "checkpoint-final.pth")
    if not osp.isfile(ckpt):
        runner = train(arm_config(config, target, arm_dir, tokenizer, pca_k),
                       work_dir=osp.join(arm_dir, "pretrain"), options=dict(pretrain_options or {}),
                       verbose=verbose)
        del runner
    result.update(target=target, checkpoint=ckpt)
    for name, eval_config, task in evals:
        if all(c in result for c in eval_columns(name, task)):
            log(f"  {target}: {name} (done, skipped)")
            continue
        task_dir = osp.join(arm_dir, task)
        read_back = task != "classification" and osp.isfile(dense_eval.finished(task_dir))
        log(f"  {target}: {name} ({eval_config})" + (" (done, read back)" if read_back else ""))
        if task == "classification":
            result[name] = top1(run_eval(eval_config, osp.join(arm_dir, name.replace(" ", "_")), ckpt,
                                         options.get(task), verbose))
        else:
            result.update(dense_eval.run_task_eval(task, eval_config, task_dir, ckpt,
                                                   options.get(task), verbose))
        save_result(osp.join(arm_dir, "result.json"), result)
    return result


def table(results: list, names: list) -> str:
    """Markdown: a row per target, a column per name in `names`, then token - norm_pixel."""
    lines = ["| target | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for r in results:
        lines.append(f"| {r['target']} | " + " | ".join(f"{r[n]:.1f}" for n in names) + " |")
    by = {r["target"]: r for r in results}
    if "token" in by and "norm_pixel" in by:
        lines.append("| token - norm_pixel | " + " | ".join(f"{by['token'][n] - by['norm_pixel'][n]:+.1f}"
                                                          for n in names) + " |")
    return "\n".join(lines)


def plot(results: list, names: list, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1.8 + 1.6 * len(names), 3.2))
    width = 0.8 / len(results)
    for i, r in enumerate(results):
        ax.bar([j + i * width for j in range(len(names))], [r[n] for n in names], width, label=r["target"])
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(names))], names)
    ax.set_ylabel("top-1 / AP / mIoU (%)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def compare_targets(config: str, targets: list, work_dir: str, evals=EVALS, tokenizer: str = None,
                    tokenizer_config: str = DEFAULT_TOKENIZER, tokenizer_options: dict = None, pca_k: int = 96,
                    pretrain_options: dict = None, eval_options: dict = None, log=print, detection: str = None,
                    segmentation: str = None, detection_options: dict = None,
                    segmentation_options: dict = None, verbose: bool = False) -> dict:
    """Runs (or resumes) the comparison; returns {'results': [...], 'table': markdown}. `evals`:
    (name, config) classification pairs; `detection` / `segmentation`: optional task configs.
    Every run has `mae train`'s quiet console (its full record in its log file) unless `verbose`."""
    from tools.config import load_config
    from tools.train import train

    load_config(config, pretrain_options)  # a bad path or key fails now, not after hours of work
    options = dict(classification=eval_options, detection=detection_options, segmentation=segmentation_options)
    tasks = [(n, c, "classification") for n, c in evals]
    tasks += [(task, cfg, task) for task, cfg in (("detection", detection), ("segmentation", segmentation)) if cfg]
    for _, cfg, task in tasks[len(evals):]:  # an encoder the task's backbone cannot take fails now too
        dense_eval.check_backbone(config, pretrain_options, task, cfg, options[task])
    os.makedirs(work_dir, exist_ok=True)
    if "token" in targets and tokenizer is None:
        tokenizer = osp.join(work_dir, "tokenizer", "tokenizer.pth")
        if osp.isfile(tokenizer):
            log(f"tokenizer: {tokenizer} (done, skipped)")
        else:
            log(f"tokenizer: training {tokenizer_config}")
            train(tokenizer_config, work_dir=osp.dirname(tokenizer),
                  options=dict(tokenizer_options or {}), verbose=verbose)
    names = all_columns(tasks)
    results = []
    for k, target in enumerate(targets, 1):
        done = osp.join(work_dir, target, "result.json")
        result = {}
        if osp.isfile(done):
            with open(done) as f:
                result = json.load(f)
        if all(n in result for n in names):
            log(f"arm {k} of {len(targets)}: {target} (done, skipped)")
        else:
            log(f"arm {k} of {len(targets)}: {target}")
            run_arm(config, target, osp.join(work_dir, target), tasks, tokenizer, pca_k, pretrain_options,
                    options, log, result, verbose)
        results.append(result)
    md = table(results, names)
    with open(osp.join(work_dir, "compare_targets.md"), "w") as f:
        f.write(f"Pretraining config: `{config}`; evaluations: " + ", ".join(f"{n} `{c}`" for n, c, _ in tasks)
                + " (scores in %)\n\n" + md + "\n")
    with open(osp.join(work_dir, "compare_targets.json"), "w") as f:
        json.dump({"config": config, "evals": {n: c for n, c, _ in tasks}, "columns": names, "results": results},
                  f, indent=1)
    plot(results, names, osp.join(work_dir, "compare_targets.png"))
    return {"results": results, "table": md}


def add_parser(sub) -> None:
    from tools.cli_args import DictAction

    c = sub.add_parser("compare-targets", help="pretrain one MAE per target (pixel, norm_pixel, pca, token) "
                       "and evaluate each the same way: a Table-7-style table, JSON and plot")
    c.add_argument("config", help="the shared pretraining config")
    c.add_argument("--targets", default="pixel,norm_pixel,token", help=f"comma-separated, from {list(KINDS)}")
    c.add_argument("--work-dir", default="work_dirs/compare_targets", help="one folder per arm; rerun to resume")
    c.add_argument("--probe", default=EVALS[0][1], help="linear-probe config ('none' to skip)")
    c.add_argument("--finetune", default=EVALS[1][1], help="fine-tune config ('none' to skip)")
    c.add_argument("--tokenizer", help="a trained tokenizer.pth (default: train one with --tokenizer-config)")
    c.add_argument("--tokenizer-config", default=DEFAULT_TOKENIZER, help="how to train the tokenizer when "
                   "--tokenizer is not given: the dVAE, or configs/tokenizer/vq-v512-d8_embedded_cpu.py")
    c.add_argument("--pca-k", type=int, default=96, help="principal components of the pca target")
    c.add_argument("--detection", help="a detection config (e.g. configs/detection/mask-rcnn_vit-tiny_synthetic_cpu.py)"
                   ": each arm's checkpoint becomes its model.backbone.net.pretrained; adds box AP and mask AP")
    c.add_argument("--segmentation", help="a segmentation config (e.g. configs/segmentation/upernet_mae_vit-tiny-"
                   "p8_synthetic-ade20k-64x64_cpu.py): each arm's checkpoint becomes its model.pretrained; adds mIoU")
    for flag, what in (("--cfg-options", "pretraining"), ("--eval-options", "both classification evaluations"),
                       ("--detection-options", "the detection evaluation"),
                       ("--segmentation-options", "the segmentation evaluation"),
                       ("--tokenizer-options", "tokenizer training")):
        c.add_argument(flag, nargs="+", action=DictAction, default={}, help=f"config overrides for {what}")
    c.add_argument("--verbose", action="store_true",
                   help="mmengine's full console output for every run: environment, config, "
                        "every log line, no progress bar (default: each run's log file only)")
    c.set_defaults(func=_main)


def _main(args) -> None:
    evals = tuple((n, cfg) for n, cfg in (("linear probe", args.probe), ("fine-tune", args.finetune))
                  if cfg.lower() != "none")
    if not evals and not args.detection and not args.segmentation:
        raise ConfigError("nothing to evaluate: give --probe, --finetune, --detection and/or --segmentation")
    out = compare_targets(args.config, parse_targets(args.targets), args.work_dir, evals, args.tokenizer,
                          args.tokenizer_config, args.tokenizer_options, args.pca_k, args.cfg_options,
                          args.eval_options, detection=args.detection, segmentation=args.segmentation,
                          detection_options=args.detection_options,
                          segmentation_options=args.segmentation_options, verbose=args.verbose)
    print(f"wrote {osp.join(args.work_dir, 'compare_targets.md')}, compare_targets.json, "
          "compare_targets.png")
    print(out["table"])  # the last lines, as in `mae compare-targets ... | tail`
