"""docs/RESULTS.md is generated: it opens with the summary table, its JSON-backed sections and the
appendix come from the JSON files beside it (regenerating changes nothing), and a run without a
section of its own becomes an appendix row."""
import json
import os
import shutil

from tools.studies import results
from tools.studies.classification_report import names
from tools.studies.sections import APPENDIX_TITLE

DOCS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs")


def test_results_md_is_what_its_json_files_regenerate(tmp_path):
    for name in os.listdir(DOCS):
        if name.endswith(".json") or name == "RESULTS.md":
            shutil.copy(os.path.join(DOCS, name), tmp_path / name)
    committed = (tmp_path / "RESULTS.md").read_text()
    results.main(["--out", str(tmp_path)])
    text = (tmp_path / "RESULTS.md").read_text()
    assert text == committed  # every generated part is up to date with the JSON files
    heads = results.titles(str(tmp_path / "RESULTS.md"))
    assert heads[0] == results.SUMMARY_TITLE and heads[-1] == APPENDIX_TITLE
    assert text.splitlines()[4].startswith("| task | setting | MAE | random init | baseline |")
    main = json.loads((tmp_path / names(results.MAIN_CLASSIFICATION)["json"]).read_text())
    mae, scratch = main["mae"]["full"], main["random"]["full"]
    assert f"| {mae:.1f} | {scratch:.1f} (from scratch) | raw pixels {main['pixels']:.1f} |" in text
    assert names(results.MAIN_CLASSIFICATION)["title"] in heads
    assert sum(h.startswith("# Classification study") for h in heads) == 1  # others: appendix


def _run(label: str, date: str, probe: float, **measured) -> dict:
    config = dict(pretrain_epochs=10, ft_epochs=5, probe_epochs=1, batch=8, seed=0, mae_blr=1e-3,
                  ft_blr=1e-3, limit=0, label=label, patch_size=7, crop_min=1.0)
    arch = dict(patch_size=7, img_size=28, embed_dim=16, depth=2, num_heads=2)
    return {"config": config, "arch": arch,
            "decoder": dict(decoder_depth=2, decoder_embed_dim=64), "seconds": {}, "date": date,
            "machine": "cpu", "train_images": 8, "pixels": 84.3,
            "mae": {"probe": {"cls": probe, "avg": probe + 1}, **measured},
            "random": {"probe": {"cls": 70.0, "avg": 71.0}, "full": 80.0, "partial1": 75.0}}


def test_summary_rows_and_a_run_without_a_section_becomes_an_appendix_row(tmp_path):
    main = _run(results.MAIN_CLASSIFICATION, "2026-01-02 00:00 UTC", 82.0, full=85.0, partial1=83.0)
    old = _run("older", "2026-01-01 00:00 UTC", 78.5, partial1=81.0)
    for res in (main, old):
        (tmp_path / names(res["config"]["label"])["json"]).write_text(json.dumps(res))
    (tmp_path / "probe_pilots_p.json").write_text(json.dumps([
        {"run": "/tmp/pilotA", "changed": {}, "pretrain_s": 1.0, "machine": "cpu",
         "mae": {"cls": 80.123, "avg": 81.0}, "random": {"cls": 70.0, "avg": 71.0},
         "random_run": "/tmp/r", "gap": {"cls": 10.12, "avg": 10.0}}]))
    (tmp_path / "probe_pilots_p.notes.json").write_text(json.dumps(
        {"title": "p", "command": "python -m tools.studies.probe_pilots A", "date": "d",
         "notes": []}))
    title = names(results.MAIN_CLASSIFICATION)["title"]
    (tmp_path / "RESULTS.md").write_text(f"{title}\n\nold text\n\n# Hand section\n\nkept\n")
    results.main(["--out", str(tmp_path)])
    text = (tmp_path / "RESULTS.md").read_text()
    assert results.titles(str(tmp_path / "RESULTS.md")) == [
        results.SUMMARY_TITLE, title, "# Hand section", APPENDIX_TITLE]
    assert "old text" not in text and "\n\nkept\n\n" in text  # regenerated; hand text kept
    assert "| 85.0 | 80.0 (from scratch) | raw pixels 84.3 |" in text and "| yes (+5.0) |" in text
    assert "| 83.0 | 75.0 | MAE linear probe 82.0 |" in text and "| no (+1.0 over the probe" in text
    assert "crop at full area" in text
    assert "(#classification-study-fashion-mnist-140-pretraining" in text
    appendix = text.split(APPENDIX_TITLE)[1]
    row = "| older | 10 epochs, patch 7, crop at full area | 5 epochs | test | 78.5 / 70.0 |"
    assert row in appendix
    assert "| - / 81.0 / - / - | - / 75.0 / - / 80.0 | 84.3 |" in appendix
    assert "| pilotA | pilot: reference | - | held-out | 80.12 / 70.00 |" in appendix
    assert results.MAIN_CLASSIFICATION + " |" not in appendix  # the main run has its section
    assert results.anchor("# Ablations (`mae ablate`)") == "#ablations-mae-ablate"
