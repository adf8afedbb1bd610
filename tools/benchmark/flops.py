"""Model FLOPs of MAE pretraining, counted from the architecture (matmuls only): what MFU divides by."""


def block_flops(tokens: int, dim: int, depth: int, mlp_ratio: float = 4.0) -> float:
    """Forward FLOPs of `depth` pre-norm transformer blocks: qkv + proj + MLP matmuls
    ((4 + 2r) d^2 multiply-adds per token) and attention (QK^T and AV: 2 t^2 d multiply-adds)."""
    per_block = 2 * tokens * (4 + 2 * mlp_ratio) * dim * dim + 4 * tokens * tokens * dim
    return depth * per_block


def mae_forward_flops(arch: str, img_size: int = 224, mask_ratio: float = 0.75, decoder_embed_dim: int = 512,
                      decoder_depth: int = 8, encoder_mask_tokens: bool = False, in_chans: int = 3) -> float:
    """Model FLOPs of one image's forward pass, counted from the architecture (matmuls only):
    patch projection on the visible patches (removed ones enter the mask-token variant as a
    learned token), encoder on the visible patches + cls (all patches with mask tokens),
    decoder embedding, decoder on all patches + cls, prediction head on all patches (as the
    reference code computes it). Training = 3x this (backward = 2x forward)."""
    from pretrain.mae import MAE_ARCHS
    from pretrain.masking import num_keep

    dim, depth, _, p = MAE_ARCHS[arch]
    n = (img_size // p) ** 2
    enc = n if encoder_mask_tokens else num_keep(n, mask_ratio)
    f = 2 * num_keep(n, mask_ratio) * in_chans * p * p * dim
    f += block_flops(1 + enc, dim, depth)
    f += 2 * (1 + enc) * dim * decoder_embed_dim
    f += block_flops(1 + n, decoder_embed_dim, decoder_depth)
    f += 2 * n * decoder_embed_dim * p * p * in_chans
    return float(f)


