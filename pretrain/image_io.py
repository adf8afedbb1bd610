"""Image files -> uint8 CHW RGB tensors, for every extension the folder loader collects.

torchvision's decoder is the fast path (JPEG, PNG, WebP, GIF); it rejects BMP, PPM/PGM and TIFF,
so those go through Pillow. Failures become one `DataError` line in our words (file, what was
wrong): library messages carry C++ source paths that mean nothing to a user.
"""
import os
import re
import warnings

import numpy as np
import torch
from torchvision.io import ImageReadMode, decode_image
from torchvision.transforms import v2

from .errors import DataError

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp", ".gif")
TORCHVISION_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".gif")


def decode_file(path: str) -> torch.Tensor:
    """First frame of an image file as uint8 (3, H, W); `DataError` naming the file if it fails."""
    if not os.path.isfile(path):
        raise DataError(f"image not found: {path}")
    try:
        if path.lower().endswith(TORCHVISION_EXTENSIONS):
            img = decode_image(path, mode=ImageReadMode.RGB)
            img = img[0] if img.ndim == 4 else img  # animated GIF: first frame
            if img.dtype != torch.uint8:  # 16-bit PNG
                img = v2.functional.to_dtype(img, torch.uint8, scale=True)
            return img
        return _decode_pillow(path)
    except Exception as e:  # any decoder failure: corrupt, truncated, unsupported variant
        raise DataError(f"cannot decode image {path}: {reason(e)}") from None


def _decode_pillow(path: str) -> torch.Tensor:
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. "Corrupt EXIF data": the file either decodes or raises
        with Image.open(path) as im:
            im.seek(0)
            if im.mode in ("I", "I;16", "I;16B", "I;16L", "F"):  # 16-bit / float grey: scale to 8 bits
                a = np.asarray(im, dtype=np.float64)
                top = 65535.0 if im.mode.startswith("I;16") else max(float(a.max()), 1.0)
                im = Image.fromarray(np.clip(a / top * 255.0 + 0.5, 0, 255).astype(np.uint8))
            a = np.asarray(im.convert("RGB"))
    return torch.from_numpy(a.copy()).permute(2, 0, 1).contiguous()


def reason(e: Exception) -> str:
    """A decoder's message without its source location: torchvision's read
    'decode_png, /__w/vision/.../decode_png.cpp:79, Out of bound read ...'."""
    msg = (str(e).strip().splitlines() or [""])[0]
    msg = re.sub(r"^[\w:()~<>]+, \S+:\d+, ", "", msg)  # 'function, source-file:line, '
    msg = re.sub(r"\s*\(?\S*/\S+\.(cpp|cc|c|h|hpp|py):\d+\)?", "", msg).strip()  # any other source path
    if "Unsupported image file" in msg:
        return "not a JPEG, PNG, WebP or GIF file (wrong extension or damaged header)"
    if "cannot identify image file" in msg:
        return "not an image file Pillow can read (unknown or damaged format)"
    return msg or type(e).__name__
