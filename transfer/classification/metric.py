"""Top-k accuracy as an mmengine metric (so `mae test` and validation report it, across processes)."""
from typing import Sequence

import torch
from mmengine.evaluator import BaseMetric

from pretrain.errors import DataError
from pretrain.registry import METRICS


@METRICS.register_module()
class TopKAccuracy(BaseMetric):
    """Top-1 / top-5 accuracy (percent) from the classifier's per-sample logits.

    Each sample is kept as one integer, the rank of its true class (how many classes score
    higher), so a 50k-image evaluation holds 50k integers, and mmengine's result collection
    gathers them from every process (its sampler's padding duplicates are cut off there).
    """

    default_prefix = "accuracy"

    def __init__(self, topk: Sequence[int] = (1, 5), collect_device: str = "cpu", prefix: str = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.topk = tuple(topk)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            logits, label = sample["logits"], sample["label"]
            if label is None:
                raise DataError("the evaluation data carry no labels: top-k accuracy needs them")
            self.results.append(int((logits > logits[int(label)]).sum()))

    def compute_metrics(self, results: list) -> dict:
        ranks = torch.tensor(results)
        return {f"top{k}": 100.0 * (ranks < k).float().mean().item() for k in self.topk}
