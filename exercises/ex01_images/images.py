"""Exercise 01: from an image file to a model-ready tensor.

Read README.md in this folder first, then replace each `raise NotImplementedError(...)`
with your code. Check your work with `pytest tests/test_ex01_images.py` from the kit's root.
"""

from __future__ import annotations

import math  # noqa: F401  (math.floor for the resize size)
import os
import warnings  # noqa: F401  (warnings.catch_warnings turns Pillow's bomb warning into an error)
from pathlib import Path  # noqa: F401

import numpy as np  # noqa: F401  (np.array(image) gives the pixels as [H, W, 3] uint8)
import torch
from PIL import Image, ImageOps  # noqa: F401  (ImageOps.exif_transpose)

# ConvNeXt-Atto's pretrained config (timm's convnext_atto.d2_in1k): the statistics of
# ImageNet's training photos, per RGB channel, and the share of the resized image kept.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CROP_PCT = 0.875
INPUT_SIZE = 224
# The colour transparent pixels are composited on: what a viewer shows on a white page.
BACKGROUND = (255, 255, 255)


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
    # TODO 1. path must be a str or an os.PathLike (pathlib.Path is one): else raise
    #         TypeError with type(path).__name__. Then path = Path(path).
    # TODO 2. Open the file yourself: `with open(path, "rb") as file:`. A missing file
    #         raises FileNotFoundError naming it: let that one through.
    # TODO 3. Inside, also `with warnings.catch_warnings():` and
    #         warnings.simplefilter("error", Image.DecompressionBombWarning). Then
    #         image = Image.open(file). Turn Image.DecompressionBombError and
    #         Image.DecompressionBombWarning into ValueError, and so OSError, SyntaxError
    #         and ValueError (PIL.UnidentifiedImageError is an OSError; a PNG header cut
    #         short raises ValueError): "not an image".
    #         Every message names the file: f"{path} ...". Chain with `from error`.
    # TODO 4. Still inside: image.load() decodes every pixel now (a truncated file fails
    #         here, with OSError), then image = ImageOps.exif_transpose(image) turns it
    #         upright. Errors here -> ValueError "truncated or damaged", naming the file.
    # TODO 5. Outside the `with` (the file is closed, the pixels are in memory), make it RGB:
    #         - "RGB": as it is.
    #         - "I" or a mode starting with "I;16" (16-bit): the values are 0..65535 and
    #           convert alone clips them at 255. Scale in float (uint16 * 255 wraps around):
    #           `eight_bit = np.clip(np.rint(np.asarray(image, dtype=np.float64) * 255
    #           / 65535), 0, 255).astype(np.uint8)`, then
    #           `Image.fromarray(eight_bit).convert("RGB")` (fromarray gives an "L" image).
    #         - transparency (mode RGBA, LA, PA, or "transparency" in image.info):
    #           image.convert("RGBA"), Image.alpha_composite onto
    #           Image.new("RGBA", size, BACKGROUND + (255,)), then .convert("RGB").
    #         - anything else ("L", "1", "P", "CMYK"...): image.convert("RGB").
    raise NotImplementedError(
        "Exercise 01: load_image() is not implemented yet. Open "
        "exercises/ex01_images/images.py and follow its TODO steps "
        "(instructions: exercises/ex01_images/README.md)."
    )


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
    # TODO 1. Check the input, saying what you expected and what you got:
    #         not isinstance(image, Image.Image) -> TypeError (type(image).__name__);
    #         image.mode != "RGB" -> ValueError (name the mode); width or height 0 -> ValueError;
    #         size not an int (a bool is not a size either) -> TypeError; size < 1 -> ValueError;
    #         crop_pct not in (0, 1] -> ValueError; mean or std not 3 values -> ValueError
    #         (say 3 and how many came); a std <= 0 -> ValueError.
    # TODO 2. scale = math.floor(size / crop_pct). The shorter side becomes scale, the longer
    #         one int(scale * long / short) (int, not round: torchvision rounds down).
    #         image.size is (width, height). If the new size differs from image.size:
    #         image = image.resize((new_width, new_height), Image.Resampling.BICUBIC)
    #         (resize returns a new image; never change the caller's).
    # TODO 3. The centre square: left = int(round((new_width - size) / 2.0)), top likewise
    #         (Python's round, like torchvision), image.crop((left, top, left + size, top + size)).
    # TODO 4. torch.from_numpy(np.array(image, dtype=np.uint8)) is [H, W, 3] uint8:
    #         .permute(2, 0, 1) to [3, H, W], .contiguous(), .to(torch.float32), .div(255).
    # TODO 5. mean and std as float32 tensors of shape [3, 1, 1] (they broadcast over H, W);
    #         return (tensor - mean) / std.
    raise NotImplementedError(
        "Exercise 01: preprocess() is not implemented yet. Open "
        "exercises/ex01_images/images.py and follow its TODO steps "
        "(instructions: exercises/ex01_images/README.md)."
    )
