"""The segmentation study (tools/studies/segmentation.py): its RESULTS.md section replaces only
itself, its work folder refuses other arguments, and (slow) the whole study at a minuscule budget
writes the table, the picture and the section, then a rerun redoes nothing."""
import json
import os
import subprocess
import sys

import pytest

from tools.studies.sections import put_section

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_put_section_replaces_its_own_section_and_keeps_the_others(tmp_path):
    path = tmp_path / "RESULTS.md"
    path.write_text("# A\n\nfirst\n\n# B\n\nsecond\n")
    put_section(str(path), "# S\n\nv1\n")  # absent: appended
    assert path.read_text() == "# A\n\nfirst\n\n# B\n\nsecond\n\n# S\n\nv1\n"
    put_section(str(path), "# A\n\nnew\n")  # present, followed by others: only it changes
    assert path.read_text() == "# A\n\nnew\n\n# B\n\nsecond\n\n# S\n\nv1\n"
    put_section(str(path), "# S\n\nv2\n")  # the last one
    assert path.read_text() == "# A\n\nnew\n\n# B\n\nsecond\n\n# S\n\nv2\n"
    put_section(str(tmp_path / "new.md"), "# S\n\nx\n")
    assert (tmp_path / "new.md").read_text() == "# S\n\nx\n"


def test_work_folder_made_with_other_arguments_is_refused(tmp_path):
    from tools.studies.segmentation import main

    (tmp_path / "summary.json").write_text(json.dumps(dict(args=dict(train=1), seconds={})))
    with pytest.raises(SystemExit, match="holds a study made with"):
        main(["--out", str(tmp_path / "out"), "--work", str(tmp_path)])
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path / "out"), "--depth", "2"])  # UperNet needs 4 feature levels


TINY = ["--train", "4", "--val", "2", "--size", "64", "--classes", "3", "--dim", "16", "--depth", "4",
        "--heads", "2", "--pretrain-epochs", "1", "--mae-batch", "4", "--iters", "2", "--batch", "2",
        "--pictures", "2"]


def study(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1")
    p = subprocess.run([sys.executable, "-m", "tools.studies.segmentation",
                        "--out", str(tmp_path / "docs"), "--work", str(tmp_path / "work"), *TINY],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, (p.stdout[-2000:], p.stderr[-4000:])
    return p.stdout


@pytest.mark.slow
def test_study_plumbing_at_a_minuscule_budget_then_a_cached_rerun(tmp_path):
    pytest.importorskip("mmseg")
    study(tmp_path)
    docs = tmp_path / "docs"
    res = json.loads((docs / "study_segmentation.json").read_text())
    assert set(res["metrics"]) == {"mae", "random"}
    for m in res["metrics"].values():
        assert {"mIoU", "mAcc", "aAcc"} <= set(m) and 0 <= m["mIoU"] <= 100
    assert set(res["seconds"]) == {"generate", "pretrain", "finetune_both", "evaluate"}
    assert "backbone initialised from" in (tmp_path / "work" / "finetune_mae.log").read_text()
    assert "backbone initialised from" not in (tmp_path / "work" / "finetune_random.log").read_text()
    text = (docs / "RESULTS.md").read_text()
    assert text.startswith("# Segmentation study: synthetic ADE20K layout")
    assert f"| MAE-pretrained | {res['metrics']['mae']['mIoU']:.1f} |" in text
    from PIL import Image
    w, h = Image.open(docs / "study_segmentation.png").size
    assert w > h  # three columns (truth, MAE, random), two rows

    out = study(tmp_path)  # every stage is cached: same numbers, same recorded times
    assert out.count("cached") == 4, out
    again = json.loads((docs / "study_segmentation.json").read_text())
    assert again["metrics"] == res["metrics"] and again["seconds"] == res["seconds"]
