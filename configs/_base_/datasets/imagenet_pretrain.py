# ImageNet-style folder (any layout; labels unused). Point `data_root` at your copy.
data_root = 'data/imagenet/train'
train_dataloader = dict(
    batch_size=64,  # per process
    num_workers=10,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='EpochSeedSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='ImageFolder', root=data_root, img_size=224, scale=(0.2, 1.0), max_bad_fraction=0.001),
)
