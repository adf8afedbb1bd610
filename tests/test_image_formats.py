"""Every extension the folder loader collects decodes, in training and in `mae visualize`;
a bad file is one line naming it, with no library source path."""
import os

import numpy as np
import pytest
import torch
from PIL import Image

from pretrain.data import IMG_EXTENSIONS, ImageFolder, load_image
from pretrain.errors import DataError
from pretrain.image_io import decode_file
from tests.conftest import tiny_mae

RGB = np.random.default_rng(0).integers(0, 256, (24, 36, 3), dtype=np.uint8)


def write_one_of_each(folder) -> dict:
    """One file per listed extension; greyscale where the format is (.pgm). Returns path -> pixels."""
    out = {}
    for ext in IMG_EXTENSIONS:
        path = os.path.join(folder, f"img{ext}")
        pixels = RGB[..., 0] if ext == ".pgm" else RGB
        Image.fromarray(pixels).save(path)
        out[path] = np.repeat(pixels[..., None], 3, axis=2) if pixels.ndim == 2 else pixels
    return out


def test_every_listed_extension_decodes(tmp_path):
    written = write_one_of_each(str(tmp_path))
    assert len(written) == len(IMG_EXTENSIONS)
    for path, pixels in written.items():
        img = decode_file(path)
        assert img.dtype == torch.uint8 and img.shape == (3, 24, 36), path
        lossy = path.endswith((".jpg", ".jpeg", ".webp", ".gif"))  # gif: 256-colour palette
        err = (img.permute(1, 2, 0).numpy().astype(int) - pixels).__abs__().mean()
        assert err < (60 if lossy else 1e-9), (path, err)


def test_folder_of_every_format_trains_without_skips(tmp_path):
    write_one_of_each(str(tmp_path))
    ds = ImageFolder(str(tmp_path), img_size=16, max_bad_fraction=0.0)
    assert len(ds) == len(IMG_EXTENSIONS)
    for i in range(len(ds)):
        assert ds[(0, i)]["inputs"].shape == (3, 16, 16)
    assert ds.bad == set()


def test_sixteen_bit_and_animated_files(tmp_path):
    grey16 = (np.linspace(0, 65535, 24 * 36).reshape(24, 36)).astype(np.uint16)
    Image.fromarray(grey16).save(tmp_path / "deep.png")
    img = decode_file(str(tmp_path / "deep.png"))
    assert img.dtype == torch.uint8 and int(img.max()) == 255 and int(img.min()) == 0
    frames = [Image.fromarray(RGB), Image.fromarray(255 - RGB)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    assert decode_file(str(tmp_path / "anim.gif")).shape == (3, 24, 36)


@pytest.mark.parametrize("ext", [".png", ".jpg", ".tif", ".bmp", ".ppm"])
def test_corrupt_file_is_one_line_without_source_paths(tmp_path, ext):
    path = tmp_path / f"broken{ext}"
    Image.fromarray(RGB).save(path)
    path.write_bytes(path.read_bytes()[:40])  # truncated after the header
    with pytest.raises(DataError) as e:
        load_image(str(path), 16)
    msg = str(e.value)
    assert msg.startswith(f"cannot decode image {path}: ") and "\n" not in msg
    assert ".cpp" not in msg and "/__w/" not in msg and "site-packages" not in msg, msg


def test_visualize_reads_every_format(tmp_path):
    from tools.visualize import visualize

    model = tiny_mae()
    ckpt = tmp_path / "tiny.pth"
    torch.save({"model": model.state_dict(), "meta": {"model_cfg": dict(
        img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, decoder_embed_dim=32,
        decoder_depth=1, decoder_num_heads=2, norm_pix_loss=False)}}, ckpt)
    # the formats torchvision cannot decode (the fast path is covered above)
    paths = [p for p in write_one_of_each(str(tmp_path)) if p.endswith((".bmp", ".ppm", ".pgm", ".tif", ".tiff"))]
    out = visualize(str(ckpt), paths, str(tmp_path / "all.png"))
    assert os.path.getsize(out) > 1000


def test_visualize_cli_bad_tif_is_one_line(tmp_path, capsys):
    from tools.cli import main

    model = tiny_mae()
    ckpt = tmp_path / "tiny.pth"
    torch.save({"model": model.state_dict(), "meta": {"model_cfg": dict(
        img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, decoder_embed_dim=32,
        decoder_depth=1, decoder_num_heads=2, norm_pix_loss=False)}}, ckpt)
    Image.fromarray(RGB).save(tmp_path / "bad.tif")
    (tmp_path / "bad.tif").write_bytes((tmp_path / "bad.tif").read_bytes()[:40])  # Pillow warns, then fails
    rc = main(["visualize", str(ckpt), str(tmp_path / "bad.tif"), "--out", str(tmp_path / "v.png")])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert err.strip().splitlines() == [f"mae: error: cannot decode image {tmp_path / 'bad.tif'}: "
                                        "not an image file Pillow can read (unknown or damaged format)"]
