"""Exercise 02 (reference): build ConvNeXt-Atto without its classifier and compute face embeddings."""

from .embeddings import ARCHITECTURE, MODEL_ID, WEIGHTS_FILE, build_model, compute_embedding

__all__ = ["ARCHITECTURE", "MODEL_ID", "WEIGHTS_FILE", "build_model", "compute_embedding"]
