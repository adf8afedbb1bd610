"""The masked autoencoder: encoder on visible patches only, light decoder with mask tokens.

Hot-path choices (the maths is the paper's; see tests/test_mae_model.py for the reference check):
- Patches are projected after masking (`ViT.tokens` with the visible ids), so the patch
  embedding runs on visible patches only.
- Tokens stay in shuffled order [cls, visible..., removed...] in the decoder, with position
  embeddings gathered to match. Attention and MLPs are permutation-equivariant, so this equals
  unshuffling with `ids_restore`, and the removed patches are then one contiguous slice: the
  prediction head, the target and the loss touch only the tokens the loss uses.
- The last decoder block computes queries, attention output and MLP for the removed tokens only
  (keys and values still come from every token): the other outputs of that block are never used.
"""
from functools import partial
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dist import all_reduce_dict, is_distributed
from mmengine.model import BaseModel
from timm.models.vision_transformer import Block

from .errors import ConfigError
from .masking import MaskSpec, build_sampler
from .patches import gather_tokens
from .pos_embed import sincos_2d, sincos_like
from .registry import MODELS
from .target_family import build_target
from .archs import ARCHS, MAE_DECODER
from .vit import ViT


def block_for_queries(blk: Block, x: torch.Tensor, start: int) -> torch.Tensor:
    """timm `Block(x)[:, start:]` without computing the other rows.

    Written out because timm's Block has no query subset: queries, the attention output projection
    and the MLP run on x[:, start:] only, keys and values on all of x. Same parameters, same maths
    (tests/test_speed_paths.py compares outputs and gradients with the full block).
    """
    attn = blk.attn
    if attn.gate is not None or not isinstance(attn.norm, nn.Identity):
        raise ValueError("block_for_queries supports plain timm attention (no gate, no scale norm)")
    b, n, c = x.shape
    h = blk.norm1(x)
    w, bias = attn.qkv.weight, attn.qkv.bias
    d = attn.attn_dim
    q = F.linear(h[:, start:], w[:d], None if bias is None else bias[:d])
    kv = F.linear(h, w[d:], None if bias is None else bias[d:])
    q = q.view(b, n - start, attn.num_heads, attn.head_dim).transpose(1, 2)
    k, v = kv.view(b, n, 2, attn.num_heads, attn.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
    q, k = attn.q_norm(q), attn.k_norm(k)
    o = F.scaled_dot_product_attention(q, k, v, dropout_p=attn.attn_drop.p if attn.training else 0.0)
    o = attn.proj_drop(attn.proj(o.transpose(1, 2).reshape(b, n - start, d)))
    y = x[:, start:] + blk.drop_path1(blk.ls1(o))
    return y + blk.drop_path2(blk.ls2(blk.mlp(blk.norm2(y))))


@MODELS.register_module()
class MaskedAutoencoder(ViT, BaseModel):
    """MAE with official parameter names; an mmengine model so the Runner can train it.

    Plain use: `loss, pred, mask = model(imgs, noise=None)` on normalised images, where `pred`
    holds the predictions of the removed patches (B, N_removed, p*p*3) in `ids_mask` order.
    """

    def __init__(self, img_size=224, patch_size=16, in_chans=3, embed_dim=1024, depth=24, num_heads=16,
                 decoder_embed_dim=512, decoder_depth=8, decoder_num_heads=16, mlp_ratio=4.0,
                 norm_pix_loss=False, mask_ratio=0.75, mask_sampler="random", encoder_mask_tokens=False,
                 target=None, data_preprocessor: Optional[dict] = None):
        super().__init__(img_size=img_size, patch_size=patch_size, in_chans=in_chans, embed_dim=embed_dim,
                         depth=depth, num_heads=num_heads, mlp_ratio=mlp_ratio)
        if data_preprocessor is not None:
            self.data_preprocessor = MODELS.build(data_preprocessor)
        self.sampler = build_sampler(mask_sampler, mask_ratio)
        # the target family (target_family.py); `target=None` keeps the `norm_pix_loss` switch
        pp = data_preprocessor or {}
        target_maker = build_target(target, patch_size ** 2 * in_chans, norm_pix_loss, pp.get("mean"), pp.get("std"))
        self.target_kind = target_maker.kind
        self.norm_pix_loss = self.target_kind == "norm_pixel"
        self.encoder_mask_tokens = encoder_mask_tokens
        if encoder_mask_tokens:  # ablation (paper Table 1c): the encoder also processes removed patches
            self.encoder_mask_token = nn.Parameter(torch.zeros(1, 1, embed_dim))

        norm = partial(nn.LayerNorm, eps=1e-6)
        self.decoder_embed = nn.Linear(embed_dim, decoder_embed_dim, bias=True)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_embed_dim))
        self.decoder_pos_embed = nn.Parameter(
            sincos_2d(decoder_embed_dim, *self.grid, cls_token=True).unsqueeze(0), requires_grad=False)
        self.decoder_blocks = nn.ModuleList([
            Block(decoder_embed_dim, decoder_num_heads, mlp_ratio, qkv_bias=True, norm_layer=norm)
            for _ in range(decoder_depth)])
        self.decoder_norm = norm(decoder_embed_dim)
        self.decoder_pred = nn.Linear(decoder_embed_dim, target_maker.out_dim(patch_size ** 2 * in_chans), bias=True)
        self.target_maker = target_maker  # no parameters: the state dict keeps the official keys
        self.initialize_weights()

    # ---- init (as the official code) --------------------------------------------------------
    def initialize_weights(self):
        w = self.patch_embed.proj.weight.data
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        nn.init.normal_(self.cls_token, std=0.02)
        nn.init.normal_(self.mask_token, std=0.02)
        if self.encoder_mask_tokens:
            nn.init.normal_(self.encoder_mask_token, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.LayerNorm):
                nn.init.constant_(m.bias, 0)
                nn.init.constant_(m.weight, 1.0)

    def init_weights(self):  # mmengine's hook: our init already ran in __init__
        pass

    # ---- pieces ---------------------------------------------------------------------------------
    def mask(self, imgs: torch.Tensor, noise: Optional[torch.Tensor] = None,
             seeds: Optional[torch.Tensor] = None) -> MaskSpec:
        return self.sampler(imgs.shape[0], self.grid_of(imgs), imgs.device, noise, seeds)

    def decoder_pos_for(self, grid: tuple) -> torch.Tensor:
        if tuple(grid) == self.grid:
            return self.decoder_pos_embed
        return sincos_like(self.decoder_pos_embed, grid)

    def forward_encoder(self, imgs: torch.Tensor, spec: MaskSpec) -> torch.Tensor:
        """Encoder tokens in shuffled order: (B, 1+K, D), or (B, 1+N, D) with encoder mask tokens.
        The tokens come from the ViT's own `tokens` (visible patches only)."""
        if self.encoder_mask_tokens:  # ablation: removed patches enter the encoder as a learned token
            x = self.tokens(imgs, spec.ids_shuffle, spec.len_keep, self.encoder_mask_token)
        else:
            x = self.tokens(imgs, spec.ids_keep)
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)

    def forward_decoder(self, latent: torch.Tensor, spec: MaskSpec, grid: tuple,
                        removed_only: bool = False) -> torch.Tensor:
        """Decoder outputs in shuffled order: all tokens [cls, visible..., removed...], or with
        `removed_only` just the removed ones (the last block then skips the rows nobody reads)."""
        x = self.decoder_embed(latent)
        b, n = spec.mask.shape
        if x.shape[1] == 1 + spec.len_keep:  # append one shared mask token per removed patch
            x = torch.cat([x, self.mask_token.expand(b, n - spec.len_keep, -1).to(x.dtype)], dim=1)
        pos = self.decoder_pos_for(grid)
        order = spec.ids_shuffle
        pos = torch.cat([pos[:, :1].expand(b, -1, -1), gather_tokens(pos[:, 1:].expand(b, -1, -1), order)], 1)
        x = x + pos
        start = 1 + spec.len_keep
        if removed_only and len(self.decoder_blocks):
            for blk in self.decoder_blocks[:-1]:
                x = blk(x)
            return block_for_queries(self.decoder_blocks[-1], x, start)
        for blk in self.decoder_blocks:
            x = blk(x)
        return x[:, start:] if removed_only else x

    def target(self, imgs: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        return self.target_maker.make(imgs, ids, self.patch_size, self.grid_of(imgs))

    def forward_loss(self, imgs: torch.Tensor, pred: torch.Tensor, spec: MaskSpec):
        """(loss, extra logs) of the removed patches' predictions `pred` (the official
        `forward_loss`): the target family makes their target, `loss.py` scores it."""
        return self.target_maker.loss(pred, self.target(imgs, spec.ids_masked))

    # ---- entry points ---------------------------------------------------------------------------
    def forward_mae(self, imgs: torch.Tensor, noise: Optional[torch.Tensor] = None,
                    seeds: Optional[torch.Tensor] = None):
        """(loss, pred of removed patches, mask). Same noise -> same mask -> same result."""
        spec = self.mask(imgs, noise, seeds)
        latent = self.forward_encoder(imgs, spec)
        removed = self.forward_decoder(latent, spec, self.grid_of(imgs), removed_only=True)
        pred = self.decoder_pred(self.decoder_norm(removed))
        loss, self.last_logs = self.forward_loss(imgs, pred, spec)
        return loss, pred, spec.mask

    @torch.no_grad()
    def reconstruct(self, imgs: torch.Tensor, noise: Optional[torch.Tensor] = None):
        """Predictions for every patch in image order (B, N, p*p*3) and the mask, for pictures."""
        spec = self.mask(imgs, noise)
        x = self.forward_decoder(self.forward_encoder(imgs, spec), spec, self.grid_of(imgs))
        pred = self.decoder_pred(self.decoder_norm(x[:, 1:]))
        if self.target_kind == "pca":  # coefficients -> normalised-image pixels
            pred = self.target_maker.to_pixels(pred)
        return gather_tokens(pred, spec.ids_restore), spec.mask

    def forward(self, inputs: torch.Tensor, data_samples: Optional[torch.Tensor] = None, mode: str = "tensor",
                noise: Optional[torch.Tensor] = None):
        """mmengine entry point; `data_samples` are the per-sample mask seeds from our datasets."""
        seeds = data_samples if isinstance(data_samples, torch.Tensor) else None
        if mode == "loss":
            loss, _, _ = self.forward_mae(inputs, noise, seeds)
            return {"loss": loss, **self.last_logs}  # token targets also log token_acc
        if mode == "tensor":
            return self.forward_mae(inputs, noise, seeds)
        if mode == "predict":
            return self.reconstruct(inputs, noise)
        raise ValueError(f"unknown mode {mode!r}; expected 'loss', 'tensor' or 'predict'")

    def parse_losses(self, losses: dict):
        """As mmengine's, but the logged value is averaged over processes, so logs show the loss
        of the global batch (the gradient is averaged by DDP anyway)."""
        loss, log_vars = super().parse_losses(losses)
        if is_distributed():
            log_vars = {k: v.detach().clone() for k, v in log_vars.items()}
            all_reduce_dict(log_vars, op="mean")
        return loss, log_vars

    def no_weight_decay(self) -> set:
        return {"pos_embed", "cls_token", "mask_token", "decoder_pos_embed", "encoder_mask_token"}


MAE_ARCHS = {f"mae_{k}": v for k, v in ARCHS.items()}


def build_mae(arch: str = "mae_vit_base_patch16", **kwargs) -> MaskedAutoencoder:
    """An MAE of a named architecture with the paper's decoder; kwargs override both."""
    if arch not in MAE_ARCHS:
        raise ConfigError(f"unknown MAE model {arch!r}; choose one of {sorted(MAE_ARCHS)}")
    return MaskedAutoencoder(**{**MAE_ARCHS[arch].kwargs(), **MAE_DECODER.kwargs(), **kwargs})
