"""COCO box and mask AP with pycocotools' COCOeval, as an mmengine metric.

Predictions are turned into COCO results (xywh boxes, compressed-RLE masks, the file's category ids)
and also written as `coco_results.{bbox,segm}.json` in the run's log folder, so any COCO tool can
score them again. Results from several processes are gathered by mmengine before scoring.
"""
import contextlib
import io
import json
import os
from typing import Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log

from pretrain.errors import ConfigError
from pretrain.registry import METRICS

from .coco import class_ids, read_coco

# COCOeval.stats order for the first six numbers
STAT_NAMES = ("mAP", "mAP_50", "mAP_75", "mAP_s", "mAP_m", "mAP_l")


def coco_results(img_id: int, pred: dict, cat_ids: Sequence[int]) -> tuple:
    """(bbox results, segm results) of one image's predictions (tensors: boxes xyxy, scores,
    labels 1..K, masks bool HxW) in the COCO results format."""
    boxes, scores, labels = (np.asarray(pred[k].cpu() if hasattr(pred[k], "cpu") else pred[k])
                             for k in ("boxes", "scores", "labels"))
    bbox, segm = [], []
    for i in range(len(scores)):
        x1, y1, x2, y2 = (float(v) for v in boxes[i])
        common = dict(image_id=int(img_id), category_id=int(cat_ids[int(labels[i]) - 1]), score=float(scores[i]))
        bbox.append(dict(common, bbox=[x1, y1, x2 - x1, y2 - y1]))
    if "masks" in pred and len(scores):
        from pycocotools import mask as mask_utils

        masks = np.asarray(pred["masks"].cpu() if hasattr(pred["masks"], "cpu") else pred["masks"], dtype=np.uint8)
        for common, rle in zip(bbox, mask_utils.encode(np.asfortranarray(masks.transpose(1, 2, 0)))):
            rle["counts"] = rle["counts"].decode("ascii")
            segm.append(dict(image_id=common["image_id"], category_id=common["category_id"],
                             score=common["score"], segmentation=rle))
    return bbox, segm


def evaluate(coco_gt, results: list, iou_type: str, img_ids: list) -> tuple:
    """(stats dict, printed table) of COCOeval on `results` over `img_ids`."""
    if not results:
        return {name: 0.0 for name in STAT_NAMES}, f"no {iou_type} predictions: every AP is 0"
    from pycocotools.cocoeval import COCOeval

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        coco_dt = coco_gt.loadRes(results)
        ev = COCOeval(coco_gt, coco_dt, iou_type)
        ev.params.imgIds = img_ids
        ev.evaluate()
        ev.accumulate()
    table = io.StringIO()
    with contextlib.redirect_stdout(table):
        ev.summarize()
    stats = {name: float(v) for name, v in zip(STAT_NAMES, ev.stats)}  # -1: no objects of that size
    return stats, table.getvalue()


@METRICS.register_module()
class CocoMetric(BaseMetric):
    """Box and mask AP (AP, AP50, AP75, APs/m/l) against a COCO instances file."""

    default_prefix = "coco"

    def __init__(self, ann_file: str, iou_types: Sequence[str] = ("bbox", "segm"), outfile_prefix: Optional[str] = None,
                 collect_device: str = "cpu", prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        bad = set(iou_types) - {"bbox", "segm"}
        if bad:  # (not named `metrics`: mmengine takes a dict with that key for an Evaluator config)
            raise ConfigError(f"unknown COCO iou_types {sorted(bad)}; use 'bbox' and/or 'segm'")
        self.ann_file, self.iou_types, self.outfile_prefix = ann_file, tuple(iou_types), outfile_prefix
        self._coco = None

    @property
    def coco(self):
        if self._coco is None:
            self._coco = read_coco(self.ann_file)
        return self._coco

    def process(self, data_batch, data_samples: Sequence) -> None:
        cat_ids = class_ids(self.coco)
        for sample in data_samples:
            get = sample.get if isinstance(sample, dict) else lambda k: getattr(sample, k)
            self.results.append((int(get("img_id")), *coco_results(get("img_id"), get("pred_instances"), cat_ids)))

    def compute_metrics(self, results: list) -> dict:
        img_ids = [r[0] for r in results]
        metrics = {}
        for iou_type in self.iou_types:
            dets = [d for r in results for d in r[1 if iou_type == "bbox" else 2]]
            self._write(dets, iou_type)
            stats, table = evaluate(self.coco, dets, iou_type, img_ids)
            print_log(f"COCO {iou_type} AP over {len(img_ids)} images:\n{table}", logger="current")
            metrics.update({f"{iou_type}_{k}": v for k, v in stats.items()})
        return metrics

    def _write(self, dets: list, iou_type: str) -> None:
        prefix = self.outfile_prefix
        if prefix is None:  # beside the run's log file: <work_dir>/<timestamp>/coco_results
            log_file = getattr(MMLogger.get_current_instance(), "log_file", None)
            if not log_file:
                return
            prefix = os.path.join(os.path.dirname(log_file), "coco_results")
        path = f"{prefix}.{iou_type}.json"
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w") as f:
            json.dump(dets, f)
        print_log(f"wrote {len(dets)} {iou_type} results to {path}", logger="current")
