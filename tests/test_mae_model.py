import copy
import math

import pytest
import timm
import torch

from pretrain.checkpoint import encoder_state
from pretrain.loss import masked_mse, pixel_target
from tests.conftest import tiny_mae
from pretrain.mae import MaskedAutoencoder, build_mae
from pretrain.pos_embed import sincos_2d
from pretrain.patches import gather_tokens, patchify, unpatchify


def tiny(**kw):
    return tiny_mae(**{"decoder_depth": 2, **kw})


OFFICIAL_TOP = {"cls_token", "pos_embed", "mask_token", "decoder_pos_embed", "patch_embed.proj.weight",
                "patch_embed.proj.bias", "norm.weight", "norm.bias", "decoder_embed.weight", "decoder_embed.bias",
                "decoder_norm.weight", "decoder_norm.bias", "decoder_pred.weight", "decoder_pred.bias"}
OFFICIAL_BLOCK = {"norm1.weight", "norm1.bias", "attn.qkv.weight", "attn.qkv.bias", "attn.proj.weight",
                  "attn.proj.bias", "norm2.weight", "norm2.bias", "mlp.fc1.weight", "mlp.fc1.bias",
                  "mlp.fc2.weight", "mlp.fc2.bias"}


def test_state_dict_keys_are_official():
    keys = set(tiny(depth=2, decoder_depth=1).state_dict())
    expected = set(OFFICIAL_TOP)
    expected |= {f"blocks.{i}.{k}" for i in range(2) for k in OFFICIAL_BLOCK}
    expected |= {f"decoder_blocks.0.{k}" for k in OFFICIAL_BLOCK}
    assert keys == expected


def test_encoder_loads_into_timm_vit():
    m = build_mae("mae_vit_tiny_patch16", decoder_depth=1, decoder_embed_dim=64)
    enc = encoder_state(m.state_dict())
    vit = timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=0, global_pool="token")
    res = vit.load_state_dict(enc, strict=True)
    assert not res.missing_keys and not res.unexpected_keys
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        assert torch.allclose(vit.forward_features(x), m.forward_features(x), atol=1e-5)


def test_sincos_matches_formula():
    dim, h, w = 16, 3, 4
    table = sincos_2d(dim, h, w, cls_token=True)
    assert table.shape == (1 + h * w, dim) and torch.all(table[0] == 0)
    q = dim // 4
    for r in range(h):
        for c in range(w):
            row = table[1 + r * w + c]
            for i in range(q):
                omega = 1.0 / 10000 ** (i / q)
                # first half encodes the column index, second half the row (official layout)
                assert math.isclose(row[i].item(), math.sin(c * omega), abs_tol=1e-6)
                assert math.isclose(row[q + i].item(), math.cos(c * omega), abs_tol=1e-6)
                assert math.isclose(row[2 * q + i].item(), math.sin(r * omega), abs_tol=1e-6)
                assert math.isclose(row[3 * q + i].item(), math.cos(r * omega), abs_tol=1e-6)
    m = tiny()
    assert not m.pos_embed.requires_grad and not m.decoder_pos_embed.requires_grad


def test_patchify_roundtrip():
    x = torch.randn(2, 3, 32, 48)
    p = patchify(x, 8)
    assert p.shape == (2, 24, 192)
    assert torch.equal(unpatchify(p, 8, (4, 6)), x)
    # patch (0, 1) is the second patch of the first row
    assert torch.equal(p[0, 1].view(8, 8, 3), x[0, :, :8, 8:16].permute(1, 2, 0))


def test_loss_ignores_visible_patches():
    target = torch.randn(2, 16, 12)
    pred = torch.randn(2, 16, 12)
    mask = torch.zeros(2, 16)
    mask[:, :12] = 1
    base = masked_mse(pred, target, mask)
    pred2 = pred.clone()
    pred2[:, 12:] += 100.0  # only visible patches change
    assert torch.equal(masked_mse(pred2, target, mask), base)
    pred3 = pred.clone()
    pred3[:, 0] += 1.0  # a removed patch changes
    assert masked_mse(pred3, target, mask) > base


def test_norm_pix_target():
    patches = torch.randn(2, 5, 48) * 3 + 7
    t = pixel_target(patches, norm_pix=True)
    assert torch.allclose(t.mean(-1), torch.zeros(2, 5), atol=1e-5)
    expected = (patches - patches.mean(-1, keepdim=True)) / (patches.var(-1, keepdim=True) + 1e-6) ** 0.5
    assert torch.allclose(t, expected)
    assert torch.equal(pixel_target(patches, norm_pix=False), patches)


def reference_forward(m, imgs, noise):
    """The paper's formulation, written plainly: unshuffle with ids_restore, predict every patch,
    masked-mean loss."""
    spec = m.mask(imgs, noise)
    x = m.patch_embed(imgs) + m.pos_embed[:, 1:]
    x = gather_tokens(x, spec.ids_keep)
    cls = (m.cls_token + m.pos_embed[:, :1]).expand(x.shape[0], -1, -1)
    x = torch.cat([cls, x], 1)
    for b in m.blocks:
        x = b(x)
    x = m.norm(x)
    x = m.decoder_embed(x)
    n = spec.mask.shape[1]
    toks = torch.cat([x[:, 1:], m.mask_token.expand(x.shape[0], n - spec.len_keep, -1)], 1)
    toks = gather_tokens(toks, spec.ids_restore)
    x = torch.cat([x[:, :1], toks], 1) + m.decoder_pos_embed
    for b in m.decoder_blocks:
        x = b(x)
    pred = m.decoder_pred(m.decoder_norm(x))[:, 1:]
    target = pixel_target(patchify(imgs, m.patch_size), m.norm_pix_loss)
    return masked_mse(pred, target, spec.mask), pred, spec.mask


@pytest.mark.parametrize("norm_pix", [False, True])
def test_fast_path_equals_reference(norm_pix):
    m = tiny(norm_pix_loss=norm_pix).eval()
    imgs = torch.randn(3, 3, 32, 32)
    noise = torch.rand(3, 16)
    loss, pred_removed, mask = m(imgs, noise=noise)
    ref_loss, ref_pred, ref_mask = reference_forward(m, imgs, noise)
    assert torch.equal(mask, ref_mask)
    assert torch.allclose(loss, ref_loss, atol=1e-5)
    spec = m.mask(imgs, noise)
    assert torch.allclose(pred_removed, gather_tokens(ref_pred, spec.ids_masked), atol=1e-5)
    full, _ = m.reconstruct(imgs, noise)
    assert torch.allclose(full, ref_pred, atol=1e-5)


def test_training_gradients_match_reference():
    """forward_mae (removed rows only in the head and the last decoder block) gives the plain
    reference's loss and parameter gradients."""
    m = tiny()
    ref = copy.deepcopy(m)
    imgs, noise = torch.randn(3, 3, 32, 32), torch.rand(3, 16)
    loss, _, _ = m.forward_mae(imgs, noise)
    loss.backward()
    ref_loss, _, _ = reference_forward(ref, imgs, noise)
    ref_loss.backward()
    torch.testing.assert_close(loss, ref_loss, rtol=1e-5, atol=1e-6)
    for (k, p), (_, q) in zip(m.named_parameters(), ref.named_parameters()):
        if p.requires_grad:
            torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-6, msg=k)


def test_encoder_sees_visible_tokens_only():
    m = tiny()
    seen = []
    m.blocks[0].register_forward_hook(lambda mod, inp, out: seen.append(inp[0].shape))
    m(torch.randn(2, 3, 32, 32))
    assert seen == [torch.Size([2, 1 + 4, 32])]  # cls + 25% of 16 patches


def test_gradient_flows_only_from_removed_patches():
    """The loss written over the predictions of every patch (official formula): visible-patch
    predictions get exactly zero gradient, removed ones non-zero; and the model's own training
    step (which predicts removed patches only) gets the same loss and parameter gradients."""
    m = tiny(norm_pix_loss=True)
    imgs, noise = torch.randn(2, 3, 32, 32), torch.rand(2, 16)
    spec = m.mask(imgs, noise)
    x = m.forward_decoder(m.forward_encoder(imgs, spec), spec, m.grid_of(imgs))  # every token, shuffled order
    full = m.decoder_pred(m.decoder_norm(x[:, 1:]))
    full.retain_grad()
    pred = gather_tokens(full, spec.ids_restore)  # image order
    loss_all = masked_mse(pred, pixel_target(patchify(imgs, 8), True), spec.mask)
    loss_all.backward()
    grad = gather_tokens(full.grad, spec.ids_restore).abs().sum(-1)
    visible = spec.mask == 0
    assert visible.sum() == 2 * 4 and torch.all(grad[visible] == 0)
    assert torch.all(grad[~visible] > 0)
    reference = {k: p.grad.clone() for k, p in m.named_parameters() if p.grad is not None}

    m.zero_grad(set_to_none=True)
    loss, _, _ = m.forward_mae(imgs, noise)
    loss.backward()
    torch.testing.assert_close(loss, loss_all, rtol=1e-6, atol=1e-7)
    assert set(reference) == {k for k, p in m.named_parameters() if p.grad is not None}
    for k, g in reference.items():
        torch.testing.assert_close(dict(m.named_parameters())[k].grad, g, rtol=1e-4, atol=1e-6, msg=k)


def test_any_image_size_and_clear_error():
    m = tiny()
    loss, pred, mask = m(torch.randn(2, 3, 24, 40))
    assert mask.shape == (2, 15) and torch.isfinite(loss)
    with pytest.raises(ValueError, match="not divisible by the patch size 8"):
        m(torch.randn(1, 3, 30, 32))
    with pytest.raises(ValueError, match="not divisible"):
        MaskedAutoencoder(img_size=30, patch_size=8, embed_dim=32, depth=1, num_heads=2,
                          decoder_embed_dim=32, decoder_depth=1, decoder_num_heads=2)


def test_encoder_mask_tokens_variant():
    m = tiny(encoder_mask_tokens=True)
    seen = []
    m.blocks[0].register_forward_hook(lambda mod, inp, out: seen.append(inp[0].shape))
    imgs, noise = torch.randn(2, 3, 32, 32), torch.rand(2, 16)
    loss, pred, mask = m(imgs, noise=noise)
    assert seen[0] == torch.Size([2, 17, 32])  # every patch goes through the encoder
    full, _ = m.reconstruct(imgs, noise)
    target = pixel_target(patchify(imgs, 8), False)
    assert torch.allclose(loss, masked_mse(full, target, mask), atol=1e-5)
    assert "encoder_mask_token" in m.state_dict()


def test_paper_archs_build():
    for arch, dim in [("mae_vit_tiny_patch16", 192), ("mae_vit_small_patch16", 384)]:
        m = build_mae(arch, decoder_depth=1)
        assert m.embed_dim == dim and m.patch_size == 16
    with pytest.raises(ValueError, match="unknown MAE model"):
        build_mae("mae_vit_gigantic")


def test_huge_is_patch14_shape_only():
    from pretrain.mae import MAE_ARCHS
    assert MAE_ARCHS["mae_vit_huge_patch14"] == (1280, 32, 16, 14)
    assert MAE_ARCHS["mae_vit_large_patch16"] == (1024, 24, 16, 16)
    assert MAE_ARCHS["mae_vit_base_patch16"] == (768, 12, 12, 16)


def test_pictures_use_the_models_normalisation():
    from pretrain.visualize import IMAGENET_MEAN, IMAGENET_STD, norm_stats
    plain = tiny()
    assert norm_stats(plain) == (IMAGENET_MEAN, IMAGENET_STD)
    custom = tiny(data_preprocessor=dict(type="ImgDataPreprocessor", mean=[127.5] * 3, std=[51.0] * 3))
    mean, std = norm_stats(custom)
    assert mean == pytest.approx((0.5,) * 3) and std == pytest.approx((0.2,) * 3)
