"""Hugging Face ViT / ViTMAE key names <-> ours (official MAE / timm names).

Reads every HF naming: the Hub's files (`encoder.layer.N.attention.attention.query`, transformers
4.x), transformers 5.x's modules (`layers.N.attention.q_proj`) and what its save_pretrained writes;
writes the Hub's, which both versions load (5.x renames them on load). Our fused `attn.qkv` is
HF's separate query/key/value.
"""
import re

import torch

from ..errors import CheckpointError, ConfigError

# per-block names: ours -> (Hub name, transformers-5 name)
BLOCK = {
    "norm1": ("layernorm_before", "layernorm_before"),
    "attn.proj": ("attention.output.dense", "attention.o_proj"),
    "norm2": ("layernorm_after", "layernorm_after"),
    "mlp.fc1": ("intermediate.dense", "mlp.fc1"),
    "mlp.fc2": ("output.dense", "mlp.fc2"),
}
QKV = (("attention.attention.query", "attention.attention.key", "attention.attention.value"),
       ("attention.q_proj", "attention.k_proj", "attention.v_proj"))
# top-level names: ours -> Hub name under ViTMAEForPreTraining (ViTModel drops the 'vit.')
TOP = {
    "cls_token": "vit.embeddings.cls_token",
    "pos_embed": "vit.embeddings.position_embeddings",
    "patch_embed.proj.weight": "vit.embeddings.patch_embeddings.projection.weight",
    "patch_embed.proj.bias": "vit.embeddings.patch_embeddings.projection.bias",
    "norm.weight": "vit.layernorm.weight",
    "norm.bias": "vit.layernorm.bias",
    "mask_token": "decoder.mask_token",
    "decoder_pos_embed": "decoder.decoder_pos_embed",
    "head.weight": "classifier.weight",
    "head.bias": "classifier.bias",
}
for _p in ("decoder_embed", "decoder_norm", "decoder_pred"):
    for _s in ("weight", "bias"):
        TOP[f"{_p}.{_s}"] = f"decoder.{_p}.{_s}"
FROM_TOP = {v: k for k, v in TOP.items()}
# transformers 5.x's save_pretrained writes decoder blocks as 'decoder.decoder_encoder.layer.N'
BLOCK_RE = re.compile(r"^(vit\.)?(encoder\.layer|layers|decoder\.decoder_layers|decoder\.decoder_encoder\.layer)"
                      r"\.(\d+)\.(.+)\.(weight|bias)$")


def is_hf_state(state: dict) -> bool:
    decoder = ("decoder.decoder_layers.", "decoder.decoder_encoder.")
    return any("embeddings.patch_embeddings" in k or k.startswith(decoder) for k in state)


def from_hf(state: dict) -> dict:
    """HF ViTMAEForPreTraining / ViTMAEModel / ViTModel / ViTForImageClassification state -> ours.
    Keys with no counterpart (e.g. ViTModel's pooler) keep their HF name."""
    out, qkv = {}, {}
    for k, v in state.items():
        m = BLOCK_RE.match(k)
        if m is None:
            key = k if k.startswith(("vit.", "decoder.", "classifier.")) else f"vit.{k}"
            out[FROM_TOP.get(key, k)] = v
            continue
        _, where, i, name, kind = m.groups()
        prefix = f"decoder_blocks.{i}" if where.startswith("decoder") else f"blocks.{i}"
        for names in QKV:
            if name in names:
                qkv.setdefault((prefix, kind), [None] * 3)[names.index(name)] = v
                break
        else:
            ours = [o for o, pair in BLOCK.items() if name in pair]
            out[f"{prefix}.{ours[0]}.{kind}" if ours else k] = v
    for (prefix, kind), parts in qkv.items():
        if any(p is None for p in parts):
            raise CheckpointError(f"Hugging Face checkpoint has an incomplete query/key/value set in {prefix}")
        out[f"{prefix}.attn.qkv.{kind}"] = torch.cat(parts, 0)
    return out


def to_hf(state: dict) -> dict:
    """Ours -> the Hub's ViTMAEForPreTraining names (what `from_pretrained` reads)."""
    out = {}
    for k, v in state.items():
        m = re.match(r"^(decoder_blocks|blocks)\.(\d+)\.(.+)\.(weight|bias)$", k)
        if m is None:
            if k not in TOP:
                raise CheckpointError(f"no Hugging Face name for {k!r}")
            out[TOP[k]] = v
            continue
        where, i, name, kind = m.groups()
        prefix = f"decoder.decoder_layers.{i}" if where == "decoder_blocks" else f"vit.encoder.layer.{i}"
        if name == "attn.qkv":
            for hf_name, part in zip(QKV[0], v.chunk(3, 0)):
                out[f"{prefix}.{hf_name}.{kind}"] = part
        elif name in BLOCK:
            out[f"{prefix}.{BLOCK[name][0]}.{kind}"] = v
        else:
            raise CheckpointError(f"no Hugging Face name for {k!r}")
    return out


def model_cfg_from_hf(config: dict) -> dict:
    """Our MaskedAutoencoder / ViT arguments from an HF config.json (ViTMAE or ViT)."""
    img = config.get("image_size", 224)
    cfg = dict(img_size=img if isinstance(img, int) else tuple(img), patch_size=config.get("patch_size", 16),
               in_chans=config.get("num_channels", 3), embed_dim=config["hidden_size"],
               depth=config["num_hidden_layers"], num_heads=config["num_attention_heads"],
               mlp_ratio=config.get("intermediate_size", 4 * config["hidden_size"]) / config["hidden_size"])
    if "decoder_hidden_size" in config:
        cfg.update(decoder_embed_dim=config["decoder_hidden_size"],
                   decoder_depth=config["decoder_num_hidden_layers"],
                   decoder_num_heads=config["decoder_num_attention_heads"],
                   norm_pix_loss=bool(config.get("norm_pix_loss", False)),
                   mask_ratio=config.get("mask_ratio", 0.75))
    return cfg


def hf_config(cfg: dict):
    """transformers config for our model arguments (LayerNorm eps 1e-6 and exact GELU, as ours):
    ViTMAEConfig with a decoder, ViTConfig (for ViTModel) for an encoder only."""
    from transformers import ViTConfig, ViTMAEConfig

    dim = cfg["embed_dim"]
    img = cfg.get("img_size", 224)
    if not isinstance(img, int):
        if img[0] != img[1]:
            raise ConfigError(f"Hugging Face ViT takes square images only, this model is {img[0]}x{img[1]}")
        img = img[0]
    encoder = dict(hidden_size=dim, num_hidden_layers=cfg["depth"], num_attention_heads=cfg["num_heads"],
                   intermediate_size=int(dim * cfg.get("mlp_ratio", 4.0)), hidden_act="gelu", layer_norm_eps=1e-6,
                   image_size=img, patch_size=cfg["patch_size"], num_channels=cfg.get("in_chans", 3), qkv_bias=True)
    if "decoder_embed_dim" not in cfg:
        return ViTConfig(**encoder, architectures=["ViTModel"])
    dec = cfg["decoder_embed_dim"]
    return ViTMAEConfig(
        **encoder, decoder_hidden_size=dec, decoder_num_hidden_layers=cfg.get("decoder_depth", 8),
        decoder_num_attention_heads=cfg.get("decoder_num_heads", 16),
        decoder_intermediate_size=int(dec * cfg.get("mlp_ratio", 4.0)),
        mask_ratio=cfg.get("mask_ratio", 0.75), norm_pix_loss=bool(cfg.get("norm_pix_loss", False)),
        architectures=["ViTMAEForPreTraining"])
