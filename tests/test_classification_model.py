"""The classifier: head and pooling as in the official MAE fine-tuning code, what trains in each
mode (linear probe, partial k = 0 ... depth, last MLP), frozen parts in eval mode, the loss
choices, timm compatibility of the keys, and the top-k metric."""
import pytest
import torch
import torch.nn as nn

from transfer.classification import ViTClassifier
from transfer.classification.metric import TopKAccuracy

SMALL = dict(num_classes=5, img_size=32, patch_size=8, embed_dim=32, depth=3, num_heads=2)


def classifier(**kw):
    torch.manual_seed(0)
    return ViTClassifier(**dict(SMALL, **kw))


def n_trainable(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def numel(module):
    return sum(p.numel() for p in module.parameters())


def test_head_init_and_global_pool_layout():
    m = classifier()
    # timm's trunc_normal_(std=2e-5), as the official code calls it (its cut-off, +-2, is absolute)
    assert 1.5e-5 < m.head.weight.std().item() < 2.5e-5
    assert torch.all(m.head.bias == 0)
    keys = set(m.state_dict())
    assert {"fc_norm.weight", "fc_norm.bias", "head.weight", "head.bias"} <= keys
    assert not any(k.startswith("norm.") for k in keys)  # global pool drops the encoder's final norm
    m.eval()
    x = torch.randn(2, 3, 32, 32)
    t = m.tokens(x)
    for blk in m.blocks:
        t = blk(t)
    torch.testing.assert_close(m.pooled(x), m.fc_norm(t[:, 1:].mean(1)))


def test_cls_token_probe_head_layout():
    m = classifier(global_pool=False, probe_bn=True, head_init_std=0.01, trainable="head")
    keys = set(m.state_dict())
    assert {"norm.weight", "head.0.running_mean", "head.1.weight"} <= keys and "fc_norm.weight" not in keys
    bn = m.head[0]
    assert isinstance(bn, nn.BatchNorm1d) and not bn.affine and bn.eps == 1e-6


def test_keys_load_into_timm_vit():
    """A fine-tuned model is a timm VisionTransformer(global_pool='avg', fc_norm=True) state dict."""
    from timm.models.vision_transformer import VisionTransformer

    m = classifier()
    ref = VisionTransformer(img_size=32, patch_size=8, embed_dim=32, depth=3, num_heads=2, num_classes=5,
                            global_pool="avg", fc_norm=True)
    ref.load_state_dict(m.state_dict(), strict=True)
    m.eval(), ref.eval()
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(m(x), ref(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("k", range(SMALL["depth"] + 1))
def test_partial_parameter_counts(k):
    m = classifier(trainable=k)
    expected = numel(m.head) + numel(m.fc_norm) + k * numel(m.blocks[0])
    assert n_trainable(m) == expected
    trainable_blocks = [i for i, b in enumerate(m.blocks) if any(p.requires_grad for p in b.parameters())]
    assert trainable_blocks == list(range(SMALL["depth"] - k, SMALL["depth"]))
    assert not m.cls_token.requires_grad and not m.pos_embed.requires_grad
    assert not any(p.requires_grad for p in m.patch_embed.parameters())


def test_named_modes_parameter_counts():
    full = classifier()
    assert n_trainable(full) == numel(full)
    probe = classifier(trainable="head", probe_bn=True, global_pool=False)
    assert n_trainable(probe) == numel(probe.head) == SMALL["embed_dim"] * 5 + 5  # BN has no affine
    mlp = classifier(trainable="last_mlp")
    last = mlp.blocks[-1]
    assert n_trainable(mlp) == numel(mlp.head) + numel(mlp.fc_norm) + numel(last.norm2) + numel(last.mlp)
    assert not any(p.requires_grad for p in last.attn.parameters())


@pytest.mark.parametrize("bad", [-1, 4, "some", True, 1.5])
def test_trainable_out_of_range_is_an_error(bad):
    with pytest.raises(ValueError, match="trainable"):
        classifier(trainable=bad)


def test_frozen_parts_stay_in_eval_mode():
    m = classifier(trainable=1, drop_path_rate=0.5).train()
    assert m.training and m.blocks[-1].training and m.head.training and m.fc_norm.training
    assert not m.blocks[0].training and not m.blocks[1].training and not m.patch_embed.training
    x = torch.randn(2, 3, 32, 32)
    # frozen blocks have drop path off: their output is deterministic in train mode
    t = m.tokens(x)
    a, b = m.blocks[0](t), m.blocks[0](t)
    torch.testing.assert_close(a, b)
    probe = classifier(trainable="head", probe_bn=True, global_pool=False, drop_path_rate=0.5).train()
    assert probe.head.training and not any(mod.training for mod in probe.blocks.modules())
    torch.testing.assert_close(probe.pooled(x), probe.pooled(x))  # the frozen encoder is deterministic


@pytest.mark.parametrize("trainable", ["head", 1, "last_mlp"])
def test_frozen_parameters_do_not_change_while_head_does(trainable):
    m = classifier(trainable=trainable, probe_bn=trainable == "head", global_pool=trainable != "head")
    before = {k: v.clone() for k, v in m.state_dict().items()}
    opt = torch.optim.SGD([p for p in m.parameters() if p.requires_grad], lr=0.5, momentum=0.9)
    torch.manual_seed(1)
    m.train()
    for _ in range(3):
        loss = m(torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3]), mode="loss")["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = m.state_dict()
    names = {n for n, p in m.named_parameters() if p.requires_grad}
    for k, v in after.items():
        if k in names or "running_" in k or "num_batches" in k:
            continue
        torch.testing.assert_close(v, before[k], rtol=0, atol=0, msg=f"frozen {k} changed")
    head_w = "head.1.weight" if trainable == "head" else "head.weight"
    assert not torch.equal(after[head_w], before[head_w])


def test_losses_follow_the_recipe():
    from timm.loss import LabelSmoothingCrossEntropy, SoftTargetCrossEntropy

    assert isinstance(classifier(mixup=dict(mixup_alpha=0.8, cutmix_alpha=1.0)).criterion, SoftTargetCrossEntropy)
    assert isinstance(classifier(label_smoothing=0.1).criterion, LabelSmoothingCrossEntropy)
    assert isinstance(classifier().criterion, nn.CrossEntropyLoss)
    m = classifier(mixup=dict(mixup_alpha=0.8, cutmix_alpha=1.0, label_smoothing=0.1))
    loss = m(torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3]), mode="loss")["loss"]
    # a head of std 2e-5 gives near-uniform predictions: the soft-target loss is about log(C)
    assert abs(loss.item() - torch.log(torch.tensor(5.0)).item()) < 1e-2


def test_predict_and_topk_metric():
    m = classifier().eval()
    x, y = torch.randn(6, 3, 32, 32), torch.tensor([0, 1, 2, 3, 4, 0])
    out = m(x, y, mode="predict")
    assert len(out) == 6 and out[0]["logits"].shape == (5,)
    metric = TopKAccuracy(topk=(1, 2))
    logits = torch.tensor([[5.0, 1, 0, 0, 0], [5.0, 4, 0, 0, 0], [5.0, 4, 3, 0, 0]])
    metric.process(None, [{"logits": lg, "label": torch.tensor(lb)} for lg, lb in zip(logits, [0, 1, 2])])
    res = metric.compute_metrics(metric.results)
    assert res["top1"] == pytest.approx(100 / 3) and res["top2"] == pytest.approx(200 / 3)
