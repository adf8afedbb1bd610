"""ViTDet backbone and pyramids: window maths, relative positions, strides, key names, MAE weights."""
import pytest
import torch

from pretrain.checkpoint import CheckpointError
from transfer.detection.pyramid import MultiBlockPyramid, SimpleFeaturePyramid
from transfer.detection.vitdet import Attention, Block, ViTDet, evenly_spaced, window_partition, window_unpartition
from transfer.detection.weights import load_mae_encoder

TINY = dict(img_size=64, patch_size=8, embed_dim=32, depth=4, num_heads=2, window_size=4, global_blocks=(1, 3),
            pretrain_img_size=32)


def tiny_vitdet(**kw):
    torch.manual_seed(0)
    return ViTDet(**dict(TINY, **kw)).eval()


@pytest.mark.parametrize("h,w,window", [(8, 8, 4), (7, 10, 4), (5, 5, 5), (3, 9, 14)])
def test_window_partition_round_trip(h, w, window):
    x = torch.randn(2, h, w, 6)
    windows, padded = window_partition(x, window)
    assert windows.shape == (2 * (padded[0] // window) * (padded[1] // window), window, window, 6)
    assert padded[0] % window == 0 and padded[1] % window == 0 and padded[0] - h < window
    assert torch.equal(window_unpartition(windows, window, padded, (h, w)), x)
    # the first window holds the top-left corner of the map
    assert torch.equal(windows[0, :min(h, window), :min(w, window)], x[0, :window, :window])


def test_window_covering_the_grid_equals_global_attention():
    torch.manual_seed(0)
    windowed = Block(32, 2, window=6, use_rel_pos=True, rel_pos_zero_init=False, input_size=(6, 6)).eval()
    global_ = Block(32, 2, window=0, use_rel_pos=True, input_size=(6, 6)).eval()
    global_.load_state_dict(windowed.state_dict())
    x = torch.randn(2, 6, 6, 32)
    torch.testing.assert_close(windowed(x), global_(x), rtol=0, atol=1e-6)


def test_windowed_block_only_mixes_tokens_within_a_window():
    torch.manual_seed(0)
    blk = Block(32, 2, window=4, use_rel_pos=True, rel_pos_zero_init=False).eval()
    x = torch.randn(1, 8, 8, 32)
    y = x.clone()
    y[0, 0, 0] += 1.0  # a token of the top-left window
    out_x, out_y = blk(x), blk(y)
    assert not torch.allclose(out_x[0, :4, :4], out_y[0, :4, :4])
    torch.testing.assert_close(out_x[0, 4:], out_y[0, 4:], rtol=0, atol=0)
    torch.testing.assert_close(out_x[0, :, 4:], out_y[0, :, 4:], rtol=0, atol=0)


def test_attention_with_rel_pos_matches_the_explicit_formula():
    """softmax(q k^T / sqrt(d) + q.Rh + q.Rw) v, written out with the unscaled q in the rel-pos terms."""
    torch.manual_seed(0)
    attn = Attention(16, 2, use_rel_pos=True, rel_pos_zero_init=False, input_size=(3, 4)).eval()
    x = torch.randn(2, 3, 4, 16)
    b, h, w, c = x.shape
    q, k, v = attn.qkv(x).reshape(b, h * w, 3, 2, 8).permute(2, 0, 3, 1, 4)
    logits = (q * 8 ** -0.5) @ k.transpose(-2, -1)
    dh = torch.arange(h)[:, None] - torch.arange(h)[None, :] + h - 1  # offset index along each axis
    dw = torch.arange(w)[:, None] - torch.arange(w)[None, :] + w - 1
    rq = q.reshape(b, 2, h, w, 8)
    rel_h = torch.einsum("bnhwc,hkc->bnhwk", rq, attn.rel_pos_h[dh])
    rel_w = torch.einsum("bnhwc,wkc->bnhwk", rq, attn.rel_pos_w[dw])
    logits = logits.view(b, 2, h, w, h, w) + rel_h[..., :, None] + rel_w[..., None, :]
    out = logits.view(b, 2, h * w, h * w).softmax(-1) @ v
    expected = attn.proj(out.transpose(1, 2).reshape(b, h, w, c))
    torch.testing.assert_close(attn(x), expected, rtol=1e-5, atol=1e-5)


def test_relative_position_tables_shapes_and_zero_init():
    net = tiny_vitdet()
    grid = TINY["img_size"] // TINY["patch_size"]
    head_dim = TINY["embed_dim"] // TINY["num_heads"]
    for i, blk in enumerate(net.blocks):
        side = grid if i in TINY["global_blocks"] else TINY["window_size"]
        assert blk.attn.rel_pos_h.shape == (2 * side - 1, head_dim)
        assert blk.attn.rel_pos_w.shape == (2 * side - 1, head_dim)
        assert not blk.attn.rel_pos_h.any() and not blk.attn.rel_pos_w.any()
    assert ViTDet(**dict(TINY, use_rel_pos=False)).blocks[0].attn.use_rel_pos is False


def test_global_blocks_of_the_recipes():
    assert evenly_spaced(12) == (2, 5, 8, 11)
    assert evenly_spaced(24) == (5, 11, 17, 23)
    assert evenly_spaced(32) == (7, 15, 23, 31)
    net = ViTDet(embed_dim=24, depth=12, num_heads=2, img_size=224)  # ViT-B's depth, a narrow width
    assert [i for i, b in enumerate(net.blocks) if b.window == 0] == [2, 5, 8, 11]
    assert all(b.window == 14 for i, b in enumerate(net.blocks) if i not in (2, 5, 8, 11))


def test_any_input_size_and_activation_checkpointing_give_the_same_features():
    net = tiny_vitdet()
    x = torch.randn(1, 3, 56, 80)  # not the configured size, not a multiple of the window
    (feat,) = net(x)
    assert feat.shape == (1, 32, 7, 10)
    net.use_act_checkpoint = True
    net.train()
    (ckpt,) = net(x)
    ckpt.sum().backward()
    torch.testing.assert_close(ckpt, feat, rtol=0, atol=1e-6)
    assert net.blocks[0].attn.qkv.weight.grad is not None


@pytest.mark.parametrize("pyramid", [SimpleFeaturePyramid, MultiBlockPyramid])
def test_pyramid_strides_and_channels(pyramid):
    net = dict(type="ViTDet", **dict(TINY, patch_size=16, img_size=128))
    model = pyramid(net, out_channels=24).eval()
    feats = model(torch.randn(2, 3, 128, 128))
    assert list(feats) == ["p2", "p3", "p4", "p5", "p6"]
    for name, f in feats.items():
        stride = 2 ** int(name[1:])
        assert f.shape == (2, 24, 128 // stride, 128 // stride), name
    assert model.size_divisor == 32
    expected_blocks = (3,) if pyramid is SimpleFeaturePyramid else (0, 1, 2, 3)
    assert model.net.out_indices == expected_blocks


def test_multi_block_pyramid_reads_the_earlier_blocks():
    """Changing the last block leaves the finest level of the multi-block pyramid unchanged."""
    model = MultiBlockPyramid(dict(type="ViTDet", **dict(TINY, patch_size=16, img_size=64)), out_channels=8).eval()
    x = torch.randn(1, 3, 64, 64)
    before = model(x)
    torch.nn.init.normal_(model.net.blocks[3].mlp.fc2.weight)
    after = model(x)
    torch.testing.assert_close(before["p2"], after["p2"], rtol=0, atol=0)
    assert not torch.allclose(before["p5"], after["p5"])


def test_backbone_keys_follow_detectron2_vitdet():
    """Key names of detectron2's ViT + SimpleFeaturePyramid (modeling/backbone/vit.py)."""
    model = SimpleFeaturePyramid(dict(type="ViTDet", **dict(TINY, patch_size=16, img_size=64)), out_channels=8)
    keys = set(model.state_dict())
    expected = {
        "net.pos_embed", "net.patch_embed.proj.weight", "net.patch_embed.proj.bias",
        "net.blocks.0.norm1.weight", "net.blocks.0.norm1.bias", "net.blocks.0.attn.qkv.weight",
        "net.blocks.0.attn.qkv.bias", "net.blocks.0.attn.proj.weight", "net.blocks.0.attn.proj.bias",
        "net.blocks.0.attn.rel_pos_h", "net.blocks.0.attn.rel_pos_w", "net.blocks.0.norm2.weight",
        "net.blocks.0.norm2.bias", "net.blocks.0.mlp.fc1.weight", "net.blocks.0.mlp.fc1.bias",
        "net.blocks.0.mlp.fc2.weight", "net.blocks.0.mlp.fc2.bias",
        # stride 4: deconv, LN, GELU, deconv, 1x1 conv + LN, 3x3 conv + LN
        "simfp_2.0.weight", "simfp_2.0.bias", "simfp_2.1.weight", "simfp_2.1.bias", "simfp_2.3.weight",
        "simfp_2.3.bias", "simfp_2.4.weight", "simfp_2.4.norm.weight", "simfp_2.4.norm.bias",
        "simfp_2.5.weight", "simfp_2.5.norm.weight", "simfp_2.5.norm.bias",
        "simfp_3.0.weight", "simfp_3.1.weight", "simfp_3.2.norm.weight",  # stride 8: deconv, convs
        "simfp_4.0.weight", "simfp_4.1.norm.bias",  # stride 16: convs only
        "simfp_5.1.weight", "simfp_5.2.norm.weight",  # stride 32: max-pool, convs
    }
    assert expected <= keys, sorted(expected - keys)
    assert not [k for k in keys if "cls_token" in k or k.startswith("net.norm.")]  # neither exists in detectron2
    assert model.net.pos_embed.shape == (1, 1 + (32 // 16) ** 2, 32)  # pretraining grid + class token row


def test_mae_checkpoint_loads_with_a_report(tmp_path):
    from tests.conftest import tiny_mae

    mae = tiny_mae()  # 32 px, patch 8, 32 wide, 2 blocks
    path = tmp_path / "mae.pth"
    torch.save({"model": mae.state_dict()}, path)
    net = ViTDet(img_size=64, patch_size=8, embed_dim=32, depth=2, num_heads=2, window_size=4,
                 global_blocks=(1,), pretrain_img_size=48)
    report = load_mae_encoder(net, str(path))
    assert sorted(report.missing) == sorted(f"blocks.{i}.attn.rel_pos_{a}" for i in range(2) for a in "hw")
    assert sorted(report.unexpected) == ["cls_token", "norm.bias", "norm.weight"]
    assert [r[0] for r in report.resized] == ["pos_embed"]  # 4x4 grid of the checkpoint -> 6x6 of the ViTDet
    assert net.pos_embed.shape == (1, 37, 32)
    torch.testing.assert_close(net.blocks[1].attn.qkv.weight, mae.blocks[1].attn.qkv.weight)
    torch.testing.assert_close(net.patch_embed.proj.weight, mae.patch_embed.proj.weight)
    assert "missing from checkpoint (4)" in report.summary()


def test_patch_embedding_of_another_patch_size_is_resampled():
    from tests.conftest import tiny_mae

    state = tiny_mae(img_size=28, patch_size=7).state_dict()  # like ViT-H/14 into a patch-16 ViTDet
    net = ViTDet(img_size=64, patch_size=8, embed_dim=32, depth=2, num_heads=2, global_blocks=(1,),
                 pretrain_img_size=32)
    report = load_mae_encoder(net, state)
    assert report.resized[0][:3] == ("patch_embed.proj.weight", (32, 3, 7, 7), (32, 3, 8, 8))


def test_checkpoint_of_another_width_is_an_error(tmp_path):
    from tests.conftest import tiny_mae

    path = tmp_path / "mae.pth"
    torch.save({"model": tiny_mae(embed_dim=48, decoder_embed_dim=32).state_dict()}, path)
    net = ViTDet(img_size=64, patch_size=8, embed_dim=32, depth=2, num_heads=2, global_blocks=(1,), pretrain_img_size=32)
    with pytest.raises(CheckpointError, match="does not match the model architecture"):
        load_mae_encoder(net, str(path))
    with pytest.raises(CheckpointError, match="no ViT encoder"):
        load_mae_encoder(net, {"decoder_embed.weight": torch.zeros(2, 2)})
