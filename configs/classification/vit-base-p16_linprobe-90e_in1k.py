# MAE ViT-B/16 linear probe on ImageNet-1K (paper: 68.0 top-1), 90 epochs.
_base_ = ['./_base_/imagenet.py', './_base_/linprobe_recipe.py']
train_dataloader = dict(batch_size=512, dataset=dict(transform={{_base_.train_transform}}))  # x 32 GPUs = 16384
