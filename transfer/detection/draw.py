"""Pictures of predictions: boxes, masks, class names and scores drawn on evaluation images.

`PredictionPicturesHook` in a config makes `mae test` (and the validation at the end of training)
write `<work_dir>/predictions/<image id>.png` for the chosen images (`img_ids`, or the first
`num_images`). Drawing uses torchvision's utilities.
"""
import os
from typing import Optional, Sequence

import torch
from mmengine.hooks import Hook
from torchvision.io import write_png
from torchvision.utils import draw_bounding_boxes, draw_segmentation_masks

from pretrain.registry import HOOKS

PALETTE = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#bfef45"]


def draw_predictions(img: torch.Tensor, pred, classes: Sequence[str], score_thr: float = 0.5) -> torch.Tensor:
    """uint8 (3, H, W) picture with the predictions scoring at least `score_thr`."""
    keep = pred["scores"] >= score_thr
    boxes, labels, scores = pred["boxes"][keep], pred["labels"][keep], pred["scores"][keep]
    colours = [PALETTE[int(lbl) % len(PALETTE)] for lbl in labels]
    if "masks" in pred and keep.any():
        img = draw_segmentation_masks(img, pred["masks"][keep].bool(), alpha=0.45, colors=colours)
    if not len(boxes):  # nothing above the threshold: the image as it is
        return img
    names = [f"{classes[int(lbl) - 1]} {float(s):.2f}" for lbl, s in zip(labels, scores)]
    return draw_bounding_boxes(img, boxes, names, colors=colours, width=2)


@HOOKS.register_module()
class PredictionPicturesHook(Hook):
    """Draw the predictions on chosen evaluation images as PNG files (in test and val loops)."""

    def __init__(self, img_ids: Optional[Sequence[int]] = None, num_images: int = 4, score_thr: float = 0.5,
                 out_dir: str = "predictions"):
        self.img_ids = set(img_ids) if img_ids else None
        self.num_images, self.score_thr, self.out_dir = num_images, score_thr, out_dir
        self._drawn = 0

    def _draw(self, runner, dataset, outputs) -> None:
        out_dir = os.path.join(runner.work_dir, self.out_dir)
        for sample in outputs:
            img_id = int(sample.img_id)
            wanted = img_id in self.img_ids if self.img_ids is not None else self._drawn < self.num_images
            if not wanted:
                continue
            img = dataset.load_image(dataset.coco.imgs[img_id])
            pred = {k: v.cpu() for k, v in sample.pred_instances.items()}
            picture = draw_predictions(img, pred, dataset.metainfo["classes"], self.score_thr)
            os.makedirs(out_dir, exist_ok=True)
            write_png(picture, os.path.join(out_dir, f"{img_id}.png"))
            self._drawn += 1

    def before_test_epoch(self, runner) -> None:
        self._drawn = 0

    def before_val_epoch(self, runner) -> None:
        self._drawn = 0

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._draw(runner, runner.test_dataloader.dataset, outputs)

    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._draw(runner, runner.val_dataloader.dataset, outputs)

    def after_test(self, runner) -> None:
        if self._drawn:
            runner.logger.info(f"drew predictions on {self._drawn} images in "
                               f"{os.path.join(runner.work_dir, self.out_dir)}")
