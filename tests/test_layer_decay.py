"""Layer-wise lr decay: the layer id, lr scale and weight decay of every parameter of a 12-block
ViT, for the official MAE rule and the ViTDet and mmseg variants, against tables written out here."""
import pytest
import torch.nn as nn

from pretrain.registry import OPTIM_WRAPPER_CONSTRUCTORS
from pretrain.vit import ViT
import transfer.layer_decay  # noqa: F401  (registers the constructor)

# per-block parameters: (name, weight decay under 'mae' and 'mmseg', under 'vitdet')
BLOCK_PARAMS = [
    ("norm1.weight", False, False), ("norm1.bias", False, False),
    ("attn.qkv.weight", True, True), ("attn.qkv.bias", False, True),
    ("attn.proj.weight", True, True), ("attn.proj.bias", False, True),
    ("norm2.weight", False, False), ("norm2.bias", False, False),
    ("mlp.fc1.weight", True, True), ("mlp.fc1.bias", False, True),
    ("mlp.fc2.weight", True, True), ("mlp.fc2.bias", False, True),
]
# block index -> (layer id, exponent of the decay rate): 12 blocks, so 13 - layer id
BLOCK_LAYERS = {0: (1, 12), 1: (2, 11), 2: (3, 10), 3: (4, 9), 4: (5, 8), 5: (6, 7),
                6: (7, 6), 7: (8, 5), 8: (9, 4), 9: (10, 3), 10: (11, 2), 11: (12, 1)}
# everything that is not in a block: name -> (layer id, exponent, weight decay)
OTHERS = {
    "mae": {  # a classifier: ViT at the top level, head after it
        "patch_embed.proj.weight": (0, 13, True), "patch_embed.proj.bias": (0, 13, False),
        "cls_token": (0, 13, False), "pos_embed": (0, 13, False),
        "norm.weight": (13, 0, False), "norm.bias": (13, 0, False),
        "head.weight": (13, 0, True), "head.bias": (13, 0, False),
    },
}
# a detector / segmenter: ViT under 'backbone.', a neck with a GroupNorm, a head.
# name -> ('vitdet' row, 'mmseg' row); mmseg decays pos_embed and cls_token as its reference does
DENSE = {
    "backbone.patch_embed.proj.weight": ((0, 13, True), (0, 13, True)),
    "backbone.patch_embed.proj.bias": ((0, 13, True), (0, 13, False)),
    "backbone.cls_token": ((13, 0, True), (0, 13, True)),
    "backbone.pos_embed": ((0, 13, False), (0, 13, True)),
    "backbone.norm.weight": ((13, 0, False), (13, 0, False)),
    "backbone.norm.bias": ((13, 0, False), (13, 0, False)),
    "neck.conv.weight": ((13, 0, True), (13, 0, True)),
    "neck.conv.bias": ((13, 0, True), (13, 0, False)),
    "neck.norm.weight": ((13, 0, False), (13, 0, False)),
    "neck.norm.bias": ((13, 0, False), (13, 0, False)),
    "head.weight": ((13, 0, True), (13, 0, True)),
    "head.bias": ((13, 0, True), (13, 0, False)),
}
OTHERS["vitdet"] = {k: v[0] for k, v in DENSE.items()}
OTHERS["mmseg"] = {k: v[1] for k, v in DENSE.items()}
RATES = {"mae": 0.75, "vitdet": 0.7, "mmseg": 0.65}  # the papers' ViT-B settings


def vit12():
    return ViT(img_size=16, patch_size=8, embed_dim=16, depth=12, num_heads=2, learnable_pos_embed=True)


class Classifier(ViT):
    def __init__(self):
        super().__init__(img_size=16, patch_size=8, embed_dim=16, depth=12, num_heads=2, learnable_pos_embed=True)
        self.head = nn.Linear(16, 5)


class Dense(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = vit12()
        self.neck = nn.Module()
        self.neck.conv = nn.Conv2d(16, 8, 1)
        self.neck.norm = nn.GroupNorm(2, 8)
        self.head = nn.Linear(8, 5)


def build(model, variant, lr=1e-3, wd=0.05, **extra):
    cfg = dict(type="LayerDecayOptimWrapperConstructor",
               optim_wrapper_cfg=dict(optimizer=dict(type="AdamW", lr=lr, weight_decay=wd)),
               paramwise_cfg=dict(layer_decay_rate=RATES[variant], variant=variant, **extra))
    return OPTIM_WRAPPER_CONSTRUCTORS.build(cfg)(model)


@pytest.mark.parametrize("variant", ["mae", "vitdet", "mmseg"])
def test_every_parameter_against_the_table(variant):
    model = Classifier() if variant == "mae" else Dense()
    prefix = "" if variant == "mae" else "backbone."
    expected = dict(OTHERS[variant])
    for i, (layer, exponent) in BLOCK_LAYERS.items():
        for name, decay, vitdet_decay in BLOCK_PARAMS:
            expected[f"{prefix}blocks.{i}.{name}"] = (layer, exponent, vitdet_decay if variant == "vitdet" else decay)
    wrapper = build(model, variant)
    seen = {}
    for group in wrapper.optimizer.param_groups:
        for name in group["param_names"]:
            seen[name] = (group["layer_id"], group["lr_scale"], group["lr"], group["weight_decay"])
    assert set(seen) == set(expected) == {n for n, _ in model.named_parameters()}
    rate = RATES[variant]
    for name, (layer, exponent, decay) in expected.items():
        got_layer, scale, lr, wd = seen[name]
        assert got_layer == layer, name
        assert scale == pytest.approx(rate ** exponent, rel=1e-12), name
        assert lr == pytest.approx(1e-3 * rate ** exponent, rel=1e-12), name
        assert wd == (0.05 if decay else 0.0), name


def test_num_layers_and_errors():
    wrapper = build(Classifier(), "mae", num_layers=12)
    assert {g["layer_id"] for g in wrapper.optimizer.param_groups} == set(range(14))
    with pytest.raises(ValueError, match=r"unknown paramwise_cfg keys \['decay_rate'\]"):
        build(Classifier(), "mae", decay_rate=0.7)
    with pytest.raises(ValueError, match="variant must be one of"):
        OPTIM_WRAPPER_CONSTRUCTORS.build(dict(
            type="LayerDecayOptimWrapperConstructor", optim_wrapper_cfg=dict(optimizer=dict(type="AdamW", lr=1e-3)),
            paramwise_cfg=dict(variant="beit")))
    with pytest.raises(ValueError, match="layer decay needs a ViT"):
        build(nn.Sequential(nn.Linear(2, 2)), "mae")
