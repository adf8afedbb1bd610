# ImageNet-1K in its usual folder layout (train/<wnid>/*.JPEG, val/<wnid>/*.JPEG); images go through
# timm's transforms. Configs set the train transform (the recipe's `train_transform`); evaluation is resize 256 + centre crop 224 (bicubic).
data_root = 'data/imagenet'
test_transform = dict(input_size=224, is_training=False, interpolation='bicubic', crop_pct=224 / 256)
train_dataloader = dict(
    batch_size=128, num_workers=10, persistent_workers=True, pin_memory=True, drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True), collate_fn=dict(type='default_collate'),
    dataset=dict(type='ImageNet', data_root=data_root, split='train', num_classes=1000))
val_dataloader = dict(
    batch_size=256, num_workers=10, persistent_workers=True, pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=False), collate_fn=dict(type='default_collate'),
    dataset=dict(type='ImageNet', data_root=data_root, split='val', num_classes=1000, transform=test_transform))
test_dataloader = val_dataloader
