"""Exercise 02 written only from the stub's TODO steps and the hints, word for word."""

from __future__ import annotations

import timm
import torch
from huggingface_hub import hf_hub_download
from safetensors.torch import load_file

MODEL_ID = "timm/convnext_atto.d2_in1k"
WEIGHTS_FILE = "model.safetensors"
ARCHITECTURE = "convnext_atto"
CLASSIFIER_PREFIX = "head.fc."


def build_model() -> torch.nn.Module:
    # TODO 1
    path = hf_hub_download(repo_id=MODEL_ID, filename=WEIGHTS_FILE)
    # TODO 2
    state = load_file(path)
    # TODO 3
    model = timm.create_model(ARCHITECTURE, pretrained=False, num_classes=0)
    # TODO 4
    missing, unexpected = model.load_state_dict(state, strict=False)
    wrong = [k for k in unexpected if not k.startswith(CLASSIFIER_PREFIX)]
    if missing or wrong:
        raise RuntimeError(f"not the checkpoint expected: missing {missing}, unexpected {wrong}")
    return model.eval()


def compute_embedding(model: torch.nn.Module, image: torch.Tensor) -> torch.Tensor:
    # TODO 1 (hint 3: type and dtype first)
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"image must be a torch.Tensor; got {type(image).__name__}")
    if not image.is_floating_point():
        raise TypeError(f"image must have a floating-point dtype; got {image.dtype}")
    # TODO 2
    if image.ndim == 3:
        batch = image.unsqueeze(0)
    elif image.ndim == 4:
        batch = image
    else:
        raise ValueError(f"image must be [3, H, W] or [N, 3, H, W]; got shape {tuple(image.shape)}")
    # TODO 3
    if batch.shape[1] != 3:
        raise ValueError(f"expected [N, 3, H, W] with N >= 1; got shape {tuple(image.shape)}")
    if batch.shape[0] == 0:
        raise ValueError(f"expected [N, 3, H, W] with N >= 1; got shape {tuple(image.shape)}")
    # TODO 4
    weight = next(model.parameters())
    batch = batch.to(device=weight.device, dtype=weight.dtype)
    with torch.inference_mode():
        return model(batch)
