"""Exercise 05: top_k(), tested against the selected tree.

The stores here are facekit.testing.MemoryStore, a list in memory: only top_k is under test,
so these tests do not depend on Exercise 04's stores being finished. Record comes from the
same tree's Exercise 04 API (api.py, which is not student work).
"""

from __future__ import annotations

import collections

import pytest
import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from facekit.testing import MemoryStore, raises

EXERCISE = "ex05_retrieval"
WIDTH = 320  # ConvNeXt-Atto's embedding width
TOLERANCE = 1e-5  # float32 cosines computed in another order differ by ~1e-7


@pytest.fixture(scope="module")
def ex(load_exercise):
    return load_exercise(EXERCISE)


@pytest.fixture(scope="module")
def api(load_exercise):
    """The same tree's Exercise 04 package: Record and EmbeddingStore (shared, not stubs)."""
    return load_exercise("ex04_storage")


@pytest.fixture(scope="module")
def make_store(api):
    def make(rows, names=None):
        store = MemoryStore(api.Record)
        for i, row in enumerate(rows):
            store.add(names[i] if names else f"person-{i}", row)
        assert isinstance(store, api.EmbeddingStore), (
            "precondition: MemoryStore follows the EmbeddingStore protocol"
        )
        return store

    return make


def vectors(n: int, width: int = WIDTH, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, width, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def crowd(make_store):
    """200 seeded random embeddings of width 320, and a query that is none of them."""
    return make_store(vectors(200)), vectors(1, seed=1)[0]


def brute_force(query: torch.Tensor, records) -> list[float]:
    """One cosine similarity per record, with torch's own function: slow and obviously right."""
    return [F.cosine_similarity(r.embedding, query, dim=0).item() for r in records]


def _score_diagnosis(score: float, index: int, records, query) -> str:
    """What a wrong score equals, when it is a recognisable way of not computing the cosine."""
    if query is None:
        return ""
    matrix = torch.stack([r.embedding for r in records]).double()
    unit_query = F.normalize(query.double(), dim=0)
    if abs(score - (matrix[index] @ unit_query).item()) <= TOLERANCE:
        return ": the stored embeddings were not normalised (a dot product, not the cosine)"
    if abs(score - (F.normalize(matrix, dim=0)[index] @ unit_query).item()) <= TOLERANCE:
        return ": each column of the stored embeddings was normalised (dim=0), not each row (dim=1)"
    return ""


def check_ranking(result, records, expected: list[float], k: int, query=None) -> None:
    """``result`` is a correct top-k of ``records`` whose true scores are ``expected``."""
    call = f"top_k(query, a store of {len(records)}, k={k})"
    assert isinstance(result, list), f"{call}: return a list of (record, score); got {type(result).__name__}"
    want = min(k, len(records))
    off_by_one = {want - 1: " (one too few)", want + 1: " (one too many)"}.get(len(result), "")
    assert len(result) == want, (
        f"{call} returned {len(result)} results{off_by_one}, expected min(k, N) = {want}"
    )
    position = {r.id: i for i, r in enumerate(records)}
    seen = set()
    for rank, pair in enumerate(result):
        assert isinstance(pair, tuple) and len(pair) == 2, (
            f"{call}: item {rank} must be a (record, score) pair"
        )
        record, score = pair
        assert hasattr(record, "id") and hasattr(record, "embedding"), (
            f"{call}: item {rank} holds {type(record).__name__} {record!r} where the store's record is expected: "
            f"return (records[i], score), not the index i"
        )
        assert type(score) is float, (
            f"{call}: item {rank}'s score must be a Python float; got {type(score).__name__}"
        )
        assert record.id in position, f"{call}: item {rank} is not a record of the store"
        assert record == records[position[record.id]], f"{call}: item {rank}: return the store's record as is"
        assert record.id not in seen, f"{call}: item {rank}: {record.name} appears twice"
        seen.add(record.id)
        true = expected[position[record.id]]
        assert abs(score - true) <= TOLERANCE, (
            f"{call}: item {rank} ({record.name}) has score {score:.6f}, its cosine similarity is {true:.6f}"
            f"{_score_diagnosis(score, position[record.id], records, query)}"
        )
    scores = [score for _, score in result]
    assert all(a >= b - TOLERANCE for a, b in zip(scores, scores[1:])), f"{call}: not best first: {scores}"
    if result:
        worst_kept = min(scores)
        left_out = [expected[i] for r, i in position.items() if r not in seen]
        assert all(s <= worst_kept + TOLERANCE for s in left_out), (
            f"{call}: a record scoring {max(left_out):.6f} was left out for one scoring {worst_kept:.6f}"
        )


# -- results ------------------------------------------------------------------------------


@pytest.mark.function("top_k")
@pytest.mark.parametrize("k", [1, 5, 37, 200])
def test_top_k_matches_brute_force(ex, crowd, k):
    store, query = crowd
    records = store.all()
    before = [r.embedding.clone() for r in records]
    result = ex.top_k(query, store, k)
    check_ranking(result, records, brute_force(query, records), k, query)
    assert all(torch.equal(r.embedding, b) for r, b in zip(records, before)), (
        "top_k must not change the stored embeddings (no in-place normalising)"
    )


@pytest.mark.function("top_k")
def test_nearest_is_the_query_itself(ex, crowd):
    store, _ = crowd
    target = store.all()[123]
    (best, score), *_ = ex.top_k(target.embedding * 2.5, store, 3)  # scale does not matter
    assert best.id == target.id, (
        f"top_k(2.5 x record 123's embedding, k=3): first is {best.name}, not record 123"
    )
    assert score == pytest.approx(1.0, abs=TOLERANCE), (
        f"top_k(a stored embedding): its score is {score}, not 1.0"
    )


@pytest.mark.function("top_k")
def test_query_as_one_row_gives_the_same_result(ex, crowd):
    store, query = crowd
    as_row = ex.top_k(query[None], store, 5)  # [1, D], as compute_embedding returns one image
    as_vector = ex.top_k(query, store, 5)
    assert [r.id for r, _ in as_row] == [r.id for r, _ in as_vector], (
        "top_k(a [1, D] query) and top_k(the same [D] query) rank differently"
    )
    assert [s for _, s in as_row] == pytest.approx([s for _, s in as_vector], abs=TOLERANCE), (
        "top_k(a [1, D] query) and top_k(the same [D] query) score differently"
    )


@pytest.mark.function("top_k")
def test_float64_query_works(ex, crowd):
    store, query = crowd
    result = ex.top_k(query.double(), store, 5)
    records = store.all()
    check_ranking(result, records, brute_force(query, records), 5, query)


@pytest.mark.function("top_k")
@pytest.mark.parametrize("k", [7, 8, 1000])
def test_k_at_or_above_the_store_size_gives_every_record(ex, make_store, k):
    store = make_store(vectors(7, seed=3))
    records = store.all()
    query = vectors(1, seed=4)[0]
    result = ex.top_k(query, store, k)
    check_ranking(result, records, brute_force(query, records), k, query)


@pytest.mark.function("top_k")
def test_empty_store_gives_an_empty_list(ex, make_store):
    got = ex.top_k(vectors(1)[0], make_store([]), 3)
    assert got == [], f"top_k(query, an empty store, k=3) returned {got!r}, expected []"


@pytest.mark.function("top_k")
def test_ties_keep_the_store_order(ex, make_store):
    # Multiples of one axis: exactly the same direction, so exactly equal cosines (1.0)
    # whatever the order of the arithmetic. Tied records are spread through the store.
    e = torch.eye(8)
    rows = [e[1], 2 * e[0], e[2], 5 * e[0], -e[0], e[0], e[3], 0.5 * e[0], 3 * e[1], 7 * e[0]]
    names = [f"r{i}" for i in range(len(rows))]
    store = make_store(rows, names)
    result = ex.top_k(e[0], store, len(rows))
    assert all(hasattr(r, "name") for r, _ in result), (
        f"top_k(a store of 10, k=10) returned {result[:3]}...: each item is (the store's record, score), not an index"
    )
    names = [r.name for r, _ in result]
    assert names == [
        "r1",
        "r3",
        "r5",
        "r7",
        "r9",  # cos 1, in store order
        "r0",
        "r2",
        "r6",
        "r8",  # cos 0, in store order
        "r4",
    ], f"top_k with tied scores: ties must keep the store order; got {names}{_reversed_ties(names)}"
    assert [s for _, s in result] == pytest.approx([1.0] * 5 + [0.0] * 4 + [-1.0], abs=1e-6), (
        f"top_k with tied scores: scores {[s for _, s in result]}"
    )
    # k cuts through the tie: the oldest tied records win.
    names = [r.name for r, _ in ex.top_k(e[0], store, 3)]
    assert names == ["r1", "r3", "r5"], (
        f"top_k(k=3) through a 5-way tie: the oldest 3 in store order; got {names}{_reversed_ties(names)}"
    )


def _reversed_ties(names: list[str]) -> str:
    tied = [n for n in names if n in ("r1", "r3", "r5", "r7", "r9")]
    if len(tied) > 1 and tied == sorted(tied, reverse=True):
        return ": the tied records came out in reverse store order (a stable sort, reversed, is not stable)"
    return ""


@pytest.mark.function("top_k")
def test_many_ties_keep_the_store_order(ex, make_store):
    # 300 records in 3 directions, interleaved: a sort that is not stable shuffles them.
    e = torch.eye(4)
    rows = [e[i % 3] * (1 + i % 5) for i in range(300)]
    store = make_store(rows, [f"r{i}" for i in range(300)])
    result = ex.top_k(e[0] + 0.5 * e[1], store, 300)
    names = [r.name for r, _ in result]
    expected = (
        [f"r{i}" for i in range(0, 300, 3)]
        + [f"r{i}" for i in range(1, 300, 3)]
        + [f"r{i}" for i in range(2, 300, 3)]
    )
    assert names == expected, "top_k: equal scores must keep the store order: torch.sort(..., stable=True)"


@pytest.mark.function("top_k")
def test_stored_zero_vector_scores_zero(ex, make_store):
    rows = vectors(5, seed=6)
    rows[2] = 0.0
    store = make_store(rows)
    query = vectors(1, seed=7)[0]
    result = ex.top_k(query, store, 5)
    records = store.all()
    check_ranking(result, records, brute_force(query, records), 5, query)
    scores = {r.id: s for r, s in result}
    assert scores[records[2].id] == 0.0, (
        f"top_k: a stored zero vector has no direction: score 0, not {scores[records[2].id]}"
    )


# -- one pass, one product ----------------------------------------------------------------


class CountTorchCalls(TorchFunctionMode):
    """Counts the torch functions and tensor methods called while it is active."""

    def __init__(self):
        super().__init__()
        self.names: collections.Counter[str] = collections.Counter()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.names[getattr(func, "__name__", repr(func))] += 1
        return func(*args, **(kwargs or {}))


# Operations a per-record similarity would call once (or more) per record.
ARITHMETIC = {
    "matmul",
    "mm",
    "mv",
    "dot",
    "vdot",
    "inner",
    "einsum",
    "tensordot",
    "bmm",
    "cosine_similarity",
    "mul",
    "__mul__",
    "__rmul__",
    "sum",
    "norm",
    "vector_norm",
    "linalg_vector_norm",
    "normalize",
    "div",
    "__truediv__",
    "__rtruediv__",
    "sqrt",
    "pow",
    "__pow__",
    "sub",
    "__sub__",
    "cdist",
    "vecdot",
    "__matmul__",
    "__rmatmul__",
}


@pytest.mark.function("top_k")
def test_top_k_reads_the_store_once_and_does_not_loop_over_records(ex, make_store):
    n = 3000
    store = make_store(vectors(n, width=16, seed=8))
    store.calls.clear()
    query = vectors(1, width=16, seed=9)[0]
    with CountTorchCalls() as counter:
        result = ex.top_k(query, store, 4)
    calls = dict(store.calls)
    records = store.all()
    check_ranking(result, records, brute_force(query, records), 4, query)
    assert calls.get("all") == 1, f"top_k: read the store once, with store.all(); calls: {calls}"
    assert not calls.get("get") and not calls.get("find"), (
        f"top_k called store.get/find ({calls}): store.all() has everything"
    )
    arithmetic = sum(count for name, count in counter.names.items() if name in ARITHMETIC)
    assert arithmetic < 50, (
        f"top_k made {arithmetic} arithmetic torch calls for {n} records "
        f"({dict(counter.names.most_common(5))}): stack the embeddings into one matrix and "
        f"compute every similarity with one matrix product, not one call per record"
    )


# -- bad input ----------------------------------------------------------------------------


@pytest.mark.function("top_k")
@pytest.mark.parametrize("k", [0, -3])
def test_k_below_one_is_a_value_error(ex, crowd, k):
    store, query = crowd
    with raises(ValueError, f"top_k(query, store, k={k})") as info:
        ex.top_k(query, store, k)
    assert str(k) in str(info.value), f"top_k(k={k}): say which k was given: {info.value}"


@pytest.mark.function("top_k")
@pytest.mark.parametrize("k", [1.5, "3", None, True], ids=repr)
def test_k_not_an_int_is_a_type_error(ex, crowd, k):
    store, query = crowd
    with raises(TypeError, f"top_k(query, store, k={k!r})"):
        ex.top_k(query, store, k)


@pytest.mark.function("top_k")
def test_k_is_checked_even_for_an_empty_store(ex, make_store):
    with raises(ValueError, "top_k(query, an empty store, k=0)"):
        ex.top_k(vectors(1)[0], make_store([]), 0)


@pytest.mark.function("top_k")
def test_wrong_width_is_a_value_error_naming_both(ex, crowd):
    store, _ = crowd
    for width in (128, 512):  # narrower and wider than the store
        with raises(ValueError, f"top_k(a query of width {width}, a store of width {WIDTH}, k=3)") as info:
            ex.top_k(vectors(1, width=width)[0], store, 3)
        message = str(info.value)
        assert str(width) in message and str(WIDTH) in message, (
            f"top_k: name the stored width ({WIDTH}) and the query's ({width}): {message}"
        )


@pytest.mark.function("top_k")
@pytest.mark.parametrize(
    "query, error",
    [
        ([0.5] * WIDTH, TypeError),
        (torch.ones(WIDTH, dtype=torch.int64), TypeError),
        (torch.ones(2, WIDTH), ValueError),
        (torch.ones(1, 1, WIDTH), ValueError),
        (torch.tensor(1.0), ValueError),
        (torch.zeros(WIDTH), ValueError),
        (torch.full((WIDTH,), float("nan")), ValueError),
        (torch.empty(0), ValueError),
        (torch.empty(0, WIDTH), ValueError),
    ],
    ids=["list", "int64", "two-rows", "3-d", "scalar", "zero-vector", "nan", "empty", "no-rows"],
)
def test_bad_query(ex, crowd, query, error, request):
    store, _ = crowd
    case = request.node.callspec.id
    with raises(error, f"top_k(a {case} query, store, k=3)") as info:
        ex.top_k(query, store, 3)
    if case in ("two-rows", "3-d", "scalar", "empty", "no-rows"):
        # Refused for its shape, not later for something else (its width, say).
        assert str(tuple(query.shape)) in str(info.value), (
            f"top_k(a {case} query of shape {tuple(query.shape)}): say which shape was given: {info.value}"
        )
