# MAE ViT-H/14 fine-tuned on ImageNet-1K (paper: 86.9 top-1): lr 1e-3, layer decay 0.75, drop path 0.3, 50 epochs.
_base_ = ['./vit-large-p16_ft-50e_in1k.py']
model = dict(patch_size=14, embed_dim=1280, depth=32, num_heads=16, drop_path_rate=0.3)
