"""MAE checkpoint -> ViT for a downstream task, through pretrain's checkpoint library.

    vit = pretrained_vit("mae_pretrain_vit_base.pth", img_size=224, drop_path_rate=0.1)
    feats = vit.get_intermediate_layers(images, [3, 5, 7, 11])   # (B, D, h, w) maps

Tasks with their own ViT subclass (a head, window attention, ...) pass `cls` and the keys they
add as `allow_missing`; the load report goes to the current mmengine logger.
"""
from typing import Optional

from mmengine.logging import print_log

from pretrain.archs import get_arch
from pretrain.checkpoint import CheckpointError, LoadReport, infer_arch, load_checkpoint, load_pretrained
from pretrain.vit import ViT


def vit_kwargs(state: dict, arch: Optional[str] = None, num_heads: Optional[int] = None) -> dict:
    """ViT constructor arguments: the named architecture, else what the weights determine (head
    count from the architecture table or `num_heads`, never guessed)."""
    if arch is not None:
        return get_arch(arch).kwargs()
    a = infer_arch(state)
    heads = num_heads or a.num_heads
    if heads is None:
        raise CheckpointError(f"the weights hold a {a.describe()}, not a known architecture: give arch= or num_heads=")
    return dict(embed_dim=a.embed_dim, depth=a.depth, num_heads=heads, patch_size=a.patch_size,
                in_chans=a.in_chans, mlp_ratio=a.mlp_ratio)


def log_report(report: LoadReport) -> None:
    print_log(f"pretrained weights: {report.summary()}", logger="current")


def pretrained_vit(checkpoint: str, *, arch: Optional[str] = None, num_heads: Optional[int] = None, cls=ViT,
                   allow_missing=(), allow_unexpected=(), **kwargs) -> ViT:
    """`cls(**architecture, **kwargs)` with the checkpoint's encoder loaded strictly (position
    table resized to the model's grid); the load report is logged."""
    ckpt = load_checkpoint(checkpoint)
    saved = {k: ckpt.model_cfg[k] for k in ("num_heads",) if k in ckpt.model_cfg}
    model = cls(**{**vit_kwargs(ckpt.state, arch, num_heads or saved.get("num_heads")), **kwargs})
    log_report(load_pretrained(model, ckpt.state, allow_missing=allow_missing, allow_unexpected=allow_unexpected,
                               source=checkpoint))
    return model
