# MAE ViT-H/14 linear probe on ImageNet-1K (paper: 76.6 top-1), 50 epochs.
_base_ = ['./vit-large-p16_linprobe-50e_in1k.py']
model = dict(patch_size=14, embed_dim=1280, depth=32, num_heads=16)
