"""Detection and segmentation evaluations of an MAE checkpoint, for `mae compare-targets`.

Each runs what a user runs for that config: `mae train CONFIG --cfg-options <pretrained key>=CKPT`
(the task backbone loads the encoder through the checkpoint library, with its key report), then
`mae test CONFIG <last checkpoint>`. `check_backbone` tries that same load on a freshly built encoder
before any work starts, so an encoder that cannot feed the task's backbone is a one-line error.
"""
import json
import os.path as osp
from importlib import import_module

from pretrain.errors import CheckpointError, ConfigError

# task -> where its config takes the MAE checkpoint (as its README / config comments tell users),
# where the backbone that receives it sits, the loader the backbone uses, and its table columns
# (column, metric name, scale to percent)
TASKS = {
    "detection": dict(pretrained="model.backbone.net.pretrained", backbone="model.backbone.net",
                      loader="transfer.detection.weights:load_mae_encoder",
                      columns=(("box AP", "bbox_mAP", 100.0), ("mask AP", "segm_mAP", 100.0))),
    "segmentation": dict(pretrained="model.pretrained", backbone="model.backbone",
                         loader="transfer.segmentation.weights:load_mae_checkpoint",
                         columns=(("mIoU", "mIoU", 1.0),)),
}


def columns(task: str) -> list:
    return [c for c, _, _ in TASKS[task]["columns"]]


def _loader(task: str):
    module, name = TASKS[task]["loader"].split(":")
    return getattr(import_module(module), name)


def _dig(cfg, dotted: str):
    for part in dotted.split("."):
        cfg = cfg[part]
    return cfg


def check_backbone(config: str, pretrain_options: dict, task: str, task_config: str, task_options: dict) -> None:
    """Load a randomly initialised MAE of the pretraining `config` into the task's backbone through
    the task's own loader (position tables resized as in the real run); a misfit is a ConfigError
    naming both configs. Every arm shares the encoder, so one check covers them all."""
    import copy

    from mmengine.registry import MODELS, DefaultScope

    from tools.config import load_config
    from tools.train import import_components

    import_components()
    pre = load_config(config, pretrain_options)
    model_cfg = copy.deepcopy(pre.model)
    model_cfg.target = dict(type="pixel")  # the target shapes only the decoder's output layer
    with DefaultScope.overwrite_default_scope(pre.get("default_scope", "pretrain")):
        state = MODELS.build(model_cfg).state_dict()
    tcfg = load_config(task_config, task_options)
    backbone_cfg = copy.deepcopy(_dig(tcfg, TASKS[task]["backbone"]))
    backbone_cfg.pop("pretrained", None)
    with DefaultScope.overwrite_default_scope(tcfg.get("default_scope", "pretrain")):
        backbone = MODELS.build(backbone_cfg)
    try:
        _loader(task)(backbone, state)
    except CheckpointError as e:
        def shape(c):
            return ", ".join(f"{k}={c[k]}" for k in ("arch", "in_chans", "patch_size", "embed_dim", "depth") if k in c)
        raise ConfigError(f"the MAE encoder of {config} ({shape(pre.model)}) cannot feed the {task} backbone of "
                          f"{task_config} ({backbone_cfg.get('type')}: {shape(backbone_cfg)}): "
                          f"{str(e).removeprefix('the given state dict does not match the model architecture: ')}"
                          ) from None


def read_columns(task: str, metrics: dict) -> dict:
    """The table's columns (percent) from `mae test`'s metrics."""
    out = {}
    for column, name, scale in TASKS[task]["columns"]:
        keys = [k for k in metrics if k.split("/")[-1] == name]
        if not keys:
            raise ConfigError(f"the {task} config reported no {name} (metrics: {sorted(metrics)})")
        out[column] = scale * float(metrics[keys[0]])
    return out


def finished(work_dir: str) -> str:
    """`mae test`'s metrics file of the evaluation in `work_dir` (it exists once the evaluation is done)."""
    from tools.test import METRICS_FILE

    return osp.join(work_dir, "test", METRICS_FILE)


def run_task_eval(task: str, config: str, work_dir: str, checkpoint: str, options: dict = None,
                  verbose: bool = False) -> dict:
    """Fine-tune `config` from the MAE `checkpoint` and test it; returns the task's columns. A finished
    test is read back, and an interrupted training resumes. `verbose`: mmengine's full console."""
    from tools.test import evaluate
    from tools.train import train

    done = finished(work_dir)
    if not osp.isfile(done):
        train(config, work_dir=work_dir, resume=osp.isdir(work_dir),
              options={**(options or {}), TASKS[task]["pretrained"]: osp.abspath(checkpoint)},
              verbose=verbose)
        with open(osp.join(work_dir, "last_checkpoint")) as f:  # written by mmengine's CheckpointHook
            last = f.read().strip()
        evaluate(config, last, work_dir=osp.dirname(done), options=dict(options or {}),
                 verbose=verbose)
    with open(done) as f:
        return read_columns(task, json.load(f)["metrics"])
