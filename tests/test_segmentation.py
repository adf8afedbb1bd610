"""ADE20K segmentation through mmseg: backbone features, checkpoint loading, reader, metric, inference."""
import copy
import os

import numpy as np
import pytest
import torch

pytest.importorskip("mmseg", reason="segmentation needs the 'seg' extra: pip install -e .[seg]")

from mmengine.config import Config  # noqa: E402
from mmengine.registry import DefaultScope  # noqa: E402

import transfer.segmentation  # noqa: E402,F401
from mmseg.registry import DATASETS, METRICS, MODELS  # noqa: E402
from mmseg.structures import SegDataSample  # noqa: E402
from mmengine.structures import PixelData  # noqa: E402
from pretrain.errors import DataError  # noqa: E402
from transfer.segmentation.synthetic import write_ade20k  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..")
TINY_CFG = os.path.join(ROOT, "configs", "segmentation", "upernet_mae_vit-tiny-p8_synthetic-ade20k-64x64_cpu.py")
PAPER_CFG = os.path.join(ROOT, "configs", "segmentation", "upernet_mae_vit-base-p16_8xb2-amp-160k_ade20k-512x512.py")


@pytest.fixture(autouse=True)
def mmseg_scope():
    """mmseg's scope for these tests only (a leaked default scope breaks later builds in our scope)."""
    with DefaultScope.overwrite_default_scope("mmseg"):
        yield


def tiny_backbone(**kw):
    args = dict(type="MAEViT", arch=None, img_size=64, patch_size=16, embed_dim=32, depth=12, num_heads=2)
    args.update(kw)
    torch.manual_seed(0)
    return MODELS.build(args)


def tiny_segmentor(**test_cfg):
    cfg = Config.fromfile(TINY_CFG).model
    cfg.backbone.update(embed_dim=32, depth=2, out_indices=(0, 0, 1, 1))
    cfg.neck.embed_dim = 32
    cfg.decode_head.update(in_channels=[32] * 4, channels=16)
    cfg.auxiliary_head.update(in_channels=32, channels=16)
    cfg.test_cfg.update(test_cfg)
    torch.manual_seed(0)
    return MODELS.build(cfg).eval()


# ---- backbone ------------------------------------------------------------------------------------
def test_features_from_the_chosen_blocks_have_stride_16_and_the_neck_makes_4_to_32():
    vit = tiny_backbone().eval()
    assert vit.out_indices == (3, 5, 7, 11)  # after blocks 4, 6, 8, 12 (ViT-B recipe)
    x = torch.randn(2, 3, 64, 96)
    feats = vit(x)
    assert [tuple(f.shape) for f in feats] == [(2, 32, 4, 6)] * 4
    neck = MODELS.build(dict(type="Feature2Pyramid", embed_dim=32, rescales=[4, 2, 1, 0.5],
                             norm_cfg=dict(type="BN")))
    strides = [64 // p.shape[2] for p in neck(feats)]
    assert strides == [4, 8, 16, 32]
    assert tiny_backbone(depth=24).out_indices == (7, 11, 15, 23)  # ViT-L: after blocks 8, 12, 16, 24


def test_zero_relative_bias_gives_the_plain_vit_blocks_and_a_learned_one_changes_them():
    vit = tiny_backbone(drop_path_rate=0.0).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        plain = vit.get_intermediate_layers(x, vit.out_indices)
        ours = vit(x)
        for a, b in zip(plain, ours):
            torch.testing.assert_close(a, b)
        torch.nn.init.normal_(vit.blocks[0].attn.relative_position_bias_table, std=1.0)
        assert not torch.allclose(vit(x)[0], ours[0])


def test_relative_bias_follows_other_input_sizes_and_bad_indices_are_refused():
    vit = tiny_backbone().eval()
    with torch.no_grad():
        assert vit(torch.randn(1, 3, 80, 48))[0].shape[-2:] == (5, 3)
    with pytest.raises(ValueError, match="out_indices"):
        tiny_backbone(out_indices=(3, 12))


# ---- data ----------------------------------------------------------------------------------------
def ade_dataset(root, split="training", **kw):
    return DATASETS.build(dict(type="ADE20KFolder", data_root=root, pipeline=[
        dict(type="LoadImageFromFile"), dict(type="LoadAnnotations", reduce_zero_label=True),
        dict(type="PackSegInputs")],
        data_prefix=dict(img_path=f"images/{split}", seg_map_path=f"annotations/{split}"), **kw))


def test_generated_tree_has_the_ade20k_layout_exact_labels_and_ignore_pixels(tmp_path):
    root = write_ade20k(str(tmp_path / "ADEChallengeData2016"), num_train=3, num_val=2, size=(48, 64),
                        num_classes=6, seed=1)
    for sub in ("images/training", "images/validation", "annotations/training", "annotations/validation"):
        assert os.path.isdir(os.path.join(root, sub))
    assert sorted(os.listdir(os.path.join(root, "images", "validation"))) == ["ADE_val_00000001.jpg",
                                                                              "ADE_val_00000002.jpg"]
    ds = ade_dataset(root)
    assert len(ds) == 3 and len(ds.metainfo["classes"]) == 150
    sample = ds[0]["data_samples"]
    assert tuple(sample.gt_sem_seg.data.shape) == (1, 48, 64)
    values = set(np.unique(sample.gt_sem_seg.data.numpy()).tolist())
    assert 255 in values  # ADE20K's label 0 ("other") becomes the ignore index
    assert values - {255} <= set(range(6)) and len(values - {255}) >= 2  # several classes per scene
    again = write_ade20k(str(tmp_path / "again"), num_train=3, num_val=2, size=(48, 64), num_classes=6, seed=1)
    import cv2
    name = "annotations/training/ADE_train_00000002.png"
    np.testing.assert_array_equal(cv2.imread(os.path.join(root, name), cv2.IMREAD_UNCHANGED),
                                  cv2.imread(os.path.join(again, name), cv2.IMREAD_UNCHANGED))


def test_missing_annotation_is_an_error_naming_the_image(tmp_path):
    root = write_ade20k(str(tmp_path / "ADE"), num_train=2, num_val=1, size=32, num_classes=4)
    os.remove(os.path.join(root, "annotations", "training", "ADE_train_00000002.png"))
    with pytest.raises(DataError, match="ADE_train_00000002.jpg has no annotation"):
        ade_dataset(root)
    with pytest.raises(DataError, match="image folder not found"):
        ade_dataset(str(tmp_path / "nowhere"))


def test_synthetic_dataset_generates_once_and_refuses_other_settings(tmp_path):
    root = str(tmp_path / "syn" / "ADEChallengeData2016")
    synthetic = dict(num_train=2, num_val=1, size=(32, 32), num_classes=4, seed=0)
    kw = dict(type="SyntheticADE20KDataset", data_root=root, synthetic=synthetic,
              data_prefix=dict(img_path="images/training", seg_map_path="annotations/training"))
    ds = DATASETS.build(dict(kw))
    assert len(ds) == 2 and ds.metainfo["classes"] == DATASETS.get("ADE20KDataset").METAINFO["classes"][:4]
    with pytest.raises(DataError, match="generated with other settings"):
        DATASETS.build(dict(kw, synthetic=dict(synthetic, seed=1)))


# ---- metric --------------------------------------------------------------------------------------
def iou(pred, gt, classes):
    metric = METRICS.build(dict(type="IoUMetric", iou_metrics=["mIoU"]))
    metric.dataset_meta = dict(classes=classes)
    sample = SegDataSample()
    sample.pred_sem_seg = PixelData(data=torch.as_tensor(pred)[None])
    sample.gt_sem_seg = PixelData(data=torch.as_tensor(gt)[None])
    metric.process({}, [sample.to_dict()])
    return metric.evaluate(1)


def test_metric_is_100_for_perfect_predictions_and_right_on_a_hand_computed_case():
    gt = torch.tensor([[0, 0, 1], [1, 255, 1]])
    assert iou(gt.clamp(max=1), gt, ("a", "b")) == dict(aAcc=100.0, mIoU=100.0, mAcc=100.0)
    pred = torch.tensor([[0, 1, 1], [1, 0, 0]])  # the ignored pixel's prediction must not count
    # class a: 1 hit, 2 predicted, 2 true -> IoU 1/3, acc 1/2; class b: 2 hits, 3 predicted, 3 true
    # -> IoU 2/4, acc 2/3; 3 of the 5 labelled pixels right
    got = iou(pred, gt, ("a", "b"))
    assert got == dict(aAcc=60.0, mIoU=round((1 / 3 + 1 / 2) / 2 * 100, 2), mAcc=round((1 / 2 + 2 / 3) / 2 * 100, 2))


# ---- inference -----------------------------------------------------------------------------------
@pytest.mark.parametrize("crop", [64, 96])
def test_sliding_window_equals_whole_image_when_the_crop_covers_it(crop):
    model = tiny_segmentor(mode="slide", crop_size=(crop, crop), stride=(crop * 2 // 3,) * 2)
    for blk in model.backbone.blocks:  # a non-trivial relative bias
        torch.nn.init.normal_(blk.attn.relative_position_bias_table, std=0.5)
    x = torch.randn(1, 3, 64, 64)
    metas = [dict(img_shape=(64, 64), ori_shape=(64, 64), pad_shape=(64, 64), padding_size=[0, 0, 0, 0])]
    with torch.no_grad():
        slide = model.inference(x, metas)
        model.test_cfg.mode = "whole"
        whole = model.inference(x, metas)
    assert slide.shape == (1, 8, 64, 64)
    torch.testing.assert_close(slide, whole)


# ---- checkpoints ---------------------------------------------------------------------------------
def test_mae_checkpoint_loads_into_the_segmentor_with_a_report(tmp_path):
    from tests.conftest import tiny_mae  # 32x32 images, patch 8, width 32, 2 blocks, with a decoder

    mae = tiny_mae()
    path = str(tmp_path / "mae.pth")
    torch.save({"model": mae.state_dict()}, path)  # the official release layout
    cfg = Config.fromfile(TINY_CFG).model
    cfg.backbone.update(embed_dim=32, depth=2, out_indices=(0, 0, 1, 1))
    cfg.neck.embed_dim = 32
    cfg.decode_head.update(in_channels=[32] * 4, channels=16)
    cfg.auxiliary_head.update(in_channels=32, channels=16)
    cfg.pretrained = path  # mmseg's convention: EncoderDecoder hands it to the backbone
    seg = MODELS.build(copy.deepcopy(cfg))
    seg.init_weights()
    report = seg.backbone.load_report
    assert report.missing == ["blocks.0.attn.relative_position_bias_table", "blocks.1.attn.relative_position_bias_table"]
    assert sorted(report.unexpected) == ["norm.bias", "norm.weight"]
    assert [r[:3] for r in report.resized] == [("pos_embed", (1, 17, 32), (1, 65, 32))]  # 4x4 grid -> crop's 8x8
    assert any(k.startswith("decoder_") for k in report.dropped)
    for k, v in seg.backbone.blocks.state_dict().items():
        if "relative_position" not in k:
            torch.testing.assert_close(v, mae.blocks.state_dict()[k])

    from pretrain.checkpoint import CheckpointError
    wide = tiny_mae(embed_dim=64, decoder_embed_dim=32)
    torch.save({"model": wide.state_dict()}, path)
    seg = MODELS.build(copy.deepcopy(cfg))
    with pytest.raises(CheckpointError, match="does not match the model architecture"):
        seg.init_weights()


# ---- layer decay ---------------------------------------------------------------------------------
def test_layer_decay_gives_the_official_mae_segmentation_scales():
    """BEiT's segmentation constructor, as MAE used it for ADE20K (ViT-B, rate 0.65): patch
    embedding, cls token, position table in layer 0, block i in layer i + 1, neck and heads in
    layer 13; lr scale 0.65 ** (13 - layer)."""
    from mmengine.optim import build_optim_wrapper

    cfg = Config.fromfile(TINY_CFG).model
    cfg.backbone.update(embed_dim=16, depth=12, num_heads=2, out_indices=(3, 5, 7, 11))
    cfg.neck.embed_dim = 16
    cfg.decode_head.update(in_channels=[16] * 4, channels=8)
    cfg.auxiliary_head.update(in_channels=16, channels=8)
    model = MODELS.build(cfg)
    optim_cfg = Config.fromfile(PAPER_CFG).optim_wrapper
    optim_cfg.type = "OptimWrapper"  # the paper's fp16 AmpOptimWrapper needs CUDA; scales are the same
    wrapper = build_optim_wrapper(model, optim_cfg)
    scale = {n: g["lr_scale"] for g in wrapper.optimizer.param_groups for n in g["param_names"]}
    expected_by_layer = {0: 0.65 ** 13, 1: 0.65 ** 12, 2: 0.65 ** 11, 3: 0.65 ** 10, 4: 0.65 ** 9, 5: 0.65 ** 8,
                         6: 0.65 ** 7, 7: 0.65 ** 6, 8: 0.65 ** 5, 9: 0.65 ** 4, 10: 0.65 ** 3, 11: 0.65 ** 2,
                         12: 0.65 ** 1, 13: 1.0}
    for name, s in scale.items():
        if name in ("backbone.cls_token", "backbone.pos_embed") or name.startswith("backbone.patch_embed."):
            layer = 0
        elif name.startswith("backbone.blocks."):
            layer = int(name.split(".")[2]) + 1
        else:
            assert name.startswith(("neck.", "decode_head.", "auxiliary_head.")), name
            layer = 13
        assert s == pytest.approx(expected_by_layer[layer]), name
    assert scale["backbone.blocks.4.attn.relative_position_bias_table"] == pytest.approx(0.65 ** 8)
    lr = {n: g["lr"] for g in wrapper.optimizer.param_groups for n in g["param_names"]}
    assert lr["decode_head.conv_seg.weight"] == pytest.approx(1e-4)
    wd = {n: g["weight_decay"] for g in wrapper.optimizer.param_groups for n in g["param_names"]}
    assert wd["backbone.blocks.0.attn.qkv.weight"] == 0.05 and wd["backbone.blocks.0.attn.qkv.bias"] == 0.0
