"""Shared helpers of the face-embeddings course kit: manifest, weights, harness, CLI."""

__version__ = "0.1.0"
