"""Exercise 03: l2_normalize(), cosine_similarity() and is_match(), tested against the selected tree.

The reference results come from torch itself (torch.linalg.vector_norm,
torch.nn.functional.cosine_similarity) on seeded random data, so no number here is
hard-coded. The embeddings tests use ConvNeXt-Atto embeddings the kit computed with timm (a
file of its data), not Exercise 02's build_model(), so these tests do not depend on Exercise 02
being done, and need torch only.
"""

from __future__ import annotations

import math
import re

import pytest
import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from facekit.testing import close, raises

EXERCISE = "ex03_similarity"
WIDTH = 320  # ConvNeXt-Atto's embedding width
# float32 tolerance: one dot product of 320 products rounds at about 1e-6.
TOL: dict[str, float] = dict(atol=1e-5, rtol=1e-5)


@pytest.fixture(scope="module")
def ex(load_exercise):
    return load_exercise(EXERCISE)


def randn(*shape, seed=0, dtype=torch.float32):
    """Seeded Gaussian data: each test gets the same numbers on every run."""
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def pairwise_reference(a, b):
    """torch's own cosine of every pair, with the output shape cosine_similarity promises."""
    a2, b2 = torch.atleast_2d(a), torch.atleast_2d(b)
    expected = F.cosine_similarity(a2[:, None, :], b2[None, :, :], dim=-1)  # [N, M]
    if b.ndim == 1:
        expected = expected[:, 0]
    if a.ndim == 1:
        expected = expected[0]
    return expected


def numbers_in(message: str) -> set[str]:
    return set(re.findall(r"\d+", message))


# -- l2_normalize ---------------------------------------------------------------------------


@pytest.mark.function("l2_normalize")
@pytest.mark.parametrize(
    "shape", [(1, 3), (5, WIDTH), (17, 64), (WIDTH,), (1,)], ids=lambda shape: "x".join(map(str, shape))
)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_l2_normalize_equals_torch_and_gives_unit_rows(ex, shape, dtype):
    x = randn(*shape, seed=1, dtype=dtype) * 3.0
    call = f"l2_normalize(x {list(shape)} {dtype})"
    unit = ex.l2_normalize(x)
    assert isinstance(unit, torch.Tensor), f"{call} returned {type(unit).__name__}, not a tensor"
    assert unit.shape == x.shape and unit.dtype == dtype, (
        f"{call} gave {list(unit.shape)} {unit.dtype}: same shape and dtype as the input"
    )
    expected = x / torch.linalg.vector_norm(x, dim=-1, keepdim=True)
    by_column = x / torch.linalg.vector_norm(x, dim=0, keepdim=True)
    why = ""
    if x.ndim == 2 and x.shape[0] > 1 and torch.allclose(unit, by_column, atol=TOL["atol"], rtol=TOL["rtol"]):
        why = " (each column was divided by its norm: take the norm over the last dimension, dim=-1)"
    close(unit, expected, f"{call}: each row divided by its own norm{why}", **TOL)


@pytest.mark.function("l2_normalize")
def test_l2_normalize_leaves_its_input_alone(ex):
    x = randn(4, WIDTH, seed=2) * 5.0
    before = x.clone()
    unit = ex.l2_normalize(x)
    assert torch.equal(x, before), "l2_normalize(x) changed x: return a new tensor; do not divide x in place"
    assert unit.data_ptr() != x.data_ptr(), "l2_normalize(x) returned x itself: return a new tensor"


@pytest.mark.function("l2_normalize")
@pytest.mark.parametrize("scale", [1e-3, 0.5, 7.5, 1e3])
def test_l2_normalize_ignores_length(ex, scale):
    x = randn(6, 64, seed=3)
    close(
        ex.l2_normalize(x * scale), ex.l2_normalize(x), f"l2_normalize(x * {scale}) vs l2_normalize(x)", **TOL
    )
    close(
        ex.l2_normalize(x * -scale),
        -ex.l2_normalize(x),
        f"l2_normalize(x * -{scale}) vs -l2_normalize(x)",
        **TOL,
    )


@pytest.mark.function("l2_normalize")
def test_zero_rows_are_a_value_error_naming_the_rows(ex):
    x = randn(12, 16, seed=4)
    x[4] = 0.0
    x[9] = 0.0
    with raises(ValueError, "l2_normalize(x [12, 16] with rows 4 and 9 all zeros)") as info:
        ex.l2_normalize(x)
    found = numbers_in(str(info.value))
    assert {"4", "9"} <= found, f"l2_normalize: name the zero rows (4 and 9), counting from 0: {info.value}"


@pytest.mark.function("l2_normalize")
def test_six_zero_rows_are_all_named(ex):
    rows = [2, 3, 5, 7, 8, 11]
    x = randn(12, 16, seed=6)
    x[rows] = 0.0
    with raises(ValueError, f"l2_normalize(x [12, 16] with rows {rows} all zeros)") as info:
        ex.l2_normalize(x)
    missing = [r for r in rows if str(r) not in numbers_in(str(info.value))]
    assert not missing, (
        f"l2_normalize(x [12, 16] with rows {rows} all zeros): the message must name every zero row; "
        f"it lacks {missing} (the row indices of the norms [12, 1]: reshape(-1) first, or "
        f"nonzero() lists a column 0 with each): {info.value}"
    )


@pytest.mark.function("l2_normalize")
def test_one_zero_row_is_named(ex):
    x = randn(3, 8, seed=5)
    x[2] = 0.0
    with raises(ValueError, "l2_normalize(x [3, 8] with row 2 all zeros)") as info:
        ex.l2_normalize(x)
    assert "2" in numbers_in(str(info.value)), f"l2_normalize: name the zero row (2): {info.value}"


@pytest.mark.function("l2_normalize")
def test_zero_vector_is_a_value_error_not_nan(ex):
    with raises(ValueError, "l2_normalize(torch.zeros(320)), a zero vector (dividing by its norm gives NaN)"):
        ex.l2_normalize(torch.zeros(WIDTH))


@pytest.mark.function("l2_normalize")
def test_norm_below_eps_is_an_error_and_just_above_is_fine(ex):
    direction = torch.tensor([0.6, 0.8], dtype=torch.float64)  # norm exactly 1
    with raises(ValueError, "l2_normalize(a vector of norm EPS / 5), below EPS"):
        ex.l2_normalize(direction * (ex.EPS / 5))
    unit = ex.l2_normalize(direction * (ex.EPS * 5))
    close(unit, direction, "l2_normalize(a vector of norm EPS * 5), above EPS: its direction")
    at_eps = torch.tensor([ex.EPS, 0.0], dtype=torch.float64)  # norm exactly EPS: not below it
    try:
        unit = ex.l2_normalize(at_eps)
    except ValueError as error:
        pytest.fail(
            f"l2_normalize(a vector of norm exactly EPS) raised ValueError ({error}): only a norm "
            f"below EPS is a zero vector (norm < EPS, not <=)",
            pytrace=False,
        )
    close(unit, torch.tensor([1.0, 0.0], dtype=torch.float64), "l2_normalize(a vector of norm exactly EPS)")


@pytest.mark.function("l2_normalize")
def test_l2_normalize_rejects_a_non_tensor(ex):
    with raises(TypeError, "l2_normalize(a list)") as info:
        ex.l2_normalize(randn(2, 8, seed=6).tolist())
    assert "Tensor" in str(info.value) and "list" in str(info.value), (
        f"l2_normalize(a list): say that a Tensor was expected and a list given: {info.value}"
    )


@pytest.mark.function("l2_normalize")
@pytest.mark.parametrize("dtype", [torch.int64, torch.uint8, torch.bool], ids=str)
def test_l2_normalize_rejects_a_non_float_dtype(ex, dtype):
    with raises(TypeError, f"l2_normalize(a {dtype} tensor)") as info:
        ex.l2_normalize(torch.ones(2, 8).to(dtype))
    assert str(dtype) in str(info.value), f"l2_normalize: say which dtype was given ({dtype}): {info.value}"


@pytest.mark.function("l2_normalize")
@pytest.mark.parametrize("shape", [(), (2, 3, 4)], ids=["scalar", "2x3x4"])
def test_l2_normalize_rejects_a_wrong_rank(ex, shape):
    with raises(ValueError, f"l2_normalize(a tensor of shape {list(shape)})") as info:
        ex.l2_normalize(torch.ones(shape))
    if shape:
        assert "2, 3, 4" in str(info.value), f"l2_normalize: say which shape was given: {info.value}"


# -- cosine_similarity ----------------------------------------------------------------------


@pytest.mark.function("cosine_similarity")
@pytest.mark.parametrize(
    "n, m, d", [(1, 1, 8), (3, 5, WIDTH), (7, 2, 64), (50, 40, WIDTH), (4, 3, 1)], ids=lambda v: str(v)
)
def test_matrix_equals_torch_on_every_pair(ex, n, m, d):
    a, b = randn(n, d, seed=10), randn(m, d, seed=11)
    call = f"cosine_similarity(a [{n}, {d}], b [{m}, {d}])"
    scores = ex.cosine_similarity(a, b)
    assert isinstance(scores, torch.Tensor), f"{call} returned {type(scores).__name__}, not a tensor"
    assert tuple(scores.shape) == (n, m), (
        f"{call} has shape {list(scores.shape)}, expected [{n}, {m}]: one row per row of a, one column per row of b"
    )
    why = ""
    unnormalised_b = torch.nn.functional.normalize(a, dim=-1) @ b.mT
    if scores.shape == unnormalised_b.shape and torch.allclose(
        scores, unnormalised_b, atol=TOL["atol"], rtol=TOL["rtol"]
    ):
        why = " (b was not normalised: divide the rows of both a and b by their norms)"
    close(scores, pairwise_reference(a, b), f"{call} vs torch's cosine of each pair{why}", **TOL)


@pytest.mark.function("cosine_similarity")
@pytest.mark.parametrize(
    "a_shape, b_shape, expected",
    [
        ((WIDTH,), (6, WIDTH), (6,)),
        ((6, WIDTH), (WIDTH,), (6,)),
        ((WIDTH,), (WIDTH,), ()),
        ((1, WIDTH), (WIDTH,), (1,)),
        ((WIDTH,), (1, WIDTH), (1,)),
    ],
    ids=["vec-mat", "mat-vec", "vec-vec", "1row-vec", "vec-1row"],
)
def test_mixed_ranks_drop_the_vector_dimension(ex, a_shape, b_shape, expected):
    a, b = randn(*a_shape, seed=12), randn(*b_shape, seed=13)
    call = f"cosine_similarity(a {list(a_shape)}, b {list(b_shape)})"
    scores = ex.cosine_similarity(a, b)
    assert isinstance(scores, torch.Tensor), f"{call}: return a tensor (0-d for two vectors), not a float"
    assert tuple(scores.shape) == expected, (
        f"{call} has shape {list(scores.shape)}, expected {list(expected)}"
    )
    close(scores, pairwise_reference(a, b), f"{call} vs torch's cosine of each pair", **TOL)


@pytest.mark.function("cosine_similarity")
def test_vector_results_are_rows_columns_and_entries_of_the_matrix(ex):
    a, b = randn(4, 32, seed=14), randn(5, 32, seed=15)
    matrix = ex.cosine_similarity(a, b)
    close(
        ex.cosine_similarity(a[2], b), matrix[2], "cosine_similarity(a[2], b) vs row 2 of the matrix", **TOL
    )
    close(ex.cosine_similarity(a, b[3]), matrix[:, 3], "cosine_similarity(a, b[3]) vs column 3", **TOL)
    close(
        ex.cosine_similarity(a[1], b[4]), matrix[1, 4], "cosine_similarity(a[1], b[4]) vs entry [1, 4]", **TOL
    )


@pytest.mark.function("cosine_similarity")
def test_empty_sides_give_empty_matrices(ex):
    a, b = randn(3, 16, seed=16), randn(0, 16, seed=17)
    for x, y, shape in ((a, b, (3, 0)), (b, a, (0, 3))):
        got = tuple(ex.cosine_similarity(x, y).shape)
        assert got == shape, (
            f"cosine_similarity(a {list(x.shape)}, b {list(y.shape)}) has shape "
            f"{list(got)}, expected {list(shape)}"
        )


@pytest.mark.function("cosine_similarity")
def test_swapping_the_inputs_transposes_the_matrix(ex):
    a, b = randn(6, WIDTH, seed=18), randn(9, WIDTH, seed=19)
    close(
        ex.cosine_similarity(b, a),
        ex.cosine_similarity(a, b).T,
        "cosine_similarity(b, a) vs cosine_similarity(a, b) transposed",
        **TOL,
    )


@pytest.mark.function("cosine_similarity")
def test_identical_is_one_and_every_value_is_within_minus_one_one(ex):
    x = randn(64, WIDTH, seed=3)
    scores = ex.cosine_similarity(x, x)
    # Exactly, not approximately: unclamped rounding gives 1.0000007 here.
    assert scores.max() <= 1.0 and scores.min() >= -1.0, (
        f"cosine_similarity(x, x) for x [64, 320]: values from {scores.min().item()!r} to "
        f"{scores.max().item()!r}; clamp to [-1, 1]"
    )
    close(
        scores.diagonal(),
        torch.ones(64),
        "cosine_similarity(x, x): the diagonal (each row with itself)",
        **TOL,
    )


@pytest.mark.function("cosine_similarity")
def test_opposite_is_minus_one(ex):
    x = randn(64, WIDTH, seed=3)
    scores = ex.cosine_similarity(x, -x)
    assert scores.min() >= -1.0, f"cosine_similarity(x, -x): got {scores.min().item()!r}; clamp to [-1, 1]"
    close(scores.diagonal(), -torch.ones(64), "cosine_similarity(x, -x): the diagonal", **TOL)


@pytest.mark.function("cosine_similarity")
def test_orthogonal_is_zero(ex):
    # QR gives 8 orthonormal rows; random lengths must not matter.
    q = torch.linalg.qr(randn(WIDTH, 8, seed=20, dtype=torch.float64)).Q.T.to(torch.float32)
    rows = q * torch.linspace(0.1, 10.0, 8)[:, None]
    close(ex.cosine_similarity(rows, rows), torch.eye(8), "cosine_similarity of 8 orthogonal rows", **TOL)


@pytest.mark.function("cosine_similarity")
def test_scaling_inputs_changes_nothing_but_the_sign(ex):
    a, b = randn(5, 64, seed=21), randn(7, 64, seed=22)
    scores = ex.cosine_similarity(a, b)
    close(
        ex.cosine_similarity(a * 2.5, b * 0.01),
        scores,
        "cosine_similarity(a * 2.5, b * 0.01) vs (a, b)",
        **TOL,
    )
    close(ex.cosine_similarity(a * -3.0, b), -scores, "cosine_similarity(a * -3, b) vs -(a, b)", **TOL)


@pytest.mark.function("cosine_similarity")
def test_float64_is_kept_and_mixed_dtypes_are_promoted(ex):
    a, b = randn(4, 32, seed=23, dtype=torch.float64), randn(3, 32, seed=24, dtype=torch.float64)
    scores = ex.cosine_similarity(a, b)
    assert scores.dtype == torch.float64, (
        f"cosine_similarity(float64 a, float64 b) gave {scores.dtype}: keep float64"
    )
    close(
        scores,
        pairwise_reference(a, b),
        "cosine_similarity(float64 a, float64 b), to 1e-12",
        atol=1e-12,
        rtol=1e-12,
    )
    mixed = ex.cosine_similarity(a, b.float())
    assert mixed.dtype == torch.float64, (
        f"cosine_similarity(float64 a, float32 b) gave {mixed.dtype}: float64, as torch promotes"
    )
    # float32 precision: b's rows may be normalised before or after the promotion.
    close(mixed, pairwise_reference(a, b.float().double()), "cosine_similarity(float64 a, float32 b)", **TOL)


@pytest.mark.function("cosine_similarity")
@pytest.mark.parametrize("side", ["a", "b"])
def test_a_zero_vector_on_either_side_is_a_value_error(ex, side):
    a, b = randn(3, 16, seed=25), randn(4, 16, seed=26)
    (a if side == "a" else b)[1] = 0.0
    with raises(ValueError, f"cosine_similarity(a, b) with row 1 of {side} all zeros"):
        ex.cosine_similarity(a, b)


@pytest.mark.function("cosine_similarity")
@pytest.mark.parametrize(
    "a_shape, b_shape",
    [((4, WIDTH), (5, 128)), ((WIDTH,), (6, 64)), ((3, 96), (WIDTH,))],
    ids=["mat-mat", "vec-mat", "mat-vec"],
)
def test_width_mismatch_names_both_widths(ex, a_shape, b_shape):
    a, b = randn(*a_shape, seed=27), randn(*b_shape, seed=28)
    call = f"cosine_similarity(a {list(a_shape)}, b {list(b_shape)})"
    with raises(ValueError, call) as info:
        ex.cosine_similarity(a, b)
    found = numbers_in(str(info.value))
    assert {str(a_shape[-1]), str(b_shape[-1])} <= found, f"{call}: say both widths: {info.value}"


@pytest.mark.function("cosine_similarity")
def test_cosine_similarity_rejects_bad_input(ex):
    good = randn(3, 16, seed=29)
    with raises(TypeError, "cosine_similarity(a list, b)") as info:
        ex.cosine_similarity(good.tolist(), good)
    assert "list" in str(info.value), f"cosine_similarity(a list, b): say what was given: {info.value}"
    with raises(TypeError, "cosine_similarity(a, a numpy array)"):
        ex.cosine_similarity(good, good.numpy())
    with raises(TypeError, "cosine_similarity(a, an int64 tensor)") as info:
        ex.cosine_similarity(good, torch.ones(3, 16, dtype=torch.int64))
    assert "int64" in str(info.value), f"cosine_similarity: say which dtype was given (int64): {info.value}"
    with raises(ValueError, "cosine_similarity(a [1, 3, 16], b [3, 16])"):
        ex.cosine_similarity(good[None], good)


class _CountTorchCalls(TorchFunctionMode):
    """Counts every torch function and tensor method called while it is active."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.calls += 1
        return func(*args, **(kwargs or {}))


def _torch_calls(function, *args) -> int:
    with _CountTorchCalls() as counter:
        function(*args)
    return counter.calls


@pytest.mark.function("cosine_similarity")
def test_no_python_loop_over_rows(ex):
    # A loop over rows or pairs calls torch once per row or pair: more rows, more calls.
    small = _torch_calls(ex.cosine_similarity, randn(2, 16, seed=30), randn(3, 16, seed=31))
    large = _torch_calls(ex.cosine_similarity, randn(40, 16, seed=32), randn(60, 16, seed=33))
    assert small == large, (
        f"cosine_similarity made {small} torch calls for 2x3 pairs and {large} "
        f"for 40x60: use whole-tensor operations (one matrix product), "
        f"not a Python loop"
    )
    small = _torch_calls(ex.l2_normalize, randn(2, 16, seed=34))
    large = _torch_calls(ex.l2_normalize, randn(80, 16, seed=35))
    assert small == large, (
        f"l2_normalize made {small} torch calls for 2 rows and {large} for 80: "
        f"compute every norm at once with vector_norm(..., dim=-1)"
    )


# -- on real embeddings ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def embeddings():
    """[5, 320] ConvNeXt-Atto embeddings from the harness's timm model with the stand-in weights
    (not Exercise 02's code), read from the kit's data (facekit.data.model_embeddings): the
    face, its mirror image, a darker copy and two noise images. They mean nothing about faces;
    they are simply the kind of numbers the course produces, without importing timm here."""
    from facekit import data

    return data.model_embeddings()


@pytest.mark.function("cosine_similarity")
def test_on_model_embeddings(ex, embeddings):
    assert tuple(embeddings.shape) == (5, WIDTH), (
        f"precondition: the model's embeddings of 5 images have shape {tuple(embeddings.shape)}, not (5, {WIDTH})"
    )
    scores = ex.cosine_similarity(embeddings, embeddings)
    assert tuple(scores.shape) == (5, 5), (
        f"cosine_similarity(5 embeddings, the same 5): shape {list(scores.shape)}"
    )
    close(
        scores, pairwise_reference(embeddings, embeddings), "cosine_similarity of 5 model embeddings", **TOL
    )
    close(
        ex.cosine_similarity(embeddings[0], embeddings),
        scores[0],
        "cosine_similarity(one embedding, all 5) vs row 0 of the matrix",
        **TOL,
    )


@pytest.mark.function("l2_normalize")
def test_l2_normalize_on_model_embeddings(ex, embeddings):
    unit = ex.l2_normalize(embeddings)
    close(
        torch.linalg.vector_norm(unit, dim=-1),
        torch.ones(5),
        "l2_normalize(5 model embeddings): the norms",
        **TOL,
    )


# -- is_match -------------------------------------------------------------------------------


@pytest.mark.function("is_match")
@pytest.mark.parametrize("threshold", [-1.0, -0.25, 0.0, 0.5, 0.8, 1.0])
def test_is_match_at_and_around_the_threshold(ex, threshold):
    at = ex.is_match(threshold, threshold)
    assert at is True, (
        f"is_match({threshold}, {threshold}) gave {at!r}: a score equal to the threshold "
        f"is a match (and return a bool)"
    )
    just_below = math.nextafter(threshold, -math.inf)
    got = ex.is_match(just_below, threshold)
    assert got is False, (
        f"is_match({just_below!r}, {threshold}) gave {got!r}: just below the threshold is no match"
    )
    if threshold < 1.0:
        above = math.nextafter(threshold, math.inf)
        got = ex.is_match(above, threshold)
        assert got is True, f"is_match({above!r}, {threshold}) gave {got!r}: just above is a match"


@pytest.mark.function("is_match")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_is_match_takes_a_0d_tensor(ex, dtype):
    for score, threshold, want in (
        (torch.tensor(0.5, dtype=dtype), 0.5, True),
        (torch.tensor(0.25, dtype=dtype), 0.5, False),
        (torch.tensor(0.75, dtype=dtype), torch.tensor(0.5, dtype=dtype), True),
    ):
        got = ex.is_match(score, threshold)
        assert got is want, (
            f"is_match({score!r}, {threshold!r}) gave {got!r}, expected the Python bool {want}"
        )


@pytest.mark.function("is_match")
def test_is_match_takes_a_score_as_cosine_similarity_gives_it(ex):
    # A 0-d float32 tensor, as cosine_similarity(a [D], b [D]) returns; made by torch here, so
    # that a bug in the student's cosine_similarity fails its own tests, not is_match's.
    def cosine(x, y):
        return F.cosine_similarity(x, y, dim=0)

    a, b = randn(WIDTH, seed=41), randn(WIDTH, seed=42)
    score = cosine(a, b)
    got = ex.is_match(score, score.item())
    assert got is True, f"is_match(cosine_similarity(a, b), its own value) gave {got!r}"
    got = ex.is_match(cosine(a, a * 2.0), 0.99)
    assert got is True, f"is_match(cosine_similarity(a, 2a), 0.99) gave {got!r}"
    got = ex.is_match(cosine(a, -a), -0.99)
    assert got is False, f"is_match(cosine_similarity(a, -a), -0.99) gave {got!r}"


@pytest.mark.function("is_match")
def test_named_thresholds_work_and_are_ordered(ex):
    for name, threshold in ex.THRESHOLDS.items():
        assert ex.is_match(threshold, threshold) is True, (
            f"is_match(THRESHOLDS[{name!r}], itself) is not True"
        )
        assert ex.is_match(threshold - 1e-6, threshold) is False, (
            f"is_match(THRESHOLDS[{name!r}] - 1e-6, THRESHOLDS[{name!r}]) is not False"
        )
    assert set(ex.THRESHOLDS) == {"strict", "balanced", "lenient"}, (
        f"THRESHOLDS has keys {set(ex.THRESHOLDS)}"
    )
    assert -1.0 <= ex.THRESHOLDS["lenient"] < ex.THRESHOLDS["balanced"] < ex.THRESHOLDS["strict"] <= 1.0, (
        f"THRESHOLDS must be ordered lenient < balanced < strict within [-1, 1]: {ex.THRESHOLDS}"
    )


@pytest.mark.function("is_match")
@pytest.mark.parametrize("threshold", [1.0001, -1.5, 2, 90.0], ids=str)
def test_threshold_outside_minus_one_one_is_a_value_error(ex, threshold):
    with raises(ValueError, f"is_match(0.5, threshold={threshold})") as info:
        ex.is_match(0.5, threshold)
    assert str(threshold) in str(info.value), (
        f"is_match: say which threshold was given ({threshold}): {info.value}"
    )


@pytest.mark.function("is_match")
def test_nan_threshold_or_score_is_a_value_error(ex):
    with raises(ValueError, "is_match(0.5, threshold=nan)"):
        ex.is_match(0.5, math.nan)
    with raises(ValueError, "is_match(score=nan, 0.5)"):
        ex.is_match(math.nan, 0.5)
    with raises(ValueError, "is_match(score=torch.tensor(nan), 0.5)"):
        ex.is_match(torch.tensor(math.nan), 0.5)


@pytest.mark.function("is_match")
@pytest.mark.parametrize("shape", [(2,), (1,), (2, 2)], ids=lambda s: "x".join(map(str, s)))
def test_score_tensor_that_is_not_0d_is_a_value_error(ex, shape):
    with raises(ValueError, f"is_match(a score tensor of shape {list(shape)}, 0.5)") as info:
        ex.is_match(torch.full(shape, 0.9), 0.5)
    assert re.search(r"\b" + r",\s*".join(map(str, shape)), str(info.value)), (
        f"is_match: say which shape was given ({list(shape)}): {info.value}"
    )


@pytest.mark.function("is_match")
@pytest.mark.parametrize("score", ["0.9", [0.9], None], ids=["str", "list", "None"])
def test_score_that_is_not_a_number_is_a_type_error(ex, score):
    with raises(TypeError, f"is_match({score!r}, 0.5)") as info:
        ex.is_match(score, 0.5)
    assert type(score).__name__ in str(info.value), (
        f"is_match: say what was given ({type(score).__name__}): {info.value}"
    )


@pytest.mark.function("is_match")
@pytest.mark.parametrize("score", [True, torch.tensor(True)], ids=["bool", "bool-tensor"])
def test_is_match_refuses_a_bool_score(ex, score):
    # bool is an int subclass in Python: True would pass as the score 1.0.
    with raises(TypeError, f"is_match({score!r}, 0.5), a bool score") as info:
        ex.is_match(score, 0.5)
    assert "bool" in str(info.value), f"is_match: say that a bool was given: {info.value}"
