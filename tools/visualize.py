"""`mae visualize CHECKPOINT IMAGE...`: reconstruction picture from a pretrained MAE."""
import torch

from pretrain.checkpoint import load_checkpoint, load_pretrained, resolve_model_cfg
from pretrain.data import load_image
from pretrain.mae import MaskedAutoencoder
from pretrain.visualize import fixed_noise, norm_stats, normalize, reconstruction_panels, save_reconstruction_png


def load_mae(path: str, mask_ratio: float = None, num_heads: int = None, decoder_num_heads: int = None,
             norm_pix_loss: bool = None, log=print) -> MaskedAutoencoder:
    """The MAE a checkpoint holds. Settings the weights do not determine (head counts,
    norm_pix_loss) come from the arguments, the file's config or the architecture table, and
    `log` is told which; what none of them gives is an error naming the flag."""
    ckpt = load_checkpoint(path)
    cfg, origin = resolve_model_cfg(ckpt.state, ckpt.model_cfg, num_heads, decoder_num_heads, norm_pix_loss)
    if mask_ratio is not None:
        cfg["mask_ratio"], origin["mask_ratio"] = mask_ratio, "given"
    shown = ("num_heads", "decoder_num_heads", "norm_pix_loss", "mask_ratio")
    log(f"{path} ({ckpt.layout} layout): " + ", ".join(f"{k}={cfg[k]} ({origin[k]})" for k in shown if k in cfg))
    model = MaskedAutoencoder(**cfg)
    load_pretrained(model, ckpt.state, source=path)
    return model.eval()


def visualize(checkpoint: str, images: list, out: str, mask_ratio: float = None, seed: int = 0, **settings) -> str:
    model = load_mae(checkpoint, mask_ratio, **settings)
    size = model.grid[0] * model.patch_size
    imgs = normalize(torch.stack([load_image(p, size) for p in images]), *norm_stats(model))
    noise = fixed_noise(imgs.shape[0], model.grid[0] * model.grid[1], seed)
    panels = reconstruction_panels(model, imgs, noise)
    return save_reconstruction_png(panels, out, title=f"{checkpoint} (mask ratio {model.sampler.mask_ratio})")
