"""The shared backbone: what transfer tasks rely on."""
import pytest
import torch

from pretrain.vit import ViT, build_vit


def small(**kw):
    torch.manual_seed(0)
    return ViT(img_size=32, patch_size=8, embed_dim=32, depth=4, num_heads=2, **kw).eval()


def test_intermediate_layers_shapes_and_values():
    m = small()
    x = torch.randn(2, 3, 32, 48)
    feats = m.get_intermediate_layers(x, [1, 3])
    assert [f.shape for f in feats] == [torch.Size([2, 32, 4, 6])] * 2
    last = m.get_intermediate_layers(x, [3], norm=True, reshape=False)[0]
    assert torch.allclose(last, m.forward_features(x)[:, 1:], atol=1e-6)
    with pytest.raises(ValueError, match="out of range"):
        m.get_intermediate_layers(x, [4])


def test_other_sizes_fixed_and_learned_position_embeddings():
    fixed = small()
    assert fixed.forward_features(torch.randn(1, 3, 64, 40)).shape == (1, 1 + 8 * 5, 32)
    learned = small(learnable_pos_embed=True)
    assert learned.pos_embed.requires_grad
    assert learned.pos_embed_for((4, 4)) is learned.pos_embed
    assert learned.pos_embed_for((8, 5)).shape == (1, 41, 32)


def test_drop_path_only_in_training():
    m = build_vit("vit_tiny_patch16", drop_path_rate=0.5, img_size=32)
    x = torch.randn(2, 3, 32, 32)
    m.eval()
    assert torch.equal(m(x), m(x))
    m.train()
    torch.manual_seed(1)
    a = m(x)
    torch.manual_seed(2)
    assert not torch.equal(a, m(x))
    assert m.blocks[-1].drop_path1.drop_prob == pytest.approx(0.5)


def test_importing_the_vit_imports_no_hooks_data_or_plotting():
    import subprocess
    import sys
    code = ("import sys, pretrain.vit; print(sorted(m for m in sys.modules if m.startswith("
            "('pretrain.hooks', 'pretrain.data', 'pretrain.visualize', 'matplotlib'))))")
    root = __file__.rsplit("/tests/", 1)[0]
    r = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stdout + r.stderr[-2000:]
