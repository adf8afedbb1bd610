"""The ablation suites, as data built from a scale (configs/ablate/, tools/ablate/scale.py).

An arm: `name`, `x` (the plotted value), `model` (MaskedAutoencoder overrides), `epochs` (factor
on the budget's pretraining epochs), `trainable` (blocks fine-tuned for the 'ft' metric: "all" or
k), `paper` (only numbers the paper states: /work/shared/PAPER.md, Table 1 of the paper, ViT-L,
800 epochs) and `claim` (a direction the paper's text states without a number, relative to the
suite's reference arm) and `augment` (pretrain/data.py transform options, the augmentation suite).
A suite's `note` is printed under its table, its `difference` (two arms) as a last row, the first
minus the second. What depends on the model's size comes from the
scale: the decoder suite's widths (at Fashion-MNIST scale the encoder is 128 wide, ViT-L's 1024, so
the paper's 128/256/512 become 16/32/64), the partial suite's blocks, the PCA target's k.
"""

# the paper's default ViT-L row of Table 1 (800 epochs, random 75%, 8-block 512-d decoder)
DEFAULT = {"ft": 84.9, "lin": 73.5}
# Table 1b: decoder width (8 blocks) -> (ft, lin)
PAPER_WIDTH = {128: {"ft": 84.9, "lin": 69.1}, 256: {"ft": 84.8, "lin": 71.3}, 512: DEFAULT,
               768: {"ft": 84.4, "lin": 73.1}, 1024: {"ft": 84.3, "lin": 73.1}}
# Table 1a: decoder depth (512 wide) -> (ft, lin)
PAPER_DEPTH = {1: {"ft": 84.8, "lin": 65.5}, 2: {"ft": 84.9, "lin": 70.0}, 4: {"ft": 84.9, "lin": 71.9}, 8: DEFAULT}
NAMES = ("mask-ratio", "decoder", "mask-token", "target", "augmentation", "sampling", "schedule", "partial")

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


def _decoder(depth: int, width: int, heads: int, paper: dict) -> dict:
    return {"name": f"depth {depth}, width {width}", "x": depth,
            "model": {"decoder_depth": depth, "decoder_embed_dim": width, "decoder_num_heads": heads}, "paper": paper}


def _decoders(scale: dict) -> list:
    """Table 1a's depths at the width standing for the paper's 512, then Table 1b's other widths at depth 8."""
    heads, widths = scale["decoder_heads"], scale["decoder_widths"]
    ref = next(ours for ours, paper in widths if paper == 512)
    return ([_decoder(d, ref, heads, PAPER_DEPTH[d]) for d in (1, 2, 4, 8)]
            + [_decoder(8, ours, heads, PAPER_WIDTH[paper]) for ours, paper in widths if paper != 512])


def _partial(scale: dict) -> list:
    depth = scale["arch"]["depth"]
    paper = {0: {"ft": 73.5}, 1: {"ft": 81.0}}  # Figure 9's ViT-L: 0 blocks is the linear probe
    arms = [{"name": f"{k} block{'s' if k != 1 else ''}", "x": k, "trainable": k, "model": {},
             **({"paper": paper[k]} if k in paper else {})} for k in scale["partial_blocks"] if k < depth]
    return arms + [{"name": f"all ({depth}) blocks", "x": depth, "trainable": "all", "model": {},
                    "paper": {"ft": DEFAULT["ft"]}}]


def pca_note(scale: dict) -> str:
    p, c = scale["arch"]["patch_size"], scale["arch"]["in_chans"]
    return (f"PCA: the top {scale['pca_k']} of the {p * p * c} components of a {p}x{p} "
            f"{'grey' if c == 1 else 'RGB'} patch (paper: 96 of 768)")


def suites(scale: dict) -> dict:
    """Every suite at this scale: {name: suite}."""
    grey = scale["arch"]["in_chans"] == 1
    return {
        "mask-ratio": dict(
            title="Figure 5: masking ratio", figure=True, xlabel="masking ratio", reference="ratio 75%",
            metrics=("ft", "lin"), arms=[_ratio(r) for r in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.9)]),
        "decoder": dict(
            title="Table 1a, 1b: decoder depth and width", figure=False,
            reference=f"depth 8, width {next(w for w, paper in scale['decoder_widths'] if paper == 512)}",
            metrics=("ft", "lin"), arms=_decoders(scale)),
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
                {"name": f"{f}x" if f else "0x (random init)", "x": f, "epochs": f, "model": {},
                 **({"paper": DEFAULT} if f == 1 else {"claim": {m: ("lower", SHORTER) for m in ("ft", "lin")}})}
                for f in (0, 0.25, 0.5, 1)]),  # 0x: the untrained encoder, what pretraining is measured against
        "target": dict(
            title="Table 1d: reconstruction target", figure=False, reference="pixel (w/o norm)", metrics=("ft", "lin"),
            note=pca_note(scale) + ". token: our tokenizer (pretrain/tokenizers; the scale's `tokenizer.config`, "
                 "trained on the budget's training images; details below the table); the paper's row is "
                 "DALL-E's dVAE tokens.", difference=("token", "pixel (w/ norm)"), arms=[
                {"name": "pixel (w/o norm)", "x": 0, "model": {"target": "pixel"}, "paper": DEFAULT},
                {"name": "pixel (w/ norm)", "x": 1, "model": {"target": "norm_pixel"},
                 "paper": {"ft": 85.4, "lin": 73.9}},
                {"name": "PCA", "x": 2, "model": {"target": {"type": "pca", "k": scale["pca_k"]}},
                 "paper": {"ft": 84.6, "lin": 72.3}},
                {"name": "token", "x": 3, "model": {"target": {"type": "token"}},
                 "paper": {"ft": 85.3, "lin": 71.6}}]),
        "augmentation": dict(
            title="Table 1e: data augmentation", figure=False, reference="crop, rand size", metrics=("ft", "lin"),
            note="Every arm goes through the pretraining data pipeline's per-image transforms (pretrain/data.py); "
                 f"colour jitter: torchvision ColorJitter, brightness/contrast/saturation {JITTER}"
                 + (" (saturation is a no-op on grey images)" if grey else "")
                 + ". Fine-tuning and probes are the same for all arms.", arms=[
                {"name": "none", "x": 0, "model": {}, "augment": {"crop": "none"}, "paper": {"ft": 84.0, "lin": 65.7}},
                {"name": "crop, fixed size", "x": 1, "model": {}, "augment": {"crop": "fixed_size"},
                 "paper": {"ft": 84.7, "lin": 73.1}},
                {"name": "crop, rand size", "x": 2, "model": {}, "augment": {"crop": "random_size"}, "paper": DEFAULT},
                {"name": "crop + color jit", "x": 3, "model": {},
                 "augment": {"crop": "random_size", "color_jitter": JITTER}, "paper": {"ft": 84.3, "lin": 71.9}}]),
        "partial": dict(
            title=f"Figure 9: partial fine-tuning (last k of {scale['arch']['depth']} blocks; paper: of 24)",
            figure=True, xlabel="blocks fine-tuned", reference="0 blocks", metrics=("ft",), arms=_partial(scale)),
    }
