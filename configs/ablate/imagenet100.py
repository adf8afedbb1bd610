# `mae ablate SUITE --scale imagenet100 --data /path/to/imagenet100`: the same suites for a GPU user,
# ViT-B/16 at 224 px RGB on ImageNet-100 (100 ImageNet classes, ~1300 training and 50 validation
# images each) in the ImageFolder layout: DATA/train/<class>/*.JPEG and DATA/val/<class>/*.JPEG.
# Accuracies are on val/ (the test split here); the probe's lr is chosen on held-out training images.
# Images are decoded once, resized (shorter side) and centre-cropped to img_size, and kept as uint8 on
# the GPU (126k x 3 x 224 x 224 = 19 GB: fits beside ViT-B on an 80 GB card; lower img_size or
# train_images otherwise). Not run by us: no GPU here; the budgets' times are estimates.
data = dict(type='image_folder', root=None, train='train', val='val', num_classes=100, workers=16)
description = 'ImageNet-100 validation images'
arch = dict(img_size=224, patch_size=16, in_chans=3, embed_dim=768, depth=12, num_heads=12)  # ViT-B/16
decoder = dict(decoder_embed_dim=512, decoder_depth=8, decoder_num_heads=16)  # the paper's default decoder
mean = (0.485, 0.456, 0.406)  # ImageNet's, as the paper's pipeline
std = (0.229, 0.224, 0.225)
# The decoder suite: the paper's own widths (Table 1b) at the paper's encoder scale.
decoder_widths = [(128, 128), (256, 256), (512, 512), (1024, 1024)]
decoder_heads = 16
partial_blocks = [0, 1, 2, 4]  # Figure 9's arms below `all` (12 blocks)
pca_k = 96  # the paper's 96 of a 16x16x3 patch's 768 dimensions
pca_fit_images = 2000  # 392k patches: enough for a 768-d covariance, 1.2 GB as float
# DALL-E's vocabulary; its view at half resolution (grid x 8 = 112 px), as BEiT's DALL-E tokens
tokenizer = dict(config='configs/tokenizer/dvae-v512-d8_embedded_cpu.py', vocab_size=8192, downsample=8)
budgets = dict(
    # a smoke run: seconds, any GPU
    tiny=dict(train_images=32, test_images=32, pretrain_epochs=1, probe_epochs=1, ft_epochs=1, batch=16,
              tokenizer_epochs=1),
    # 100 images a class: minutes an arm on one H100 (estimate from ViT-B throughput, not measured)
    quick=dict(train_images=10000, test_images=0, pretrain_epochs=20, probe_epochs=20, ft_epochs=5, batch=256,
               tokenizer_epochs=5),
    # all training images: a few hours an arm (estimate, not measured)
    small=dict(train_images=0, test_images=0, pretrain_epochs=100, probe_epochs=50, ft_epochs=30, batch=256,
               tokenizer_epochs=20),
    # the paper's schedule lengths for ViT-B fine-tuning (100 epochs) after 400 pretraining epochs
    full=dict(train_images=0, test_images=0, pretrain_epochs=400, probe_epochs=90, ft_epochs=100, batch=256,
              tokenizer_epochs=50))
