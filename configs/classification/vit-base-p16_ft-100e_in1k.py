# MAE ViT-B/16 fine-tuned on ImageNet-1K (paper: 83.6 top-1). Usage:
#   mae train configs/classification/vit-base-p16_ft-100e_in1k.py \
#       --cfg-options load_from=mae_pretrain_vit_base.pth \
#       train_dataloader.dataset.data_root=/data/imagenet val_dataloader.dataset.data_root=/data/imagenet \
#       test_dataloader.dataset.data_root=/data/imagenet
_base_ = ['./_base_/imagenet.py', './_base_/finetune_recipe.py']
train_dataloader = dict(batch_size=128, dataset=dict(transform={{_base_.train_transform}}))  # x 8 GPUs = 1024
