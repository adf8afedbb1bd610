# Data for the tiny CPU configs, no download: which of scikit-image's sample photos a view comes
# from (15 classes), 64-px views; configs set the train transform.
test_transform = dict(input_size=64, is_training=False, interpolation='bicubic', crop_pct=0.875)
train_dataloader = dict(
    batch_size=32, num_workers=0, drop_last=True, sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'), dataset=dict(type='EmbeddedPhotos', split='train', length=256))
val_dataloader = dict(
    batch_size=64, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='EmbeddedPhotos', split='val', length=150, transform=test_transform))
test_dataloader = val_dataloader
