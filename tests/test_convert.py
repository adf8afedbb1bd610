"""`mae convert`: our checkpoints in Hugging Face and timm layouts give the same features and the
same MAE loss there, and come back unchanged. Tiny models in fp32 (ViT-B only for timm's strict load)."""
import os
import subprocess
import sys

import pytest
import timm
import torch

from pretrain.checkpoint import encoder_state, load_pretrained, read_checkpoint
from pretrain.mae import MaskedAutoencoder
from pretrain.vit import ViT, build_vit
from tests.conftest import tiny_mae
from tools.cli import main
from tools.convert import convert

transformers = pytest.importorskip("transformers")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CFG = dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, decoder_embed_dim=32, decoder_depth=1,
           decoder_num_heads=2)


def demo_like_checkpoint(path, norm_pix_loss=True):
    """What OfficialCheckpointHook writes: {'model': state, 'meta': {'model_cfg': the config's model}}."""
    model = tiny_mae(norm_pix_loss=norm_pix_loss).eval()
    cfg = dict(type="MaskedAutoencoder", **CFG, norm_pix_loss=norm_pix_loss, mask_ratio=0.75)
    torch.save({"model": model.state_dict(), "meta": {"epoch": 1, "model_cfg": cfg}}, path)
    return model


def test_ours_to_hf_and_back(tmp_path):
    ours = demo_like_checkpoint(tmp_path / "ckpt.pth")
    folder = convert(str(tmp_path / "ckpt.pth"), "hf", str(tmp_path / "hf"), log=lambda *_: None)
    hf_mae, info = transformers.ViTMAEForPreTraining.from_pretrained(folder, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    hf_vit, info = transformers.ViTModel.from_pretrained(folder, add_pooling_layer=False, output_loading_info=True)
    assert not info["missing_keys"]
    hf_mae.eval(), hf_vit.eval()

    hf_mae.save_pretrained(tmp_path / "resaved")  # transformers' own writing (its version's key names)
    for back in (read_checkpoint(folder), read_checkpoint(str(tmp_path / "resaved"))):  # ours -> hf -> ours
        assert back.keys() == ours.state_dict().keys()
        assert all(torch.equal(back[k], v) for k, v in ours.state_dict().items())
    again = MaskedAutoencoder(**CFG, norm_pix_loss=True).eval()
    load_pretrained(again, folder)
    torch.manual_seed(0)
    imgs, noise = torch.randn(2, 3, 32, 32), torch.rand(2, 16)
    with torch.no_grad():
        assert torch.equal(ViT.forward_features(again, imgs), ViT.forward_features(ours, imgs))
        feats = ViT.forward_features(ours, imgs)
        torch.testing.assert_close(hf_vit(pixel_values=imgs).last_hidden_state, feats, rtol=1e-5, atol=1e-5)
        loss, _, mask = ours(imgs, noise=noise)
        hf_out = hf_mae(pixel_values=imgs, noise=noise)
    assert torch.equal(hf_out.mask, mask)
    torch.testing.assert_close(hf_out.loss, loss, rtol=1e-5, atol=1e-6)


def test_encoder_only_to_hf_vit_model(tmp_path):
    vit = ViT(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2).eval()
    torch.save(vit.state_dict(), tmp_path / "enc.pth")  # timm-style: a bare encoder state dict, no config
    with pytest.raises(Exception, match="num_heads is not stored .* pass --heads"):
        convert(str(tmp_path / "enc.pth"), "hf", str(tmp_path / "hf"), log=lambda *_: None)
    folder = convert(str(tmp_path / "enc.pth"), "hf", str(tmp_path / "hf"), num_heads=2, log=lambda *_: None)
    hf_vit, info = transformers.ViTModel.from_pretrained(folder, add_pooling_layer=False, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(hf_vit.eval()(pixel_values=x).last_hidden_state, vit(x), rtol=1e-5, atol=1e-5)


def test_ours_to_timm_vit_b_strict(tmp_path):
    torch.manual_seed(0)
    vit = build_vit("vit_base_patch16").eval()
    torch.save({"model": vit.state_dict()}, tmp_path / "vit_b.pth")
    out = convert(str(tmp_path / "vit_b.pth"), "timm", str(tmp_path / "timm.pth"), log=lambda *_: None)
    peer = timm.create_model("vit_base_patch16_224", pretrained=False, num_classes=0).eval()
    result = peer.load_state_dict(torch.load(out), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        ours = vit(x)
        assert torch.equal(peer.forward_features(x), ours)
        assert torch.equal(peer(x), ours[:, 0])


def cli(*args):
    return subprocess.run([sys.executable, "-m", "tools.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def test_convert_command_line(tmp_path, capsys):
    ours = demo_like_checkpoint(tmp_path / "checkpoint-final.pth")
    r = cli("convert", str(tmp_path / "checkpoint-final.pth"), "--to", "hf", "--out", str(tmp_path / "hf"))
    assert r.returncode == 0, r.stderr[-2000:]
    assert "num_heads=2 (from the checkpoint's config)" in r.stdout and "ViTMAEForPreTraining" in r.stdout
    # the same entry point in-process (a new interpreter costs seconds): HF folder -> official layout
    assert main(["convert", str(tmp_path / "hf"), "--to", "official", "--out", str(tmp_path / "official.pth")]) == 0
    assert "(hf layout) ->" in capsys.readouterr().out
    back = torch.load(tmp_path / "official.pth")["model"]
    assert back.keys() == ours.state_dict().keys()
    assert all(torch.equal(back[k], v) for k, v in ours.state_dict().items())
    torch.save(encoder_state(ours.state_dict()), tmp_path / "enc.pth")
    assert main(["convert", str(tmp_path / "enc.pth"), "--to", "hf", "--out", str(tmp_path / "x")]) == 2
    assert capsys.readouterr().err.strip().startswith("mae: error: num_heads is not stored")
