"""Exercise 03, reference solution: comparing face embeddings with cosine similarity."""

from __future__ import annotations

import math
import numbers

import torch

# Below this L2 norm a row counts as a zero vector: it has no direction to compare.
EPS = 1e-12
# Illustrative cosine thresholds, NOT calibrated for any model: calibrate on labelled pairs.
THRESHOLDS = {"strict": 0.7, "balanced": 0.5, "lenient": 0.3}
_SHOWN_ROWS = 10  # zero rows named in an error message; the rest are counted


def l2_normalize(x: torch.Tensor) -> torch.Tensor:
    """Scale each row of ``x`` (``[N, D]``, or one vector ``[D]``) to length 1.

    Returns a new tensor of the same shape and dtype, row ``i`` being ``x[i] / ||x[i]||``
    (the Euclidean, L2 norm); ``x`` itself is not modified. A row whose norm is below
    ``EPS`` (a zero vector: it has no direction) raises ValueError naming the row(s),
    instead of returning NaN. Raises TypeError for a non-tensor or a non-float dtype and
    ValueError for any rank but 1 or 2.
    """
    return _normalize(x, "x")


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
    # 1. Normalise both sides: this also checks types, ranks and zero vectors.
    a_hat = _normalize(a, "a")
    b_hat = _normalize(b, "b")
    # 2. Cosines only exist between vectors of one width.
    if a_hat.shape[-1] != b_hat.shape[-1]:
        raise ValueError(
            f"a and b must have the same width D (the last dimension): a has "
            f"width {a_hat.shape[-1]} {tuple(a.shape)}, b has width "
            f"{b_hat.shape[-1]} {tuple(b.shape)}"
        )
    # 3. One dtype for the product (matmul refuses to mix float32 and float64).
    dtype = torch.promote_types(a_hat.dtype, b_hat.dtype)
    a_hat, b_hat = a_hat.to(dtype), b_hat.to(dtype)
    # 4. One matrix product gives every pair at once: [N, D] @ [D, M] -> [N, M].
    #    A vector b stays [D], so matmul returns [N] (or a 0-d tensor if a is a vector too).
    scores = a_hat @ (b_hat.mT if b_hat.ndim == 2 else b_hat)
    # 5. Unit vectors give cosines in [-1, 1]; clamp away the rounding error.
    return scores.clamp(-1.0, 1.0)


def is_match(score: float | torch.Tensor, threshold: float) -> bool:
    """True when ``score >= threshold``: the two faces are accepted as one person.

    ``score`` is a cosine similarity: a Python number or a 0-d tensor (such as
    ``cosine_similarity`` of two vectors). ``threshold`` is a number in [-1, 1], for
    example ``THRESHOLDS["balanced"]``. Both are compared as Python floats and the result
    is a Python bool. Raises TypeError for anything but a real number or a 0-d tensor,
    and ValueError for a tensor that is not 0-d, a NaN score, or a threshold outside
    [-1, 1] (NaN included).
    """
    score = _as_float(score, "score")
    threshold = _as_float(threshold, "threshold")
    # Written so that NaN fails too: every comparison with NaN is False.
    if not -1.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be a cosine similarity in [-1, 1]; got {threshold}")
    if math.isnan(score):
        raise ValueError(
            "score is NaN: the similarity that produced it is broken "
            "(a zero vector or a NaN in an embedding?)"
        )
    return score >= threshold


# -- helpers --------------------------------------------------------------------------------


def _normalize(x: torch.Tensor, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape [N, D] or [D]; got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must hold floats (e.g. torch.float32 embeddings); got {x.dtype}")
    if x.ndim not in (1, 2):
        raise ValueError(
            f"{name} must have shape [N, D] (rows of embeddings) or [D] (one "
            f"embedding); got {x.ndim} dimensions {tuple(x.shape)}"
        )
    # keepdim: norms [N, 1] (or [1]) divide every element of their own row by broadcasting.
    norms = torch.linalg.vector_norm(x, dim=-1, keepdim=True)
    too_small = norms.squeeze(-1) < EPS
    if too_small.any():
        if x.ndim == 1:
            raise ValueError(
                f"{name} is a zero vector (norm {norms.item():.3g} < EPS={EPS}): "
                f"it has no direction, so it cannot be scaled to length 1"
            )
        rows = too_small.nonzero().flatten().tolist()
        shown = ", ".join(str(i) for i in rows[:_SHOWN_ROWS])
        if len(rows) > _SHOWN_ROWS:
            shown += f", ... ({len(rows)} rows in all)"
        if len(rows) == 1:
            what = f"row {shown} of {name} {tuple(x.shape)} is a zero vector"
        else:
            what = f"rows {shown} of {name} {tuple(x.shape)} are zero vectors"
        raise ValueError(
            f"{what} (norm < EPS={EPS}): a zero vector has no direction, so it "
            f"cannot be scaled to length 1; drop it or find where it came from"
        )
    return x / norms


def _as_float(value, name: str) -> float:
    if isinstance(value, torch.Tensor):
        if value.ndim != 0:
            raise ValueError(
                f"{name} must be one number (a 0-d tensor); got a tensor of shape "
                f"{tuple(value.shape)}: compare many scores with `scores >= threshold`"
            )
        if value.is_complex() or value.dtype == torch.bool:
            raise TypeError(f"{name} must be a real number; got a {value.dtype} tensor")
        return float(value.item())
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    raise TypeError(f"{name} must be a number (float) or a 0-d tensor; got {type(value).__name__}")
