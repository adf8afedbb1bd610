# Paper recipe, ViT-B/16, 800 epochs, total batch 4096 = 64 per GPU x 64 GPUs
# (on 8 GPUs: --cfg-options optim_wrapper.accumulative_counts=8), norm-pix loss, mask ratio 0.75.
_base_ = ['../_base_/models/mae_vit-base-p16.py', '../_base_/default_runtime.py',
          '../_base_/datasets/imagenet_pretrain.py', '../_base_/schedules/pretrain_800e.py']
