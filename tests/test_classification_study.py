"""Pieces of the classification study: the idx reader on a generated file, the batched crop, and
linear probes on cached features (the same result as probing through the frozen model)."""
import gzip

import numpy as np
import pytest
import torch

from pretrain.errors import DataError
from tools.ablate.data import load_fmnist, read_idx
from tools.ablate.engine import augment, lr_factor, warmup_steps
from transfer.classification import ViTClassifier
from transfer.classification.probe_cache import cache_features, choose_probe_lr, fit_probe, probe_accuracy, refit_probe


def test_idx_reader_and_missing_data(tmp_path):
    a = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    header = bytes([0, 0, 8, 3]) + b"".join(int(d).to_bytes(4, "big") for d in a.shape)
    with gzip.open(tmp_path / "x.gz", "wb") as f:
        f.write(header + a.tobytes())
    np.testing.assert_array_equal(read_idx(str(tmp_path / "x.gz")), a)
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist"):
        load_fmnist(str(tmp_path))


def test_batched_crop_shapes_and_values():
    x = torch.randn(6, 1, 28, 28)
    y = augment(x, (0.2, 1.0), torch.Generator().manual_seed(0))
    assert y.shape == x.shape and not torch.equal(x, y)
    assert not torch.allclose(y[0], y[1])  # each image gets its own crop
    const = torch.full((3, 1, 28, 28), 0.7)
    torch.testing.assert_close(augment(const, (0.2, 1.0)), const)  # crops stay inside the image
    # a crop of an image that varies only along its width keeps values within the image's range
    ramp = torch.linspace(-1, 1, 28).expand(4, 1, 28, 28).contiguous()
    z = augment(ramp, (0.2, 1.0))
    assert z.min() >= -1 - 1e-5 and z.max() <= 1 + 1e-5


def test_probe_on_cached_features_equals_probe_through_model(tmp_path):
    torch.manual_seed(0)
    model = ViTClassifier(num_classes=3, img_size=16, patch_size=8, embed_dim=16, depth=1, num_heads=2,
                          global_pool=False, probe_bn=True, trainable="head", drop_path_rate=0.3,
                          head_init_std=0.01)
    x = torch.randn(64, 3, 16, 16)
    feats = cache_features(model, x, batch_size=16, path=str(tmp_path / "f.pt"))
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(feats, model.pooled(x))
    assert torch.equal(cache_features(model, x[:1], path=str(tmp_path / "f.pt")), feats)  # read back
    labels = feats[:, 0].argsort().argsort() * 3 // 64  # a labelling the features determine
    # LARS steps are relative to the weight norm (lr x 0.001): a large lr for a few hundred steps
    head = fit_probe(model.head, feats, labels, epochs=60, batch_size=16, base_lr=160.0)
    logits = model.head(feats)
    with torch.no_grad():
        torch.testing.assert_close(model(x), logits)  # the trained head is the model's head
    assert probe_accuracy(head, feats, labels) > 60


def test_probe_lr_is_chosen_on_held_out_training_features_only():
    """The lr chooser must see only the training features (the test set is scored once, after), must
    leave the head it was given untouched, and must prefer an lr that learns over one that cannot."""
    torch.manual_seed(0)
    feats = torch.randn(240, 8)
    labels = (feats[:, 0] > 0).long() + (feats[:, 1] > 0).long()  # 3 classes the features determine
    head = torch.nn.Sequential(torch.nn.BatchNorm1d(8, affine=False), torch.nn.Linear(8, 3))
    torch.nn.init.normal_(head[1].weight, std=0.01)
    before = {k: v.clone() for k, v in head.state_dict().items()}
    best, scores = choose_probe_lr(head, feats, labels, (1e-6, 160.0), epochs=20, batch_size=16)
    assert set(scores) == {1e-6, 160.0} and best == 160.0 and scores[160.0] > scores[1e-6] + 20
    assert all(torch.equal(before[k], v) for k, v in head.state_dict().items())
    # held-out scores come from 1/6 of the given features: a score is a multiple of 1/40
    assert all(abs(v * 40 / 100 - round(v * 40 / 100)) < 1e-4 for v in scores.values())


def test_a_probe_that_diverges_when_refitted_falls_back_to_the_next_lr():
    """Regression: the study's class-token probe chose base lr 100 on held-out features (82.7) and its
    refit on all the training features diverged to chance (10.0 on the test images), because LARS
    leaves the bias's step unadapted. The refit must notice on the training features and use the next
    lr in held-out order; the head given is refitted in place."""
    torch.manual_seed(0)
    feats = torch.randn(240, 8)
    labels = (feats[:, 0] > 0).long() + (feats[:, 1] > 0).long()
    head = torch.nn.Sequential(torch.nn.BatchNorm1d(8, affine=False), torch.nn.Linear(8, 3))
    held_out = {1e7: 99.0, 160.0: 80.0}  # as if the huge lr had scored best on the held-out sixth
    diverged = fit_probe(torch.nn.Sequential(torch.nn.BatchNorm1d(8, affine=False), torch.nn.Linear(8, 3)),
                         feats, labels, epochs=20, batch_size=16, base_lr=1e7)
    assert probe_accuracy(diverged, feats, labels) < 99.0 - 5  # the premise: that lr does diverge here
    fitted, lr, rejected = refit_probe(head, feats, labels, held_out, epochs=20, batch_size=16)
    assert fitted is head and lr == 160.0 and rejected == [1e7]
    assert probe_accuracy(head, feats, labels) > 75
    # no refit within the tolerance (as with a tiny set's noisy held-out scores): the best fit is kept
    _, lr, rejected = refit_probe(head, feats, labels, {1e7: 99.0, 1e4: 99.0}, epochs=20, batch_size=16)
    assert lr == 1e4 and rejected == [1e7]


def test_probe_figure_is_the_mean_of_its_refits_and_the_report_lists_them(tmp_path):
    """One refit of the MAE class-token probe moved ~2 points with the seed alone, so the study refits
    each probe with --probe-refits seeds and reports the mean: the mean of the recorded refits, each
    refit's seed and score are kept, and the report and its command say so."""
    from argparse import Namespace
    from tools.ablate.engine import linear_probes
    from tools.studies.classification_report import write_report
    gen = torch.Generator().manual_seed(0)
    x, xt = torch.rand(96, 28, 28, generator=gen), torch.rand(48, 28, 28, generator=gen)
    y, yt = (x.mean((1, 2)) > 0.5).long() + (x[:, :14].mean((1, 2)) > 0.5).long(), torch.randint(0, 3, (48,), generator=gen)
    args = Namespace(seed=3, probe_epochs=2, batch=16, probe_refits=3)
    details = {}
    got = linear_probes(None, {"train": (x, y), "test": (xt, yt)}, args, torch.device("cpu"), pools=("cls",),
                        details=details)
    d = details["cls"]
    assert d["refit_seeds"] == [3, 4, 5] and len(d["refit_test_top1"]) == 3
    assert got["cls"] == pytest.approx(sum(d["refit_test_top1"]) / 3, abs=0.01)
    assert all(abs(t * 48 / 100 - round(t * 48 / 100)) < 1e-3 for t in d["refit_test_top1"])  # each a test score
    res = {"config": dict(pretrain_epochs=1, ft_epochs=1, probe_epochs=2, batch=16, seed=3, mae_blr=1e-3, ft_blr=1e-3),
           "arch": dict(patch_size=4, img_size=28, embed_dim=16, depth=2, num_heads=2),
           "decoder": dict(decoder_depth=1, decoder_embed_dim=8), "seconds": {"probe": 1.0}, "date": "today",
           "machine": "cpu", "train_images": 96, "pixels": 50.0,
           "mae": {"probe": got, "probe_lr": details}}
    text = open(write_report(res, str(tmp_path))).read()
    tops = " / ".join(f"{t:.1f}" for t in d["refit_test_top1"])
    assert f"refit 3 times (seeds 3, 4, 5)" in text and f"MAE cls {tops}" in text and "--probe-refits 3" in text
    assert f"| MAE pretrained | {got['cls']:.1f} |" in text
    # one refit (results from before refits were repeated): one figure, no refit line
    one = linear_probes(None, {"train": (x, y), "test": (xt, yt)}, Namespace(seed=3, probe_epochs=2, batch=16,
                        probe_refits=1), torch.device("cpu"), pools=("cls",), details=(solo := {}))
    assert one["cls"] == pytest.approx(d["refit_test_top1"][0], abs=0.01)  # the first refit, seed 3
    assert "refit_seeds" not in solo["cls"]


def test_short_schedules_warm_up_for_a_tenth_and_then_decay():
    """Regression: a 1-epoch fine-tune warmed up for its whole length and never decayed."""
    assert warmup_steps(1, 50) == 5 and warmup_steps(2, 50) == 10
    assert warmup_steps(15, 50) == 50 and warmup_steps(100, 50) == 500  # whole epochs from 10 up
    total = 50
    warm = warmup_steps(1, total)
    factors = [lr_factor(s, total, warm) for s in range(total)]
    assert max(factors) == 1.0 and factors[-1] < 0.01


def test_study_report_replaces_only_its_own_section_of_results(tmp_path):
    """Regression: the classification study rewrote the whole RESULTS.md, erasing the other studies."""
    from tools.studies.classification_report import write_report

    other = "# Segmentation study: synthetic ADE20K layout\n\nmIoU 91.3 vs 83.6\n"
    (tmp_path / "RESULTS.md").write_text("# Classification study: Fashion-MNIST\n\nold numbers\n\n" + other)
    res = {"config": dict(pretrain_epochs=1, ft_epochs=1, probe_epochs=1, batch=8, seed=0, mae_blr=1e-3, ft_blr=1e-3),
           "arch": dict(patch_size=4, img_size=28, embed_dim=16, depth=2, num_heads=2),
           "decoder": dict(decoder_depth=1, decoder_embed_dim=8), "seconds": {"pretrain": 1.0},
           "date": "today", "machine": "cpu", "train_images": 8, "pixels": 50.0,
           "mae": {"probe": {"cls": 40.0, "avg": 41.0}, "partial1": 45.0, "full": 60.0},
           "random": {"probe": {"cls": 20.0, "avg": 21.0}, "full": 55.0}}
    text = open(write_report(res, str(tmp_path))).read()
    assert "old numbers" not in text and "| MAE pretrained | 40.0 | 41.0 |" in text
    assert text.endswith(other) and text.count("# Classification study") == 1


def _part(tmp_path, name, inits, evals, measured, pixels=84.3, **budget):
    import json
    config = dict(out=str(tmp_path / name), data=None, pretrain_epochs=1, ft_epochs=2, probe_epochs=1, batch=8,
                  mae_blr=1e-3, ft_blr=1e-3, limit=0, seed=0, inits=inits, evals=evals)
    config.update(budget)
    res = {"config": config, "arch": dict(patch_size=4, img_size=28, embed_dim=16, depth=2, num_heads=2),
           "decoder": dict(decoder_depth=1, decoder_embed_dim=8), "date": f"2026-11-27 0{len(name)}:00 UTC",
           "machine": "no GPU; CPU test", "train_images": 8, "pixels": pixels,
           "seconds": {"pixel logistic regression": 1.0, **{f"{i} {k}": 2.0 for i, r in measured.items() for k in r if k != "probe_lr"}},
           **measured}
    (tmp_path / name).mkdir()
    (tmp_path / name / "study_results.json").write_text(json.dumps(res))
    return str(tmp_path / name)


def _record_mae_builds(monkeypatch, key: str) -> list:
    """The engine's MaskedAutoencoder, patched to record each build's `key` argument in the list
    returned (what a study flag reached)."""
    from tools.ablate import engine

    built, real = [], engine.MaskedAutoencoder
    monkeypatch.setattr(engine, "MaskedAutoencoder", lambda **kw: built.append(kw[key]) or real(**kw))
    return built


def _probe_only_result(decoder_depth=2, patch_size=4) -> dict:
    """A one-process study result with only the MAE probes, for the report's command and setup text."""
    from tools.studies.classification_merge import BUDGET_DEFAULTS
    config = dict(pretrain_epochs=1, ft_epochs=1, probe_epochs=1, batch=8, seed=0, mae_blr=1e-3, ft_blr=1e-3)
    config.update({k: v for k, v in (("decoder_depth", decoder_depth), ("patch_size", patch_size))
                   if v != BUDGET_DEFAULTS[k]})
    return {"config": config, "arch": dict(patch_size=patch_size, img_size=28, embed_dim=16, depth=2, num_heads=2),
            "decoder": dict(decoder_depth=decoder_depth, decoder_embed_dim=8), "seconds": {}, "date": "today",
            "machine": "cpu", "train_images": 8, "pixels": 50.0, "mae": {"probe": {"cls": 40.0, "avg": 41.0}}}


def test_merge_joins_processes_that_split_a_study_and_refuses_mismatches(tmp_path):
    """A study split over processes (--inits/--evals) is joined by --merge into one report; another
    budget, or the same evaluation measured twice with different values, is refused by name."""
    import json
    from tools.studies.classification import main

    a = _part(tmp_path, "a", "mae", "probe,partial1", {"mae": {"probe": {"cls": 40.0, "avg": 41.0}, "partial1": 45.0,
                                                               "probe_lr": {"cls": {"base_lr": 10.0, "held_out_top1": {"1.0": 30.0, "10.0": 38.0}}}}})
    b = _part(tmp_path, "bb", "random", "full", {"random": {"full": 55.0}}, pixels=84.4)
    c = _part(tmp_path, "ccc", "mae", "full", {"mae": {"full": 60.0}}, pixels=84.2)
    out = tmp_path / "out"
    main(["--out", str(out), "--merge", a, b, c])
    res = json.loads((out / "study_results.json").read_text())
    assert res["mae"]["probe"] == {"cls": 40.0, "avg": 41.0} and res["mae"]["partial1"] == 45.0
    assert res["mae"]["full"] == 60.0 and res["random"]["full"] == 55.0
    assert res["pixels"] == 84.3 and res["date"] == "2026-11-27 03:00 UTC"
    assert set(res["seconds"]) == {"pixel logistic regression", "mae probe", "mae partial1", "random full", "mae full"}
    text = (out / "RESULTS.md").read_text()
    assert "| MAE pretrained | 40.0 | 41.0 | - | 45.0 | - | 60.0 |" in text
    assert f"--merge {a} {b} {c}`" in text and "Produced by processes that split" in text and "mae probe, partial1" in text and "84.20-84.40" in text

    with pytest.raises(DataError, match=r"another budget .*'ft_epochs': \(2, 5\)"):
        main(["--out", str(out), "--merge", a, _part(tmp_path, "d", "mae", "full", {"mae": {"full": 1.0}},
                                                     ft_epochs=5)])
    with pytest.raises(DataError, match="mae full is 60.0 in one process and 61.0"):
        main(["--out", str(out), "--merge", c, _part(tmp_path, "e", "mae", "full", {"mae": {"full": 61.0}})])
    with pytest.raises(DataError, match="pixel baseline is 84.30 .* and 90.00"):
        main(["--out", str(out), "--merge", a, _part(tmp_path, "f", "mae", "full", {"mae": {}}, pixels=90.0)])
    with pytest.raises(DataError, match="missing holds 0 study results files"):
        main(["--out", str(out), "--merge", a, str(tmp_path / "missing")])

    # a labelled run (another budget) gets its own section and files beside the main study's
    main(["--out", str(out), "--merge", a, c, "--label", "2 fine-tuning epochs", "--note", "Why: a shorter budget."])
    text = (out / "RESULTS.md").read_text()
    assert "\n- Why: a shorter budget.\n- The raw-pixel baseline is the median" in text  # before the merge's notes
    assert text.count("# Classification study: Fashion-MNIST\n") == 1
    assert text.count("# Classification study: Fashion-MNIST, 2 fine-tuning epochs\n") == 1
    assert "(study_partial_2-fine-tuning-epochs.png)" in text and "--label '2 fine-tuning epochs'`" in text
    assert (out / "study_partial_2-fine-tuning-epochs.png").is_file()
    labelled = json.loads((out / "study_results_2-fine-tuning-epochs.json").read_text())
    assert labelled["mae"]["full"] == 60.0 and "random" not in labelled
    assert json.loads((out / "study_results.json").read_text())["random"]["full"] == 55.0  # the main one kept

    # one process's result moved into place with a note: the report still names its own command
    main(["--out", str(out), "--merge", c, "--label", "one run", "--note", "Why: one run."])
    text = (out / "RESULTS.md").read_text().split("# Classification study: Fashion-MNIST, one run\n")[1]
    assert "Produced by one command (`" in text and "--evals full --label 'one run'`" in text
    assert "\n- Why: one run.\n" in text and "Merged by" not in text


def test_decoder_depth_reaches_the_mae_the_saved_encoder_key_the_merge_and_the_command(tmp_path, monkeypatch):
    """--decoder-depth: the MAE is built with it, an encoder saved with another decoder is not reused
    (one saved before the flag existed still is, at the default), processes with different decoders are
    not merged, and the report's command carries it."""
    from argparse import Namespace
    import tools.studies.classification as study
    from tools.studies.classification_report import write_report

    built = _record_mae_builds(monkeypatch, "decoder_depth")
    x = torch.randint(0, 255, (16, 28, 28), dtype=torch.uint8)
    args = Namespace(out=str(tmp_path), pretrain_epochs=1, batch=8, mae_blr=1e-3, seed=0, limit=16, decoder_depth=2)
    study.pretrained_encoder(x, args, torch.device("cpu"), {"seconds": {}})
    blob = torch.load(tmp_path / "mae_encoder.pth", weights_only=True)
    assert built == [2] and "decoder" not in blob["settings"]  # the key of encoders saved before the flag
    study.pretrained_encoder(x, args, torch.device("cpu"), {"seconds": {}})
    assert built == [2]  # reused
    args.decoder_depth = 3
    study.pretrained_encoder(x, args, torch.device("cpu"), {"seconds": {}})
    blob = torch.load(tmp_path / "mae_encoder.pth", weights_only=True)
    assert built == [2, 3] and blob["settings"]["decoder"]["decoder_depth"] == 3

    old = _part(tmp_path, "old", "mae", "probe", {"mae": {"probe": {"cls": 40.0, "avg": 41.0}}})  # no decoder_depth key
    same = _part(tmp_path, "two", "random", "full", {"random": {"full": 55.0}}, decoder_depth=2)
    deeper = _part(tmp_path, "eight", "mae", "full", {"mae": {"full": 60.0}}, decoder_depth=8)
    study.main(["--out", str(tmp_path / "out"), "--merge", old, same])
    with pytest.raises(DataError, match=r"another budget .*'decoder_depth': \(2, 8\)"):
        study.main(["--out", str(tmp_path / "out"), "--merge", old, deeper])
    # the random-init results do not depend on the pretraining: they join a study that pretrained otherwise
    study.main(["--out", str(tmp_path / "out"), "--merge", same, deeper])
    import json
    merged = json.loads((tmp_path / "out" / "study_results.json").read_text())
    assert merged["config"]["decoder_depth"] == 8 and merged["mae"]["full"] == 60.0 and merged["random"]["full"] == 55.0
    with pytest.raises(DataError, match=r"another budget .*'ft_epochs': \(2, 5\)"):
        study.main(["--out", str(tmp_path / "out"), "--merge", deeper,
                    _part(tmp_path, "r5", "random", "full", {"random": {"full": 50.0}}, ft_epochs=5)])
    with pytest.raises(SystemExit):
        study.main(["--decoder-depth", "0", "--out", str(tmp_path / "x")])

    res = _probe_only_result(decoder_depth=8)
    text = open(write_report(res, str(tmp_path / "out"))).read()
    assert "--decoder-depth 8`" in text and "MAE decoder\n8 blocks x 8" in text


def test_decoder_width_reaches_the_mae_the_saved_encoder_key_the_merge_and_the_command(tmp_path, monkeypatch):
    """--decoder-width (the paper's Table 1b): the MAE is built with it, an encoder saved with another
    width is not reused, MAE processes with different widths are not merged, and the command carries it."""
    from argparse import Namespace
    import tools.studies.classification as study
    from tools.studies.classification_report import write_report

    built = _record_mae_builds(monkeypatch, "decoder_embed_dim")
    x = torch.randint(0, 255, (16, 28, 28), dtype=torch.uint8)
    args = Namespace(out=str(tmp_path), pretrain_epochs=1, batch=8, mae_blr=1e-3, seed=0, limit=16, decoder_depth=2,
                     decoder_width=64)
    study.pretrained_encoder(x, args, torch.device("cpu"), {"seconds": {}})
    assert built == [64] and "decoder" not in torch.load(tmp_path / "mae_encoder.pth", weights_only=True)["settings"]
    args.decoder_width = 32
    study.pretrained_encoder(x, args, torch.device("cpu"), {"seconds": {}})
    blob = torch.load(tmp_path / "mae_encoder.pth", weights_only=True)
    assert built == [64, 32] and blob["settings"]["decoder"]["decoder_embed_dim"] == 32

    narrow = _part(tmp_path, "narrow", "mae", "full", {"mae": {"full": 60.0}}, decoder_width=32)
    default = _part(tmp_path, "default", "mae", "probe", {"mae": {"probe": {"cls": 40.0, "avg": 41.0}}})
    with pytest.raises(DataError, match=r"another budget .*'decoder_width': \(32, 64\)"):
        study.main(["--out", str(tmp_path / "out"), "--merge", narrow, default])
    for bad in ("0", "30"):  # not a multiple of the decoder's 4 heads
        with pytest.raises(SystemExit):
            study.main(["--decoder-width", bad, "--out", str(tmp_path / "x")])

    res = _probe_only_result()
    res["config"]["decoder_width"], res["decoder"]["decoder_embed_dim"] = 128, 128
    (tmp_path / "out").mkdir()
    text = open(write_report(res, str(tmp_path / "out"))).read()
    assert "--decoder-width 128`" in text and "MAE decoder\n2 blocks x 128" in text
    assert "--decoder-depth" not in text and "--patch-size" not in text  # defaults are not named


def test_embed_dim_reaches_both_encoders_the_saved_key_the_merge_the_command_and_the_probe_tools(tmp_path, monkeypatch):
    """--embed-dim: the MAE and the random-init encoder are built that wide, the saved encoder's key
    carries it (so the probe tools rebuild it), processes of other widths are not merged even for
    random init, and the report's command and setup say it."""
    from argparse import Namespace
    import tools.studies.classification as study
    from tools.ablate import engine
    from tools.studies.classification_report import write_report

    built = _record_mae_builds(monkeypatch, "embed_dim")
    imgs = torch.randint(0, 255, (32, 28, 28), dtype=torch.uint8)
    args = Namespace(out=str(tmp_path), pretrain_epochs=1, batch=16, mae_blr=1e-3, seed=0, limit=32, decoder_depth=2,
                     patch_size=7, embed_dim=64)
    study.pretrained_encoder(imgs, args, torch.device("cpu"), {"seconds": {}})
    blob = torch.load(tmp_path / "mae_encoder.pth", weights_only=True)
    assert built == [64] and (blob["settings"]["embed_dim"], blob["settings"]["patch_size"]) == (64, 7)
    spec = study.saved_encoder_spec(blob)
    assert (spec["arch"]["embed_dim"], spec["arch"]["patch_size"]) == (64, 7)
    probe = engine.probe_model(blob["state"], "avg", spec)  # the saved encoder loads into its ViT
    assert probe.pos_embed.shape == (1, 17, 64)
    random_init = engine.probe_model(None, "cls", study.spec_of(args))
    assert random_init.pos_embed.shape == (1, 17, 64)  # random init too

    wide = _part(tmp_path, "wide", "random", "full", {"random": {"full": 55.0}}, embed_dim=64)
    default = _part(tmp_path, "default", "mae", "probe", {"mae": {"probe": {"cls": 40.0, "avg": 41.0}}})
    with pytest.raises(DataError, match=r"another budget .*'embed_dim': \(128, 64\)"):
        study.main(["--out", str(tmp_path / "out"), "--merge", wide, default])
    with pytest.raises(SystemExit):
        study.main(["--embed-dim", "30", "--out", str(tmp_path / "x")])

    res = _probe_only_result()
    res["config"]["embed_dim"], res["arch"]["embed_dim"] = 192, 192
    (tmp_path / "out").mkdir()
    text = open(write_report(res, str(tmp_path / "out"))).read()
    assert "--embed-dim 192`" in text and "192 wide" in text


def test_mask_ratio_and_crop_min_reach_the_pretraining_the_saved_key_the_merge_and_the_report(tmp_path, monkeypatch):
    """--mask-ratio and --crop-min change only the MAE's pretraining: the MAE masks that share and crops
    at least that area, an encoder saved otherwise is not reused, MAE processes that differ are not
    merged while random-init ones still join, and the report's setup and command say them."""
    from argparse import Namespace
    import tools.studies.classification as study
    from tools.ablate import engine
    from tools.studies.classification_report import write_report

    ratios, scales = [], []
    real_mae, real_aug = engine.MaskedAutoencoder, engine.augment
    monkeypatch.setattr(engine, "MaskedAutoencoder",
                        lambda **kw: ratios.append(kw["mask_ratio"]) or real_mae(**kw))
    monkeypatch.setattr(engine, "augment",
                        lambda x, scale, gen=None: scales.append(scale) or real_aug(x, scale, gen))
    imgs = torch.randint(0, 255, (16, 28, 28), dtype=torch.uint8)
    args = Namespace(out=str(tmp_path), pretrain_epochs=1, batch=8, mae_blr=1e-3, seed=0, limit=16, decoder_depth=2,
                     patch_size=7)
    study.pretrained_encoder(imgs, args, torch.device("cpu"), {"seconds": {}})  # a caller without the flags
    assert ratios == [0.75] and set(scales) == {(0.2, 1.0)}
    assert not {"mask_ratio", "crop_min"} & set(torch.load(tmp_path / "mae_encoder.pth", weights_only=True)["settings"])
    args.mask_ratio, args.crop_min = 0.5, 0.6
    study.pretrained_encoder(imgs, args, torch.device("cpu"), {"seconds": {}})
    settings = torch.load(tmp_path / "mae_encoder.pth", weights_only=True)["settings"]
    assert ratios == [0.75, 0.5] and scales[-1] == (0.6, 1.0)
    assert (settings["mask_ratio"], settings["crop_min"]) == (0.5, 0.6)

    half = _part(tmp_path, "half", "mae", "full", {"mae": {"full": 60.0}}, mask_ratio=0.5)
    default = _part(tmp_path, "default", "mae", "probe", {"mae": {"probe": {"cls": 40.0, "avg": 41.0}}})
    random = _part(tmp_path, "random", "random", "full", {"random": {"full": 55.0}})
    with pytest.raises(DataError, match=r"another budget .*'mask_ratio': \(0.5, 0.75\)"):
        study.main(["--out", str(tmp_path / "out"), "--merge", half, default])
    study.main(["--out", str(tmp_path / "out"), "--merge", half, random])
    for flag, bad in (("--mask-ratio", "1"), ("--mask-ratio", "0"), ("--crop-min", "0"), ("--crop-min", "1.5")):
        with pytest.raises(SystemExit):
            study.main([flag, bad, "--out", str(tmp_path / "x")])

    res = _probe_only_result()
    res["config"].update(mask_ratio=0.5, crop_min=0.6)
    text = open(write_report(res, str(tmp_path / "out"))).read()
    assert "--mask-ratio 0.5 --crop-min 0.6`" in text
    assert "mask ratio 0.5," in text and "resized crop (0.6-1) + flip" in text
    res["config"].update(crop_min=1.0)  # area 1 crops nothing: the text says what the jitter still does
    text = open(write_report(res, str(tmp_path / "out"))).read()
    assert "resized crop at full area (only the aspect jittered, 3/4-4/3) + flip" in text and "(1-1)" not in text


def test_converged_probe_uses_the_study_held_out_split_and_reports_both_encoders(tmp_path, monkeypatch, capsys):
    """tools/studies/probe_convergence: the L2 is chosen on the same held-out training images as
    the LARS probe's lr (never on the test images), a separable problem is solved, and both
    encoders and both poolings are scored from the study's saved encoder file."""
    from argparse import Namespace
    import json
    import tools.studies.classification as study
    from tools.ablate import data as fmnist
    from tools.studies.probe_convergence import converged_probe, main
    from transfer.classification.probe_cache import held_out_split

    val, train = held_out_split(60, seed=0)
    assert len(val) == 10 and sorted(torch.cat([val, train]).tolist()) == list(range(60))
    assert torch.equal(held_out_split(60, seed=0)[0], val) and not torch.equal(held_out_split(60, seed=1)[0], val)

    torch.manual_seed(0)
    f = torch.randn(120, 4)
    y = (f[:, 0] > 0).long()
    seen = []
    real = study.logistic_regression
    monkeypatch.setattr(study, "logistic_regression", lambda a, *r, **k: seen.append(len(a)) or real(a, *r, **k))
    r = converged_probe(f, y, f[:30], y[:30], steps=50)
    assert seen == [100] * 7 + [120]  # seven L2s on five sixths, then the refit on all training images
    assert max(r["held_out"].values()) == 100.0 and r["test"] == 100.0 and r["l2"] == max(map(float, r["held_out"]))
    monkeypatch.setattr(study, "logistic_regression", real)

    imgs = torch.randint(0, 255, (48, 28, 28), dtype=torch.uint8)
    labels = torch.arange(48) % 10
    monkeypatch.setattr(fmnist, "load_fmnist",
                        lambda: {"train": (imgs, labels), "test": (imgs[:20], labels[:20])})
    args = Namespace(out=str(tmp_path), pretrain_epochs=1, batch=16, mae_blr=1e-3, seed=0, limit=48, decoder_depth=2)
    study.pretrained_encoder(imgs, args, torch.device("cpu"), {"seconds": {}})
    out = main(["--encoder", str(tmp_path / "mae_encoder.pth"), "--steps", "5", "--out", str(tmp_path / "c.json")])
    assert set(out["probes"]) == {"mae cls", "mae avg", "random cls", "random avg"}
    assert out["gap cls"] == round(out["probes"]["mae cls"]["test"] - out["probes"]["random cls"]["test"], 2)
    assert json.load(open(tmp_path / "c.json"))["probes"] == json.loads(json.dumps(out["probes"]))
    torch.save({"model": {}}, tmp_path / "other.pth")
    for bad, says in (("missing.pth", "no such file"), ("other.pth", "not a study encoder file")):
        with pytest.raises(SystemExit):
            main(["--encoder", str(tmp_path / bad)])
        assert says in capsys.readouterr().err


def test_patch_size_reaches_both_encoders_the_saved_key_the_merge_the_command_and_the_probe_tools(
        tmp_path, monkeypatch, capsys):
    """--patch-size: the MAE and the random-init encoder are built with it, the saved encoder's key
    carries it (only when not the default, so older encoders are still reused), processes with other
    patches are not merged even for random init (its results depend on the patch too), the report's
    command and setup say it, and the probe tools read it back from the saved file."""
    from argparse import Namespace
    import json
    import tools.studies.classification as study
    from tools.ablate import data as fmnist, engine
    from pretrain.errors import DataError
    from tools.studies.probe_convergence import main as convergence
    from tools.studies.classification_report import write_report

    built = []
    real_mae, real_vit = engine.MaskedAutoencoder, engine.ViTClassifier
    monkeypatch.setattr(engine, "MaskedAutoencoder",
                        lambda **kw: built.append(("mae", kw["patch_size"])) or real_mae(**kw))
    monkeypatch.setattr(engine, "ViTClassifier",
                        lambda **kw: built.append(("vit", kw["patch_size"])) or real_vit(**kw))
    imgs = torch.randint(0, 255, (32, 28, 28), dtype=torch.uint8)
    args = Namespace(out=str(tmp_path), pretrain_epochs=1, batch=16, mae_blr=1e-3, seed=0, limit=32, decoder_depth=2,
                     patch_size=7)
    study.pretrained_encoder(imgs, args, torch.device("cpu"), {"seconds": {}})
    blob = torch.load(tmp_path / "mae_encoder.pth", weights_only=True)
    assert built == [("mae", 7)] and blob["settings"]["patch_size"] == 7
    assert study.saved_encoder_spec(blob)["arch"]["patch_size"] == 7
    random_init = engine.probe_model(None, "cls", study.spec_of(args))
    assert random_init.patch_embed.patch_size == (7, 7)  # random init too
    assert study.saved_encoder_spec({"settings": {}})["arch"]["patch_size"] == 4  # files saved before the flag
    own = {**engine.FMNIST_SPEC, "arch": {**study.ARCH, "patch_size": 16}}  # `mae ablate`'s own
    assert study.spec_of(Namespace(spec=own, patch_size=7)) is own
    args.patch_size = 4
    study.pretrained_encoder(imgs, args, torch.device("cpu"), {"seconds": {}})
    assert "patch_size" not in torch.load(tmp_path / "mae_encoder.pth", weights_only=True)["settings"]
    monkeypatch.setattr(engine, "MaskedAutoencoder", real_mae)
    monkeypatch.setattr(engine, "ViTClassifier", real_vit)

    with pytest.raises(SystemExit):
        study.main(["--patch-size", "5", "--out", str(tmp_path / "x")])
    assert "--patch-size must be a divisor of the 28-px images" in capsys.readouterr().err

    four = _part(tmp_path, "four", "mae", "probe", {"mae": {"probe": {"cls": 40.0, "avg": 41.0}}})  # no patch key
    seven = _part(tmp_path, "seven", "random", "full", {"random": {"full": 55.0}}, patch_size=7)
    with pytest.raises(DataError, match=r"another budget .*'patch_size': \(4, 7\)"):
        study.main(["--out", str(tmp_path / "out"), "--merge", four, seven])

    (tmp_path / "out").mkdir()
    res = _probe_only_result(patch_size=7)
    text = open(write_report(res, str(tmp_path / "out"))).read()
    assert "--patch-size 7`" in text and "patch 7 on the 28x28 grey images (16\ntokens)" in text
    res["config"].update(inits="mae,random", evals="probe")  # one process that ran only the probes
    text = open(write_report(res, str(tmp_path / "out"))).read()
    assert "Produced by one command (`python -m tools.studies.classification --out docs" in text
    assert "--patch-size 7 --evals probe`" in text and "--inits" not in text

    args.patch_size = 7
    (tmp_path / "mae_encoder.pth").unlink()
    study.pretrained_encoder(imgs, args, torch.device("cpu"), {"seconds": {}})
    monkeypatch.setattr(fmnist, "load_fmnist", lambda: {"train": (imgs, torch.arange(32) % 10),
                                                       "test": (imgs[:10], torch.arange(10))})
    out = convergence(["--encoder", str(tmp_path / "mae_encoder.pth"), "--steps", "3"])
    assert out["patch_size"] == 7 and len(out["probes"]) == 4
