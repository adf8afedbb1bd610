import pytest
import torch

from pretrain.masking import BlockMasking, GridMasking, RandomMasking, build_sampler, hash_uniform, num_keep


# kept patches = int(N * (1 - ratio)) as the official random_masking (rounded down, not to nearest):
# 196 * 0.3 = 58.8 -> 58, 196 * 0.1 = 19.6 -> 19, 49 * 0.25 = 12.25 -> 12
@pytest.mark.parametrize("n_side,r,k", [(14, 0.7, 58), (14, 0.9, 19), (14, 0.75, 49), (7, 0.75, 12), (4, 0.5, 8)])
def test_keeps_int_n_times_one_minus_r_like_the_official_code(n_side, r, k):
    assert num_keep(n_side * n_side, r) == k
    for sampler in (RandomMasking(r), BlockMasking(r, min_block=4)):
        spec = sampler(3, (n_side, n_side), "cpu")
        n = n_side * n_side
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


# Kept patches at ratio 0.75 on a 14x14 grid, computed with the hash as first released
# (`& 0xFFFFFFFF` and positive multipliers): runs started before the int32-safe rewrite must
# resume with the same masks.
KEPT_AT_075 = {
    0: [0, 3, 13, 19, 24, 25, 38, 40, 43, 44, 46, 47, 54, 55, 57, 61, 64, 70, 72, 75, 76, 77, 78, 79, 84, 88, 89,
        96, 99, 107, 110, 114, 115, 120, 123, 125, 128, 136, 139, 141, 146, 149, 160, 164, 167, 186, 189, 192, 193],
    1: [0, 4, 5, 12, 13, 14, 15, 16, 17, 18, 23, 24, 26, 33, 35, 44, 53, 55, 56, 61, 64, 65, 67, 70, 84, 87, 94, 106,
        109, 110, 114, 115, 116, 120, 121, 125, 128, 135, 142, 161, 162, 168, 171, 172, 177, 181, 184, 190, 194],
    7: [20, 26, 27, 28, 38, 42, 46, 50, 51, 54, 57, 60, 66, 82, 86, 88, 89, 90, 91, 95, 100, 101, 104, 107, 108, 110,
        113, 122, 129, 141, 144, 146, 148, 158, 159, 160, 161, 162, 166, 176, 180, 182, 185, 186, 188, 190, 191,
        193, 194],
    123456789: [13, 18, 20, 25, 49, 55, 57, 65, 66, 68, 71, 78, 79, 81, 85, 88, 89, 90, 95, 98, 107, 112, 113, 114,
                126, 127, 129, 134, 135, 136, 139, 141, 147, 153, 154, 155, 158, 160, 162, 163, 164, 165, 166, 168,
                175, 176, 182, 186, 187],
    2 ** 31 - 2: [1, 9, 10, 11, 12, 19, 20, 23, 26, 32, 33, 37, 43, 44, 46, 47, 52, 53, 55, 57, 59, 66, 67, 69, 72,
                  73, 86, 88, 89, 95, 105, 106, 117, 118, 127, 129, 130, 137, 141, 142, 148, 152, 156, 170, 172,
                  176, 177, 183, 187],
}


def test_seeded_masks_unchanged_since_first_release():
    seeds = torch.tensor(list(KEPT_AT_075))
    spec = RandomMasking(0.75)(len(seeds), (14, 14), "cpu", seeds=seeds)
    for seed, kept in zip(KEPT_AT_075, spec.ids_keep):
        assert sorted(kept.tolist()) == KEPT_AT_075[seed], seed


@pytest.mark.slow
def test_compiled_hash_has_no_constant_beyond_int32():
    """Inductor writes the hash's constants into its kernels; Triton takes integer literals as
    int32, so a constant >= 2**31 stops a CUDA compile. Checked in the generated (CPU) code."""
    import re

    from torch._inductor.utils import run_and_get_code

    seeds = torch.tensor(list(KEPT_AT_075))
    out, codes = run_and_get_code(torch.compile(lambda s: hash_uniform(s, 196)), seeds)
    assert torch.equal(out, hash_uniform(seeds, 196))
    literals = [int(v) for v in re.findall(r"(?<![\w.])-?\d+(?![\w.])", "\n".join(codes))]
    assert 73244475 in literals and -1640531535 in literals  # the hash really is in the kernel
    assert all(-2 ** 31 <= v < 2 ** 31 for v in literals), [v for v in literals if abs(v) >= 2 ** 31]
