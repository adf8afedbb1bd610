# The demo model on your own images: every image under `data_root`, recursively, any layout.
#   mae train configs/pretrain/mae_vit-tiny-p8_folder_cpu.py --cfg-options train_dataloader.dataset.root=PATH
_base_ = ['./mae_vit-tiny-p8_demo_cpu.py']
data_root = 'data/images'
train_dataloader = dict(
    dataset=dict(_delete_=True, type='ImageFolder', root=data_root, img_size=64, scale=(0.2, 1.0),
                 max_bad_fraction=0.01))
