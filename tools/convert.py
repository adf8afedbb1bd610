"""`mae convert CHECKPOINT --to {timm,hf,official} --out PATH`: our weights in other toolkits' layouts.

Reading goes through `pretrain.checkpoint`, so any layout it reads converts (Hugging Face
folders to 'official' included). Settings the weights do not store (head counts, norm_pix_loss,
needed by Hugging Face's config) come from the file, the architecture table or the flags.
"""
import os

from pretrain.checkpoint import encoder_state, hf_config, load_checkpoint, resolve_model_cfg, save_state, to_hf
from pretrain.errors import ConfigError

TARGETS = ("timm", "hf", "official")


def write_hf(state: dict, cfg: dict, out: str) -> str:
    """A Hugging Face model folder: config.json + model.safetensors in the Hub's key names."""
    from safetensors.torch import save_file

    os.makedirs(out, exist_ok=True)
    hf_config(cfg).save_pretrained(out)
    weights = to_hf(state)
    if "decoder_embed_dim" not in cfg:  # ViTModel: no 'vit.' prefix
        weights = {k[4:] if k.startswith("vit.") else k: v for k, v in weights.items()}
    save_file({k: v.detach().cpu().contiguous() for k, v in weights.items()}, os.path.join(out, "model.safetensors"),
              metadata={"format": "pt"})
    return out


def convert(checkpoint: str, to: str, out: str, num_heads: int = None, decoder_num_heads: int = None,
            norm_pix_loss: bool = None, log=print) -> str:
    if to not in TARGETS:
        raise ConfigError(f"--to must be one of {TARGETS}, got {to!r}")
    ckpt = load_checkpoint(checkpoint)
    if to == "timm":  # timm's ViT uses our names: the encoder alone loads strictly
        path = save_state(encoder_state(ckpt.state, checkpoint), out)
        what = "encoder (timm VisionTransformer names)"
    elif to == "official":
        path = save_state(ckpt.state, out, wrap="model")
        what = "encoder + decoder" if any(k.startswith("decoder_") for k in ckpt.state) else "encoder"
        what += " ({'model': state_dict}, official MAE names)"
    else:
        state = {k: v for k, v in ckpt.state.items() if k != "encoder_mask_token"}
        cfg, origin = resolve_model_cfg(state, ckpt.model_cfg, num_heads, decoder_num_heads, norm_pix_loss,
                                        need_decoder=False)
        if "decoder_embed_dim" not in cfg:
            state = encoder_state(state, checkpoint)
        log("Hugging Face config: " + ", ".join(f"{k}={cfg[k]} ({origin[k]})" for k in
                                                 ("num_heads", "decoder_num_heads", "norm_pix_loss") if k in cfg))
        path = write_hf(state, cfg, out)
        what = ("ViTMAEForPreTraining (encoder + decoder; ViTModel reads the encoder)" if "decoder_embed_dim" in cfg
                else "ViTModel (encoder)")
    log(f"{checkpoint} ({ckpt.layout} layout) -> {path}: {what}")
    return path
