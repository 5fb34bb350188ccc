"""Exercise 05 written only from the stub's TODO steps and the hints, word for word."""

from __future__ import annotations

import numbers

import torch
import torch.nn.functional as F

from ..ex04_storage import EmbeddingStore, Record


def top_k(query: torch.Tensor, store: EmbeddingStore, k: int) -> list[tuple[Record, float]]:
    # TODO 1
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"k must be an int; got {type(k).__name__}")
    if k < 1:
        raise ValueError(f"k must be at least 1; got {k}")
    # TODO 2
    if not isinstance(query, torch.Tensor) or not query.is_floating_point():
        raise TypeError(f"query must be a tensor of floats; got {type(query).__name__}")
    if query.ndim == 2 and query.shape[0] == 1:
        query = query[0]
    if query.ndim != 1 or query.shape[0] < 1:
        raise ValueError(f"query must be [D] or [1, D]; got shape {tuple(query.shape)}")
    if not torch.isfinite(query).all():
        raise ValueError("query holds NaN or infinity")
    if not query.any():
        raise ValueError("query is all zeros")
    # TODO 3
    records = store.all()
    if not records:
        return []
    # TODO 4
    matrix = torch.stack([r.embedding for r in records])
    if matrix.shape[1] != query.shape[0]:
        raise ValueError(f"the store's width {matrix.shape[1]} differs from the query's {query.shape[0]}")
    # TODO 5
    query = query.detach().to(matrix.dtype)
    scores = F.normalize(matrix, dim=1) @ F.normalize(query, dim=0)
    # TODO 6 (hint 3)
    values, indices = torch.sort(scores, descending=True, stable=True)
    k = min(k, len(records))
    return [(records[i], float(v)) for v, i in zip(values[:k].tolist(), indices[:k].tolist())]
