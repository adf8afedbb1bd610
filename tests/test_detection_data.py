"""COCO reader on a generated set, malformed files, and the COCOeval metric."""
import json

import numpy as np
import pytest
import torch

from pretrain.errors import DataError
from transfer.detection.coco import CocoInstances, class_ids, read_coco
from transfer.detection.metric import CocoMetric
from transfer.detection.synthetic import make_synthetic_coco


@pytest.fixture(scope="module")
def coco_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("coco")
    make_synthetic_coco(str(root), num_train=10, num_val=7, img_size=96, seed=1)
    return root


def test_generated_set_has_every_kind_of_annotation(coco_root):
    coco = read_coco(str(coco_root / "annotations/instances_train2017.json"))
    anns = coco.dataset["annotations"]
    assert min(a["id"] for a in anns) == 1 and min(coco.imgs) == 1
    kinds = {("crowd" if a["iscrowd"] else "polygon" if isinstance(a["segmentation"], list) else "rle")
             for a in anns}
    assert kinds == {"polygon", "rle", "crowd"}
    assert [i for i in coco.imgs if not coco.imgToAnns[i]] == [7]  # every 7th image is empty
    for a in anns:  # masks are exact: decoded area = stored area, box = mask extent
        m = coco.annToMask(a)
        ys, xs = np.nonzero(m)
        assert m.sum() == a["area"]
        assert a["bbox"] == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
    assert (coco_root / "train2017" / coco.imgs[1]["file_name"]).is_file()


def test_reader_gives_targets_without_crowd_regions(coco_root):
    ds = CocoInstances(str(coco_root), "annotations/instances_train2017.json", "train2017", train=True,
                       img_size=96, scale_range=(1.0, 1.0), flip_prob=0.0)
    coco = ds.coco
    for i, img_id in enumerate(ds.img_ids):
        sample = ds[i]
        img, gt = sample["inputs"], sample["data_samples"].gt_instances
        anns = [a for a in coco.imgToAnns[img_id] if not a["iscrowd"]]
        assert img.dtype == torch.uint8 and img.shape[0] == 3 and max(img.shape[1:]) == 96
        assert len(gt) == len(anns)  # crowd regions left out; the empty image gives zero instances
        assert gt.masks.shape == (len(anns), *img.shape[1:])
        assert sorted(gt.labels.tolist()) == sorted(ds.label_of[a["category_id"]] for a in anns)
        if anns:  # boxes are the mask extents, at the resized scale
            scale = img.shape[1] / coco.imgs[img_id]["height"]
            big = max(anns, key=lambda a: a["area"])
            assert torch.isclose(gt.boxes[:, 2:] - gt.boxes[:, :2], torch.tensor(big["bbox"][2:]) * scale,
                                 atol=2.5).all(1).any()
    assert ds.metainfo["classes"] == ["rectangle", "ellipse", "triangle"]


def test_large_scale_jitter_crops_to_the_train_size(coco_root):
    torch.manual_seed(0)
    ds = CocoInstances(str(coco_root), "annotations/instances_train2017.json", "train2017", train=True,
                       img_size=64, scale_range=(1.5, 2.0))
    for i in range(3):
        sample = ds[i]
        assert sample["inputs"].shape[1:] == (64, 64)
        gt = sample["data_samples"].gt_instances
        assert ((gt.boxes[:, 2:] <= 64) & (gt.boxes[:, :2] >= 0)).all()


def test_evaluation_samples_keep_the_original_size(coco_root):
    ds = CocoInstances(str(coco_root), "annotations/instances_val2017.json", "val2017", img_size=128)
    sample = ds[0]
    meta = sample["data_samples"].metainfo
    info = ds.coco.imgs[ds.img_ids[0]]
    assert meta["ori_shape"] == (info["height"], info["width"]) and max(sample["inputs"].shape[1:]) == 128


@pytest.mark.parametrize("edit,message", [
    (lambda d: d.pop("categories"), "missing or non-list 'categories'"),
    (lambda d: d["annotations"][0].update(bbox=[1, 2, 3]), r"bbox must be \[x, y, width, height\]"),
    (lambda d: d["annotations"][0].update(image_id=999), "refers to image 999"),
    (lambda d: d["annotations"][0].update(category_id=42), "category 42"),
    (lambda d: d["annotations"][1].update(id=d["annotations"][0]["id"]),
     "annotation id 1 appears twice"),
    (lambda d: d["images"][1].update(id=d["images"][0]["id"]), "image id 1 appears twice"),
    (lambda d: d["categories"][1].update(id=1), "category id 1 appears twice"),
    (lambda d: d["annotations"][0].update(id="a"),
     "annotation id 'a' is not a non-negative integer"),
    (lambda d: d["annotations"][0].update(segmentation=[[1, 2, 3]]), "polygon must be"),
    (lambda d: d["images"][0].pop("file_name"), r"lacks \['file_name'\]"),
])
def test_malformed_annotation_file_is_a_one_line_error(coco_root, tmp_path, edit, message):
    data = json.loads((coco_root / "annotations/instances_val2017.json").read_text())
    edit(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(DataError, match=message) as err:
        read_coco(str(path))
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_unreadable_annotation_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"images": [')
    with pytest.raises(DataError, match="not valid JSON"):
        read_coco(str(path))
    with pytest.raises(DataError, match="not found"):
        read_coco(str(tmp_path / "absent.json"))


def ground_truth_predictions(coco, shift: int = 0) -> list:
    """Predictions equal to the non-crowd ground truth, moved `shift` pixels right."""
    cat_ids = class_ids(coco)
    out = []
    for img_id, info in coco.imgs.items():
        anns = [a for a in coco.imgToAnns[img_id] if not a["iscrowd"]]
        boxes = torch.tensor([[a["bbox"][0] + shift, a["bbox"][1], a["bbox"][0] + a["bbox"][2] + shift,
                               a["bbox"][1] + a["bbox"][3]] for a in anns]).reshape(-1, 4)
        masks = [np.roll(coco.annToMask(a), shift, axis=1) for a in anns]
        masks = torch.from_numpy(np.stack(masks)) if anns else torch.zeros(0, info["height"], info["width"])
        out.append(dict(img_id=img_id, pred_instances=dict(
            boxes=boxes, scores=torch.linspace(1.0, 0.5, len(anns)), masks=masks.bool(),
            labels=torch.tensor([cat_ids.index(a["category_id"]) + 1 for a in anns]))))
    return out


def test_metric_scores_ground_truth_as_perfect_and_shifted_lower(coco_root, tmp_path):
    ann_file = str(coco_root / "annotations/instances_val2017.json")
    coco = read_coco(ann_file)
    scores = {}
    for shift in (0, 3):
        metric = CocoMetric(ann_file, outfile_prefix=str(tmp_path / f"shift{shift}"))
        metric.process(None, ground_truth_predictions(coco, shift))
        scores[shift] = metric.compute_metrics(metric.results)
    for iou in ("bbox", "segm"):
        assert scores[0][f"{iou}_mAP"] == 1.0 and scores[0][f"{iou}_mAP_75"] == 1.0
        assert scores[3][f"{iou}_mAP"] < 0.9
        assert scores[3][f"{iou}_mAP_50"] <= 1.0
    written = json.loads((tmp_path / "shift0.segm.json").read_text())
    assert len(written) == sum(not a["iscrowd"] for a in coco.dataset["annotations"])
    assert {"image_id", "category_id", "segmentation", "score"} == set(written[0])
    re_scored = coco.loadRes(str(tmp_path / "shift0.bbox.json"))  # readable by any COCO tool
    assert len(re_scored.anns) == len(written)


def test_synth_coco_command_writes_the_coco_layout(tmp_path, capsys):
    from tools.cli import main

    assert main(["synth-coco", str(tmp_path), "--train", "3", "--val", "2", "--size", "64", "--seed", "5"]) == 0
    assert "instances_val2017.json" in capsys.readouterr().out
    coco = read_coco(str(tmp_path / "annotations/instances_train2017.json"))
    assert sorted(coco.imgs) == [1, 2, 3]
    assert all((tmp_path / "train2017" / im["file_name"]).is_file() for im in coco.imgs.values())


def test_object_size_and_category_count_are_options(tmp_path, capsys):
    from tools.cli import main

    assert main(["synth-coco", str(tmp_path), "--train", "12", "--val", "1", "--size", "80", "--seed", "3",
                 "--object-scale", "0.5", "0.6", "--categories", "2"]) == 0
    data = json.loads((tmp_path / "annotations/instances_train2017.json").read_text())
    assert [c["name"] for c in data["categories"]] == ["rectangle", "ellipse"]
    assert {a["category_id"] for a in data["annotations"]} == {1, 2}
    sides = {im["id"]: min(im["height"], im["width"]) for im in data["images"]}
    polys = [a for a in data["annotations"] if isinstance(a["segmentation"], list)]  # unoccluded: full shape
    assert polys and all(0.5 * sides[a["image_id"]] - 2 <= max(a["bbox"][2:]) <= 0.6 * sides[a["image_id"]] + 2
                         for a in polys)
    capsys.readouterr()
    assert main(["synth-coco", str(tmp_path / "bad"), "--object-scale", "0.6", "0.2"]) == 2
    assert "object_scale (0.6, 0.2): need 0 < min <= max <= 1" in capsys.readouterr().err


def labelme_coco(root) -> str:
    """A COCO file shaped as labelme's `labelme2coco.py` writes it: image, category and annotation
    ids from 0, a `_background_` category (id 0) that nothing uses, polygons only (one object in two
    parts), JPEG images under JPEGImages/, its info / licenses / type keys."""
    from PIL import Image, ImageDraw
    from pycocotools import mask as mask_utils

    (root / "JPEGImages").mkdir()
    objects = {0: [("cat", [[4, 4, 30, 6, 26, 28, 6, 24]]), ("dog", [[36, 30, 60, 34, 50, 58]])],
               1: [("dog", [[8, 8, 24, 8, 24, 20, 8, 20], [40, 40, 58, 42, 50, 60]]),
                   ("cat", [[30, 6, 60, 4, 58, 22]])]}
    cat_of = {"_background_": 0, "cat": 1, "dog": 2}
    images, annotations = [], []
    for img_id, objs in objects.items():
        h, file_name = 48 + 16 * img_id, f"JPEGImages/{img_id}.jpg"
        Image.new("RGB", (64, h), (90, 120, 150)).save(root / file_name)
        images.append(dict(license=0, url=None, file_name=file_name, height=h, width=64,
                           date_captured=None, id=img_id))
        for name, polys in objs:
            canvas = Image.new("L", (64, h))
            for poly in polys:
                ImageDraw.Draw(canvas).polygon(poly, fill=1)
            rle = mask_utils.encode(np.asfortranarray(np.asarray(canvas, dtype=np.uint8)))
            annotations.append(dict(id=len(annotations), image_id=img_id, category_id=cat_of[name],
                                    segmentation=[[float(v) for v in p] for p in polys],
                                    area=float(mask_utils.area(rle)),
                                    bbox=[float(v) for v in mask_utils.toBbox(rle)], iscrowd=0))
    data = dict(info=dict(description=None, url=None, version=None, year=2024, contributor=None,
                          date_created="2024-05-01 10:00:00.000000"),
                licenses=[dict(url=None, id=0, name=None)], images=images, type="instances",
                annotations=annotations,
                categories=[dict(supercategory=None, id=i, name=n) for n, i in cat_of.items()])
    path = root / "annotations.json"
    path.write_text(json.dumps(data))
    return str(path)


def test_labelme_export_reads_and_scores_ap_1_against_itself(tmp_path):
    from mmengine.logging import MMLogger

    ann_file = labelme_coco(tmp_path)
    # the newest MMLogger is print_log's 'current' one
    MMLogger.get_instance("labelme_test", log_file=str(tmp_path / "read.log"))
    ds = CocoInstances(str(tmp_path), "annotations.json", "", img_size=64)
    coco = ds.coco
    assert sorted(coco.anns) == [1, 2, 3, 4] and sorted(coco.imgs) == [0, 1]  # image id 0 kept
    log = (tmp_path / "read.log").read_text()
    assert log.count("annotation ids start at 0; renumbered 1..4 for COCOeval") == 1
    assert ds.metainfo["classes"] == ["cat", "dog"] and ds.label_of == {1: 1, 2: 2}
    assert len(ds) == 2 and ds[0]["data_samples"].img_id == 0
    train = CocoInstances(str(tmp_path), "annotations.json", "", train=True, img_size=64,
                          scale_range=(1.0, 1.0), flip_prob=0.0)
    assert train[0]["data_samples"].gt_instances.labels.tolist() == [1, 2]  # cat, dog
    metric = CocoMetric(ann_file, outfile_prefix=str(tmp_path / "self"))
    metric.process(None, ground_truth_predictions(coco))
    scores = metric.compute_metrics(metric.results)
    assert scores["bbox_mAP"] == 1.0 and scores["segm_mAP"] == 1.0 and scores["segm_mAP_75"] == 1.0
    written = json.loads((tmp_path / "self.bbox.json").read_text())
    assert {d["category_id"] for d in written} == {1, 2}  # the file's own category ids


def test_labelme_export_with_a_repeated_id_names_it(tmp_path):
    data = json.loads(open(labelme_coco(tmp_path)).read())
    data["annotations"][2]["id"] = 1
    path = tmp_path / "repeated.json"
    path.write_text(json.dumps(data))
    with pytest.raises(DataError) as err:
        read_coco(str(path))
    assert str(err.value) == f"malformed COCO annotation file {path}: annotation id 1 appears twice"
