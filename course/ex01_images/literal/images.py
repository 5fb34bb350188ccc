"""Exercise 01 written only from the stub's TODO steps and the hints, word for word."""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CROP_PCT = 0.875
INPUT_SIZE = 224
BACKGROUND = (255, 255, 255)


def load_image(path: str | os.PathLike) -> Image.Image:
    # TODO 1
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike; got {type(path).__name__}")
    path = Path(path)
    # TODO 2
    with open(path, "rb") as file:
        # TODO 3
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            try:
                image = Image.open(file)
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
                raise ValueError(f"{path} is a possible decompression bomb: {error}") from error
            except (OSError, SyntaxError, ValueError) as error:
                raise ValueError(f"{path} is not an image: {error}") from error
            # TODO 4
            try:
                image.load()
                image = ImageOps.exif_transpose(image)
            except OSError as error:
                raise ValueError(f"{path} is truncated or damaged: {error}") from error
    # TODO 5
    if image.mode == "RGB":
        return image
    if image.mode == "I" or image.mode.startswith("I;16"):
        eight_bit = np.clip(np.rint(np.asarray(image, dtype=np.float64) * 255 / 65535), 0, 255).astype(
            np.uint8
        )
        return Image.fromarray(eight_bit).convert("RGB")
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, BACKGROUND + (255,)), rgba).convert("RGB")
    return image.convert("RGB")


def preprocess(
    image: Image.Image,
    size: int = INPUT_SIZE,
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
    crop_pct: float = CROP_PCT,
) -> torch.Tensor:
    # TODO 1
    if not isinstance(image, Image.Image):
        raise TypeError(f"image must be a PIL image; got {type(image).__name__}")
    if image.mode != "RGB":
        raise ValueError(f"image must be RGB; got mode {image.mode}")
    if image.width == 0 or image.height == 0:
        raise ValueError(f"image has no pixels: size {image.size}")
    if isinstance(size, bool) or not isinstance(size, int):
        raise TypeError(f"size must be an int; got {type(size).__name__} {size!r}")
    if size < 1:
        raise ValueError(f"size must be at least 1; got {size}")
    if not 0 < crop_pct <= 1:
        raise ValueError(f"crop_pct must be in (0, 1]; got {crop_pct}")
    for name, values in (("mean", mean), ("std", std)):
        if len(values) != 3:
            raise ValueError(f"{name} must have 3 values; got {len(values)}")
    if min(std) <= 0:
        raise ValueError(f"std must be > 0; got {std}")
    # TODO 2
    scale = math.floor(size / crop_pct)
    width, height = image.size
    if width <= height:
        new_width, new_height = scale, int(scale * height / width)
    else:
        new_width, new_height = int(scale * width / height), scale
    if (new_width, new_height) != image.size:
        image = image.resize((new_width, new_height), Image.Resampling.BICUBIC)
    # TODO 3
    left = int(round((new_width - size) / 2.0))
    top = int(round((new_height - size) / 2.0))
    image = image.crop((left, top, left + size, top + size))
    # TODO 4
    tensor = (
        torch.from_numpy(np.array(image, dtype=np.uint8))
        .permute(2, 0, 1)
        .contiguous()
        .to(torch.float32)
        .div(255)
    )
    # TODO 5
    mean = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1)
    std = torch.tensor(std, dtype=torch.float32).view(3, 1, 1)
    return (tensor - mean) / std
