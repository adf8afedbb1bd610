"""A REBUILD of the official facebookresearch/mae `models_mae.py` architecture, as a speed peer.

The official file can't be installed (it is a script in a repository, not a package), so this
module builds the same network the way that file does: timm's `PatchEmbed` and `Block`
(qkv_bias=True, LayerNorm eps 1e-6, as its factory functions pass), the full sequence with mask
tokens gathered back into the decoder, the prediction head on every token, the per-sample
`torch.rand` + argsort masking with `int(L * (1 - ratio))` kept patches, and the MSE on removed
patches. Written independently from reading that file; it is used only to time a training step
("official model, rebuilt from timm blocks"), never to train.
"""
from functools import partial

import torch
from torch import nn
from timm.models.vision_transformer import Block, PatchEmbed

from pretrain.pos_embed import sincos_2d


class OfficialMAERebuild(nn.Module):
    def __init__(self, img_size=224, patch_size=16, in_chans=3, embed_dim=1024, depth=24, num_heads=16,
                 decoder_embed_dim=512, decoder_depth=8, decoder_num_heads=16, mlp_ratio=4.0, mask_ratio=0.75):
        super().__init__()
        norm = partial(nn.LayerNorm, eps=1e-6)
        self.mask_ratio, self.patch = mask_ratio, patch_size
        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim)
        n, side = self.patch_embed.num_patches, img_size // patch_size
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(sincos_2d(embed_dim, side, side, True)[None], requires_grad=False)
        self.blocks = nn.ModuleList(Block(embed_dim, num_heads, mlp_ratio, qkv_bias=True, norm_layer=norm)
                                    for _ in range(depth))
        self.norm = norm(embed_dim)
        self.decoder_embed = nn.Linear(embed_dim, decoder_embed_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_embed_dim))
        self.decoder_pos_embed = nn.Parameter(sincos_2d(decoder_embed_dim, side, side, True)[None],
                                              requires_grad=False)
        self.decoder_blocks = nn.ModuleList(
            Block(decoder_embed_dim, decoder_num_heads, mlp_ratio, qkv_bias=True, norm_layer=norm)
            for _ in range(decoder_depth))
        self.decoder_norm = norm(decoder_embed_dim)
        self.decoder_pred = nn.Linear(decoder_embed_dim, patch_size ** 2 * in_chans)
        assert n == self.pos_embed.shape[1] - 1
        w = self.patch_embed.proj.weight.data
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        nn.init.normal_(self.cls_token, std=0.02)
        nn.init.normal_(self.mask_token, std=0.02)
        self.apply(self._init)

    @staticmethod
    def _init(m):
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    def random_masking(self, x):
        b, length, d = x.shape
        keep = int(length * (1 - self.mask_ratio))
        ids_shuffle = torch.argsort(torch.rand(b, length, device=x.device), dim=1)
        ids_restore = torch.argsort(ids_shuffle, dim=1)
        x = torch.gather(x, 1, ids_shuffle[:, :keep].unsqueeze(-1).repeat(1, 1, d))
        mask = torch.ones(b, length, device=x.device)
        mask[:, :keep] = 0
        return x, torch.gather(mask, 1, ids_restore), ids_restore

    def forward_encoder(self, imgs):
        x = self.patch_embed(imgs) + self.pos_embed[:, 1:, :]
        x, mask, ids_restore = self.random_masking(x)
        cls = (self.cls_token + self.pos_embed[:, :1, :]).expand(x.shape[0], -1, -1)
        x = torch.cat((cls, x), dim=1)
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x), mask, ids_restore

    def forward_decoder(self, x, ids_restore):
        x = self.decoder_embed(x)
        tokens = self.mask_token.repeat(x.shape[0], ids_restore.shape[1] + 1 - x.shape[1], 1)
        x_ = torch.cat([x[:, 1:, :], tokens], dim=1)
        x_ = torch.gather(x_, 1, ids_restore.unsqueeze(-1).repeat(1, 1, x.shape[2]))
        x = torch.cat([x[:, :1, :], x_], dim=1) + self.decoder_pos_embed
        for blk in self.decoder_blocks:
            x = blk(x)
        return self.decoder_pred(self.decoder_norm(x))[:, 1:, :]

    def patchify(self, imgs):
        p, (b, c, hp, wp) = self.patch, imgs.shape
        h, w = hp // p, wp // p
        x = imgs.reshape(b, c, h, p, w, p)
        return torch.einsum("nchpwq->nhwpqc", x).reshape(b, h * w, p * p * c)

    def forward(self, imgs):
        latent, mask, ids_restore = self.forward_encoder(imgs)
        pred = self.forward_decoder(latent, ids_restore)
        loss = ((pred - self.patchify(imgs)) ** 2).mean(dim=-1)
        return (loss * mask).sum() / mask.sum(), pred, mask
