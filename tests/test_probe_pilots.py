"""tools/studies/probe_pilots: the table of probe-only pilots reads held-out scores only and pairs
each MAE run with the random-init encoder of its own architecture."""
import json

import pytest


def _run(tmp_path, name, init, held, **config):
    base = dict(pretrain_epochs=20, ft_epochs=15, probe_epochs=30, batch=256, mae_blr=1.2e-3, ft_blr=1e-3, limit=0,
                seed=0, patch_size=7, inits=init, evals="probe", label=name)
    base.update(config)
    lrs = {pool: {"base_lr": 10.0, "held_out_top1": {"1.0": v - 1, "10.0": v}, "refit_test_top1": [99.0]}
           for pool, v in held.items()}
    res = {"config": base, "machine": "no GPU; CPU test, 1 torch thread",
           "seconds": {"pretrain": 10.0} if init == "mae" else {},
           init: {"probe_lr": lrs, "probe": {pool: 99.0 for pool in held}}}
    d = tmp_path / name
    d.mkdir()
    (d / f"study_results_{name}.json").write_text(json.dumps(res))
    return str(d)


def test_pilot_table_gaps_changes_and_refusals(tmp_path, capsys):
    from tools.studies.probe_pilots import main

    ref = _run(tmp_path, "ref", "mae", {"cls": 82.0, "avg": 84.0})
    deep = _run(tmp_path, "deep", "mae", {"cls": 83.0, "avg": 84.5}, decoder_depth=4)
    wide = _run(tmp_path, "wide", "mae", {"cls": 85.0, "avg": 85.0}, embed_dim=192)
    rnd = _run(tmp_path, "rnd", "random", {"cls": 78.0, "avg": 78.5})
    rnd_wide = _run(tmp_path, "rndwide", "random", {"cls": 80.0, "avg": 80.5}, embed_dim=192)
    fell_back = _run(tmp_path, "fellback", "mae", {"cls": 86.0, "avg": 86.0}, crop_min=0.5)
    res = json.loads((tmp_path / "fellback" / "study_results_fellback.json").read_text())
    res["mae"]["probe_lr"]["cls"].update(base_lr=1.0, diverged_on_refit=[10.0])  # the best lr diverged on refit
    (tmp_path / "fellback" / "study_results_fellback.json").write_text(json.dumps(res))
    out = tmp_path / "docs"
    rows = main([ref, deep, wide, fell_back, rnd, rnd_wide, "--out", str(out), "--title", "patch 7, 20 epochs"])
    assert [r["changed"] for r in rows] == [{}, {"decoder_depth": 4}, {"embed_dim": 192}, {"crop_min": 0.5}]
    assert rows[3]["mae"] == {"cls": 85.0, "avg": 86.0}  # the held-out score of the lr it was refit with
    assert rows[0]["gap"] == {"cls": 4.0, "avg": 5.5} and rows[1]["gap"] == {"cls": 5.0, "avg": 6.0}
    assert rows[2]["random"] == {"cls": 80.0, "avg": 80.5} and rows[2]["gap"] == {"cls": 5.0, "avg": 4.5}
    text = (out / "RESULTS.md").read_text()
    assert text.startswith("# Probe pilots: patch 7, 20 epochs")
    assert "| deep | decoder_depth 4 | 10.0 | 83.0 | 84.5 | 78.0 | 78.5 | +5.00 | +6.00 |" in text
    assert "| ref | reference |" in text and "99.0" not in text  # the test-image scores stay out
    assert json.loads((out / "probe_pilots_patch-7-20-epochs.json").read_text()) == json.loads(json.dumps(rows))
    main([ref, rnd, "--out", str(out), "--title", "patch 7, 20 epochs", "--note", "First.", "--note", "Second."])
    text = (out / "RESULTS.md").read_text()  # rerun: its section is replaced, with the notes under the table
    assert text.count("# Probe pilots: patch 7, 20 epochs") == 1 and "| deep |" not in text
    assert text.index("| ref | reference |") < text.index("- First.") < text.index("- Second.")
    assert text.count("First.") == 1 and "--title 'patch 7, 20 epochs' --note ... --note ...`" in text
    about = json.loads((out / "probe_pilots_patch-7-20-epochs.notes.json").read_text())
    assert about["notes"] == ["First.", "Second."]
    assert f"`{about['command']}` on {about['date']}" in text

    for argv, says in (([wide, rnd], "no random-init run"), ([rnd], "none of the runs probed an MAE"),
                       ([ref, str(tmp_path / "missing")], "holds 0 study results files")):
        with pytest.raises(SystemExit):
            main(argv + ["--out", str(out), "--title", "x"])
        assert says in capsys.readouterr().err
