# Our discrete VAE tokenizer (Gumbel-softmax, vocabulary 8192, one token per 8x8 pixels) on the photos
# that ship with scikit-image: a few minutes on a 2-core CPU. Leaves tokenizer.pth (the file the
# token target loads), tokenizer_reconstruction.png (top: inputs, bottom: decoded tokens) and
# codebook_usage.json (used codes, perplexity: few codes / perplexity near 1 means collapsed).
#   mae train configs/tokenizer/dvae-v8192-d8_embedded_cpu.py --work-dir work_dirs/tokenizer
# Any image folder: --cfg-options train_dataloader.dataset.type=ImageFolder train_dataloader.dataset.root=DIR
_base_ = ['../_base_/default_runtime.py']
max_epochs = 20
warmup_epochs = 1
train_dataloader = dict(
    batch_size=32,
    num_workers=0,
    sampler=dict(type='EpochSeedSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='EmbeddedImages', img_size=64, length=512, scale=(0.2, 1.0)),
)
model = dict(
    type='DiscreteVAE', vocab_size=8192, hidden=64, codebook_dim=64, downsample=8,
    temperature=(1.0, 0.0625), anneal_iters=300, kl_weight=1e-3,
    data_preprocessor=dict(type='ImgDataPreprocessor', mean=[0.0, 0.0, 0.0], std=[255.0, 255.0, 255.0]))
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.0))
default_hooks = dict(logger=dict(type='LoggerHook', interval=8), checkpoint=dict(interval=5))
custom_hooks = [dict(type='NonFiniteLossHook'), dict(type='TokenizerReportHook')]
