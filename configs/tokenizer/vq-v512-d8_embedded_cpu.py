# Our vector-quantised VAE tokenizer (vector-quantize-pytorch: `pip install -e ".[tokens]"`; vocabulary
# 512, one token per 8x8 pixels) on the photos that ship with scikit-image, a few minutes on a 2-core CPU.
# The same outputs as the dVAE config: tokenizer.pth (use it with tokenizer=dict(type='vq', checkpoint=...)),
# tokenizer_reconstruction.png (codebook statistics printed under it) and codebook_usage.json.
#   mae train configs/tokenizer/vq-v512-d8_embedded_cpu.py --work-dir work_dirs/tokenizer_vq
# Against collapse: k-means initialisation of the codebook on the first batch and replacement of codes
# that fall out of use (dead_code_threshold: an EMA count below it) by encoder outputs.
_base_ = ['./dvae-v512-d8_embedded_cpu.py']
base_lr = 3.2e-2  # AdamW at lr 2e-3 for the batch of 16
model = dict(
    _delete_=True, type='VQVAE', vocab_size=512, hidden=64, codebook_dim=32, downsample=8, decay=0.8,
    commitment_weight=0.25, kmeans_init=True, dead_code_threshold=1.0,
    data_preprocessor=dict(type='ImgDataPreprocessor', mean=[0.0, 0.0, 0.0], std=[255.0, 255.0, 255.0]))
