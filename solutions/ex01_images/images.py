"""Exercise 01, reference solution: from an image file to a model-ready tensor."""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

# ConvNeXt-Atto's pretrained config (timm's convnext_atto.d2_in1k): the statistics of
# ImageNet's training photos, per RGB channel, and the share of the resized image kept.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CROP_PCT = 0.875
INPUT_SIZE = 224
# The colour transparent pixels are composited on: what a viewer shows on a white page.
BACKGROUND = (255, 255, 255)

_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
_SIXTEEN_BIT_MAX = 65535


def load_image(path: str | os.PathLike) -> Image.Image:
    """Open an image file as an upright RGB PIL image, fully loaded, with the file closed.

    The EXIF orientation tag is applied, so a photo comes out the way a viewer shows it.
    Every mode comes out ``RGB``: grayscale (``1``, ``L``) is repeated on the three
    channels; 16-bit grayscale (``I;16``, ``I``) is scaled from 0..65535 to 0..255; images
    with transparency (``RGBA``, ``LA``, ``P`` with a transparent colour) are composited
    on white (``BACKGROUND``), so a fully transparent pixel comes out white, whatever
    colour it hides.

    Raises TypeError when ``path`` is not a str or os.PathLike, FileNotFoundError when no
    file is there, and ValueError naming the file when it is not an image Pillow can
    read, is truncated or damaged, or declares more pixels than
    ``PIL.Image.MAX_IMAGE_PIXELS`` (a possible decompression bomb).
    """
    # 1. A path, not an already-open image or bytes.
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"path must be a str or a pathlib.Path naming an image file; got {type(path).__name__}"
        )
    path = Path(path)
    # 2. open() raises FileNotFoundError (naming the file) for a missing file; opening it
    #    ourselves keeps file-system errors apart from "this is not an image" below.
    with open(path, "rb") as file, warnings.catch_warnings():
        # Pillow only warns between MAX_IMAGE_PIXELS and twice that; refuse those too.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(file)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise ValueError(f"{path}: refusing to decode a possible decompression bomb ({error})") from error
        except Image.UnidentifiedImageError as error:
            raise ValueError(
                f"{path} is not an image file Pillow can read (no known image format)"
            ) from error
        except (OSError, SyntaxError, ValueError) as error:  # a header Pillow gave up on
            raise ValueError(f"{path} is not an image file Pillow can read ({error})") from error
        # 3. Decode now, while the file is open: Image.open only reads the header, so a
        #    truncated file would otherwise fail later, far from here.
        try:
            image.load()
            # 4. Turn the pixels upright (returns a new image, a copy when there is no tag).
            image = ImageOps.exif_transpose(image)
        except (OSError, SyntaxError, ValueError, EOFError) as error:
            raise ValueError(f"{path} is truncated or damaged: {error}") from error
    # 5. Every mode to RGB.
    return _to_rgb(image, path)


def _to_rgb(image: Image.Image, path: Path) -> Image.Image:
    mode = image.mode
    if mode == "RGB":
        return image
    if mode == "I" or mode.startswith("I;16"):
        # convert("L") would clip 16-bit values at 255 (almost everything white): scale instead.
        values = np.asarray(image, dtype=np.float64)
        eight_bit = np.clip(np.rint(values * 255 / _SIXTEEN_BIT_MAX), 0, 255).astype(np.uint8)
        return Image.fromarray(eight_bit).convert("RGB")
    if mode in _ALPHA_MODES or "transparency" in image.info:
        # Dropping alpha would show whatever colour transparent pixels hide (often black).
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, BACKGROUND + (255,))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode == "F":
        raise ValueError(
            f"{path}: 32-bit float images (mode F) have no standard value range; expected 8- or 16-bit pixels"
        )
    try:
        return image.convert("RGB")  # 1, L, P, CMYK, YCbCr, ...
    except ValueError as error:
        raise ValueError(f"{path}: cannot convert mode {mode} to RGB ({error})") from error


def preprocess(
    image: Image.Image,
    size: int = INPUT_SIZE,
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
    crop_pct: float = CROP_PCT,
) -> torch.Tensor:
    """ConvNeXt-Atto's eval preprocessing by hand: an RGB PIL image to a ``[3, size, size]`` float32 tensor.

    The steps of timm's eval transform for the model: resize with bicubic filtering so
    the shorter side becomes ``int(size / crop_pct)`` (256 for 224 and 0.875), keeping
    the aspect ratio; cut out the centre ``size x size`` square; scale the pixel values
    to [0, 1]; subtract ``mean`` and divide by ``std``, per channel. Channels first, in
    RGB order. The input image is not modified.

    Raises TypeError when ``image`` is not a PIL image or ``size`` is not an int, and
    ValueError for a mode other than RGB, an image without pixels, ``size < 1``,
    ``mean`` or ``std`` without exactly 3 values (or a std that is not > 0), or
    ``crop_pct`` outside (0, 1].
    """
    # 1. Check the input; say what was expected and what came.
    if not isinstance(image, Image.Image):
        raise TypeError(f"image must be a PIL.Image.Image (use load_image); got {type(image).__name__}")
    if image.mode != "RGB":
        raise ValueError(f"image must be in mode RGB (load_image converts); got mode {image.mode!r}")
    if image.width < 1 or image.height < 1:
        raise ValueError(f"image must have pixels; got size {image.width}x{image.height}")
    if isinstance(size, bool) or not isinstance(size, int):
        raise TypeError(f"size must be an int (pixels); got {type(size).__name__} {size!r}")
    if size < 1:
        raise ValueError(f"size must be at least 1 pixel; got {size}")
    if isinstance(crop_pct, bool) or not isinstance(crop_pct, (int, float)):
        raise TypeError(f"crop_pct must be a number in (0, 1]; got {type(crop_pct).__name__}")
    if not 0 < crop_pct <= 1:
        raise ValueError(f"crop_pct must be in (0, 1] (the share of the resized image kept); got {crop_pct}")
    mean = _per_channel("mean", mean)
    std = _per_channel("std", std)
    if min(std) <= 0:
        raise ValueError(f"std must be > 0 for every channel (it divides); got {std}")

    # 2. Resize the shorter side to int(size / crop_pct), the longer one in proportion,
    #    rounding down as torchvision's Resize does (timm uses it for square inputs).
    scale = math.floor(size / crop_pct)
    width, height = image.size
    if width <= height:
        new_size = (scale, int(scale * height / width))
    else:
        new_size = (int(scale * width / height), scale)
    if new_size != image.size:
        image = image.resize(new_size, Image.Resampling.BICUBIC)  # a new image; the input stays

    # 3. The centre square; Python's round(), as torchvision's CenterCrop (x.5 goes to even).
    left = int(round((new_size[0] - size) / 2.0))
    top = int(round((new_size[1] - size) / 2.0))
    image = image.crop((left, top, left + size, top + size))

    # 4. [H, W, 3] uint8 -> [3, H, W] float32 in [0, 1].
    pixels = torch.from_numpy(np.array(image, dtype=np.uint8))
    tensor = pixels.permute(2, 0, 1).contiguous().to(torch.float32).div(255)

    # 5. Normalise per channel, in float32 like timm's Normalize.
    mean_t = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32).view(3, 1, 1)
    return (tensor - mean_t) / std_t


def _per_channel(name: str, values) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in values)
    except TypeError:
        raise TypeError(f"{name} must be 3 numbers, one per RGB channel; got {values!r}") from None
    if len(values) != 3:
        raise ValueError(f"{name} must have 3 values, one per RGB channel; got {len(values)}: {values}")
    return values
