"""`mae test CONFIG CHECKPOINT`: the config's test loop on a checkpoint, for any task. The metrics
are printed as a table and written to `<work_dir>/test_metrics.json`; the work dir defaults to
`<checkpoint folder>/test_<checkpoint name>/`, so each checkpoint's metrics stay beside it, and a
metrics file of another checkpoint is never overwritten. The console is `mae train`'s
(tools/console.py): environment, config and hooks in the log file, a progress line on a terminal."""
import json
import numbers
import os
import os.path as osp

from pretrain.errors import CheckpointError
from tools.config import ConfigError, finalize, load_config
from tools.train import close_distributed, import_components, load_weights

TEST_KEYS = ("test_dataloader", "test_cfg", "test_evaluator")
METRICS_FILE = "test_metrics.json"


def plain(value):
    """Metric values as JSON-ready numbers or lists (evaluators may return tensors or numpy)."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, numbers.Number):
        return float(value) if not isinstance(value, bool) else value
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return str(value)


def metrics_table(metrics: dict) -> str:
    rows = [(name, f"{v:.4f}" if isinstance(v, float) else str(v)) for name, v in metrics.items()]
    rows = rows or [("(no metrics)", "")]
    width = max(len("metric"), *(len(n) for n, _ in rows))
    lines = [f"{'metric':<{width}}  value", f"{'-' * width}  {'-' * 10}"]
    return "\n".join(lines + [f"{n:<{width}}  {v}" for n, v in rows])


def default_work_dir(checkpoint: str) -> str:
    """`<checkpoint folder>/test_<checkpoint name>`: epoch_1.pth and epoch_2.pth of one run get
    test_epoch_1/ and test_epoch_2/ (a Hugging Face folder: test_<folder name> beside it)."""
    path = osp.normpath(osp.abspath(checkpoint))
    name = osp.splitext(osp.basename(path))[0] if osp.isfile(path) else osp.basename(path)
    return osp.join(osp.dirname(path), f"test_{name}")


def check_metrics_file(path: str, checkpoint: str) -> None:
    """Refuse to replace the metrics of another checkpoint (the same one's are rewritten)."""
    if not osp.isfile(path):
        return
    try:
        with open(path) as f:
            other = json.load(f).get("checkpoint")
    except (OSError, ValueError, AttributeError):
        other = None
    if other != osp.abspath(checkpoint):
        raise ConfigError(f"{path} holds the metrics of {other or 'an unknown checkpoint'}; give "
                          f"another --work-dir (default: test_<checkpoint name>/ beside it)")


def evaluate(config_path: str, checkpoint: str, work_dir: str = None, options: dict = None,
             verbose: bool = False) -> dict:
    """Run the test loop on `checkpoint` (loaded strictly through pretrain's checkpoint library);
    returns {'metrics': ..., 'json': path}. `verbose`: mmengine's full console output."""
    import_components()
    from tools.console import build_runner

    if not osp.exists(checkpoint):
        raise CheckpointError(f"checkpoint not found: {checkpoint}")
    if work_dir is None and not os.access(osp.dirname(osp.abspath(checkpoint)), os.W_OK):
        raise ConfigError(f"cannot write beside {checkpoint} (test_<checkpoint name>/): "
                          f"give --work-dir")
    cfg = finalize(load_config(config_path, options), config_path,
                   work_dir or default_work_dir(checkpoint))
    missing = [k for k in TEST_KEYS if not cfg.get(k)]
    if missing:
        raise ConfigError(f"{config_path} has no test loop: {', '.join(missing)} not set")
    check_metrics_file(osp.join(cfg.work_dir, METRICS_FILE), checkpoint)
    cfg.load_from, cfg.resume = None, False
    os.makedirs(cfg.work_dir, exist_ok=True)
    runner = build_runner(cfg, verbose)
    load_weights(runner, checkpoint)
    metrics = {k: plain(v) for k, v in (runner.test() or {}).items()}
    close_distributed()
    path = osp.join(cfg.work_dir, METRICS_FILE)
    with open(path, "w") as f:
        json.dump({"config": osp.abspath(config_path), "checkpoint": osp.abspath(checkpoint),
                   "metrics": metrics}, f, indent=2)
    return {"metrics": metrics, "json": path}
