"""torchvision's Mask R-CNN over a ViT pyramid, as an mmengine model (`mae train` / `mae test`).

Heads follow ViTDet where torchvision offers the same thing: a two-conv RPN head, a box head of four
3x3 convs (channel LayerNorm) and one 1024-wide fc, a mask head of four convs with LayerNorm.
torchvision's own transform would normalise *and* resize; here the data pipeline resizes (large-scale
jitter for training, longest side to the test size for evaluation) and `PaddedBatch` only normalises
and pads, so each happens once. The detector's parts are attributes of this model (`backbone`, `rpn`,
`roi_heads`), so backbone keys read `backbone.net.blocks.N...`, `backbone.simfp_N...` as in detectron2.
"""
import math
from typing import Optional, Sequence

import torch
from mmengine.model import BaseModel
from mmengine.structures import InstanceData
from timm.layers import LayerNorm2d
from torchvision.models.detection import MaskRCNN as TorchvisionMaskRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.faster_rcnn import FastRCNNConvFCHead, FastRCNNPredictor
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.models.detection.rpn import RPNHead
from torchvision.models.detection.transform import GeneralizedRCNNTransform
from torchvision.ops import MultiScaleRoIAlign

from pretrain.errors import ConfigError
from pretrain.registry import MODELS

# ImageNet statistics in 0-255 RGB units (the MAE encoder was pretrained on images normalised so).
PIXEL_MEAN = (123.675, 116.28, 103.53)
PIXEL_STD = (58.395, 57.12, 57.375)


class PaddedBatch(GeneralizedRCNNTransform):
    """Normalise and zero-pad images into one batch (to `pad_size` square if given, and to a multiple
    of `size_divisor`); no resizing: the data pipeline already did it."""

    def __init__(self, image_mean, image_std, size_divisor: int = 32, pad_size: Optional[int] = None):
        super().__init__(min_size=1, max_size=1, image_mean=list(image_mean), image_std=list(image_std),
                         size_divisible=size_divisor)
        self.pad_size = pad_size

    def resize(self, image, target=None):
        return image, target

    def batch_images(self, images, size_divisible: int = 32):
        h = max(max(img.shape[-2] for img in images), self.pad_size or 0)
        w = max(max(img.shape[-1] for img in images), self.pad_size or 0)
        h, w = (math.ceil(s / size_divisible) * size_divisible for s in (h, w))
        batch = images[0].new_zeros(len(images), images[0].shape[0], h, w)
        for img, slot in zip(images, batch):
            slot[:, :img.shape[-2], :img.shape[-1]].copy_(img)
        return batch


@MODELS.register_module()
class MaskRCNN(BaseModel):
    """Mask R-CNN; `backbone` is a pyramid config (e.g. SimpleFeaturePyramid over a ViTDet).

    `num_classes` counts object categories (background is added here). ViTDet's heads are the
    defaults (256-channel convs, four in the box and mask heads, a 1024-wide fc); smaller ones suit CPUs. Training samples carry
    `gt_instances` (boxes xyxy in input pixels, labels 1..K, masks); predictions come back in the
    original image's pixels as `pred_instances` (boxes, scores, labels, boolean masks).
    """

    def __init__(self, backbone: dict, num_classes: int, pixel_mean: Sequence[float] = PIXEL_MEAN,
                 pixel_std: Sequence[float] = PIXEL_STD, pad_size: Optional[int] = None,
                 anchor_sizes: Sequence[int] = (32, 64, 128, 256, 512), head_channels: int = 256,
                 head_convs: int = 4, fc_dim: int = 1024, detector: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        pyramid = MODELS.build(backbone)
        ch, levels = pyramid.out_channels, pyramid.level_names
        if len(anchor_sizes) != len(levels):
            raise ConfigError(f"{len(anchor_sizes)} anchor sizes for {len(levels)} pyramid levels {levels}")
        norm = LayerNorm2d
        rcnn = TorchvisionMaskRCNN(
            pyramid, None,
            rpn_anchor_generator=AnchorGenerator(tuple((s,) for s in anchor_sizes), ((0.5, 1.0, 2.0),) * len(levels)),
            rpn_head=RPNHead(ch, 3, conv_depth=2),
            box_roi_pool=MultiScaleRoIAlign(levels[:4], output_size=7, sampling_ratio=0),
            box_head=FastRCNNConvFCHead((ch, 7, 7), [head_channels] * head_convs, [fc_dim], norm_layer=norm),
            box_predictor=FastRCNNPredictor(fc_dim, num_classes + 1),
            mask_roi_pool=MultiScaleRoIAlign(levels[:4], output_size=14, sampling_ratio=0),
            mask_head=MaskRCNNHeads(ch, [head_channels] * head_convs, 1, norm_layer=norm),
            mask_predictor=MaskRCNNPredictor(head_channels, head_channels, num_classes + 1),
            **dict(dict(rpn_post_nms_top_n_train=1000), **(detector or {})))
        self.backbone, self.rpn, self.roi_heads = rcnn.backbone, rcnn.rpn, rcnn.roi_heads
        self.transform = PaddedBatch(pixel_mean, pixel_std, pyramid.size_divisor, pad_size)
        self.num_classes = num_classes

    def init_weights(self):
        super().init_weights()
        net = self.backbone.net
        if getattr(net, "pretrained", None):
            from transfer.backbone import log_report

            from .weights import load_mae_encoder
            log_report(load_mae_encoder(net, net.pretrained))

    def forward(self, inputs: list, data_samples: Optional[list] = None, mode: str = "tensor"):
        images = [img.float() for img in inputs]
        targets = None
        if mode == "loss":
            targets = [dict(boxes=s.gt_instances.boxes.float(), labels=s.gt_instances.labels.long(),
                            masks=s.gt_instances.masks) for s in data_samples]
        batch, targets = self.transform(images, targets)
        features = self.backbone(batch.tensors)
        if mode == "tensor":
            return features
        proposals, rpn_losses = self.rpn(batch, features, targets)
        detections, roi_losses = self.roi_heads(features, proposals, batch.image_sizes, targets)
        if mode == "loss":
            return {**rpn_losses, **roi_losses}
        if mode != "predict":
            raise ValueError(f"unknown forward mode {mode!r}; use 'loss', 'predict' or 'tensor'")
        original = [tuple(s.ori_shape) for s in data_samples]
        detections = self.transform.postprocess(detections, batch.image_sizes, original)
        for sample, det in zip(data_samples, detections):
            sample.pred_instances = InstanceData(boxes=det["boxes"], scores=det["scores"], labels=det["labels"],
                                                 masks=det["masks"][:, 0] > 0.5)
        return data_samples
