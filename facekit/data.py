"""The kit's sample data and timm's preprocessing for ConvNeXt-Atto."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Pillow and torch load when an image is needed
    import torch
    from PIL.Image import Image

DATA_DIR = Path(__file__).resolve().parent / "data"
SAMPLE_FACE = DATA_DIR / "astronaut_face.jpg"  # public domain: see data/SOURCE.md
PRETRAINED_TAG = "convnext_atto.d2_in1k"


def sample_face() -> Image:
    """The sample face as a PIL RGB image (200x200)."""
    from PIL import Image

    with Image.open(SAMPLE_FACE) as image:
        return image.convert("RGB")


def data_config() -> dict:
    """ConvNeXt-Atto's eval preprocessing settings, read from timm's pretrained config."""
    import timm
    from timm.data import resolve_data_config

    pretrained = timm.models.get_pretrained_cfg(PRETRAINED_TAG)
    if pretrained is None:  # a timm that renamed or dropped the tag
        raise LookupError(f"timm {timm.__version__} has no pretrained config {PRETRAINED_TAG!r}")
    return resolve_data_config(pretrained_cfg=pretrained.to_dict())


def eval_transform() -> Callable[[Image], torch.Tensor]:
    """timm's own eval transform for the model (224x224 centre crop, ImageNet mean/std).

    The kit hand-writes no preprocessing outside Exercise 01's reference: this is timm's.
    """
    from timm.data import create_transform

    return create_transform(**data_config(), is_training=False)
