"""`mae ablate`: one suite end to end on generated Fashion-MNIST-format files with the tiny budget:
the table beside the paper's numbers, the arm cache (a second run trains nothing) and resume."""
import gzip
import json
import os

import numpy as np
import pytest
import torch

from pretrain.mae import MaskedAutoencoder

from tools.ablate import report
from tools.ablate.runner import run_suite
from tools.ablate.scale import load_scale
from tools.ablate.suites import suites
from tools.cli import main
from tools.ablate.engine import ARCH, DECODER

SUITES = suites(load_scale())  # the default scale: Fashion-MNIST


def write_idx(path, a):
    header = bytes([0, 0, 8, a.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in a.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + a.astype(np.uint8).tobytes())


def fake_fmnist(root, n=128):
    """Ten classes of a bright square at a class-dependent place, plus noise."""
    rng = np.random.default_rng(0)
    os.makedirs(root)
    for split, prefix in (("train", "train"), ("test", "t10k")):
        y = np.arange(n) % 10
        x = rng.integers(0, 60, (n, 28, 28))
        for i, c in enumerate(y):
            r, col = 2 + 2 * (c // 5) * 5, 2 + 5 * (c % 5)
            x[i, r:r + 8, col:col + 5] = 230
        write_idx(os.path.join(root, f"{prefix}-images-idx3-ubyte.gz"), x)
        write_idx(os.path.join(root, f"{prefix}-labels-idx1-ubyte.gz"), y)


def test_suites_are_well_formed():
    for name, s in SUITES.items():
        names = [a["name"] for a in s["arms"]]
        assert len(set(names)) == len(names) and s["reference"] in names, name
        for arm in s["arms"]:
            assert set(arm.get("paper", {})) - {"FLOPs"} <= set(s["metrics"]), (name, arm["name"])



def test_every_arm_builds_and_runs_forward():
    """Each arm's overrides are valid MaskedAutoencoder arguments on the study's 28-px model."""
    x = torch.randn(2, 1, 28, 28)
    configs = {json.dumps(a["model"], sort_keys=True): a["model"] for s in SUITES.values() for a in s["arms"]
               if not isinstance(a["model"].get("target"), dict)}  # PCA and token: resolved at run time (below)
    for key, kw in configs.items():
        torch.manual_seed(0)
        mae = MaskedAutoencoder(**{**ARCH, **DECODER, "norm_pix_loss": True, **kw})
        with torch.no_grad():
            loss, _, mask = mae.forward_mae(x)
        assert torch.isfinite(loss), key
        assert abs(mask.float().mean().item() - kw.get("mask_ratio", 0.75)) < 0.1, key


@pytest.mark.slow
def test_mask_token_suite_table_cache_and_resume(tmp_path, capsys):
    fake_fmnist(str(tmp_path / "data"))
    out = str(tmp_path / "out")
    assert main(["ablate", "mask-token", "--budget", "tiny", "--out", out, "--data", str(tmp_path / "data")]) == 0
    assert "arm 2/2" in capsys.readouterr().out
    folder = os.path.join(out, "mask-token", "tiny")
    table = open(os.path.join(folder, "mask-token.md")).read()
    assert "same direction as the paper" in table and "| encoder w/ [M] |" in table and "84.2" in table
    rows = json.load(open(os.path.join(folder, "mask-token.json")))["rows"]
    assert [r["case"] for r in rows] == ["encoder w/ [M]", "encoder w/o [M]"]
    assert rows[0]["same_direction"]["lin"] in ("yes", "no") and rows[1]["same_direction"]["lin"] == "reference"
    assert all(0 <= r["lin"] <= 100 and 0 <= r["ft"] <= 100 and r["step_ms"] > 0 for r in rows)

    again = run_suite("mask-token", "tiny", out, data_root=str(tmp_path / "data"))
    assert again["trained"] == []  # every arm came from its JSON
    assert {a: res[0]["lin"] for a, res in again["arms"].items()} == {r["case"]: r["lin"] for r in rows}

    os.remove(os.path.join(folder, "arms", "encoder-w-o-m__seed0.json"))  # stopped during the second arm
    resumed = run_suite("mask-token", "tiny", out, data_root=str(tmp_path / "data"))
    assert resumed["trained"] == [("encoder w/o [M]", 0)]
    assert resumed["arms"]["encoder w/o [M]"][0]["trained_now"] is False  # its pretraining was cached
    assert report.write(resumed, folder)["md"].endswith("mask-token.md")


def test_unknown_suite_and_budget_are_one_line_errors(tmp_path, capsys):
    with pytest.raises(ValueError, match="unknown budget 'huge'"):
        run_suite("decoder", "huge", str(tmp_path))
    with pytest.raises(SystemExit):
        main(["ablate", "no-such-suite"])
    assert "invalid choice" in capsys.readouterr().err


def test_arms_cached_under_an_older_evaluation_protocol_are_rerun():
    """Regression: a cached arm was reused whenever its budget matched, so probe numbers made with the
    old fixed LARS lr would have been mixed silently into tables made with the held-out lr choice."""
    from tools.ablate.runner import PROTOCOL, reusable
    from tools.ablate.scale import fingerprint, load_scale

    scale = load_scale("fmnist")
    budget = scale["budgets"]["tiny"]
    record = {"budget": budget, "scale": json.loads(json.dumps(fingerprint(scale))), "protocol": PROTOCOL}
    assert reusable(record, budget, scale)
    assert not reusable({k: v for k, v in record.items() if k != "protocol"}, budget, scale)  # made before it
    assert not reusable(dict(record, protocol=PROTOCOL - 1), budget, scale)
    assert not reusable(dict(record, budget=dict(budget, ft_epochs=budget["ft_epochs"] + 1)), budget, scale)


def test_direction_inside_the_seed_spread_is_marked():
    """With 2+ seeds, an arm-minus-reference difference no larger than the seeds' spread keeps its
    yes/no but says it is inside the noise (mask-token at `medium`: 16.0 ± 0.3 vs 16.1 ± 0.2 read 'yes')."""
    arm = {"name": "a", "paper": {"ft": 84.2}}
    ref = {"case": "ref", "paper": {"ft": 84.9}, "ft": 16.1, "ft_std": 0.2}
    close = {"case": "a", "paper": arm["paper"], "ft": 16.0, "ft_std": 0.3}
    far = dict(close, ft=14.0)
    one_seed = dict(close, ft_std=None)
    assert report.direction(close, arm, ref, "ft") == "yes (within seed spread)"
    assert report.direction(far, arm, ref, "ft") == "yes"
    assert report.direction(one_seed, arm, ref, "ft") == "yes"  # no spread to compare with
    assert report.direction(dict(close, ft=16.3), arm, ref, "ft") == "no (within seed spread)"
    assert report.direction(ref, arm, ref, "ft") == "reference"
