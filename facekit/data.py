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


# [5, 320] embeddings for tests that need real model output but not timm (Exercise 03's): see
# model_embeddings. Made by write_model_embeddings(); data/SOURCE.md says how.
MODEL_EMBEDDINGS = DATA_DIR / "standin_embeddings.safetensors"
MODEL_EMBEDDINGS_SEED = 40  # the noise images'


def model_embeddings() -> torch.Tensor:
    """[5, 320] float32: ConvNeXt-Atto's embeddings, with the kit's stand-in weights, of the
    sample face, its mirror image, a darker copy and two noise images (``compute_model_embeddings``;
    a kit check compares the file with it). The kind of numbers the course produces, read from a
    file: tests that use them do not import timm or build a model. On stand-in weights they mean
    nothing about faces."""
    from safetensors.torch import load_file

    return load_file(MODEL_EMBEDDINGS)["embeddings"]


def compute_model_embeddings() -> torch.Tensor:
    """What ``model_embeddings`` holds, computed afresh with timm (a few seconds)."""
    import timm
    import torch

    from facekit import standin

    face = eval_transform()(sample_face())
    noise = torch.randn((2, *face.shape), generator=torch.Generator().manual_seed(MODEL_EMBEDDINGS_SEED))
    images = torch.stack([face, face.flip(-1), face * 0.5 - 0.5, *noise])
    model = timm.create_model(standin.ARCHITECTURE, pretrained=False, num_classes=0)
    state = {k: v for k, v in standin.make_state_dict().items() if not k.startswith("head.fc.")}
    model.load_state_dict(state, strict=True)
    with torch.inference_mode():
        return model.eval()(images)


def write_model_embeddings() -> Path:
    """(Re)write the file of ``model_embeddings``: ``python -c "from facekit import data;
    data.write_model_embeddings()"``."""
    from safetensors.torch import save_file

    save_file(
        {"embeddings": compute_model_embeddings().contiguous()},
        str(MODEL_EMBEDDINGS),
        metadata={"made_by": "facekit.data.write_model_embeddings", "weights": "stand-in (seeded random)"},
    )
    return MODEL_EMBEDDINGS
