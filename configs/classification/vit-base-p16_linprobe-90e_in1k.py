# MAE ViT-B/16 linear probe on ImageNet-1K (paper: 68.0 top-1), 90 epochs.
_base_ = ['./_base_/linprobe_in1k.py']
