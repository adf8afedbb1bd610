"""Trainable tokenizers: the dVAE's usage term, the vector-quantised tokenizer (grid, vocabulary,
refusal of wrong files) and `mae train configs/tokenizer/...` leaving a usable tokenizer with its
codebook statistics."""
import json
import math
import os.path as osp

import pytest
import torch
import torch.nn.functional as F

from pretrain.tokenizers import (VQVAE, DiscreteVAE, DVAETokenizer, TokenizerError, VQTokenizer, build_tokenizer,
                                 code_usage, tokenizer_type)
from pretrain.tokenizers.dvae import usage_gap

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def _trained_vq(path, vocab=64, steps=2):
    """A tiny VQ-VAE after a few real training steps (k-means initialises its codebook)."""
    pytest.importorskip("vector_quantize_pytorch")
    torch.manual_seed(0)
    model = VQVAE(vocab_size=vocab, hidden=16, codebook_dim=8, downsample=8, kmeans_init=True,
                  dead_code_threshold=1.0).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(steps):
        losses = model(torch.rand(4, 3, 32, 32))
        opt.zero_grad()
        sum(v for k, v in losses.items() if k.startswith("loss")).backward()
        opt.step()
    torch.save(model.tokenizer_state(), path)
    return str(path)


@pytest.fixture(scope="module")
def vq_file(tmp_path_factory):
    return _trained_vq(tmp_path_factory.mktemp("vq") / "tokenizer.pth")


@pytest.fixture(scope="module")
def dvae_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("dvae") / "tokenizer.pth"
    torch.save(DiscreteVAE(vocab_size=64, hidden=16, codebook_dim=8).tokenizer_state(), path)
    return str(path)


def test_usage_gap_is_zero_for_confident_spread_codes_and_log_v_for_collapse():
    v = 16
    ids = torch.arange(v).view(1, 4, 4).repeat(2, 1, 1)  # every code equally often, each cell certain
    confident = F.log_softmax(50.0 * F.one_hot(ids, v).permute(0, 3, 1, 2).float(), dim=1)
    assert float(usage_gap(confident)) == pytest.approx(0.0, abs=1e-4)
    one_code = F.log_softmax(50.0 * F.one_hot(torch.zeros_like(ids), v).permute(0, 3, 1, 2).float(), dim=1)
    uniform = F.log_softmax(torch.zeros(2, v, 4, 4), dim=1)
    for collapsed in (one_code, uniform):
        assert float(usage_gap(collapsed)) == pytest.approx(math.log(v), abs=1e-4)


def test_code_usage_counts_and_perplexity():
    u = code_usage(torch.tensor([0, 0, 1, 1, 2, 2, 3, 3]), 8)
    assert (u["used_codes"], u["used_fraction"]) == (4, 0.5) and u["perplexity"] == pytest.approx(4.0)
    assert code_usage(torch.zeros(10, dtype=torch.long), 8)["perplexity"] == pytest.approx(1.0)


def test_vq_token_ids_have_grid_shape_and_vocab_range(vq_file):
    tok = build_tokenizer(dict(type="vq", checkpoint=vq_file))
    assert isinstance(tok, VQTokenizer) and tok.vocab_size == 64 and tokenizer_type(vq_file) == "vq"
    imgs = torch.randn(3, 3, 64, 48)
    ids = tok(imgs, (8, 6))
    assert ids.shape == (3, 8, 6) and ids.dtype == torch.int64
    assert 0 <= int(ids.min()) and int(ids.max()) < 64
    before = {k: v.clone() for k, v in tok.state_dict().items()}
    tok(imgs, (8, 6))  # frozen: tokenizing moves no codebook average
    assert all(torch.equal(before[k], v) for k, v in tok.state_dict().items())
    assert all(not p.requires_grad for p in tok.parameters()) and not tok.train().training


def _one_line_error(fn, match):
    with pytest.raises(TokenizerError, match=match) as e:
        fn()
    assert "\n" not in str(e.value)


def test_wrong_kind_or_vocabulary_is_refused_in_one_line(vq_file, dvae_file, tmp_path):
    _one_line_error(lambda: VQTokenizer(dvae_file), r"Gumbel-softmax dVAE tokenizer .*type='dvae'")
    _one_line_error(lambda: DVAETokenizer(vq_file), r"vector-quantised VAE tokenizer .*type='vq'")
    _one_line_error(lambda: VQTokenizer(vq_file, vocab_size=8192), "vocabulary 64, the config asks for 8192")
    other = tmp_path / "mae.pth"
    torch.save({"model": {"cls_token": torch.zeros(1)}}, other)
    _one_line_error(lambda: VQTokenizer(str(other)), "is not a tokenizer checkpoint")
    untrained = tmp_path / "untrained.pth"
    torch.save(VQVAE(vocab_size=64, hidden=16, codebook_dim=8, kmeans_init=True).tokenizer_state(), untrained)
    _one_line_error(lambda: VQTokenizer(str(untrained)), "never initialised")


@pytest.mark.parametrize("config", ["dvae-v512-d8_embedded_cpu.py", "vq-v512-d8_embedded_cpu.py"])
def test_tokenizer_config_trains_and_reports_usage(config, tmp_path):
    from pretrain.mae import MaskedAutoencoder
    from tools.train import train

    if config.startswith("vq"):
        pytest.importorskip("vector_quantize_pytorch")
    work = tmp_path / "tok"
    train(osp.join(REPO, "configs/tokenizer", config), work_dir=str(work),
          options={"max_epochs": 1, "model.hidden": 16, "train_dataloader.batch_size": 8,
                   "train_dataloader.dataset.length": 16, "train_dataloader.dataset.img_size": 32})
    usage = json.loads((work / "codebook_usage.json").read_text())
    assert 1 <= usage["used_codes"] <= 512 and 1.0 <= usage["perplexity"] <= usage["used_codes"] + 1e-6
    assert usage["used_fraction"] == usage["used_codes"] / 512 and usage["reconstruction_mse"] >= 0
    assert (work / "tokenizer_reconstruction.png").stat().st_size > 0
    kind = tokenizer_type(str(work / "tokenizer.pth"))
    assert kind == config.split("-")[0]
    target = dict(type="token", tokenizer=dict(type=kind, checkpoint=str(work / "tokenizer.pth")))
    mae = MaskedAutoencoder(img_size=32, patch_size=8, embed_dim=32, depth=1, num_heads=2, decoder_embed_dim=32,
                            decoder_depth=1, decoder_num_heads=2, target=target)
    assert mae.decoder_pred.out_features == 512
    loss, pred, mask = mae.forward_mae(torch.randn(2, 3, 32, 32), torch.rand(2, 16))
    assert torch.isfinite(loss) and pred.shape == (2, 12, 512)
