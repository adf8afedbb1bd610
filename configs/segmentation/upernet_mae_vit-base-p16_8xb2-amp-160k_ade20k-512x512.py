# The paper's ADE20K recipe (MAE Table 5, ViT-B): UperNet, 160k iterations at batch 16 (8 GPUs x 2),
# crop 512, AdamW lr 1e-4 wd 0.05, layer decay 0.65, drop path 0.1, relative position bias, fp16 AMP,
# sliding-window test (crop 512, stride 341). Run:
#   torchrun --nproc_per_node 8 -m tools.cli train <this config> --cfg-options model.pretrained=mae_pretrain_vit_base.pth
#   mae test <this config> work_dirs/<this config>/iter_160000.pth
_base_ = [
    '../_base_/models/upernet_mae_vit-base-p16.py', '../_base_/datasets/ade20k.py',
    '../_base_/segmentation_runtime.py', '../_base_/schedules/segmentation_160k.py'
]
train_dataloader = dict(batch_size=2)
