"""The ViT classifier for fine-tuning, linear probing and partial fine-tuning.

It is our `pretrain.vit.ViT` plus a head, so its keys are the official MAE fine-tune keys
(`patch_embed`, `cls_token`, `pos_embed`, `blocks.N`, `fc_norm` or `norm`, `head`): an MAE
checkpoint loads into it with only the head (and `fc_norm`) missing, and a fine-tuned model
loads into timm's `VisionTransformer(global_pool='avg', fc_norm=True)` unchanged.
"""
from typing import Optional, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModel
from timm.data import Mixup
from timm.layers import trunc_normal_
from timm.loss import LabelSmoothingCrossEntropy, SoftTargetCrossEntropy

from pretrain.errors import ConfigError
from pretrain.registry import MODELS
from pretrain.vit import ViT

from .freeze import apply_trainable, frozen_modules


@MODELS.register_module()
class ViTClassifier(ViT, BaseModel):
    """ViT + classification head, an mmengine model.

    global_pool: True (default) averages the patch tokens and applies `fc_norm` (the encoder's
        final `norm` is dropped, as in the official fine-tuning code); False uses the class
        token after `norm`.
    probe_bn: put BatchNorm1d(affine=False) before the linear head (the linear probe's head;
        keys `head.0`, `head.1` as in the official linear probe).
    trainable: 'all' (fine-tune), 'head' (linear probe), k (the last k blocks + final norm +
        head), or 'last_mlp' (the MLP of the last block + final norm + head); frozen parts stay
        in eval mode, so their drop path and dropout are off.
    mixup: timm `Mixup` arguments (e.g. mixup_alpha=0.8, cutmix_alpha=1.0); with it the loss is
        timm's soft-target cross entropy, otherwise label-smoothed cross entropy.
    """

    def __init__(self, num_classes: int, img_size=224, patch_size=16, in_chans=3, embed_dim=768, depth=12,
                 num_heads=12, mlp_ratio=4.0, qkv_bias=True, drop_path_rate=0.1, global_pool: bool = True,
                 probe_bn: bool = False, head_init_std: float = 2e-5, trainable: Union[str, int] = "all",
                 label_smoothing: float = 0.0, mixup: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None):
        super().__init__(img_size=img_size, patch_size=patch_size, in_chans=in_chans, embed_dim=embed_dim,
                         depth=depth, num_heads=num_heads, mlp_ratio=mlp_ratio, qkv_bias=qkv_bias,
                         drop_path_rate=drop_path_rate, learnable_pos_embed=True)
        if data_preprocessor is not None:
            self.data_preprocessor = MODELS.build(data_preprocessor)
        if num_classes < 1:
            raise ConfigError(f"num_classes must be positive, got {num_classes}")
        self.num_classes, self.global_pool = num_classes, global_pool
        if global_pool:
            self.fc_norm = nn.LayerNorm(embed_dim, eps=1e-6)
            self.norm = nn.Identity()  # official MAE fine-tuning drops the encoder's final norm
        linear = nn.Linear(embed_dim, num_classes)
        trunc_normal_(linear.weight, std=head_init_std)
        nn.init.zeros_(linear.bias)
        self.head = nn.Sequential(nn.BatchNorm1d(embed_dim, affine=False, eps=1e-6), linear) if probe_bn else linear
        self.mixup = Mixup(**dict(mixup, num_classes=num_classes)) if mixup else None
        if self.mixup is not None:
            self.criterion = SoftTargetCrossEntropy()
        elif label_smoothing > 0:
            self.criterion = LabelSmoothingCrossEntropy(smoothing=label_smoothing)
        else:
            self.criterion = nn.CrossEntropyLoss()
        self.trainable = trainable
        apply_trainable(self, trainable)

    # ---- features and logits --------------------------------------------------------------------
    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """The head's input: mean patch token + fc_norm, or the normed class token."""
        t = self.tokens(x)
        for blk in self.blocks:
            t = blk(t)
        if self.global_pool:
            return self.fc_norm(t[:, 1:].mean(dim=1))
        return self.norm(t)[:, 0]

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pooled(x))

    def train(self, mode: bool = True):
        super().train(mode)
        for m in frozen_modules(self, self.trainable):
            m.eval()
        return self

    # ---- mmengine entry point -------------------------------------------------------------------
    def forward(self, inputs: torch.Tensor, data_samples: Optional[torch.Tensor] = None, mode: str = "tensor"):
        """`data_samples` are the integer labels (B,). loss -> {'loss'}; predict -> one dict per
        sample with its logits and label (what the accuracy metric reads); tensor -> logits."""
        if mode == "loss":
            if data_samples is None:
                raise ValueError("mode='loss' needs the labels as data_samples")
            labels = data_samples.long()
            if self.mixup is not None:
                inputs, labels = self.mixup(inputs, labels)
            return {"loss": self.criterion(self.logits(inputs), labels)}
        if mode == "predict":
            logits = self.logits(inputs).float()
            labels = data_samples if data_samples is not None else [None] * len(logits)
            return [{"logits": lg, "label": lb} for lg, lb in zip(logits, labels)]
        if mode == "tensor":
            return self.logits(inputs)
        raise ValueError(f"unknown mode {mode!r}; expected 'loss', 'predict' or 'tensor'")

    def load_from_rules(self) -> dict:
        """What loading a pretrained encoder (`load_from`) may leave out: the new head and
        `fc_norm` are missing from it, and under global pooling its final `norm` is unused
        (as in the official fine-tuning code). Anything else missing or unused is an error."""
        return dict(allow_missing=("head.*", "fc_norm.*"), allow_unexpected=("norm.*",) if self.global_pool else ())

    def no_weight_decay(self) -> set:
        return {"pos_embed", "cls_token"}

