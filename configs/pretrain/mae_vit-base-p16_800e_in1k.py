# Paper recipe, ViT-B/16, 800 epochs, total batch 4096 = 64 per GPU x 64 GPUs
# (on 8 GPUs: --cfg-options optim_wrapper.accumulative_counts=8), norm-pix loss, mask ratio 0.75.
_base_ = ['../_base_/default_runtime.py', '../_base_/datasets/imagenet_pretrain.py',
          '../_base_/schedules/pretrain_800e.py']
model = dict(
    type='MaskedAutoencoder', img_size=224, patch_size=16, embed_dim=768, depth=12, num_heads=12,
    decoder_embed_dim=512, decoder_depth=8, decoder_num_heads=16, mlp_ratio=4.0,
    norm_pix_loss=True, mask_ratio=0.75, mask_sampler='random',
    data_preprocessor=dict(type='ImgDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375]))
