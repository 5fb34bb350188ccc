"""Exercise 02, reference solution: ConvNeXt-Atto as a face-embedding model."""

from __future__ import annotations

import timm
import torch
from safetensors.torch import load_file

from facekit import hub

MODEL_ID = "timm/convnext_atto.d2_in1k"
WEIGHTS_FILE = "model.safetensors"
ARCHITECTURE = "convnext_atto"
# The classifier maps 320 features to 1000 ImageNet classes; an embedding model drops it.
CLASSIFIER_PREFIX = "head.fc."


def build_model() -> torch.nn.Module:
    """Download ConvNeXt-Atto's weights and build the network without its classifier.

    Returns a timm ConvNeXt-Atto in eval mode on the CPU whose forward pass maps a batch
    ``[N, 3, H, W]`` to embeddings ``[N, 320]``: global average pool + head LayerNorm,
    no classification layer. Every tensor of the checkpoint but ``head.fc.*`` is loaded;
    a checkpoint with missing, unexpected or misshapen tensors raises instead of giving
    a half-loaded model.
    """
    # 1. Get the weights file: hf_hub_download, cache first, with a clear error when
    #    offline and a checksum (see facekit/hub.py).
    path = hub.download(MODEL_ID, WEIGHTS_FILE)
    # 2. Read the tensors: safetensors holds plain tensors, never pickled code.
    state = load_file(path)
    # 3. The architecture, with no classifier: num_classes=0 keeps the head's LayerNorm.
    #    Built on the "meta" device: no memory, no random init (which the checkpoint would
    #    overwrite anyway, and which is most of create_model's time on a CPU).
    with torch.device("meta"):
        model = timm.create_model(ARCHITECTURE, pretrained=False, num_classes=0)
    # 4. Load every tensor but the classifier's; anything else missing or unexpected is an error.
    #    strict=False only lets head.fc.* through; shape mismatches still raise. assign=True
    #    makes the checkpoint's CPU tensors the parameters, replacing the meta placeholders.
    missing, unexpected = model.load_state_dict(state, strict=False, assign=True)
    unexpected = [key for key in unexpected if not key.startswith(CLASSIFIER_PREFIX)]
    if missing or unexpected:
        raise RuntimeError(
            f"{path} is not a {ARCHITECTURE} checkpoint of {MODEL_ID}: "
            f"missing tensors {missing or 'none'}; unexpected tensors {unexpected or 'none'}"
        )
    return model.eval()


def compute_embedding(model: torch.nn.Module, image: torch.Tensor) -> torch.Tensor:
    """Embed one image ``[3, H, W]`` or a batch ``[N, 3, H, W]``; return ``[N, 320]`` float32.

    The image must be preprocessed already (resized, scaled to [0, 1] and normalised with
    the ImageNet mean and std). Raises TypeError for a non-tensor or a non-float dtype and
    ValueError for a wrong rank, channel count or an empty batch.
    """
    if not isinstance(image, torch.Tensor):
        raise TypeError(
            f"image must be a torch.Tensor of shape [3, H, W] or [N, 3, H, W]; got {type(image).__name__}"
        )
    if not image.is_floating_point():
        raise TypeError(
            f"image must hold floats (a preprocessed image, e.g. torch.float32); got {image.dtype}"
        )
    if image.ndim == 3:
        image = image.unsqueeze(0)  # one image -> a batch of one
    elif image.ndim != 4:
        raise ValueError(
            f"image must have shape [3, H, W] or [N, 3, H, W]; "
            f"got {image.ndim} dimensions {tuple(image.shape)}"
        )
    if image.shape[1] != 3:
        raise ValueError(
            f"image must have 3 colour channels (RGB) in dimension 1 of [N, 3, H, W]; "
            f"got shape {tuple(image.shape)}"
        )
    if image.shape[0] == 0:
        raise ValueError(
            f"image must have shape [N, 3, H, W] with N >= 1; got an empty batch {tuple(image.shape)}"
        )
    # Meet the model where it is (CPU or GPU, float32 or half) instead of failing deep inside.
    weight = next(model.parameters())
    image = image.to(device=weight.device, dtype=weight.dtype)
    # No autograd: embeddings are values to compare, not something to train through.
    with torch.inference_mode():
        return model(image)
