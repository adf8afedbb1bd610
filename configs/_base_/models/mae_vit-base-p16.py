# MAE ViT-B/16 with the paper's 8x512 decoder; inputs are normalised with ImageNet statistics.
model = dict(
    type='MaskedAutoencoder', img_size=224, patch_size=16, embed_dim=768, depth=12, num_heads=12,
    decoder_embed_dim=512, decoder_depth=8, decoder_num_heads=16, mlp_ratio=4.0,
    norm_pix_loss=True, mask_ratio=0.75, mask_sampler='random', encoder_mask_tokens=False,
    data_preprocessor=dict(type='ImgDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], non_blocking=True))
