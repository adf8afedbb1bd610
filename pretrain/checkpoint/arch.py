"""What a state dict says about its model, and what it cannot say (head counts, norm_pix_loss).

Shapes give width, depth, patch size, channels, grid, MLP ratio and the decoder's width and
depth. Head counts and the loss target are not in the weights: they come from the file's own
config, from the architecture table when the shapes are a known architecture, or from the user.
"""
from dataclasses import dataclass
from typing import Optional

from ..archs import ARCHS, MAE_DECODER, find_arch
from .files import CheckpointError


@dataclass(frozen=True)
class WeightsArch:
    embed_dim: int
    depth: int
    patch_size: int
    in_chans: int
    grid: Optional[tuple]  # None when the position table is not a square grid
    mlp_ratio: float
    name: Optional[str]  # row of `pretrain.archs.ARCHS` with this width/depth/patch, if any
    num_heads: Optional[int]  # from that row
    decoder_embed_dim: Optional[int] = None  # None: no decoder in the weights
    decoder_depth: Optional[int] = None
    decoder_num_heads: Optional[int] = None  # when the decoder is the paper's (512 wide, 8 blocks)

    @property
    def img_size(self) -> Optional[tuple]:
        return None if self.grid is None else (self.grid[0] * self.patch_size, self.grid[1] * self.patch_size)

    def describe(self) -> str:
        what = self.name or f"ViT {self.embed_dim} wide, {self.depth} blocks, patch {self.patch_size}"
        dec = f" + decoder {self.decoder_embed_dim} wide, {self.decoder_depth} blocks" if self.decoder_embed_dim else ""
        return what + dec


def block_count(state: dict, prefix: str) -> int:
    return len({k.split(".")[1] for k in state if k.startswith(prefix)})


def infer_arch(state: dict) -> WeightsArch:
    """The architecture the weights determine (our key names), named from the table when known."""
    try:
        w = state["patch_embed.proj.weight"]
        n = state["pos_embed"].shape[1] - 1
    except KeyError as e:
        found = ", ".join(sorted(state)[:5]) or "no keys"
        raise CheckpointError(f"no ViT encoder in these weights (no {e.args[0]}; found {found} ...)") from None
    dim, in_chans, patch = w.shape[0], w.shape[1], w.shape[2]
    side = int(round(n ** 0.5))
    depth = block_count(state, "blocks.")
    hidden = state["blocks.0.mlp.fc1.weight"].shape[0] if depth else 4 * dim
    name = find_arch(dim, depth, patch)
    dec = {}
    if "decoder_embed.weight" in state:
        dec_dim, dec_depth = state["decoder_embed.weight"].shape[0], block_count(state, "decoder_blocks.")
        known = (dec_dim, dec_depth) == (MAE_DECODER.embed_dim, MAE_DECODER.depth)
        dec = dict(decoder_embed_dim=dec_dim, decoder_depth=dec_depth,
                   decoder_num_heads=MAE_DECODER.num_heads if known else None)
    return WeightsArch(dim, depth, patch, in_chans, (side, side) if side * side == n else None, hidden / dim,
                       name, ARCHS[name].num_heads if name else None, **dec)


def resolve_model_cfg(state: dict, saved: dict = None, num_heads: int = None, decoder_num_heads: int = None,
                      norm_pix_loss: bool = None, need_decoder: bool = True) -> tuple:
    """(MaskedAutoencoder arguments, {setting: where it came from}) for an MAE checkpoint; ViT
    arguments only for an encoder-only one when not `need_decoder`.

    Order: explicit arguments (flags), then the file's own config, then the weights and the
    architecture table. What none of them determine is an error naming the flag, never a guess.
    """
    arch = infer_arch(state)
    has_decoder = arch.decoder_embed_dim is not None
    if need_decoder and not has_decoder:
        raise CheckpointError("these weights hold an encoder only (no decoder_embed.weight); an MAE needs the decoder")
    saved = dict(saved or {})
    cfg, origin = {}, {}

    def pick(key, flag, table, flag_name):
        if flag is not None:
            cfg[key], origin[key] = flag, "given"
        elif key in saved:
            cfg[key], origin[key] = saved[key], "from the checkpoint's config"
        elif table is not None:
            cfg[key], origin[key] = table, "from the architecture table" if "heads" in key else "official release"
        else:
            raise CheckpointError(f"{key} is not stored in this checkpoint and {arch.describe()} is not a known "
                                  f"architecture: pass {flag_name}")

    if "img_size" in saved:
        cfg["img_size"], origin["img_size"] = saved["img_size"], "from the checkpoint's config"
    elif arch.grid is not None:
        cfg["img_size"], origin["img_size"] = arch.img_size[0], "from the weights"
    else:
        raise CheckpointError("the position table is not a square grid and the checkpoint has no img_size")
    shapes = ("patch_size", "in_chans", "embed_dim", "depth", "mlp_ratio", "decoder_embed_dim", "decoder_depth")
    for k in shapes[:5 + 2 * has_decoder]:
        cfg[k], origin[k] = getattr(arch, k), "from the weights"
    pick("num_heads", num_heads, arch.num_heads, "--heads")
    if not has_decoder:
        return cfg, origin
    pick("decoder_num_heads", decoder_num_heads, arch.decoder_num_heads, "--decoder-heads")
    # the official *_full releases (paper architectures with the paper's decoder) used normalised pixels
    official = arch.name is not None and arch.decoder_num_heads is not None
    pick("norm_pix_loss", norm_pix_loss, True if official else None, "--norm-pix or --no-norm-pix")
    for k in ("mask_ratio", "mask_sampler", "encoder_mask_tokens", "data_preprocessor"):
        if k in saved:
            cfg[k], origin[k] = saved[k], "from the checkpoint's config"
    return cfg, origin
