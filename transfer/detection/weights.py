"""MAE encoder weights (ours or the official releases) -> the ViTDet backbone, with a key report.

The encoder keys are shared by name; what ViTDet lacks (class token, final norm, the decoder) is
reported as unused, what the checkpoint lacks (relative-position tables, zero-initialised) as
missing. Anything else that does not fit (another width or depth) is an error.
"""
import fnmatch

from timm.layers import resample_abs_pos_embed, resample_patch_embed

from pretrain.checkpoint import CheckpointError, load_state, read_state_dict

ALLOW_MISSING = ("blocks.*.attn.rel_pos_h", "blocks.*.attn.rel_pos_w")
ALLOW_UNEXPECTED = ("cls_token", "norm.weight", "norm.bias", "fc_norm.*", "head.*", "mask_token", "decoder*")


def _matches(key: str, patterns) -> bool:
    return any(fnmatch.fnmatchcase(key, p) for p in patterns)


def fit_patch_embed(state: dict, model) -> list:
    """Resample a patch-embedding kernel of another size (e.g. ViT-H/14 weights into a patch-16
    ViTDet, as ViTDet does for ViT-H); returns the keys it changed."""
    key = "patch_embed.proj.weight"
    want = model.patch_embed.proj.weight.shape[-2:]
    if key in state and state[key].shape[-2:] != want:
        state[key] = resample_patch_embed(state[key].float(), list(want))
        return [key]
    return []


def fit_pos_embed(state: dict, model) -> list:
    """Resize the checkpoint's absolute position table to the ViTDet's pretraining grid."""
    key = "pos_embed"
    if key not in state or state[key].shape == model.pos_embed.shape:
        return []
    old = int(round((state[key].shape[1] - 1) ** 0.5))
    new = int(round((model.pos_embed.shape[1] - 1) ** 0.5))
    state[key] = resample_abs_pos_embed(state[key].float(), [new, new], [old, old], num_prefix_tokens=1)
    return [key]


def load_mae_encoder(model, path_or_state):
    """Load an MAE checkpoint's encoder into a `ViTDet`; returns the load report."""
    state = read_state_dict(path_or_state) if isinstance(path_or_state, str) else dict(path_or_state)
    source = path_or_state if isinstance(path_or_state, str) else "state dict"
    if not any(k.startswith("blocks.") for k in state):
        raise CheckpointError(f"{source} has no ViT encoder blocks (found keys like {sorted(state)[:4]})")
    resized = fit_patch_embed(state, model) + fit_pos_embed(state, model)
    report = load_state(model, state, strict=False, source=source)
    bad = [k for k in report.missing if not _matches(k, ALLOW_MISSING)]
    bad += [k for k in report.unexpected if not _matches(k, ALLOW_UNEXPECTED)]
    if bad or report.mismatched:
        raise CheckpointError(f"{source} does not fit this ViTDet ({model.embed_dim} wide, {model.depth} blocks):\n"
                              + report.summary())
    report.resized = resized
    return report

