"""ADE20K segmentation through mmseg: backbone features, checkpoint loading, reader, metric, inference."""
import os

import numpy as np
import pytest
import torch

pytest.importorskip("mmseg", reason="segmentation needs the 'seg' extra: pip install -e .[seg]")

from mmengine.config import Config  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

import transfer.segmentation  # noqa: E402,F401
from mmseg.registry import DATASETS, METRICS, MODELS  # noqa: E402
from mmseg.structures import SegDataSample  # noqa: E402
from mmengine.structures import PixelData  # noqa: E402
from pretrain.data import DataError  # noqa: E402
from transfer.segmentation.synthetic import write_ade20k  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..")
TINY_CFG = os.path.join(ROOT, "configs", "segmentation", "upernet_mae_vit-tiny-p8_synthetic-ade20k-64x64_cpu.py")
PAPER_CFG = os.path.join(ROOT, "configs", "segmentation", "upernet_mae_vit-base-p16_8xb2-amp-160k_ade20k-512x512.py")


@pytest.fixture(autouse=True)
def mmseg_scope():
    init_default_scope("mmseg")


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
