"""Exercise 03: compare face embeddings with cosine similarity.

Read README.md in this folder first, then replace each `raise NotImplementedError(...)`
with your code. Check your work with `pytest tests/test_ex03_similarity.py` from the kit's root.
"""

from __future__ import annotations

import math  # noqa: F401  (math.isnan helps in is_match)
import numbers  # noqa: F401  (isinstance(value, numbers.Real) accepts int, float, numpy floats)

import torch

# Below this L2 norm a row counts as a zero vector: it has no direction to compare.
EPS = 1e-12
# Illustrative cosine thresholds, NOT calibrated for any model: calibrate on labelled pairs.
THRESHOLDS = {"strict": 0.7, "balanced": 0.5, "lenient": 0.3}


def l2_normalize(x: torch.Tensor) -> torch.Tensor:
    """Scale each row of ``x`` (``[N, D]``, or one vector ``[D]``) to length 1.

    Returns a new tensor of the same shape and dtype, row ``i`` being ``x[i] / ||x[i]||``
    (the Euclidean, L2 norm); ``x`` itself is not modified. A row whose norm is below
    ``EPS`` (a zero vector: it has no direction) raises ValueError naming the row(s),
    instead of returning NaN. Raises TypeError for a non-tensor or a non-float dtype and
    ValueError for any rank but 1 or 2.
    """
    # TODO 1. Not a torch.Tensor -> raise TypeError; not floating point (x.is_floating_point()
    #         is False) -> raise TypeError. Say what you expected and what you got
    #         (type(x).__name__, x.dtype).
    # TODO 2. x.ndim must be 1 ([D]) or 2 ([N, D]); anything else -> raise ValueError
    #         with tuple(x.shape).
    # TODO 3. The norm of every row at once: torch.linalg.vector_norm(x, dim=-1, keepdim=True)
    #         gives [N, 1] (or [1] for a vector). keepdim=True lets it broadcast in step 5.
    # TODO 4. Rows whose norm is < EPS are zero vectors: raise ValueError naming them.
    #         `(norms.reshape(-1) < EPS).nonzero().flatten().tolist()` lists their indices
    #         ([0] for a zero vector [D]; a non-empty list means raise).
    #         No Python loop over the rows.
    # TODO 5. Return x / norms: a new tensor; never divide x in place.
    raise NotImplementedError(
        "Exercise 03: l2_normalize() is not implemented yet. Open "
        "exercises/ex03_similarity/similarity.py and follow its TODO steps "
        "(instructions: exercises/ex03_similarity/README.md)."
    )


def cosine_similarity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of every row of ``a`` with every row of ``b``, as one matrix product.

    ``a`` is ``[N, D]`` or one vector ``[D]``; ``b`` is ``[M, D]`` or ``[D]``. The rows are
    L2-normalised, then multiplied like ``torch.matmul(a_hat, b_hat transposed)``: a
    vector contributes no dimension to the result.

        a [N, D], b [M, D]  ->  [N, M]   result[i, j] = cos(a[i], b[j])
        a [D],    b [M, D]  ->  [M]      result[j] = cos(a, b[j])
        a [N, D], b [D]     ->  [N]      result[i] = cos(a[i], b)
        a [D],    b [D]     ->  []       a 0-d tensor (``.item()`` gives the float)

    Every value equals ``torch.nn.functional.cosine_similarity`` of that pair, clamped to
    [-1, 1] (rounding can otherwise give slightly more than 1). Different float dtypes are promoted
    as torch does (float32 with float64 gives float64). Raises ValueError when the widths
    D differ (naming both), for a zero vector or a wrong rank, and TypeError for a
    non-tensor or a non-float dtype.
    """
    # TODO 1. Normalise both: a_hat = l2_normalize(a), b_hat = l2_normalize(b). That also
    #         checks their types, ranks and zero vectors.
    # TODO 2. The widths (a.shape[-1], b.shape[-1]) must be equal: else raise ValueError
    #         that says both widths.
    # TODO 3. One dtype for both: dtype = torch.promote_types(a_hat.dtype, b_hat.dtype),
    #         then .to(dtype) on each (matmul refuses to mix float32 and float64).
    # TODO 4. One matrix product, no loop: a_hat @ b_hat.mT when b is [M, D] ([N, D] @ [D, M]
    #         -> [N, M]); a_hat @ b_hat when b is a vector [D] (matmul then gives [N], or a
    #         0-d tensor when a is a vector too).
    # TODO 5. Return the result clamped to [-1, 1] with .clamp(-1.0, 1.0).
    raise NotImplementedError(
        "Exercise 03: cosine_similarity() is not implemented yet. Open "
        "exercises/ex03_similarity/similarity.py and follow its TODO steps "
        "(instructions: exercises/ex03_similarity/README.md)."
    )


def is_match(score: float | torch.Tensor, threshold: float) -> bool:
    """True when ``score >= threshold``: the two faces are accepted as one person.

    ``score`` is a cosine similarity: a Python number or a 0-d tensor (such as
    ``cosine_similarity`` of two vectors). ``threshold`` is a number in [-1, 1], for
    example ``THRESHOLDS["balanced"]``. Both are compared as Python floats and the result
    is a Python bool. Raises TypeError for anything but a real number or a 0-d tensor,
    and ValueError for a tensor that is not 0-d, a NaN score, or a threshold outside
    [-1, 1] (NaN included).
    """
    # TODO 1. Turn score and threshold into Python floats: a torch.Tensor must be 0-d
    #         (value.ndim == 0, else ValueError with its shape) and real (a bool or complex
    #         tensor, value.dtype == torch.bool or value.is_complex() -> TypeError)
    #         -> float(value.item());
    #         an int or float (isinstance(value, numbers.Real), but not a bool) -> float(value);
    #         anything else -> raise TypeError naming the type.
    # TODO 2. threshold outside [-1, 1] -> raise ValueError with its value. Write the test as
    #         `not -1.0 <= threshold <= 1.0`, so that NaN (never <= anything) fails it too.
    # TODO 3. A NaN score (math.isnan) -> raise ValueError: something upstream is broken.
    # TODO 4. Return score >= threshold (a Python bool: equal to the threshold is a match).
    raise NotImplementedError(
        "Exercise 03: is_match() is not implemented yet. Open "
        "exercises/ex03_similarity/similarity.py and follow its TODO steps "
        "(instructions: exercises/ex03_similarity/README.md)."
    )
