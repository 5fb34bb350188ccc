"""Exercise 05: who is this? The k stored embeddings nearest to a query.

Read README.md in this folder first, then replace the `raise NotImplementedError(...)`
with your code. Check your work with `pytest tests/test_ex05_retrieval.py` from the kit's
root. top_k works with any store: the tests give it a small one of their own, so this
exercise does not need your Exercise 04 to be finished.
"""

from __future__ import annotations

import numbers  # noqa: F401  (you will need these)

import torch
import torch.nn.functional as F  # noqa: F401

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
    # TODO 1. k: a bool or not an int (isinstance(k, numbers.Integral)) -> TypeError;
    #         k < 1 -> ValueError.
    # TODO 2. query: not a torch.Tensor, or not floating point -> TypeError. Shape [1, D]
    #         -> take query[0]; anything but [D] with D >= 1 after that -> ValueError with
    #         tuple(query.shape). NaN or infinity (torch.isfinite) -> ValueError; all zeros
    #         (not query.any()) -> ValueError.
    # TODO 3. records = store.all(), once. No records -> return [].
    # TODO 4. matrix = torch.stack([r.embedding for r in records]): [N, D]. Its width
    #         matrix.shape[1] differs from the query's -> ValueError naming both widths.
    # TODO 5. scores = F.normalize(matrix, dim=1) @ F.normalize(query, dim=0): [N] cosines
    #         in one product, no Python loop. (query.detach().to(matrix.dtype) first.)
    # TODO 6. values, order = torch.sort(scores, descending=True, stable=True): equal
    #         scores stay in store order. Keep the first min(k, N) and return
    #         [(records[i], score), ...] with i and score as Python values (.tolist()).
    raise NotImplementedError(
        "Exercise 05: top_k() is not implemented yet. Open "
        "exercises/ex05_retrieval/retrieval.py and follow its TODO steps "
        "(instructions: exercises/ex05_retrieval/README.md)."
    )
