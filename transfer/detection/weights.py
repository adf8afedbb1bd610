"""MAE encoder weights (ours, the official releases, or any layout the checkpoint library reads)
-> the ViTDet backbone, through `pretrain.checkpoint.load_pretrained`, with its key report.

Encoder keys are shared by name. What ViTDet lacks (class token, final norm) is reported as unused,
what the checkpoint lacks (relative-position tables, zero-initialised) as missing; the position
table is resized by the library. Anything else that does not fit is an error.
"""
from timm.layers import resample_patch_embed

from pretrain.checkpoint import encoder_state, load_checkpoint, load_pretrained

ALLOW_MISSING = ("blocks.*.attn.rel_pos_h", "blocks.*.attn.rel_pos_w")
ALLOW_UNEXPECTED = ("cls_token", "norm.weight", "norm.bias")


def fit_patch_embed(state: dict, model) -> list:
    """Resample a patch-embedding kernel of another size (ViT-H/14 weights into a patch-16 ViTDet,
    as ViTDet does for ViT-H); returns report rows for what it changed."""
    key = "patch_embed.proj.weight"
    want = tuple(model.patch_embed.proj.weight.shape[-2:])
    if key not in state or tuple(state[key].shape[-2:]) == want:
        return []
    old = tuple(state[key].shape)
    state[key] = resample_patch_embed(state[key].float(), list(want))
    return [(key, old, tuple(state[key].shape), "patch kernel resampled")]


def load_mae_encoder(model, path_or_state):
    """Load an MAE checkpoint's encoder (path or state dict) into a `ViTDet`; returns the report."""
    if isinstance(path_or_state, dict):
        state, source = path_or_state, "the given state dict"
    else:
        ckpt = load_checkpoint(path_or_state)
        state, source = ckpt.state, ckpt.source
    state = encoder_state(state, source)
    resized = fit_patch_embed(state, model)
    report = load_pretrained(model, state, source=source, allow_missing=ALLOW_MISSING,
                             allow_unexpected=ALLOW_UNEXPECTED)
    report.resized = resized + report.resized
    return report
