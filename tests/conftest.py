import os

import pytest
import torch

torch.set_num_threads(min(2, os.cpu_count() or 1))

DEMO = os.path.join(os.path.dirname(__file__), "..", "configs", "pretrain", "mae_vit-tiny-p8_demo_cpu.py")

# A model and data small enough that a whole run takes seconds. fp32 is pinned: tests built on TINY
# check exact equivalences (resume, accumulation, processes), and precision='auto' picks bf16 on CPUs
# with AVX512-BF16 / AMX but fp32 on AVX2-only ones. The bf16 paths have their own tolerance tests.
TINY = {
    "optim_wrapper.precision": "fp32",
    "model.img_size": 32, "model.patch_size": 8, "model.embed_dim": 32, "model.depth": 2, "model.num_heads": 2,
    "model.decoder_embed_dim": 32, "model.decoder_depth": 1, "model.decoder_num_heads": 2,
    "train_dataloader.dataset.img_size": 32, "train_dataloader.dataset.length": 16,
    "train_dataloader.batch_size": 4, "max_epochs": 2, "warmup_epochs": 1, "base_lr": 1.5e-3,
    "default_hooks.logger.interval": 1, "default_hooks.checkpoint.interval": 1,
}


def tiny_mae(**kw):
    """A seeded MAE small enough for exact checks in milliseconds."""
    from pretrain.mae import MaskedAutoencoder

    args = dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, decoder_embed_dim=32,
                decoder_depth=1, decoder_num_heads=2)
    args.update(kw)
    torch.manual_seed(0)
    return MaskedAutoencoder(**args)


@pytest.fixture
def tiny_options():
    return dict(TINY)


@pytest.fixture
def demo_config():
    return os.path.abspath(DEMO)
