# Paper recipe, ViT-L/16, 800 epochs, total batch 4096 (see the ViT-B file for the batch split).
_base_ = ['./mae_vit-base-p16_800e_in1k.py']
model = dict(embed_dim=1024, depth=24, num_heads=16)
