"""COCO evaluation split over 2 processes (gloo) gathers every image once and scores as one process."""
import json
import os
import socket

import pytest
import torch.distributed as dist
import torch.multiprocessing as mp

from transfer.detection.coco import read_coco
from transfer.detection.metric import CocoMetric
from transfer.detection.synthetic import make_synthetic_coco


def _evaluate(rank: int, world: int, port: int, ann_file: str, out: str) -> None:
    from tests.test_detection_data import ground_truth_predictions

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    preds = ground_truth_predictions(read_coco(ann_file))
    order = list(range(len(preds)))
    order += order[:(-len(order)) % world]  # mmengine's DefaultSampler pads ranks to equal length
    metric = CocoMetric(ann_file, outfile_prefix=os.path.join(os.path.dirname(out), "results"))
    metric.process(None, [preds[i] for i in order[rank::world]])
    metrics = metric.evaluate(len(preds))
    if rank == 0:
        with open(out, "w") as f:
            json.dump(dict(metrics=metrics, images=len(preds)), f)
    dist.destroy_process_group()


@pytest.mark.slow
def test_two_process_evaluation_equals_one(tmp_path):
    make_synthetic_coco(str(tmp_path), num_train=1, num_val=7, img_size=64, seed=3)
    ann_file = str(tmp_path / "annotations" / "instances_val2017.json")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = str(tmp_path / "metrics.json")
    mp.spawn(_evaluate, args=(2, port, ann_file, out), nprocs=2, join=True)
    result = json.loads(open(out).read())
    assert result["metrics"]["coco/bbox_mAP"] == 1.0 and result["metrics"]["coco/segm_mAP"] == 1.0
    written = json.loads((tmp_path / "results.bbox.json").read_text())
    coco = read_coco(ann_file)
    assert len(written) == sum(not a["iscrowd"] for a in coco.dataset["annotations"])  # none twice
