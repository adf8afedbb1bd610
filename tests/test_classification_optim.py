"""LARS for the linear probe: timm's Lars grouped by our rule gives the official MAE LARS update."""
import pytest
import torch
import torch.nn as nn

from transfer.classification.lars import MAELars


def official_lars_step(params, state, lr, weight_decay=0.0, momentum=0.9, trust_coefficient=0.001):
    """The official MAE util/lars.py step, written out as the reference (1-D parameters are
    neither decayed nor adapted)."""
    with torch.no_grad():
        for p in params:
            dp = p.grad
            if p.ndim > 1:
                dp = dp.add(p, alpha=weight_decay)
                param_norm, update_norm = torch.norm(p), torch.norm(dp)
                one = torch.ones_like(param_norm)
                q = torch.where(param_norm > 0.0,
                                torch.where(update_norm > 0, trust_coefficient * param_norm / update_norm, one), one)
                dp = dp.mul(q)
            mu = state.setdefault(p, torch.zeros_like(p))
            mu.mul_(momentum).add_(dp)
            p.add_(mu, alpha=-lr)


def test_lars_matches_official_update():
    torch.manual_seed(0)
    ours = nn.Sequential(nn.BatchNorm1d(16, affine=False), nn.Linear(16, 7))
    ref = nn.Sequential(nn.BatchNorm1d(16, affine=False), nn.Linear(16, 7))
    ref.load_state_dict(ours.state_dict())
    opt = MAELars(ours.parameters(), lr=1.5, weight_decay=0.0)
    state = {}
    for step in range(4):
        x, y = torch.randn(32, 16), torch.randint(0, 7, (32,))
        for m in (ours, ref):
            m.zero_grad()
            nn.functional.cross_entropy(m(x), y).backward()
        opt.step()
        official_lars_step(list(ref.parameters()), state, lr=1.5)
        for (k, a), b in zip(ours.state_dict().items(), ref.state_dict().values()):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7, msg=f"step {step}: {k}")
    assert not torch.equal(ours[1].weight, nn.Linear(16, 7).weight)


def test_lars_skips_frozen_and_rejects_groups():
    frozen, head = nn.Linear(4, 4), nn.Linear(4, 2)
    frozen.requires_grad_(False)
    opt = MAELars(list(frozen.parameters()) + list(head.parameters()), lr=0.1)
    assert sum(len(g["params"]) for g in opt.param_groups) == 2
    with pytest.raises(ValueError, match="parameter groups"):
        MAELars([{"params": head.parameters()}], lr=0.1)


@pytest.mark.parametrize("trainable", ["all", 1, 0, "last_mlp"])
def test_layer_decay_groups_of_the_classifier(trainable):
    """Scales follow the full depth whatever trains: head and fc_norm lr x1, block i x rate^(L-i),
    embeddings x rate^(L+1); frozen parameters are in no group."""
    from transfer.classification import ViTClassifier
    from transfer.layer_decay import LayerDecayOptimWrapperConstructor

    depth, rate = 3, 0.65
    model = ViTClassifier(num_classes=5, img_size=32, patch_size=8, embed_dim=32, depth=depth, num_heads=2,
                          trainable=trainable)
    ctor = LayerDecayOptimWrapperConstructor(
        dict(type="OptimWrapper", optimizer=dict(type="AdamW", lr=1.0, weight_decay=0.05)),
        dict(layer_decay_rate=rate, variant="mae"))
    groups = ctor(model).optimizer.param_groups
    scale = {n: g["lr_scale"] for g in groups for n in g["param_names"]}
    assert set(scale) == {n for n, p in model.named_parameters() if p.requires_grad}
    for name, s in scale.items():
        if name.startswith(("head.", "fc_norm.")):
            assert s == 1.0, name
        elif name.startswith("blocks."):
            i = int(name.split(".")[1])
            assert s == pytest.approx(rate ** (depth - i)), name
        else:
            assert name in ("cls_token", "pos_embed") or name.startswith("patch_embed."), name
            assert s == pytest.approx(rate ** (depth + 1)), name
    no_decay = {n for g in groups if g["weight_decay"] == 0 for n in g["param_names"]}
    assert {n for n in scale if n.endswith(".bias") or n in ("cls_token", "pos_embed")} <= no_decay
