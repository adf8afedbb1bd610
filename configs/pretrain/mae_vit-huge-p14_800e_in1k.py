# Paper recipe, ViT-H/14, 800 epochs, total batch 4096 (see the ViT-B file for the batch split).
_base_ = ['./mae_vit-base-p16_800e_in1k.py']
model = dict(patch_size=14, embed_dim=1280, depth=32, num_heads=16)
