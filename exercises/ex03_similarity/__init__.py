"""Exercise 03 (your code): compare face embeddings with cosine similarity and a threshold."""

from .similarity import EPS, THRESHOLDS, cosine_similarity, is_match, l2_normalize

__all__ = ["EPS", "THRESHOLDS", "cosine_similarity", "is_match", "l2_normalize"]
