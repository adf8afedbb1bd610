import pytest
import torch

from pretrain.masking import BlockMasking, GridMasking, RandomMasking, build_sampler, hash_uniform, num_keep


def test_keeps_round_n_times_one_minus_r():
    for n_side, r in [(14, 0.75), (7, 0.75), (4, 0.5), (14, 0.9)]:
        spec = RandomMasking(r)(3, (n_side, n_side), "cpu")
        n = n_side * n_side
        k = int(round(n * (1 - r)))
        assert spec.ids_keep.shape == (3, k)
        assert torch.all(spec.mask.sum(1) == n - k)
        # kept ids are exactly the unmasked positions
        for b in range(3):
            assert set(spec.ids_keep[b].tolist()) == set(torch.nonzero(spec.mask[b] == 0).flatten().tolist())


def test_ids_restore_inverts_shuffle():
    spec = RandomMasking(0.75)(4, (14, 14), "cpu")
    x = torch.randn(4, 196, 5)
    shuffled = torch.gather(x, 1, spec.ids_shuffle.unsqueeze(-1).expand(-1, -1, 5))
    restored = torch.gather(shuffled, 1, spec.ids_restore.unsqueeze(-1).expand(-1, -1, 5))
    assert torch.equal(restored, x)


def test_uniform_over_positions():
    torch.manual_seed(0)
    sampler = RandomMasking(0.75)
    masks = torch.cat([sampler(500, (7, 7), "cpu").mask for _ in range(8)])  # 4000 samples
    freq = masks.mean(0)
    assert freq.sub(0.755).abs().max() < 0.04  # 37/49 removed per image; binomial sd ~0.007


def test_noise_fully_determines_mask():
    noise = torch.rand(2, 49)
    a = RandomMasking(0.75)(2, (7, 7), "cpu", noise=noise)
    b = RandomMasking(0.75)(2, (7, 7), "cpu", noise=noise.clone())
    assert torch.equal(a.mask, b.mask) and torch.equal(a.ids_restore, b.ids_restore)
    # ascending argsort: the smallest noise values are kept
    k = num_keep(49, 0.75)
    assert set(a.ids_keep[0].tolist()) == set(torch.argsort(noise[0])[:k].tolist())


def test_seeded_noise_is_per_sample_and_reproducible():
    seeds = torch.tensor([1, 2, 3, 2])
    n = hash_uniform(seeds, 196)
    assert torch.equal(n[1], n[3]) and not torch.equal(n[0], n[1])
    assert torch.equal(n, hash_uniform(seeds, 196))
    assert 0 <= n.min() and n.max() < 1 and abs(n.mean().item() - 0.5) < 0.03


@pytest.mark.parametrize("ratio", [0.0, 1.0, -0.1, 1.5])
def test_bad_mask_ratio(ratio):
    with pytest.raises(ValueError, match="mask_ratio must be in"):
        RandomMasking(ratio)


def test_block_masking_counts_and_contiguity():
    spec = BlockMasking(0.75)(4, (14, 14), "cpu", seeds=torch.arange(4))
    assert torch.all(spec.mask.sum(1) == 147)
    # blocks: a removed patch usually has removed neighbours (random masking would give ~75%)
    m = spec.mask.view(4, 14, 14)
    same = (m[:, :, 1:] == m[:, :, :-1]).float().mean()
    assert same > 0.75


def test_grid_masking_keeps_one_in_four():
    spec = GridMasking(0.75)(2, (14, 14), "cpu")
    kept = (spec.mask.view(2, 14, 14) == 0)
    assert kept[:, ::2, ::2].all() and kept.sum() == 2 * 49
    with pytest.raises(ValueError, match="grid masking"):
        GridMasking(0.5)
    with pytest.raises(ValueError, match="unknown mask sampler"):
        build_sampler("checkers", 0.75)
