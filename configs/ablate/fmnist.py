# `mae ablate SUITE` (the default `--scale fmnist`): the classification study's tiny ViT on
# Fashion-MNIST, 28 px grey, small enough for a CPU. The study's model and normalisation are read
# from here (tools/ablate/engine.py), so the two cannot drift; results match runs made before
# scales existed (but for the token arm's tokenizer, the VQ-VAE since the medium budget's run).
# A scale holds what changes with the size of the experiment; the suites (tools/ablate/suites.py)
# and loops are the same at every scale.
data = dict(type='fmnist', root=None)  # the four idx .gz files; --data DIR, else the Debian package
description = 'Fashion-MNIST test images'
arch = dict(img_size=28, patch_size=4, in_chans=1, embed_dim=128, depth=4, num_heads=4)
decoder = dict(decoder_embed_dim=64, decoder_depth=2, decoder_num_heads=4)  # all but the decoder suite
mean = 0.2860  # Fashion-MNIST training-set pixel statistics (one channel)
std = 0.3530
# The decoder suite: (our width, the paper's width it stands for); the paper's 512 is the reference.
# The encoder is 128 wide (ViT-L: 1024), so the paper's 128/256/512 become 16/32/64.
decoder_widths = [(16, 128), (32, 256), (64, 512)]
decoder_heads = 4
partial_blocks = [0, 1, 2]  # Figure 9's last-k-blocks arms below `all` (k < depth only)
pca_k = 8  # the PCA target: half of a 4x4 grey patch's 16 dimensions (compare-targets' 96 of 192)
pca_fit_images = 0  # fit the PCA basis on this many training images (0: all)
# The token arm's tokenizer: the VQ-VAE, which at these budgets uses nearly its whole codebook where the
# Gumbel dVAE uses a few percent of it (docs/RESULTS.md, "Tokenizer codebook usage"); the dVAE:
# --scale-options tokenizer.config=configs/tokenizer/dvae-v512-d8_embedded_cpu.py
tokenizer = dict(config='configs/tokenizer/vq-v512-d8_embedded_cpu.py', vocab_size=512, downsample=4)
budgets = dict(
    # seconds per arm on a CPU: a test and a smoke run
    tiny=dict(train_images=32, test_images=32, pretrain_epochs=1, probe_epochs=1, ft_epochs=1, batch=16,
              tokenizer_epochs=1),
    # about a minute per arm on 2 idle CPU cores (docs/RESULTS.md's measured suites)
    quick=dict(train_images=1024, test_images=1000, pretrain_epochs=2, probe_epochs=20, ft_epochs=1, batch=64,
               tokenizer_epochs=2),
    # between quick and small: the target suite's measured budget (docs/RESULTS.md), 2048 images and every
    # test image; about 10 min per arm on 2 shared CPU cores (a pilot at a load average of 7: pretraining
    # 25 ms per image-epoch, 42 with the token target's tokenizer; the tokenizer 2 min per epoch)
    medium=dict(train_images=2048, test_images=0, pretrain_epochs=4, probe_epochs=20, ft_epochs=3, batch=64,
                tokenizer_epochs=1),
    # minutes per arm on 2 CPU cores
    small=dict(train_images=10000, test_images=10000, pretrain_epochs=20, probe_epochs=20, ft_epochs=5, batch=256,
               tokenizer_epochs=5),
    # the classification study's budget (docs/RESULTS.md): a GPU, or hours on a CPU
    full=dict(train_images=0, test_images=0, pretrain_epochs=100, probe_epochs=30, ft_epochs=15, batch=256,
              tokenizer_epochs=20))
