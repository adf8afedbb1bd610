"""The ablation suites and budgets, as data.

An arm: `name`, `x` (the plotted value), `model` (MaskedAutoencoder overrides), `epochs` (factor
on the budget's pretraining epochs), `trainable` (blocks fine-tuned for the 'ft' metric: "all" or
k), `paper` (only numbers the paper states: /work/shared/PAPER.md, Table 1 of the paper, ViT-L,
800 epochs) and `claim` (a direction the paper's text states without a number, relative to the
suite's reference arm) and `augment` (pretrain/data.py transform options, the augmentation suite).
A suite's `note` is printed under its table. Decoder widths and schedules are scaled to the small
model: our encoder is 128 wide (ViT-L: 1024), so the paper's 128/256/512 decoders become 16/32/64.
"""

# the paper's default ViT-L row of Table 1 (800 epochs, random 75%, 8-block 512-d decoder)
DEFAULT = {"ft": 84.9, "lin": 73.5}

BUDGETS = {
    # seconds per arm on a CPU: a test and a smoke run
    "tiny": dict(train_images=32, test_images=32, pretrain_epochs=1, probe_epochs=1, ft_epochs=1, batch=16,
                 tokenizer_epochs=1),
    # about a minute per arm on 2 idle CPU cores (docs/RESULTS.md's measured suites)
    "quick": dict(train_images=1024, test_images=1000, pretrain_epochs=2, probe_epochs=20, ft_epochs=1, batch=64,
                  tokenizer_epochs=2),
    # minutes per arm on 2 CPU cores
    "small": dict(train_images=10000, test_images=10000, pretrain_epochs=20, probe_epochs=20, ft_epochs=5, batch=256,
                  tokenizer_epochs=5),
    # the classification study's budget (docs/RESULTS.md): a GPU, or hours on a CPU
    "full": dict(train_images=0, test_images=0, pretrain_epochs=100, probe_epochs=30, ft_epochs=15, batch=256,
                 tokenizer_epochs=20),
}

PCA_K = 8  # half the patch dimension, as compare-targets' default (96 of a 192-d patch)
JITTER = 0.4  # the usual strength (MoCo v2, BYOL); the paper does not state its own

LOWER_THAN_75 = "Sec. 4.1: linear probing accuracy increases steadily with the masking ratio until 75%"
SHORTER = "Sec. 4.1 / Figure 7: accuracy improves steadily with longer training"


def _ratio(r: float) -> dict:
    arm = {"name": f"ratio {int(round(r * 100))}%", "x": r, "model": {"mask_ratio": r}}
    if r == 0.75:
        arm["paper"] = DEFAULT
    elif r < 0.75:
        arm["claim"] = {"lin": ("lower", LOWER_THAN_75)}
    return arm


def _decoder(depth: int, width: int, paper: dict) -> dict:
    return {"name": f"depth {depth}, width {width}", "x": depth,
            "model": {"decoder_depth": depth, "decoder_embed_dim": width, "decoder_num_heads": 4}, "paper": paper}


SUITES = {
    "mask-ratio": dict(
        title="Figure 5: masking ratio", figure=True, xlabel="masking ratio", reference="ratio 75%",
        metrics=("ft", "lin"), arms=[_ratio(r) for r in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.9)]),
    "decoder": dict(
        title="Table 1a, 1b: decoder depth and width", figure=False, reference="depth 8, width 64",
        metrics=("ft", "lin"), arms=[
            _decoder(1, 64, {"ft": 84.8, "lin": 65.5}), _decoder(2, 64, {"ft": 84.9, "lin": 70.0}),
            _decoder(4, 64, {"ft": 84.9, "lin": 71.9}), _decoder(8, 64, DEFAULT),
            _decoder(8, 16, {"ft": 84.9, "lin": 69.1}), _decoder(8, 32, {"ft": 84.8, "lin": 71.3})]),
    "mask-token": dict(
        title="Table 1c: mask token in the encoder", figure=False, reference="encoder w/o [M]",
        metrics=("ft", "lin"), timing=True, arms=[
            {"name": "encoder w/ [M]", "x": 1, "model": {"encoder_mask_tokens": True},
             "paper": {"ft": 84.2, "lin": 59.6, "FLOPs": "3.3x"}},
            {"name": "encoder w/o [M]", "x": 0, "model": {}, "paper": {**DEFAULT, "FLOPs": "1x"}}]),
    "sampling": dict(
        title="Table 1f: mask sampling", figure=False, reference="random 75%", metrics=("ft", "lin"), arms=[
            {"name": "random 75%", "x": 0, "model": {"mask_sampler": "random"}, "paper": DEFAULT},
            {"name": "block 50%", "x": 1, "model": {"mask_sampler": "block", "mask_ratio": 0.5},
             "paper": {"ft": 83.9, "lin": 72.3}},
            {"name": "block 75%", "x": 2, "model": {"mask_sampler": "block"}, "paper": {"ft": 82.8, "lin": 63.9}},
            {"name": "grid 75%", "x": 3, "model": {"mask_sampler": "grid"}, "paper": {"ft": 84.0, "lin": 66.0}}]),
    "schedule": dict(
        title="Figure 7: pretraining schedule (x: epochs relative to the budget's; paper: 800 = 1x)",
        figure=True, xlabel="pretraining epochs (x budget)", reference="1x", metrics=("ft", "lin"), arms=[
            {"name": f"{f}x", "x": f, "epochs": f, "model": {},
             **({"paper": DEFAULT} if f == 1 else {"claim": {"ft": ("lower", SHORTER), "lin": ("lower", SHORTER)}})}
            for f in (0.25, 0.5, 1)]),
    "target": dict(
        title="Table 1d: reconstruction target", figure=False, reference="pixel (w/o norm)", metrics=("ft", "lin"),
        note=f"PCA: the top {PCA_K} of the 16 components of a 4x4 grey patch (paper: 96 of 768). dVAE token: our "
             "dVAE tokenizer (pretrain/tokenizers, its config trained on the budget's training images; "
             "details below the table), not DALL-E's.", arms=[
            {"name": "pixel (w/o norm)", "x": 0, "model": {"target": "pixel"}, "paper": DEFAULT},
            {"name": "pixel (w/ norm)", "x": 1, "model": {"target": "norm_pixel"}, "paper": {"ft": 85.4, "lin": 73.9}},
            {"name": "PCA", "x": 2, "model": {"target": {"type": "pca", "k": PCA_K}}, "paper": {"ft": 84.6, "lin": 72.3}},
            {"name": "dVAE token", "x": 3, "model": {"target": {"type": "token"}}, "paper": {"ft": 85.3, "lin": 71.6}}]),
    "augmentation": dict(
        title="Table 1e: data augmentation", figure=False, reference="crop, rand size", metrics=("ft", "lin"),
        note="Every arm goes through the pretraining data pipeline's per-image transforms (pretrain/data.py); "
             f"colour jitter: torchvision ColorJitter, brightness/contrast/saturation {JITTER} (saturation is a "
             "no-op on grey images). Fine-tuning and probes are the same for all arms.", arms=[
            {"name": "none", "x": 0, "model": {}, "augment": {"crop": "none"}, "paper": {"ft": 84.0, "lin": 65.7}},
            {"name": "crop, fixed size", "x": 1, "model": {}, "augment": {"crop": "fixed_size"},
             "paper": {"ft": 84.7, "lin": 73.1}},
            {"name": "crop, rand size", "x": 2, "model": {}, "augment": {"crop": "random_size"}, "paper": DEFAULT},
            {"name": "crop + color jit", "x": 3, "model": {}, "augment": {"crop": "random_size", "color_jitter": JITTER},
             "paper": {"ft": 84.3, "lin": 71.9}}]),
    "partial": dict(
        title="Figure 9: partial fine-tuning (last k of 4 blocks; paper: of 24)", figure=True,
        xlabel="blocks fine-tuned", reference="0 blocks", metrics=("ft",), arms=[
            {"name": "0 blocks", "x": 0, "trainable": 0, "model": {}, "paper": {"ft": 73.5}},
            {"name": "1 block", "x": 1, "trainable": 1, "model": {}, "paper": {"ft": 81.0}},
            {"name": "2 blocks", "x": 2, "trainable": 2, "model": {}},
            {"name": "all (4) blocks", "x": 4, "trainable": "all", "model": {}, "paper": {"ft": DEFAULT["ft"]}}]),
}
