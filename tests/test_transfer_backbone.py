"""An MAE checkpoint becomes a task's ViT through the checkpoint library."""
import pytest
import torch

from pretrain.checkpoint import CheckpointError
from pretrain.vit import ViT
from tests.conftest import tiny_mae
from transfer.backbone import pretrained_vit


def test_pretrained_vit_from_our_checkpoint(tmp_path):
    mae = tiny_mae()
    path = str(tmp_path / "ckpt.pth")
    torch.save({"model": mae.state_dict(), "meta": {"model_cfg": {"num_heads": 2}}}, path)
    vit = pretrained_vit(path, img_size=32).eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(vit(x), ViT.forward_features(mae.eval(), x))
    bigger = pretrained_vit(path, img_size=48)
    assert bigger.grid == (6, 6) and bigger.pos_embed.shape == (1, 37, 32)

    class WithHead(ViT):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.head = torch.nn.Linear(self.embed_dim, 3)

    assert isinstance(pretrained_vit(path, img_size=32, cls=WithHead, allow_missing=("head.*",)), WithHead)
    torch.save({"model": mae.state_dict()}, path)  # no config: 32 wide is no known architecture
    with pytest.raises(CheckpointError, match="not a known architecture: give arch= or num_heads="):
        pretrained_vit(path, img_size=32)
    assert pretrained_vit(path, img_size=32, num_heads=4).blocks[0].attn.num_heads == 4
