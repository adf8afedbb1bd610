"""`mae test CONFIG CHECKPOINT`: the config's test loop on a checkpoint, for any task. The metrics
are printed as a table and written to `<work_dir>/test_metrics.json`."""
import json
import numbers
import os
import os.path as osp

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


def evaluate(config_path: str, checkpoint: str, work_dir: str = None, options: dict = None) -> dict:
    """Run the test loop on `checkpoint` (loaded strictly through pretrain's checkpoint library);
    returns {'metrics': ..., 'json': path}."""
    import_components()
    from mmengine.runner import Runner

    cfg = finalize(load_config(config_path, options), config_path, work_dir)
    missing = [k for k in TEST_KEYS if not cfg.get(k)]
    if missing:
        raise ConfigError(f"{config_path} has no test loop: {', '.join(missing)} not set")
    cfg.load_from, cfg.resume = None, False
    os.makedirs(cfg.work_dir, exist_ok=True)
    runner = Runner.from_cfg(cfg)
    load_weights(runner, checkpoint)
    metrics = {k: plain(v) for k, v in (runner.test() or {}).items()}
    close_distributed()
    path = osp.join(cfg.work_dir, METRICS_FILE)
    with open(path, "w") as f:
        json.dump({"config": osp.abspath(config_path), "checkpoint": osp.abspath(checkpoint), "metrics": metrics},
                  f, indent=2)
    return {"metrics": metrics, "json": path}
