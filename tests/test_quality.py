"""PSNR on removed patches and its two baselines; the demo's end-of-training quality table."""
import json

import torch

from pretrain.data import HELDOUT_EPOCH, EmbeddedImages, heldout_crops, sample_seed
from pretrain.quality import interpolation_fill, psnr_removed, quality_table, reconstruct, visible_mean_fill
from pretrain.visualize import denormalize, fixed_noise, norm_stats, normalize
from tests.conftest import tiny_mae
from tools.train import train


def patch_mask(rows_cols_removed, grid=4, p=8):
    m = torch.zeros(1, 1, grid * p, grid * p)
    for r, c in rows_cols_removed:
        m[..., r * p:(r + 1) * p, c * p:(c + 1) * p] = 1
    return m


def test_psnr_counts_removed_pixels_only():
    target = torch.full((1, 3, 32, 32), 0.5)
    removed = patch_mask([(1, 1), (2, 2)])
    pred = target + 0.1 * removed - 0.4 * (1 - removed)  # visible pixels are wrong, removed off by 0.1
    assert abs(psnr_removed(pred, target, removed).item() - 20.0) < 1e-4  # -10 log10(0.01)


def test_visible_mean_is_exact_on_flat_colour_and_interpolation_on_a_ramp():
    flat = torch.tensor([0.2, 0.5, 0.9]).view(1, 3, 1, 1).expand(1, 3, 32, 32).clone()
    removed = patch_mask([(0, 1), (1, 1), (1, 2), (2, 1), (2, 2), (3, 2)])  # corners stay visible
    assert torch.allclose(visible_mean_fill(flat, removed), flat)
    yy, xx = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    ramp = torch.stack([xx / 31, yy / 31, (xx + yy) / 62]).unsqueeze(0)
    filled = interpolation_fill(ramp, removed)
    assert torch.allclose(filled, ramp, atol=1e-5)  # linear data inside the visible hull: exact
    assert not torch.allclose(visible_mean_fill(ramp, removed), ramp, atol=1e-2)


def test_reconstruct_mask_matches_the_model_mask():
    model = tiny_mae().eval()
    imgs = torch.randn(2, 3, 32, 32)
    noise = fixed_noise(2, 16, 0)
    pred, removed = reconstruct(model, imgs, noise)
    _, mask = model.reconstruct(imgs, noise)
    assert pred.shape == imgs.shape and removed.shape == (2, 1, 32, 32)
    assert torch.equal(removed[:, 0, ::8, ::8].flatten(1), mask.float())  # one value per 8x8 patch
    table = quality_table(model, imgs, noise, lambda x: denormalize(x, *norm_stats(model)))
    assert set(table) == {"MAE", "mean colour of visible patches", "linear interpolation from visible pixels"}


def test_heldout_crops_are_not_training_crops():
    ds = EmbeddedImages(img_size=32, length=8)
    held = heldout_crops(ds, 3)
    assert held.shape == (3, 3, 32, 32) and held.dtype == torch.uint8
    assert all(sample_seed(0, HELDOUT_EPOCH, i) != sample_seed(0, e, i) for i in range(3) for e in range(1000))
    assert not any(torch.equal(held[0], ds[(e, 0)]["inputs"]) for e in range(5))


def test_training_ends_with_the_quality_table(demo_config, tiny_options, tmp_path):
    hooks = [dict(type="ReconstructionHook", interval=100, heldout=6)]
    runner = train(demo_config, str(tmp_path), options=dict(tiny_options, custom_hooks=hooks, max_epochs=1,
                                                            warmup_epochs=0, experiment_name="quality"))
    saved = json.load(open(tmp_path / "reconstruction_quality.json"))
    assert saved["heldout_crops"] == 6 and saved["epochs"] == 1
    # the same numbers again from the trained model and the same crops and masks
    model = runner.model
    stats = norm_stats(model)
    imgs = normalize(heldout_crops(runner.train_dataloader.dataset, 6), *stats)
    again = quality_table(model, imgs, fixed_noise(6, 16, 1), lambda x: denormalize(x, *stats))
    for k, v in again.items():
        assert abs(saved["psnr_db"][k] - v) < 1e-3, (k, v, saved)
    assert (tmp_path / "reconstruction.png").stat().st_size > 1000
