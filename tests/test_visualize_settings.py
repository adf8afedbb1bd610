"""`mae visualize` on weights without a config: shapes from the weights, the rest from the
architecture table or flags, never guessed, and it says which it used."""
import numpy as np
import torch
from PIL import Image

from tests.conftest import tiny_mae
from tools.cli import main


def test_visualize_without_config_uses_flags_and_says_so(tmp_path, capsys):
    torch.save({"model": tiny_mae().state_dict()}, tmp_path / "official.pth")  # official layout: no config
    img = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(img)
    args = ["visualize", str(tmp_path / "official.pth"), str(img), "--out", str(tmp_path / "v.png")]
    assert main(args) == 2
    assert "num_heads is not stored" in capsys.readouterr().err and not (tmp_path / "v.png").exists()
    assert main(args + ["--heads", "2", "--decoder-heads", "2"]) == 2
    assert "pass --norm-pix or --no-norm-pix" in capsys.readouterr().err
    assert main(args + ["--heads", "2", "--decoder-heads", "2", "--no-norm-pix"]) == 0
    out = capsys.readouterr().out
    assert "(official layout): num_heads=2 (given), decoder_num_heads=2 (given), norm_pix_loss=False (given)" in out
    assert (tmp_path / "v.png").stat().st_size > 1000
