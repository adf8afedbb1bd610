"""The detection study (tools/studies/detection.py): its work folder refuses other arguments, its
detector configs differ only in the backbone's weights, and (slow) the whole study at a minuscule
budget writes the table, the picture and the RESULTS.md section, then a rerun redoes nothing."""
import json

import pytest
from mmengine.config import Config


def test_work_folder_made_with_other_arguments_is_refused(tmp_path):
    from tools.studies.detection import main

    (tmp_path / "summary.json").write_text(json.dumps(dict(args=dict(train=1), seconds={})))
    with pytest.raises(SystemExit, match="holds a study made with"):
        main(["--out", str(tmp_path / "out"), "--work", str(tmp_path)])


def test_the_two_arms_differ_only_in_the_backbone_weights(tmp_path):
    from tools.studies.detection import detector_configs, parse

    args = parse(["--out", str(tmp_path), "--size", "96", "--depth", "4", "--det-epochs", "12", "--lr", "5e-4"])
    paths = detector_configs(args, str(tmp_path), str(tmp_path / "data"))
    cfgs = {arm: Config.fromfile(p) for arm, p in paths.items()}
    mae, rnd = (cfgs[a].to_dict() for a in ("mae", "random"))
    assert mae["model"]["backbone"]["net"].pop("pretrained").endswith("checkpoint-final.pth")
    assert rnd["model"]["backbone"]["net"].pop("pretrained") is None
    assert mae == rnd
    m = cfgs["mae"]
    assert m.model.anchor_sizes == (6, 12, 24, 48, 96) and m.model.pad_size == 96
    assert m.model.backbone.net.global_blocks == (1, 3)
    assert m.optim_wrapper.optimizer.lr == 5e-4 and m.train_cfg.max_epochs == 12
    assert m.param_scheduler[1].milestones == [9, 11]
    assert m.train_cfg.val_begin > m.train_cfg.max_epochs  # scored once, by `mae test`


TINY = ["--train", "6", "--val", "3", "--size", "64", "--dim", "32", "--depth", "2", "--heads", "2",
        "--pretrain-epochs", "1", "--mae-batch", "4", "--det-epochs", "1", "--batch", "2", "--pictures", "2"]


def study(tmp_path, capsys) -> str:
    """The whole study in this process (its `mae` jobs are subprocesses); returns what it printed."""
    from tools.studies.detection import main

    main(["--out", str(tmp_path / "docs"), "--work", str(tmp_path / "work"), *TINY])
    return capsys.readouterr().out


@pytest.mark.slow
def test_study_plumbing_at_a_minuscule_budget_then_a_cached_rerun(tmp_path, capsys):
    from PIL import Image

    study(tmp_path, capsys)
    docs, work = tmp_path / "docs", tmp_path / "work"
    res = json.loads((docs / "study_detection.json").read_text())
    assert list(res["seconds"]) == ["generate", "pretrain", "finetune_both", "evaluate"]
    text = (docs / "RESULTS.md").read_text()
    assert text.startswith("# Detection study: synthetic COCO layout") and res["command"] in text
    for arm, label in (("mae", "MAE-pretrained"), ("random", "random init")):
        box, mask = (100 * res["metrics"][arm][f"coco/{k}_mAP"] for k in ("bbox", "segm"))
        assert f"| {label} | {box:.1f} |" in text and 0 <= mask <= 100
        loaded = "pretrained weights:" in (work / f"finetune_{arm}.log").read_text()
        assert loaded == (arm == "mae")  # only the MAE arm starts from the checkpoint
    width, height = Image.open(docs / "study_detection.png").size
    assert width > height  # columns: truth, MAE, random; rows: the 2 pictures

    assert study(tmp_path, capsys).count("cached") == 4  # nothing is redone; numbers and times are kept
    assert json.loads((docs / "study_detection.json").read_text())["seconds"] == res["seconds"]
