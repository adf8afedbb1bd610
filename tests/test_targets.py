"""Target family and tokenizers: token grid and vocabulary, masked-only token loss, PCA round trip,
refusal of wrong tokenizer files, the DALL-E encoder from a local file, pixel targets unchanged."""
import pytest
import torch

from pretrain.loss import masked_cross_entropy
from pretrain.mae import MaskedAutoencoder
from pretrain.pca import fit_pca
from pretrain.target_family import PCATarget
from pretrain.patches import patchify
from pretrain.tokenizers import DiscreteVAE, DVAETokenizer, TokenizerError

TINY = dict(img_size=32, patch_size=8, embed_dim=32, depth=1, num_heads=2, decoder_embed_dim=32, decoder_depth=1,
            decoder_num_heads=2)


@pytest.fixture(scope="module")
def dvae_file(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tok") / "tokenizer.pth"
    torch.save(DiscreteVAE(vocab_size=512, hidden=16, codebook_dim=8, downsample=8).tokenizer_state(), path)
    return str(path)


def test_token_ids_have_grid_shape_and_vocab_range(dvae_file):
    tok = DVAETokenizer(dvae_file)
    imgs = torch.randn(3, 3, 64, 48)
    ids = tok(imgs, (8, 6))
    assert ids.shape == (3, 8, 6) and ids.dtype == torch.int64
    assert 0 <= int(ids.min()) and int(ids.max()) < 512
    assert all(not p.requires_grad for p in tok.parameters()) and not tok.train().training


def test_token_loss_ignores_visible_patches(dvae_file):
    torch.manual_seed(0)
    model = MaskedAutoencoder(**TINY, target=dict(type="token", tokenizer=dict(type="dvae", checkpoint=dvae_file)))
    assert model.decoder_pred.out_features == 512
    imgs, noise = torch.randn(2, 3, 32, 32), torch.rand(2, 16)
    loss, pred, mask = model.forward_mae(imgs, noise)
    assert pred.shape == (2, 12, 512) and "token_acc" in model.last_logs
    full, mask2 = model.reconstruct(imgs, noise)  # logits for every patch, image order
    assert torch.equal(mask, mask2)
    garbage = torch.where(mask.bool().unsqueeze(-1), full, 1e3 * torch.randn_like(full))  # wreck visible logits
    tokens = model.target_maker.tokenizer(imgs, (4, 4)).flatten(1)
    torch.testing.assert_close(masked_cross_entropy(garbage, tokens, mask), loss, rtol=1e-4, atol=1e-5)


def test_pca_full_dimension_reconstructs_patches():
    torch.manual_seed(0)
    x = patchify(torch.randn(16, 3, 16, 16) + torch.linspace(0, 1, 16), 4).flatten(0, 1)  # (256, 48)
    mean, comps = fit_pca(x)
    full = PCATarget(48, k=48)
    full.set_basis(mean, comps)
    assert (full.to_pixels(full.encode(x)) - x).abs().max() < 1e-4
    # k < D: the mean squared error is the variance left in the dropped components
    part = PCATarget(48, k=20)
    part.set_basis(mean, comps)
    err = ((part.to_pixels(part.encode(x)) - x) ** 2).sum(1).mean()
    dropped = ((x - mean) @ comps[20:].T).pow(2).sum(1).mean()
    torch.testing.assert_close(err, dropped, rtol=1e-3, atol=1e-5)


def test_wrong_tokenizer_files_are_refused(dvae_file, tmp_path):
    other = tmp_path / "mae.pth"
    torch.save({"model": {"cls_token": torch.zeros(1)}}, other)
    with pytest.raises(TokenizerError, match="is not a tokenizer checkpoint"):
        DVAETokenizer(str(other))
    with pytest.raises(TokenizerError, match="vocabulary 512, the config asks for 8192"):
        DVAETokenizer(dvae_file, vocab_size=8192)
    with pytest.raises(TokenizerError, match="not found"):
        DVAETokenizer(str(tmp_path / "missing.pth"))
    with pytest.raises(TokenizerError, match="vocabulary 512"):
        MaskedAutoencoder(**TINY, target=dict(type="token", vocab_size=1024,
                                              tokenizer=dict(type="dvae", checkpoint=dvae_file)))


def test_dalle_encoder_loads_from_local_file(tmp_path, dvae_file):
    pytest.importorskip("dall_e")
    from dall_e.encoder import Encoder
    from pretrain.tokenizers.dalle import DALLETokenizer

    torch.manual_seed(0)
    path = tmp_path / "encoder.pkl"
    torch.save(Encoder(n_hid=64, n_blk_per_group=1, vocab_size=512), path)
    tok = DALLETokenizer(str(path))
    imgs = torch.randn(2, 3, 64, 64)
    view = tok.view(imgs, (4, 4))  # BEiT's second view: half the resolution of patch-16 input
    assert view.shape == (2, 3, 32, 32) and 0.1 - 1e-6 <= float(view.min()) and float(view.max()) <= 0.9 + 1e-6
    ids = tok(imgs, (4, 4))
    assert ids.shape == (2, 4, 4) and int(ids.max()) < 512
    with pytest.raises(TokenizerError, match="not a DALL-E"):
        DALLETokenizer(dvae_file)


@pytest.mark.parametrize("kind", ["pixel", "norm_pixel"])
def test_pixel_targets_by_name_equal_the_flag(kind):
    torch.manual_seed(0)
    by_flag = MaskedAutoencoder(**TINY, norm_pix_loss=kind == "norm_pixel")
    torch.manual_seed(0)
    by_name = MaskedAutoencoder(**TINY, target=kind)
    assert list(by_flag.state_dict()) == list(by_name.state_dict())
    imgs, noise = torch.randn(2, 3, 32, 32), torch.rand(2, 16)
    assert torch.equal(by_flag.forward_mae(imgs, noise)[0], by_name.forward_mae(imgs, noise)[0])
