# MAE ViT-B/16 (IN-1K pretrained) fine-tuned on Places365-Standard (paper Table 6: 57.9 top-1 for ViT-B).
# The IN-1K fine-tuning recipe; the paper adjusts the lr and the number of epochs per dataset without
# publishing them, so treat these two as the knobs to tune. Images and annotation files stay in the
# release's own layout under data_root (see transfer/classification/file_lists.py).
_base_ = ['./vit-base-p16_ft-100e_in1k.py']
data_root = 'data/places365'
model = dict(num_classes=365)
train_dataloader = dict(dataset=dict(_delete_=True, type='Places', data_root=data_root, version=365, split='train', transform={{_base_.train_transform}}))
val_dataloader = dict(dataset=dict(_delete_=True, type='Places', data_root=data_root, version=365, split='val', transform={{_base_.test_transform}}))
test_dataloader = val_dataloader
