"""Exercise 05, reference solution: who is this? The k nearest embeddings by cosine similarity."""

from __future__ import annotations

import numbers

import torch
import torch.nn.functional as F

# The same tree's Exercise 04: the store API (exercises/ with exercises/, solutions/ with solutions/).
from ..ex04_storage import EmbeddingStore, Record


def top_k(query: torch.Tensor, store: EmbeddingStore, k: int) -> list[tuple[Record, float]]:
    """The ``k`` records of ``store`` most similar to ``query``, best first, with their scores.

    ``query`` is one embedding of floats, ``[D]`` or ``[1, D]`` (a row as compute_embedding
    returns it); ``store`` is any EmbeddingStore; ``k`` is an int >= 1. Returns a list of
    up to ``k`` pairs ``(record, score)``: ``score`` is the cosine similarity of the
    record's embedding with the query, a Python float, highest first. Records with equal
    scores keep the order of ``store.all()`` (for the kit's stores: the order they were
    added, oldest first). A store with fewer than ``k`` records gives all of them, ranked;
    an empty store gives []. A stored zero vector has no direction and scores 0, as with
    torch.nn.functional.cosine_similarity.

    The store is read once, with ``store.all()``, and all the similarities come from one
    matrix product. Raises TypeError when ``k`` is not an int or ``query`` not a tensor of
    floats, and ValueError when ``k`` < 1, ``query`` has another shape, is all zeros or holds
    NaN or infinity, or its width differs from the stored embeddings' (naming both).
    """
    # 1. k: a whole number of results, at least one.
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"k must be an int (how many results); got {type(k).__name__}")
    if k < 1:
        raise ValueError(f"k must be at least 1; got {k}")
    # 2. The query: one embedding. These checks need no store, so they come first.
    if not isinstance(query, torch.Tensor):
        raise TypeError(f"query must be a torch.Tensor of shape [D] or [1, D]; got {type(query).__name__}")
    if not query.is_floating_point():
        raise TypeError(f"query must hold floats (torch.float32); got {query.dtype}")
    if query.ndim == 2 and query.shape[0] == 1:
        query = query[0]  # one row of a batch, as compute_embedding returns it
    if query.ndim != 1 or query.numel() == 0:
        raise ValueError(f"query must be one embedding, shape [D] or [1, D]; got shape {tuple(query.shape)}")
    if not torch.isfinite(query).all():
        raise ValueError("query holds NaN or infinity: it cannot be compared with anything")
    if not query.any():
        raise ValueError("query is a zero vector: it has no direction, so no cosine similarity")
    # 3. Read the store once. Nothing stored, nothing found.
    records = store.all()
    if not records:
        return []
    # 4. Every stored embedding as one row of a matrix [N, D].
    matrix = torch.stack([record.embedding for record in records])
    if matrix.shape[1] != query.shape[0]:
        raise ValueError(
            f"query must have the stored embeddings' width {matrix.shape[1]}; got width {query.shape[0]}"
        )
    # 5. Unit rows and a unit query: their dot products are the cosines, all N in one
    #    product [N, D] @ [D] -> [N]. normalize leaves a zero row at zero (score 0).
    query = query.detach().to(device=matrix.device, dtype=matrix.dtype)
    scores = F.normalize(matrix, dim=1) @ F.normalize(query, dim=0)
    # 6. Best first. stable=True keeps equal scores in store order (torch.topk promises no order).
    values, order = torch.sort(scores, descending=True, stable=True)
    count = min(k, len(records))
    return [(records[i], score) for i, score in zip(order[:count].tolist(), values[:count].tolist())]
