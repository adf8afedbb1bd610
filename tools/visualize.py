"""`mae visualize CHECKPOINT IMAGE...`: reconstruction picture from a pretrained MAE."""
import torch

from pretrain.checkpoint import CheckpointError, load_file, load_state, state_dict_of
from pretrain.data import load_image
from pretrain.mae import MaskedAutoencoder
from pretrain.vit import ARCHS
from pretrain.visualize import fixed_noise, norm_stats, normalize, reconstruction_panels, save_reconstruction_png


def infer_model_cfg(state: dict) -> dict:
    """Architecture from the weights alone, for official checkpoints that carry no config.
    Head counts are not stored in weights: they come from the paper's architectures (ViT-H has
    16 heads of 80), else width/64, and 16 for the decoder as in the official models."""
    try:
        w = state["patch_embed.proj.weight"]
        dim, in_chans, patch = w.shape[0], w.shape[1], w.shape[2]
        n = state["pos_embed"].shape[1] - 1
        dec_dim = state["decoder_embed.weight"].shape[0]
    except KeyError as e:
        raise CheckpointError(f"not an MAE pretraining checkpoint (no {e.args[0]}); it needs the decoder") from None
    side = int(round(n ** 0.5))
    depth = len({k.split(".")[1] for k in state if k.startswith("blocks.")})
    dec_depth = len({k.split(".")[1] for k in state if k.startswith("decoder_blocks.")})
    hidden = state["blocks.0.mlp.fc1.weight"].shape[0]
    known = {(d, n): h for d, n, h, _ in ARCHS.values()}
    return dict(img_size=side * patch, patch_size=patch, in_chans=in_chans, embed_dim=dim, depth=depth,
                num_heads=known.get((dim, depth), max(1, dim // 64)), decoder_embed_dim=dec_dim, decoder_depth=dec_depth,
                decoder_num_heads=16 if dec_dim % 16 == 0 else max(1, dec_dim // 32), mlp_ratio=hidden / dim)


def load_mae(path: str, mask_ratio: float = None) -> MaskedAutoencoder:
    ckpt = load_file(path)
    state = state_dict_of(ckpt, path)
    meta = ckpt.get("meta", {}) if isinstance(ckpt, dict) else {}
    cfg = {k: v for k, v in dict(meta.get("model_cfg") or {}).items() if k != "type"}
    if not cfg:
        cfg = infer_model_cfg(state)
        cfg["norm_pix_loss"] = True  # the released checkpoints were trained with it
    if mask_ratio is not None:
        cfg["mask_ratio"] = mask_ratio
    model = MaskedAutoencoder(**cfg)
    load_state(model, state, strict=True, source=path)
    return model.eval()


def visualize(checkpoint: str, images: list, out: str, mask_ratio: float = None, seed: int = 0) -> str:
    model = load_mae(checkpoint, mask_ratio)
    size = model.grid[0] * model.patch_size
    imgs = normalize(torch.stack([load_image(p, size) for p in images]), *norm_stats(model))
    noise = fixed_noise(imgs.shape[0], model.grid[0] * model.grid[1], seed)
    panels = reconstruction_panels(model, imgs, noise)
    return save_reconstruction_png(panels, out, title=f"{checkpoint} (mask ratio {model.sampler.mask_ratio})")
