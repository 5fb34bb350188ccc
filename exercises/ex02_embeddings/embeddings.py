"""Exercise 02: ConvNeXt-Atto as a face-embedding model.

Read README.md in this folder first, then replace each `raise NotImplementedError(...)`
with your code. Check your work with `pytest` (or `facekit check`) from the kit's root.
"""

from __future__ import annotations

import timm  # noqa: F401  (you will need these three)
import torch
from huggingface_hub import hf_hub_download  # noqa: F401
from safetensors.torch import load_file  # noqa: F401

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
    # TODO 1. Get the local path of WEIGHTS_FILE from the repository MODEL_ID with
    #         hf_hub_download(repo_id=..., filename=...). It downloads once, then uses the cache.
    # TODO 2. Read the tensors with load_file(path): a dict {name: tensor}.
    # TODO 3. Create the network with timm.create_model(ARCHITECTURE, pretrained=False,
    #         num_classes=0): num_classes=0 removes the classifier and keeps the head LayerNorm.
    # TODO 4. model.load_state_dict(state, strict=False) returns (missing, unexpected) keys.
    #         Only keys starting with CLASSIFIER_PREFIX may be unexpected, and nothing may be
    #         missing: otherwise raise RuntimeError naming the keys. Return model.eval().
    raise NotImplementedError(
        "Exercise 02: build_model() is not implemented yet. Open "
        "exercises/ex02_embeddings/embeddings.py and follow its TODO steps "
        "(instructions: exercises/ex02_embeddings/README.md)."
    )


def compute_embedding(model: torch.nn.Module, image: torch.Tensor) -> torch.Tensor:
    """Embed one image ``[3, H, W]`` or a batch ``[N, 3, H, W]``; return ``[N, 320]`` float32.

    The image must be preprocessed already (resized, scaled to [0, 1] and normalised with
    the ImageNet mean and std). Raises TypeError for a non-tensor or a non-float dtype and
    ValueError for a wrong rank, channel count or an empty batch.
    """
    # TODO 1. Not a torch.Tensor -> raise TypeError; a dtype that is not floating point
    #         (image.is_floating_point() is False) -> raise TypeError. Say what you expected
    #         and what you got, e.g. f"... got {image.dtype}".
    # TODO 2. image.ndim == 3 -> add the batch dimension with image.unsqueeze(0);
    #         ndim == 4 -> keep it; anything else -> raise ValueError with tuple(image.shape).
    # TODO 3. Dimension 1 must be 3 (RGB) and the batch must not be empty: else ValueError
    #         naming what was expected, [N, 3, H, W] with N >= 1, and tuple(image.shape).
    # TODO 4. A float64 or float16 image is still an image: move the batch to the model's
    #         device and dtype (weight = next(model.parameters());
    #         batch = batch.to(device=weight.device, dtype=weight.dtype)), then run
    #         model(batch) inside `with torch.inference_mode():` and return the result.
    raise NotImplementedError(
        "Exercise 02: compute_embedding() is not implemented yet. Open "
        "exercises/ex02_embeddings/embeddings.py and follow its TODO steps "
        "(instructions: exercises/ex02_embeddings/README.md)."
    )
