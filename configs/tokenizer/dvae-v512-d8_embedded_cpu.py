# Our discrete VAE tokenizer (Gumbel-softmax, vocabulary 512, one token per 8x8 pixels) on the photos
# that ship with scikit-image (the demo's data: 512 random 64 px crops an epoch), a few minutes on a
# 2-core CPU. Leaves tokenizer.pth (the file the token target loads), tokenizer_reconstruction.png
# (inputs, decoded tokens, token map; codebook statistics printed under it) and codebook_usage.json (used
# codes, perplexity: few codes or a perplexity near 1 means the tokenizer collapsed).
#   mae train configs/tokenizer/dvae-v512-d8_embedded_cpu.py --work-dir work_dirs/tokenizer
# Any image folder: --cfg-options train_dataloader.dataset.type=ImageFolder train_dataloader.dataset.root=DIR
# Against collapse at short budgets (docs/RESULTS.md, "Pixel vs token targets"): the usage term
# (usage_weight), a vocabulary the data can fill (512, not DALL-E's 8192) and a higher lr; the
# temperature anneals 1 -> 1/16 over the run (set anneal_iters to max_epochs * 32 when you change it).
_base_ = ['../pretrain/mae_vit-tiny-p8_demo_cpu.py']
pretrain_recipe = True  # the same recipe: lr from the real batch, schedule from max_epochs, seeded crops
max_epochs = 6
warmup_epochs = 0
base_lr = 8e-2  # AdamW at lr 5e-3 for the batch of 16
model = dict(
    _delete_=True, type='DiscreteVAE', vocab_size=512, hidden=64, codebook_dim=64, downsample=8,
    temperature=(1.0, 0.0625), anneal_iters=192, kl_weight=1e-3, usage_weight=1.0,
    data_preprocessor=dict(type='ImgDataPreprocessor', mean=[0.0, 0.0, 0.0], std=[255.0, 255.0, 255.0]))
optim_wrapper = dict(_delete_=True, type='OptimWrapper', optimizer=dict(type='AdamW', weight_decay=0.0))
custom_hooks = [dict(type='NonFiniteLossHook'), dict(type='TokenizerReportHook')]
