"""Stand-in weights: a seeded, randomly initialised ConvNeXt-Atto checkpoint in a local hub cache.

They let every test and notebook run with no network. They are NOT pretrained: embeddings
computed with them have the right shapes and plumbing but carry no meaning about faces.

The checkpoint has the published tensor names and shapes of timm/convnext_atto.d2_in1k,
classifier (``head.fc.*``) included, and sits in the hub cache's own layout, so
``hf_hub_download`` and ``build_model()`` find it exactly as they would the real file:

    models--timm--convnext_atto.d2_in1k/
        blobs/<sha256 of the file>
        refs/main                               (holds <commit>)
        snapshots/<commit>/model.safetensors -> ../../blobs/<sha256>
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from facekit.settings import STANDIN_LABEL

MODEL_ID = "timm/convnext_atto.d2_in1k"
ARCHITECTURE = "convnext_atto"
FILENAME = "model.safetensors"
SEED = 0
LABEL = STANDIN_LABEL  # what the checkpoint's metadata says, and every run that uses it


def make_state_dict(seed: int = SEED) -> dict:
    """Every tensor of the published checkpoint, filled with seeded noise.

    LayerNorm scales and biases get noise too: a fresh LayerNorm (weight 1, bias 0) would make
    every embedding's norm exactly sqrt(320), so properties could hold by accident.
    """
    import timm
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = timm.create_model(ARCHITECTURE, pretrained=False)  # timm's seeded init
        generator = torch.Generator().manual_seed(seed + 1)
        state = {}
        for name, tensor in model.state_dict().items():
            noise = torch.randn(tensor.shape, generator=generator)
            if tensor.ndim > 1:
                value = tensor + 0.01 * noise
            elif name.endswith("norm.weight"):
                value = 1.0 + 0.2 * noise
            elif name.endswith("gamma"):  # layer scale: published values are O(0.1..1)
                value = 0.3 * noise
            else:
                value = 0.1 * noise
            state[name] = value.to(torch.float32).contiguous()
    return state


def repo_folder(cache_dir: Path, repo_id: str = MODEL_ID) -> Path:
    """A model's folder in a hub cache: ``models--timm--convnext_atto.d2_in1k``."""
    return Path(cache_dir) / ("models--" + repo_id.replace("/", "--"))


def write_hub_cache(
    cache_dir: Path,
    state: dict,
    *,
    repo_id: str = MODEL_ID,
    filename: str = FILENAME,
    metadata: dict | None = None,
) -> Path:
    """Save ``state`` as safetensors into ``cache_dir`` in the hub's layout; return the snapshot path."""
    from safetensors.torch import save

    payload = save(state, metadata=metadata)
    sha256 = hashlib.sha256(payload).hexdigest()
    # A stable fake commit id: derived from the content, so the same weights give the same cache.
    commit = hashlib.sha1(sha256.encode()).hexdigest()
    repo = repo_folder(cache_dir, repo_id)
    blob = repo / "blobs" / sha256
    snapshot = repo / "snapshots" / commit / filename
    for folder in (blob.parent, snapshot.parent, repo / "refs"):
        folder.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(payload)
    if snapshot.is_symlink() or snapshot.exists():
        snapshot.unlink()
    snapshot.symlink_to(os.path.relpath(blob, snapshot.parent))
    (repo / "refs" / "main").write_text(commit)
    return snapshot


def build_cache(cache_dir: Path, seed: int = SEED) -> Path:
    """Write the stand-in ConvNeXt-Atto checkpoint into ``cache_dir``; return its snapshot path."""
    metadata = {"facekit": LABEL, "seed": str(seed), "architecture": ARCHITECTURE}
    return write_hub_cache(cache_dir, make_state_dict(seed), metadata=metadata)


def is_standin(path: Path) -> bool:
    """True when a safetensors file is one of ours (its metadata says so)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return "facekit" in (f.metadata() or {})
