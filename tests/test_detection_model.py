"""The Mask R-CNN model: losses, predictions in original-image pixels, batching, checkpoints, layer decay."""
import pytest
import torch
from mmengine.structures import BaseDataElement, InstanceData

from pretrain.checkpoint import load_pretrained
from transfer.detection.detector import MaskRCNN, PaddedBatch


def tiny_detector(**kw):
    torch.manual_seed(0)
    net = dict(type="ViTDet", img_size=64, patch_size=16, embed_dim=32, depth=4, num_heads=2, window_size=2,
               global_blocks=(1, 3), pretrain_img_size=64)
    args = dict(backbone=dict(type="SimpleFeaturePyramid", net=net, out_channels=16), num_classes=3,
                anchor_sizes=(8, 16, 32, 64, 128), head_channels=16, head_convs=1, fc_dim=32,
                detector=dict(box_batch_size_per_image=32, rpn_post_nms_top_n_train=100))
    args.update(kw)
    return MaskRCNN(**args)


def samples(sizes, with_targets=True):
    images, out = [], []
    for h, w in sizes:
        images.append(torch.randint(0, 256, (3, h, w), dtype=torch.uint8))
        s = BaseDataElement(metainfo=dict(img_id=len(out) + 1, ori_shape=(2 * h, 2 * w)))
        if with_targets:
            masks = torch.zeros(2, h, w, dtype=torch.uint8)
            masks[0, 4:20, 6:30], masks[1, 30:50, 10:40] = 1, 1
            s.gt_instances = InstanceData(boxes=torch.tensor([[6.0, 4, 30, 20], [10, 30, 40, 50]]),
                                          labels=torch.tensor([1, 3]), masks=masks)
        out.append(s)
    return images, out


def test_training_losses_and_gradients():
    model = tiny_detector().train()
    images, data = samples([(64, 64), (56, 48)])
    losses = model(images, data, mode="loss")
    assert set(losses) == {"loss_objectness", "loss_rpn_box_reg", "loss_classifier", "loss_box_reg", "loss_mask"}
    assert all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    assert model.backbone.net.blocks[0].attn.qkv.weight.grad.abs().sum() > 0
    assert model.backbone.simfp_2[0].weight.grad is not None


def test_predictions_are_in_original_image_pixels():
    model = tiny_detector().eval()
    images, data = samples([(64, 48)], with_targets=False)  # the original was 128 x 96
    with torch.no_grad():
        (out,) = model(images, data, mode="predict")
    pred = out.pred_instances
    assert pred.masks.shape[1:] == (128, 96) and pred.masks.dtype == torch.bool
    assert len(pred) > 0 and (pred.boxes[:, 2] <= 96).all() and (pred.boxes[:, 3] <= 128).all()
    assert ((pred.labels >= 1) & (pred.labels <= 3)).all()


def test_padded_batch_normalises_and_pads_without_resizing():
    batch = PaddedBatch((10.0, 20.0, 30.0), (2.0, 2.0, 2.0), size_divisor=32, pad_size=96)
    images = [torch.full((3, 40, 70), 50.0), torch.full((3, 64, 30), 50.0)]
    out, _ = batch(images)
    assert out.tensors.shape == (2, 3, 96, 96)
    assert out.image_sizes == [(40, 70), (64, 30)]
    torch.testing.assert_close(out.tensors[0, :, 0, 0], torch.tensor([20.0, 15.0, 10.0]))
    assert out.tensors[0, :, 40:].abs().sum() == 0 and out.tensors[1, :, :, 30:].abs().sum() == 0


def test_a_saved_detector_loads_back_strictly(tmp_path):
    model = tiny_detector()
    path = tmp_path / "epoch_1.pth"
    torch.save({"state_dict": model.state_dict(), "meta": {}}, path)  # mmengine's layout
    other = tiny_detector(num_classes=3)
    torch.nn.init.zeros_(other.backbone.net.blocks[2].mlp.fc1.weight)
    report = load_pretrained(other, str(path))
    assert not report.missing and not report.unexpected and not report.resized
    torch.testing.assert_close(other.backbone.net.blocks[2].mlp.fc1.weight, model.backbone.net.blocks[2].mlp.fc1.weight)


def test_vitdet_layer_decay_groups_of_the_detector():
    from transfer.layer_decay import LayerDecayOptimWrapperConstructor

    model = tiny_detector()
    wrapper = LayerDecayOptimWrapperConstructor(
        dict(type="OptimWrapper", optimizer=dict(type="AdamW", lr=1e-4, weight_decay=0.1)),
        dict(layer_decay_rate=0.7, variant="vitdet"))(model)
    layer = {n: g["layer_id"] for g in wrapper.optimizer.param_groups for n in g["param_names"]}
    assert layer["backbone.net.pos_embed"] == 0 and layer["backbone.net.patch_embed.proj.weight"] == 0
    assert layer["backbone.net.blocks.2.attn.rel_pos_h"] == 3
    assert layer["backbone.simfp_2.0.weight"] == 5 and layer["roi_heads.box_predictor.cls_score.weight"] == 5
    scale = {n: g["lr_scale"] for g in wrapper.optimizer.param_groups for n in g["param_names"]}
    assert scale["backbone.net.blocks.0.mlp.fc1.weight"] == pytest.approx(0.7 ** 4)
