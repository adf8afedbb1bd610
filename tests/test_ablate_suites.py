"""`mae ablate` beyond mask-token: the target suite (PCA basis, a VQ or dVAE tokenizer trained through
its config), the augmentation suite (the pretraining pipeline's crops and colour jitter) and every other
suite end to end on generated Fashion-MNIST-format files with the tiny budget."""
import json
import os

import pytest
import torch

from pretrain.data import pretrain_transform
from pretrain.tokenizers import tokenizer_type
from tools.ablate.arms import TensorImages, resolve
from pretrain.errors import ConfigError
from tools.ablate.runner import pick_arms, run_suite
from tools.ablate.scale import load_scale, study_spec
from tools.ablate.suites import suites
from tools.cli import main

from test_ablate import fake_fmnist

SUITES = suites(load_scale())  # the default scale: Fashion-MNIST


@pytest.fixture(scope="module")
def fmnist(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("fmnist") / "data")
    fake_fmnist(root, n=32)  # the tiny budget's 32 images: two steps per training loop
    return root


def run(suite, data, out):
    assert main(["ablate", suite, "--budget", "tiny", "--out", str(out), "--data", data]) == 0
    folder = os.path.join(str(out), suite, "tiny")
    rows = json.load(open(os.path.join(folder, f"{suite}.json")))["rows"]
    table = open(os.path.join(folder, f"{suite}.md")).read()
    assert [r["case"] for r in rows] == [a["name"] for a in SUITES[suite]["arms"]]
    for r in rows:
        assert all(0 <= r[m] <= 100 for m in SUITES[suite]["metrics"]), r
        assert f"| {r['case']} |" in table
        expect = "reference" if r["case"] == SUITES[suite]["reference"] else None
        assert all((d == expect) if expect else (d in ("yes", "no") or d.startswith("n/a"))
                   for d in r["same_direction"].values()), r
    return folder, rows, table


def test_crop_modes_and_colour_jitter():
    img = torch.randint(0, 256, (1, 28, 28), dtype=torch.uint8)
    torch.manual_seed(0)
    assert torch.equal(pretrain_transform(28, crop="none")(img), img)  # resize to its own size: unchanged
    fixed = pretrain_transform(28, crop="fixed_size")(img)
    assert fixed.shape == img.shape and not torch.equal(fixed, img)
    jittered = pretrain_transform(28, crop="none", color_jitter=0.4)(img)
    assert jittered.shape == img.shape and not torch.equal(jittered, img)
    with pytest.raises(ValueError, match="unknown crop 'square'"):
        pretrain_transform(28, crop="square")


def test_in_memory_images_are_seeded_per_epoch_and_sample():
    ds = TensorImages(torch.randint(0, 256, (4, 28, 28), dtype=torch.uint8), seed=3)
    a, b = ds[(0, 1)]["inputs"], ds[(0, 1)]["inputs"]
    assert a.shape == (1, 28, 28) and torch.equal(a, b)
    assert not all(torch.equal(ds[(e, 1)]["inputs"], a) for e in range(1, 4))


def test_target_suite_trains_its_tokenizer_once(fmnist, tmp_path):
    folder, rows, table = run("target", fmnist, tmp_path)
    assert "Tokenizer: `configs/tokenizer/vq-v512-d8_embedded_cpu.py`" in table and "codes used" in table
    tok = os.path.join(folder, "tokenizer", "vq-v512-d8_embedded_cpu", "tokenizer.pth")
    assert tokenizer_type(tok) == "vq"  # the default: the VQ tokenizer, not the Gumbel dVAE
    by = {r["case"]: r for r in rows}  # Table 7's last row: token - normalised pixels, ours then the paper's
    assert (f"| token - pixel (w/ norm) | {by['token']['ft'] - by['pixel (w/ norm)']['ft']:+.1f} | -0.1 | "
            f"{by['token']['lin'] - by['pixel (w/ norm)']['lin']:+.1f} | -2.3 |  |") in table
    arm = json.load(open(os.path.join(folder, "arms", "token__seed0.json")))
    assert arm["result"]["tokenizer"]["usage"]["vocab_size"] == 512
    os.remove(os.path.join(folder, "arms", "token__seed0.json"))
    os.remove(os.path.join(folder, "tokenizer", "images", "00000.png"))  # a retrain would rewrite it
    run("target", fmnist, tmp_path)
    assert not os.path.isfile(os.path.join(folder, "tokenizer", "images", "00000.png"))


def test_the_scale_names_the_tokenizer(tmp_path):
    """`tokenizer.config` picks the tokenizer; each config trains into its own folder, and the token
    target's type follows the trained file."""
    dvae = "configs/tokenizer/dvae-v512-d8_embedded_cpu.py"
    scale = load_scale("fmnist", {"tokenizer.config": dvae})
    images = torch.randint(0, 256, (32, 28, 28), dtype=torch.uint8)
    arm = next(a for a in SUITES["target"]["arms"] if a["name"] == "token")
    model, _, _, info = resolve(arm, scale["budgets"]["tiny"], {"train": (images, None)}, 0, str(tmp_path), scale,
                                study_spec(scale, 10))
    assert info["tokenizer"]["config"] == dvae and model["target"]["tokenizer"]["type"] == "dvae"
    assert model["target"]["tokenizer"]["checkpoint"] == str(tmp_path / "tokenizer" / "dvae-v512-d8_embedded_cpu"
                                                             / "tokenizer.pth")


def test_augmentation_suite(fmnist, tmp_path):
    folder, rows, table = run("augmentation", fmnist, tmp_path)
    assert "ColorJitter" in table and {r["case"] for r in rows} >= {"none", "crop + color jit"}
    arm = os.path.join(folder, "arms", "none__seed0.json")
    stale = json.load(open(arm))
    stale["budget"]["probe_epochs"] += 1  # a result from an earlier version of the budget: not reused
    json.dump(stale, open(arm, "w"))
    again = run_suite("augmentation", "tiny", str(tmp_path), data_root=fmnist)
    assert again["trained"] == [("none", 0)] and again["arms"]["none"][0]["trained_now"] is False


@pytest.mark.slow
@pytest.mark.parametrize("suite", ["mask-ratio", "decoder", "sampling", "schedule", "partial"])
def test_other_suites_run_with_the_tiny_budget(suite, fmnist, tmp_path):
    folder, rows, _ = run(suite, fmnist, tmp_path)
    if SUITES[suite]["figure"]:
        assert os.path.getsize(os.path.join(folder, f"{suite}.png")) > 0


def test_arms_picks_a_subset_by_name_or_slug():
    suite = SUITES["target"]
    assert [a["name"] for a in pick_arms(suite, ["token", "pixel (w/o norm)", "pixel-w-norm"])] == [
        "pixel (w/o norm)", "pixel (w/ norm)", "token"]  # the suite's order
    assert pick_arms(suite, None) == suite["arms"]
    with pytest.raises(ConfigError, match=r"unknown arm\(s\) \['pcaa'\]; this suite's arms: .*'pca'"):
        pick_arms(suite, ["pcaa"])


def test_schedule_suite_has_an_untrained_encoder_arm():
    """Figure 7's epoch-0 point: the encoder as initialised, so a table shows what pretraining added."""
    from pretrain.mae import MaskedAutoencoder
    from tools.ablate.runner import pretrain_epochs, study_args
    from tools.ablate.engine import encoder_state, pretrain_mae

    scale = load_scale()
    budget = scale["budgets"]["medium"]
    arms = {a["name"]: a for a in SUITES["schedule"]["arms"]}
    assert [pretrain_epochs(budget, arms[n]) for n in ("0x (random init)", "0.25x", "0.5x", "1x")] == [0, 1, 2, 4]
    spec = study_spec(scale, 10)
    args = study_args(scale["budgets"]["tiny"], arms["0x (random init)"], 3, spec)
    state, losses = pretrain_mae(torch.zeros(32, 28, 28, dtype=torch.uint8), args, torch.device("cpu"))
    torch.manual_seed(3)
    fresh = encoder_state(MaskedAutoencoder(**spec["arch"], **spec["decoder"], norm_pix_loss=True).state_dict(), "x")
    assert losses == [] and state.keys() == fresh.keys()
    assert all(torch.equal(state[k], fresh[k]) for k in state)
