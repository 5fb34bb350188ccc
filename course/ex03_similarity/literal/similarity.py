"""Exercise 03 written only from the stub's TODO steps and the hints, word for word."""

from __future__ import annotations

import math
import numbers

import torch

EPS = 1e-12
THRESHOLDS = {"strict": 0.7, "balanced": 0.5, "lenient": 0.3}


def l2_normalize(x: torch.Tensor) -> torch.Tensor:
    # TODO 1
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor; got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"x must be floating point; got {x.dtype}")
    # TODO 2
    if x.ndim not in (1, 2):
        raise ValueError(f"x must be [N, D] or [D]; got shape {tuple(x.shape)}")
    # TODO 3
    norms = torch.linalg.vector_norm(x, dim=-1, keepdim=True)
    # TODO 4
    rows = (norms.reshape(-1) < EPS).nonzero().flatten().tolist()
    if rows:
        if x.ndim == 1:
            raise ValueError(f"x {tuple(x.shape)} is a zero vector")
        raise ValueError(f"rows {', '.join(map(str, rows))} of x {tuple(x.shape)} are zero vectors")
    # TODO 5
    return x / norms


def cosine_similarity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    # TODO 1
    a_hat = l2_normalize(a)
    b_hat = l2_normalize(b)
    # TODO 2
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(
            f"a has width {a.shape[-1]} {tuple(a.shape)}, b has width {b.shape[-1]} {tuple(b.shape)}"
        )
    # TODO 3
    dtype = torch.promote_types(a_hat.dtype, b_hat.dtype)
    a_hat, b_hat = a_hat.to(dtype), b_hat.to(dtype)
    # TODO 4
    scores = a_hat @ b_hat.mT if b.ndim == 2 else a_hat @ b_hat
    # TODO 5
    return scores.clamp(-1.0, 1.0)


def _as_float(value, name):
    if isinstance(value, torch.Tensor):
        if value.ndim != 0:
            raise ValueError(f"{name} must be a 0-d tensor; got shape {tuple(value.shape)}")
        if value.dtype == torch.bool or value.is_complex():
            raise TypeError(f"{name} must be a real number; got a {value.dtype} tensor")
        return float(value.item())
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    raise TypeError(f"{name} must be a number or a 0-d tensor; got {type(value).__name__}")


def is_match(score: float | torch.Tensor, threshold: float) -> bool:
    # TODO 1
    score = _as_float(score, "score")
    threshold = _as_float(threshold, "threshold")
    # TODO 2
    if not -1.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [-1, 1]; got {threshold}")
    # TODO 3
    if math.isnan(score):
        raise ValueError("score is NaN: something upstream is broken")
    # TODO 4
    return score >= threshold
