"""A scale of `mae ablate` (configs/ablate/NAME.py): the model, decoder widths, normalisation,
budgets and data reader that change between the CPU-sized Fashion-MNIST runs and ImageNet-100 on a
GPU, so the suites and loops stay one piece of code. Read with the project's config loader
(tools/config.py), so an override names an existing key or fails in one line."""
import os.path as osp

from pretrain.errors import ConfigError

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCALE_DIR = osp.join(REPO, "configs", "ablate")
DEFAULT = "fmnist"
REQUIRED = ("data", "description", "arch", "decoder", "mean", "std", "decoder_widths", "decoder_heads",
            "partial_blocks", "pca_k", "pca_fit_images", "tokenizer", "budgets")


def scale_path(scale: str) -> str:
    """A scale's file: a name under configs/ablate/ or a path to a config file."""
    return scale if scale.endswith(".py") else osp.join(SCALE_DIR, scale + ".py")


def load_scale(scale: str = DEFAULT, options: dict = None) -> dict:
    """The scale as a plain dict (with `name`), `options` merged in as `--cfg-options` are."""
    from tools.config import load_config

    path = scale_path(scale)
    if not osp.isfile(path):
        known = sorted(f[:-3] for f in __import__("os").listdir(SCALE_DIR) if f.endswith(".py"))
        raise ConfigError(f"unknown ablation scale {scale!r}: no {path} (scales: {known}, or a .py config path)")
    cfg = load_config(path, options).to_dict()
    missing = [k for k in REQUIRED if k not in cfg]
    if missing:
        raise ConfigError(f"ablation scale {path} lacks {missing}")
    if cfg["arch"]["img_size"] % cfg["arch"]["patch_size"]:
        raise ConfigError(f"scale {scale!r}: img_size {cfg['arch']['img_size']} is not a multiple of "
                          f"patch_size {cfg['arch']['patch_size']}")
    if 512 not in [paper for _, paper in cfg["decoder_widths"]]:
        raise ConfigError(f"scale {scale!r}: decoder_widths must include the paper's 512 (the reference arm)")
    cfg["name"] = osp.splitext(osp.basename(path))[0]
    return cfg


def study_spec(scale: dict, num_classes: int) -> dict:
    """What engine.py's loops train (their `args.spec`)."""
    return dict(arch=scale["arch"], decoder=scale["decoder"], mean=_stat(scale["mean"]), std=_stat(scale["std"]),
                num_classes=num_classes)


def _stat(v):
    return tuple(v) if isinstance(v, (list, tuple)) else v


def fingerprint(scale: dict) -> dict:
    """What an arm's cached result depends on beyond its budget (compared before reusing it)."""
    keys = ("arch", "decoder", "mean", "std", "decoder_heads", "pca_k", "pca_fit_images", "tokenizer")
    return {"name": scale["name"], **{k: scale[k] for k in keys}, "data": {k: v for k, v in scale["data"].items()
                                                                          if k not in ("root", "workers")}}
