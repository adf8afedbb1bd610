"""Pretrained weights into the classifier through the checkpoint library: report, pos-embed
resizing, refusal of wrong files; an official-layout ViT-B file into the ViT-B fine-tune config."""
import os

import pytest
import torch
from mmengine.config import Config

from pretrain.checkpoint import CheckpointError, load_pretrained
from pretrain.registry import MODELS
from tests.conftest import tiny_mae
from transfer.classification import ViTClassifier

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def small(**kw):
    torch.manual_seed(1)
    return ViTClassifier(**dict(dict(num_classes=4, img_size=32, patch_size=8, embed_dim=32, depth=2,
                                     num_heads=2), **kw))


def test_mae_checkpoint_loads_with_report(tmp_path):
    mae = tiny_mae()
    path = tmp_path / "checkpoint-final.pth"
    torch.save({"model": mae.state_dict()}, path)
    model = small()
    report = load_pretrained(model, str(path), **model.load_from_rules())
    assert sorted(report.missing) == ["fc_norm.bias", "fc_norm.weight", "head.bias", "head.weight"]
    assert sorted(report.unexpected) == ["norm.bias", "norm.weight"]
    assert any(k.startswith("decoder_") for k in report.dropped) and "mask_token" in report.dropped
    assert not report.resized
    for k in ("blocks.1.mlp.fc2.weight", "patch_embed.proj.weight", "cls_token", "pos_embed"):
        torch.testing.assert_close(model.state_dict()[k], mae.state_dict()[k], rtol=0, atol=0)
    # the cls-token classifier keeps the encoder's final norm
    cls_model = small(global_pool=False, probe_bn=True, trainable="head")
    report = load_pretrained(cls_model, str(path), **cls_model.load_from_rules())
    assert not report.unexpected and "norm.weight" in report.loaded
    torch.testing.assert_close(cls_model.norm.weight, mae.norm.weight)


def test_pos_embed_resized_for_another_image_size(tmp_path):
    mae = tiny_mae()
    model = small(img_size=48)  # 6x6 patches instead of the checkpoint's 4x4
    report = load_pretrained(model, {k: v for k, v in mae.state_dict().items()}, **model.load_from_rules())
    (resized,) = report.resized
    assert resized[0] == "pos_embed" and resized[1] == (1, 17, 32) and resized[2] == (1, 37, 32)
    # class token's entry is kept; the fixed sin-cos table of the pretrainer is recomputed exactly
    torch.testing.assert_close(model.pos_embed[:, :1], mae.pos_embed[:, :1])
    from pretrain.pos_embed import sincos_2d
    torch.testing.assert_close(model.pos_embed[0], sincos_2d(32, 6, 6, cls_token=True), rtol=0, atol=1e-6)
    out = model.eval()(torch.randn(2, 3, 48, 48))
    assert out.shape == (2, 4) and torch.isfinite(out).all()


def test_wrong_checkpoints_are_refused(tmp_path):
    model = small()
    with pytest.raises(CheckpointError, match="does not match"):
        load_pretrained(model, tiny_mae(embed_dim=64).state_dict(), **model.load_from_rules())
    decoder_only = {k: v for k, v in tiny_mae().state_dict().items() if k.startswith("decoder_")}
    with pytest.raises(CheckpointError, match="no ViT encoder"):
        load_pretrained(model, decoder_only, **model.load_from_rules())
    deeper = tiny_mae(depth=3).state_dict()
    with pytest.raises(CheckpointError, match="blocks.2"):
        load_pretrained(model, deeper, **model.load_from_rules())


@pytest.mark.slow
def test_official_layout_vit_base_into_finetune_config(tmp_path):
    """An official MAE release file ({'model': ...}, encoder + decoder, ViT-B/16) made here by the
    pretraining code loads into the ViT-B fine-tune config's model; nothing is downloaded."""
    from pretrain.mae import build_mae
    import transfer.classification  # noqa: F401

    torch.manual_seed(0)
    mae = build_mae("mae_vit_base_patch16")
    path = tmp_path / "mae_pretrain_vit_base_full.pth"
    torch.save({"model": mae.state_dict()}, path)
    del mae
    cfg = Config.fromfile(os.path.join(ROOT, "configs/classification/vit-base-p16_ft-100e_in1k.py"))
    model = MODELS.build(cfg.model)
    report = load_pretrained(model, str(path), **model.load_from_rules())
    assert len(report.loaded) == len([k for k in model.state_dict() if not k.startswith(("head.", "fc_norm."))])
    assert sorted(report.missing) == ["fc_norm.bias", "fc_norm.weight", "head.bias", "head.weight"]
    assert model.eval()(torch.randn(1, 3, 224, 224)).shape == (1, 1000)
