"""The checkpoint library: every layout reads to the same state, encoder extraction, position
table resizing, strict loading with a report, and one-line errors for the wrong file."""
import torch
import torch.nn.functional as F
import pytest

from pretrain.archs import ARCHS, MAE_DECODER, ViTArch, find_arch, get_arch
from pretrain.checkpoint import (CheckpointError, encoder_state, infer_arch, load_checkpoint, load_pretrained,
                                 read_checkpoint, resolve_model_cfg, save_state)
from pretrain.mae import build_mae
from pretrain.pos_embed import sincos_2d
from pretrain.vit import ViT, build_vit
from tests.conftest import tiny_mae

TINY_VIT = dict(patch_size=8, embed_dim=32, depth=2, num_heads=2)


def same_state(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_one_architecture_table():
    assert get_arch("vit_huge_patch14") == ViTArch(embed_dim=1280, depth=32, num_heads=16, patch_size=14)
    assert get_arch("mae_vit_large_patch16") is ARCHS["vit_large_patch16"]
    assert find_arch(768, 12, 16) == "vit_base_patch16" and find_arch(768, 12, 8) is None
    with pytest.raises(ValueError, match="unknown ViT 'vit_gigantic'"):
        get_arch("vit_gigantic")
    with torch.device("meta"):  # shapes only: no time spent initialising
        vit = build_vit("vit_small_patch16", img_size=32)
    shape = (vit.embed_dim, len(vit.blocks), vit.blocks[0].attn.num_heads, vit.patch_size)
    assert shape == tuple(ARCHS["vit_small_patch16"])
    mae = build_mae("mae_vit_small_patch16", img_size=32, decoder_depth=1)
    assert mae.decoder_embed.out_features == MAE_DECODER.embed_dim and len(mae.decoder_blocks) == 1
    assert mae.decoder_blocks[0].attn.num_heads == MAE_DECODER.num_heads


def test_every_layout_reads_to_our_keys(tmp_path):
    mae = tiny_mae()
    state = mae.state_dict()
    enc = encoder_state(state)
    files = {
        "ours": ({"model": state, "meta": {"model_cfg": {"type": "MaskedAutoencoder", "embed_dim": 32}}}, state),
        "official": ({"model": state}, state),
        "mmengine": ({"state_dict": {f"module.{k}": v for k, v in state.items()}, "meta": {}}, state),
        "timm": (enc, enc),
    }
    for layout, (obj, expected) in files.items():
        torch.save(obj, tmp_path / f"{layout}.pth")
        ckpt = load_checkpoint(str(tmp_path / f"{layout}.pth"))
        assert ckpt.layout == layout and same_state(ckpt.state, expected), layout
    assert load_checkpoint(str(tmp_path / "ours.pth")).model_cfg == {"embed_dim": 32}
    save_state(enc, str(tmp_path / "enc.safetensors"))
    assert same_state(read_checkpoint(str(tmp_path / "enc.safetensors")), enc)


def test_encoder_extracted_for_a_vit_with_report():
    mae = tiny_mae()
    vit = ViT(img_size=32, **TINY_VIT)
    report = load_pretrained(vit, mae.state_dict())
    assert same_state(vit.state_dict(), encoder_state(mae.state_dict()))
    assert not report.missing and not report.unexpected and not report.resized
    assert set(report.dropped) == {k for k in mae.state_dict() if k.startswith("decoder") or k == "mask_token"}
    assert "loaded 30 tensors" in report.summary() and "decoder_blocks" in report.summary()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(vit(x), ViT.forward_features(mae, x))
    # a detection / segmentation checkpoint keeps its ViT under 'backbone.'
    task = {f"backbone.{k}": v for k, v in vit.state_dict().items()}
    task["decode_head.conv_seg.weight"] = torch.zeros(3, 32, 1, 1)
    assert same_state(encoder_state(task), vit.state_dict())


def test_pos_embed_resized_sincos_exact_learned_interpolated():
    mae = tiny_mae()
    big = ViT(img_size=48, **TINY_VIT)  # 6x6 grid from a 4x4 checkpoint
    report = load_pretrained(big, mae.state_dict())
    assert report.resized == [("pos_embed", (1, 17, 32), (1, 37, 32), "sin-cos recomputed")]
    assert torch.equal(big.pos_embed[0], sincos_2d(32, 6, 6, cls_token=True))

    learned = mae.state_dict()
    torch.manual_seed(1)
    learned["pos_embed"] = torch.randn(1, 17, 32)  # e.g. a fine-tuned table
    report = load_pretrained(big, learned)
    assert report.resized[0][3] == "interpolated"
    # the official MAE interpolate_pos_embed: class token kept, patch part bicubic on the grid
    patch = learned["pos_embed"][:, 1:].reshape(1, 4, 4, 32).permute(0, 3, 1, 2)
    patch = F.interpolate(patch, size=(6, 6), mode="bicubic", align_corners=False).permute(0, 2, 3, 1).flatten(1, 2)
    expected = torch.cat([learned["pos_embed"][:, :1], patch], dim=1)
    torch.testing.assert_close(big.pos_embed.data, expected, rtol=0, atol=1e-6)


def test_allowed_missing_keys_and_strict_errors():
    class Classifier(ViT):
        def __init__(self):
            super().__init__(img_size=32, **TINY_VIT)
            self.head = torch.nn.Linear(32, 10)

    mae = tiny_mae()
    model = Classifier()
    with pytest.raises(CheckpointError, match=r"state dict does not match the model architecture: .*missing "
                                              r"from checkpoint \(2\): head.weight, head.bias"):
        load_pretrained(model, mae.state_dict())
    report = load_pretrained(model, mae.state_dict(), allow_missing=("head.*",))
    assert report.missing == ["head.weight", "head.bias"]
    deeper = ViT(img_size=32, **dict(TINY_VIT, depth=3))
    with pytest.raises(CheckpointError, match=r"missing from checkpoint \(12\): blocks\.2\.norm1\.weight"):
        load_pretrained(deeper, mae.state_dict())
    shallower = ViT(img_size=32, **dict(TINY_VIT, depth=1))
    with pytest.raises(CheckpointError, match=r"not used from checkpoint \(12\): blocks\.1\.norm1\.weight"):
        load_pretrained(shallower, mae.state_dict())
    report = load_pretrained(shallower, mae.state_dict(), allow_unexpected=("blocks.1.*",))
    assert report.unexpected[0] == "blocks.1.norm1.weight" and len(report.unexpected) == 12


def test_wrong_files_are_one_line_errors(tmp_path):
    mae = tiny_mae()
    vit = ViT(img_size=32, **TINY_VIT)
    decoder_only = {k: v for k, v in mae.state_dict().items() if k.startswith("decoder")}
    cases = [
        (decoder_only, r"^no ViT encoder in the given state dict .*found 19 keys: decoder_blocks \(12\)"),
        ({}, r"^the given state dict is empty"),
        (ViT(img_size=32, **dict(TINY_VIT, embed_dim=48)).state_dict(),
         r"^the given state dict does not match the model architecture: it holds a ViT 48 wide, 2 blocks, patch 8"),
    ]
    for state, message in cases:
        with pytest.raises(CheckpointError, match=message) as err:
            load_pretrained(vit, state)
        assert "\n" not in str(err.value)
    torch.save({"model": {}}, tmp_path / "empty.pth")
    with pytest.raises(CheckpointError, match=r"empty.pth is empty: no tensors"):
        load_pretrained(vit, str(tmp_path / "empty.pth"))
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        read_checkpoint(str(tmp_path / "nope.pth"))
    (tmp_path / "folder").mkdir()
    with pytest.raises(CheckpointError, match="folder without model.safetensors or pytorch_model.bin"):
        read_checkpoint(str(tmp_path / "folder"))


def test_infer_arch_names_known_architectures():
    for name, heads in [("vit_base_patch16", 12), ("vit_huge_patch14", 16)]:
        with torch.device("meta"):  # shapes are all infer_arch reads
            state = build_mae(f"mae_{name}").state_dict()
        arch = infer_arch(state)
        assert (arch.name, arch.num_heads, arch.decoder_num_heads, arch.img_size) == (name, heads, 16, (224, 224))
        cfg, origin = resolve_model_cfg(state)
        assert cfg["num_heads"] == heads and origin["num_heads"] == "from the architecture table"
        assert cfg["depth"] == ARCHS[name].depth and cfg["decoder_depth"] == MAE_DECODER.depth
        assert cfg["norm_pix_loss"] is True and origin["norm_pix_loss"] == "official release"
    tiny = tiny_mae().state_dict()
    arch = infer_arch(tiny)
    assert arch.name is None and arch.num_heads is None and (arch.decoder_embed_dim, arch.decoder_depth) == (32, 1)
    with pytest.raises(CheckpointError, match="num_heads is not stored .* pass --heads"):
        resolve_model_cfg(tiny)
    with pytest.raises(CheckpointError, match="norm_pix_loss is not stored .* pass --norm-pix or --no-norm-pix"):
        resolve_model_cfg(tiny, num_heads=2, decoder_num_heads=2)
    cfg, origin = resolve_model_cfg(tiny, {"num_heads": 2, "decoder_num_heads": 2, "norm_pix_loss": True},
                                    norm_pix_loss=False)
    assert cfg["norm_pix_loss"] is False and origin["norm_pix_loss"] == "given"
    assert origin["num_heads"] == "from the checkpoint's config"
    with pytest.raises(CheckpointError, match="encoder only"):
        resolve_model_cfg(encoder_state(tiny))
