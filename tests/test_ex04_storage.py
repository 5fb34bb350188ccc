"""Exercise 04: validate_entry(), JsonFileStore and SqliteStore, tested against the selected tree.

What both stores must do is tested once, for each store (test ids ``[json]`` and
``[sqlite]``); what only one of them promises (the JSON file's atomic replace, SQLite's
blobs and concurrent writers) is tested on its own.
"""

from __future__ import annotations

import importlib
import json
import multiprocessing
import os
import shutil
import sqlite3
import stat
import sys
import tempfile
import threading
import time
import traceback
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
import torch

from facekit.testing import raises

EXERCISE = "ex04_storage"
WIDTH = 320  # ConvNeXt-Atto's embedding width
KINDS = {"json": ("JsonFileStore", "store.json"), "sqlite": ("SqliteStore", "store.db")}


@pytest.fixture(scope="module")
def ex(load_exercise):
    return load_exercise(EXERCISE)


@pytest.fixture(params=[pytest.param(k, marks=pytest.mark.function(KINDS[k][0])) for k in KINDS])
def kind(request):
    return request.param


@pytest.fixture
def folder(tmp_path):
    """A new empty folder for the test's store files: in memory (Linux's /dev/shm) where there is
    one, else ``tmp_path``. Every JSON write and SQLite commit fsyncs, ~5 ms each on a disk and
    far more on a busy one: most of this file's time. What fsync must be called for is tested by
    spying on os.fsync, not by the disk."""
    try:
        where = tempfile.mkdtemp(prefix="facekit-ex04-", dir="/dev/shm")
    except OSError:  # no /dev/shm (macOS, Windows) or not writable
        yield tmp_path
        return
    yield Path(where)
    shutil.rmtree(where, ignore_errors=True)


@pytest.fixture
def path(folder, kind):
    return folder / KINDS[kind][1]


@pytest.fixture
def open_store(ex, kind, path):
    """``open_store()`` opens the store class under test on this test's file."""
    cls = getattr(ex, KINDS[kind][0])
    return lambda where=path: cls(where)


@pytest.fixture
def store(open_store):
    return open_store()


@pytest.fixture
def cls(kind):
    """The store class under test, by name: its messages say which store failed."""
    return KINDS[kind][0]


# The tests that start writer processes name their store through a parameter, not the
# `kind` fixture: each carries the manifest function it tests.
BOTH_KINDS = [
    pytest.param("json", marks=pytest.mark.function("JsonFileStore")),
    pytest.param("sqlite", marks=pytest.mark.function("SqliteStore")),
]


def vectors(n: int, width: int = WIDTH, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, width, generator=torch.Generator().manual_seed(seed))


def bits(t: torch.Tensor) -> torch.Tensor:
    """The float32 bit patterns: tells -0.0 from 0.0, and compares NaNs too."""
    return t.contiguous().view(torch.int32)


def files_in(folder) -> list[str]:
    """The files in ``folder``, but for the JSON store's lock file (faces.json.lock), which stays."""
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(".lock"))


# Values float32 has but short decimal text easily loses: extremes, subnormals, -0.0, 1/3...
AWKWARD = torch.tensor(
    [
        3.4028234663852886e38,
        -3.4028234663852886e38,  # largest float32
        1.1754943508222875e-38,  # smallest normal
        1.401298464324817e-45,
        -2.5e-40,  # subnormals
        -0.0,
        0.0,
        0.1,
        1 / 3,
        2 / 3,
        1e-7,
        123456.789,
        -1.0000001,
    ],
    dtype=torch.float32,
)


# -- validate_entry -----------------------------------------------------------------------


@pytest.mark.function("validate_entry")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16], ids=str)
def test_validate_entry_returns_a_float32_copy(ex, dtype):
    embedding = vectors(1, 8)[0].to(dtype)
    call = f"validate_entry('ada', a {dtype} embedding [8])"
    stored = ex.validate_entry("ada", embedding)
    assert isinstance(stored, torch.Tensor), f"{call} returned {type(stored).__name__}, not a tensor"
    assert stored.dtype == torch.float32 and tuple(stored.shape) == (8,), (
        f"{call} gave {stored.dtype} {list(stored.shape)}, expected torch.float32 [8]"
    )
    assert torch.equal(stored, embedding.to(torch.float32)), f"{call}: the values changed"
    before = stored.clone()
    embedding.zero_()
    assert torch.equal(stored, before), (
        f"{call} returned the caller's own tensor: return a copy (.clone()), the caller may change theirs"
    )


@pytest.mark.function("validate_entry")
def test_validate_entry_detaches_from_autograd(ex):
    embedding = vectors(1, 8)[0].requires_grad_()
    stored = ex.validate_entry("ada", embedding * 2)
    assert not stored.requires_grad and stored.grad_fn is None, (
        "validate_entry(an embedding with autograd history) kept it: .detach()"
    )


@pytest.mark.function("validate_entry")
def test_validate_entry_accepts_the_stores_width(ex):
    stored = ex.validate_entry("ada", vectors(1)[0], width=WIDTH)
    assert tuple(stored.shape) == (WIDTH,), f"validate_entry(width={WIDTH}) gave shape {list(stored.shape)}"


@pytest.mark.function("validate_entry")
def test_validate_entry_wrong_width_names_both(ex):
    with raises(ValueError, f"validate_entry('ada', an embedding [128], width={WIDTH})") as info:
        ex.validate_entry("ada", vectors(1, 128)[0], width=WIDTH)
    assert "128" in str(info.value) and str(WIDTH) in str(info.value), (
        f"validate_entry: name both widths, the store's ({WIDTH}) and the one given (128): {info.value}"
    )


BAD_EMBEDDINGS = {
    "list": (lambda: [0.5] * 4, TypeError),
    "numpy": (lambda: np.zeros(4, dtype=np.float32), TypeError),
    "int64": (lambda: torch.arange(4), TypeError),
    "bool": (lambda: torch.ones(4, dtype=torch.bool), TypeError),
    "row-1x4": (lambda: torch.ones(1, 4), ValueError),
    "scalar": (lambda: torch.tensor(0.5), ValueError),
    "empty": (lambda: torch.zeros(0), ValueError),
    "nan": (lambda: torch.tensor([0.5, float("nan"), 1.0]), ValueError),
    "inf": (lambda: torch.tensor([0.5, float("-inf"), 1.0]), ValueError),
    "beyond-float32": (lambda: torch.tensor([1e300, 1.0], dtype=torch.float64), ValueError),
}


@pytest.mark.function("validate_entry")
@pytest.mark.parametrize("case", list(BAD_EMBEDDINGS))
def test_validate_entry_refuses_bad_embeddings(ex, case):
    make, error = BAD_EMBEDDINGS[case]
    with raises(error, f"validate_entry('ada', {case} embedding)") as info:
        ex.validate_entry("ada", make())
    if case == "row-1x4":
        assert "1, 4" in str(info.value), (
            f"validate_entry(a [1, 4] row): say which shape was given: {info.value}"
        )
    if case == "int64":
        assert "int64" in str(info.value), f"validate_entry(int64): say which dtype was given: {info.value}"


@pytest.mark.function("validate_entry")
@pytest.mark.parametrize(
    "name, error",
    [("", ValueError), ("   ", ValueError), (None, TypeError), (42, TypeError)],
    ids=["empty", "spaces", "None", "int"],
)
def test_validate_entry_refuses_bad_names(ex, name, error):
    with raises(error, f"validate_entry(name={name!r}, embedding)"):
        ex.validate_entry(name, vectors(1, 4)[0])


# -- both stores: basics ------------------------------------------------------------------


def test_store_follows_the_protocol(ex, store, cls):
    assert isinstance(store, ex.EmbeddingStore), f"{cls} lacks methods of EmbeddingStore"
    assert len(store) == 0, f"len({cls}(a missing file)) is {len(store)}, expected 0"


def test_missing_file_is_an_empty_store(store, path, cls):
    assert len(store) == 0 and store.all() == [] and store.find("ada") == [], (
        f"{cls}(a missing file) is not an empty store"
    )


def test_empty_file_is_an_empty_store(open_store, path):
    path.write_bytes(b"")
    store = open_store()
    assert len(store) == 0 and store.all() == [], "an empty file is an empty store"
    record_id = store.add("ada", vectors(1)[0])
    assert [r.id for r in open_store().all()] == [record_id], (
        "add on an empty file: the record must be in the file when the store is opened again"
    )


def test_add_returns_a_uuid4_and_get_returns_the_record(ex, store, cls):
    embedding = vectors(1)[0]
    before = datetime.now(timezone.utc)
    record_id = store.add("ada", embedding)
    after = datetime.now(timezone.utc)
    assert isinstance(record_id, str), f"{cls}.add returned {type(record_id).__name__}, expected the id (str)"
    assert uuid.UUID(record_id).version == 4 and str(uuid.UUID(record_id)) == record_id, (
        f"{cls}.add returned {record_id!r}: ids are str(uuid.uuid4())"
    )
    record = store.get(record_id)
    assert isinstance(record, ex.Record), f"{cls}.get returned {type(record).__name__}, expected a Record"
    assert record.id == record_id and record.name == "ada", f"{cls}.get(id): {record!r}"
    assert record.embedding.dtype == torch.float32 and tuple(record.embedding.shape) == (WIDTH,), (
        f"{cls}.get(id).embedding is {record.embedding.dtype} {list(record.embedding.shape)}"
    )
    assert torch.equal(record.embedding, embedding), f"{cls}.get(id).embedding differs from what was added"
    assert isinstance(record.created_at, datetime), f"{cls}: created_at must be a datetime"
    assert record.created_at.utcoffset() == timedelta(0), (
        f"{cls}.add: created_at must be timezone-aware UTC: datetime.now(timezone.utc); got {record.created_at!r}"
    )
    assert before <= record.created_at <= after, f"{cls}.add: created_at is not the time of the add"
    assert len(store) == 1, f"len({cls}) after one add is {len(store)}"


def test_ids_are_unique(store):
    ids = [store.add("ada", row) for row in vectors(20, 4)]
    assert len(set(ids)) == 20, f"20 adds gave {len(set(ids))} different ids"


def test_all_and_find_keep_insertion_order(store, cls):
    names = ["ada", "bob", "ada", "cy", "bob", "ada"]
    ids = [store.add(name, row) for name, row in zip(names, vectors(len(names)))]
    # Sorting by id (not by insertion) passes when the random ids happen to sort in insertion
    # order (1 time in 720): one more record until they do not, so that mistake always shows.
    extra = vectors(64, seed=1)
    while ids == sorted(ids) and len(ids) < len(names) + len(extra):
        ids.append(store.add("dee", extra[len(ids) - len(names)]))
    assert [r.id for r in store.all()] == ids, f"{cls}.all() must return the records in insertion order"
    assert [r.id for r in store.find("ada")] == [ids[0], ids[2], ids[5]], (
        f"{cls}.find('ada') must return ada's 3 records in insertion order"
    )
    assert [r.id for r in store.find("bob")] == [ids[1], ids[4]], (
        f"{cls}.find('bob'): bob's 2 records, in order"
    )
    assert store.find("nobody") == [], f"{cls}.find('nobody') must be []"
    assert store.find("Ada") == [], f"{cls}.find('Ada') found records of 'ada': names match exactly"
    assert len(store) == len(ids), f"len({cls}) is {len(store)} after {len(ids)} adds"


def test_find_takes_a_name_with_quotes_as_it_is(store, cls):
    # A name is data, never SQL: built into the query text, O'Brien is a syntax error and
    # the second name below matches every record.
    ids = [store.add(name, row) for name, row in zip(["O'Brien", "ada"], vectors(2))]
    for name, expected, what in [
        ("O'Brien", [ids[0]], "O'Brien's 1 record"),
        ("x' OR '1'='1", [], "[] (no record has that name)"),
        ('ada" OR "1"="1', [], "[] (no record has that name)"),
    ]:
        try:
            found = [r.id for r in store.find(name)]
        except NotImplementedError:
            raise  # a stub: "not implemented yet", not a wrong answer
        except Exception as error:  # noqa: BLE001 - any other error is the failure reported
            pytest.fail(
                f"{cls}.find({name!r}) raised {type(error).__name__} ({error}); expected {what}: "
                f"pass the name as a query parameter (WHERE name = ?), never inside the SQL text",
                pytrace=False,
            )
        assert found == expected, (
            f"{cls}.find({name!r}) returned {len(found)} record(s), expected {what}: "
            f"pass the name as a query parameter (WHERE name = ?), never inside the SQL text"
        )


@pytest.mark.function("SqliteStore")
def test_sqlite_closes_every_connection_it_opens(ex, db_path, monkeypatch):
    # `with sqlite3.connect(...) as db` commits or rolls back, but does not close: the file
    # stays open (on Windows it then cannot be removed or replaced), until the garbage
    # collector happens to close it.
    opened = []
    real_connect = sqlite3.connect

    class Tracked(sqlite3.Connection):
        closed = False

        def close(self):
            self.closed = True
            super().close()

    def connect(*args, **kwargs):
        connection = real_connect(*args, **{**kwargs, "factory": Tracked})
        opened.append(connection)
        return connection

    store = ex.SqliteStore(db_path)
    monkeypatch.setattr(sqlite3, "connect", connect)
    record_id = store.add("ada", vectors(1)[0])
    calls = {
        "add": lambda: store.add("bob", vectors(2)[1]),
        "get": lambda: store.get(record_id),
        "find": lambda: store.find("ada"),
        "all": store.all,
        "len": lambda: len(store),
        "remove": lambda: store.remove(record_id),
    }
    for name, call in calls.items():
        del opened[:]
        call()
        left_open = [c for c in opened if not c.closed]
        assert not left_open, (
            f"SqliteStore.{name} left {len(left_open)} of its {len(opened)} connection(s) open: close each "
            f"one (contextlib.closing(sqlite3.connect(...))); `with sqlite3.connect(...)` commits but does not close"
        )


def test_round_trip_after_reopening_is_bit_exact(open_store, path, cls):
    store = open_store()
    rows = torch.cat([AWKWARD, vectors(1, WIDTH - len(AWKWARD))[0] * 1e-3]), vectors(2)[0], vectors(2)[1]
    names = ["Zoë", "李雷", 'O\'Brien "quoted"']
    ids = [store.add(name, row) for name, row in zip(names, rows)]
    written = store.all()

    reopened = open_store(str(path)).all()  # a str path works as well as a Path
    assert [r.id for r in reopened] == ids, f"{cls}, opened again: the ids differ"
    assert [r.name for r in reopened] == names, f"{cls}, opened again: names {[r.name for r in reopened]}"
    for before, after, row in zip(written, reopened, rows):
        assert after.embedding.dtype == torch.float32, f"{cls}, opened again: dtype {after.embedding.dtype}"
        assert torch.equal(bits(after.embedding), bits(row)), (
            f"{cls}, record {after.name!r}: the embedding changed on its way through the file (not bit-exact)"
        )
        # The time the test knows, not one read back through the store under test.
        assert after.created_at == before.created_at, (
            f"{cls}, record {after.name!r}: created_at {after.created_at!r} read back, {before.created_at!r} written"
        )
        assert after == before, (
            f"{cls}, record {after.name!r} differs after reopening: {after!r} vs {before!r}"
        )


def test_remove_keeps_the_records_whose_ids_sort_before_and_after(open_store, cls):
    store = open_store()
    ids = sorted(store.add(name, row) for name, row in zip("abc", vectors(3)))
    store.remove(ids[1])  # the middle id in sorted order: a comparison other than != loses one side
    left = sorted(r.id for r in store.all())
    assert left == [ids[0], ids[2]], (
        f"{cls}.remove(the record whose id sorts between the other two's) left {len(left)} record(s): "
        f"keep every record whose id differs (k != record_id)"
    )


def test_remove_deletes_one_record_and_keeps_the_others(open_store, cls):
    store = open_store()
    ids = [store.add(name, row) for name, row in zip("abcd", vectors(4))]
    assert store.remove(ids[1]) is None, f"{cls}.remove returns None"
    assert len(store) == 3, f"len({cls}) after 4 adds and 1 remove is {len(store)}"
    assert [r.id for r in store.all()] == [ids[0], ids[2], ids[3]], f"{cls}.remove removed the wrong records"
    with raises(KeyError, f"{cls}.get(a removed id)"):
        store.get(ids[1])
    assert [r.id for r in open_store().all()] == [ids[0], ids[2], ids[3]], (
        f"{cls}.remove: the removal must be in the file"
    )


@pytest.mark.parametrize("operation", ["get", "remove"])
def test_unknown_id_is_a_key_error(store, operation, cls):
    kept = store.add("ada", vectors(1)[0])
    missing = str(uuid.uuid4())
    with raises(KeyError, f"{cls}.{operation}(an unknown id)") as info:
        getattr(store, operation)(missing)
    assert missing in str(info.value), f"{cls}.{operation}: name the id that was not found: {info.value}"
    assert [r.id for r in store.all()] == [kept], f"{cls}.{operation}(an unknown id) changed the store"


def test_removing_twice_is_a_key_error(store, cls):
    record_id = store.add("ada", vectors(1)[0])
    store.remove(record_id)
    with raises(KeyError, f"{cls}.remove(an id removed before)"):
        store.remove(record_id)


def test_any_width_for_the_first_then_only_that_width(open_store, cls):
    store = open_store()
    store.add("small", torch.tensor([1.0, 2.0, 3.0]))
    with raises(ValueError, f"{cls}.add(width {WIDTH}) after a first record of width 3") as info:
        store.add("ada", vectors(1)[0])
    assert "3" in str(info.value) and str(WIDTH) in str(info.value), (
        f"{cls}.add: name the store's width (3) and the one given ({WIDTH}): {info.value}"
    )
    assert len(store) == 1 and len(open_store()) == 1, f"{cls}.add: a refused add must change nothing"


@pytest.mark.parametrize("case", ["list", "int64", "row-1x4", "nan"])
def test_store_refuses_bad_embeddings(store, case, cls):
    make, error = BAD_EMBEDDINGS[case]
    with raises(error, f"{cls}.add('ada', {case} embedding)"):
        store.add("ada", make())
    assert len(store) == 0, f"{cls}.add: a refused add must change nothing"


@pytest.mark.parametrize("name, error", [("", ValueError), (None, TypeError)], ids=["empty", "None"])
def test_store_refuses_bad_names(store, name, error, cls):
    with raises(error, f"{cls}.add(name={name!r}, embedding)"):
        store.add(name, vectors(1)[0])
    assert len(store) == 0, f"{cls}.add: a refused add must change nothing"


def test_float64_is_stored_as_float32(open_store, cls):
    store = open_store()
    embedding = vectors(1)[0].double() / 3
    record_id = store.add("ada", embedding)
    for when, record in (("in memory", store.get(record_id)), ("reopened", open_store().get(record_id))):
        assert record.embedding.dtype == torch.float32, (
            f"{cls}.add(a float64 embedding), {when}: stored as {record.embedding.dtype}, expected torch.float32"
        )
        assert torch.equal(record.embedding, embedding.float()), (
            f"{cls}.add(a float64 embedding), {when}: not its float32 values"
        )


def test_the_store_keeps_its_own_copy(store, cls):
    embedding = vectors(1)[0]
    original = embedding.clone()
    record_id = store.add("ada", embedding)
    embedding.zero_()  # the caller reuses its tensor
    assert torch.equal(store.get(record_id).embedding, original), (
        f"{cls}.add must store a copy, not the caller's tensor"
    )
    for method, record in (
        ("get", store.get(record_id)),
        ("all", store.all()[0]),
        ("find", store.find("ada")[0]),
    ):
        record.embedding.zero_()  # a caller edits what it got back
        assert torch.equal(store.get(record_id).embedding, original), (
            f"{cls}.{method} handed out the stored tensor itself: get/all/find must hand out copies"
        )


def test_stored_embeddings_have_no_autograd_history(store, cls):
    record_id = store.add("ada", vectors(1)[0].requires_grad_() * 2)
    embedding = store.get(record_id).embedding
    assert not embedding.requires_grad and embedding.grad_fn is None, (
        f"{cls}.add(an embedding with autograd history) kept it: .detach()"
    )


def test_garbage_file_is_a_format_error_and_left_untouched(ex, open_store, path, cls):
    garbage = b"\x89not a store \x00\xff\xfe" * 64
    path.write_bytes(garbage)
    with raises(ex.StoreFormatError, f"{cls}(a file of garbage bytes)") as info:
        open_store()
    assert str(path) in str(info.value), f"{cls}: name the file: {info.value}"
    assert path.read_bytes() == garbage, f"{cls} wrote to a file that is not a store"
    assert files_in(path.parent) == [path.name], f"{cls} left files next to a file that is not a store"


# -- JSON only ----------------------------------------------------------------------------


@pytest.fixture
def json_path(folder):
    return folder / "store.json"


@pytest.fixture
def json_store(ex, json_path):
    return ex.JsonFileStore(json_path)


@pytest.mark.function("JsonFileStore")
def test_json_file_is_readable_json_with_the_format_marker(ex, json_store, json_path):
    embeddings = torch.cat([AWKWARD, vectors(1, 3)[0]]), vectors(1, len(AWKWARD) + 3, seed=1)[0]
    ids = [json_store.add(name, row) for name, row in zip(["ada", "Zoë"], embeddings)]
    text = json_path.read_text(encoding="utf-8")
    data = json.loads(text)
    assert data["format"] == ex.JSON_FORMAT and data["version"] == ex.JSON_VERSION, (
        f"JsonFileStore: the file must carry format {ex.JSON_FORMAT!r} and version {ex.JSON_VERSION}"
    )
    assert [item["id"] for item in data["records"]] == ids, "JsonFileStore: the file's records, in order"
    assert [item["name"] for item in data["records"]] == ["ada", "Zoë"], "JsonFileStore: the file's names"
    for item, row in zip(data["records"], embeddings):
        assert isinstance(item["embedding"], list) and all(isinstance(v, float) for v in item["embedding"]), (
            "JsonFileStore: embeddings are JSON lists of numbers"
        )
        # Each number must read back (as a double) to exactly the float32 value.
        assert item["embedding"] == row.tolist(), (
            "JsonFileStore: the file's numbers are not exact: write r.embedding.tolist()"
        )
        created = datetime.fromisoformat(item["created_at"])
        assert created.utcoffset() == timedelta(0), "JsonFileStore: created_at in ISO 8601 with +00:00"


# A store file as JsonFileStore's docstring shows it. Files outlive code: what one facekit wrote,
# another (the kit's own stores, the camera service, next year's kit) must read, and the reverse.
DOCUMENTED_JSON = (
    b'{"format": "facekit-embeddings", "version": 1, "records": [{"id": '
    b'"0b9d1c3e-6f0a-4c8e-9d3b-2a7e5f1c4b60", "name": "ada", "created_at": '
    b'"2025-01-01T12:00:00.123456+00:00", "embedding": [0.10000000149011612, -1.5, 2.0]}]}'
)


@pytest.mark.function("JsonFileStore")
def test_json_file_as_documented_opens(ex, json_path):
    json_path.write_bytes(DOCUMENTED_JSON)
    records = ex.JsonFileStore(json_path).all()
    call = 'JsonFileStore(a file of format "facekit-embeddings", version 1, as its docstring shows)'
    assert [(r.id, r.name) for r in records] == [("0b9d1c3e-6f0a-4c8e-9d3b-2a7e5f1c4b60", "ada")], (
        f"{call}: records {[(r.id, r.name) for r in records]}, expected ada's (is JSON_VERSION still 1?)"
    )
    assert torch.equal(records[0].embedding, torch.tensor([0.1, -1.5, 2.0])), (
        f"{call}: ada's embedding is {records[0].embedding}, expected [0.1, -1.5, 2.0] as float32"
    )


@pytest.mark.function("JsonFileStore")
def test_json_add_creates_missing_folders(ex, folder):
    path = folder / "new" / "deeper" / "store.json"
    record_id = ex.JsonFileStore(path).add("ada", vectors(1)[0])
    assert [r.id for r in ex.JsonFileStore(path).all()] == [record_id], (
        "JsonFileStore('new/deeper/store.json').add, neither folder there yet: the record must be in "
        "the file (self.path.parent.mkdir(parents=True, exist_ok=True) first)"
    )


@pytest.mark.function("JsonFileStore")
def test_json_write_goes_through_a_synced_temporary_file_in_the_same_folder(ex, tmp_path, monkeypatch):
    # Under tmp_path, not in memory (`folder`): a temporary file in the system's temporary
    # folder must fail the folder check below, not os.replace first (EXDEV between file systems).
    json_path = tmp_path / "store.json"
    json_store = ex.JsonFileStore(json_path)
    events: list[tuple[str, ...]] = []
    real_replace, real_fsync = os.replace, os.fsync

    def spy_fsync(fd):
        if stat.S_ISREG(os.fstat(fd).st_mode):
            events.append(("fsync",))
        return real_fsync(fd)

    def spy_replace(source, destination, **kwargs):
        events.append(("replace", os.fspath(source), os.fspath(destination)))
        return real_replace(source, destination, **kwargs)

    monkeypatch.setattr(os, "fsync", spy_fsync)
    monkeypatch.setattr(os, "replace", spy_replace)
    json_store.add("ada", vectors(1)[0])
    replaces = [e for e in events if e[0] == "replace"]
    assert len(replaces) == 1, f"JsonFileStore.add: one os.replace per write; saw {events}"
    _, source, destination = replaces[0]
    assert os.path.abspath(destination) == os.path.abspath(json_path), (
        f"JsonFileStore.add replaced {destination}, not the store's file"
    )
    assert os.path.dirname(os.path.abspath(source)) == os.path.dirname(os.path.abspath(json_path)), (
        "JsonFileStore.add: write the temporary file in the store's own folder (os.replace only renames: between two file systems it raises OSError EXDEV)"
    )
    assert ("fsync",) in events[: events.index(replaces[0])], (
        "JsonFileStore.add: flush and os.fsync the temporary file before replacing the old one"
    )
    assert files_in(json_path.parent) == [json_path.name], (
        f"JsonFileStore.add left files behind: {files_in(json_path.parent)}"
    )


class _Crash(Exception):
    """Stands for a crash (power cut, disk full, kill) in the middle of a write."""


def _crash(*args, **kwargs):
    raise _Crash("simulated crash")


def _install_crash(where: str, m: pytest.MonkeyPatch) -> None:
    if where == "serialise":
        # Any way of writing JSON with the json module goes through one of these two.
        m.setattr(json.JSONEncoder, "encode", _crash)
        m.setattr(json.JSONEncoder, "iterencode", _crash)
    elif where == "fsync":
        real_fsync = os.fsync

        def fsync(fd):
            if stat.S_ISREG(os.fstat(fd).st_mode):
                _crash()
            return real_fsync(fd)

        m.setattr(os, "fsync", fsync)
    else:
        m.setattr(os, "replace", _crash)


@pytest.mark.function("JsonFileStore")
@pytest.mark.parametrize("where", ["serialise", "fsync", "replace"])
@pytest.mark.parametrize("operation", ["add", "remove"])
def test_json_crash_during_a_write_keeps_the_old_file(
    ex, json_store, json_path, monkeypatch, operation, where
):
    ids = [json_store.add(name, row) for name, row in zip(["ada", "bob"], vectors(2))]
    before_bytes = json_path.read_bytes()
    before = json_store.all()
    call = f"JsonFileStore.{operation} with a crash in {where}"
    with monkeypatch.context() as m:
        _install_crash(where, m)
        with raises(_Crash, call):
            if operation == "add":
                json_store.add("cy", vectors(1, seed=5)[0])
            else:
                json_store.remove(ids[0])
    assert json_path.read_bytes() == before_bytes, f"{call}: the old file must survive a failed write"
    assert files_in(json_path.parent) == [json_path.name], (
        f"{call}: remove the temporary file when the write fails; left {files_in(json_path.parent)}"
    )
    assert json_store.all() == before, f"{call}: a failed write must leave the store as it was, in memory too"
    assert ex.JsonFileStore(json_path).all() == before, f"{call}: the file must still hold the old records"


JSON_NOT_OURS = {
    "not-json": b"name,embedding\nada,0.1 0.2\n",
    "truncated": None,  # the first half of a real store file
    "list": b"[1, 2, 3]",
    "no-marker": b'{"records": []}',
    "other-format": b'{"format": "someone-else", "version": 1, "records": []}',
    "version-99": b'{"format": "facekit-embeddings", "version": 99, "records": []}',
    "version-0": b'{"format": "facekit-embeddings", "version": 0, "records": []}',
    "record-without-embedding": (
        b'{"format": "facekit-embeddings", "version": 1, "records": '
        b'[{"id": "x", "name": "ada", "created_at": '
        b'"2025-01-01T00:00:00+00:00"}]}'
    ),
}


@pytest.mark.function("JsonFileStore")
@pytest.mark.parametrize("case", list(JSON_NOT_OURS))
def test_json_file_that_is_not_ours_is_a_format_error(ex, json_path, case):
    content = JSON_NOT_OURS[case]
    if content is None:
        store = ex.JsonFileStore(json_path)
        store.add("ada", vectors(1)[0])
        content = json_path.read_bytes()[: json_path.stat().st_size // 2]
    json_path.write_bytes(content)
    with raises(ex.StoreFormatError, f"JsonFileStore(a {case} file)") as info:
        ex.JsonFileStore(json_path)
    assert str(json_path) in str(info.value), f"JsonFileStore({case}): name the file: {info.value}"
    if case == "version-99":
        assert "99" in str(info.value), f"JsonFileStore: say which version the file has (99): {info.value}"
    assert json_path.read_bytes() == content, f"JsonFileStore({case}) overwrote a file that is not a store"


# -- SQLite only --------------------------------------------------------------------------


@pytest.fixture
def db_path(folder):
    return folder / "store.db"


@pytest.fixture
def sqlite_store(ex, db_path):
    return ex.SqliteStore(db_path)


@pytest.mark.function("SqliteStore")
def test_sqlite_embedding_is_a_little_endian_float32_blob(ex, sqlite_store, db_path):
    embedding = torch.cat([AWKWARD, vectors(1, WIDTH - len(AWKWARD))[0]])
    record_id = sqlite_store.add("ada", embedding)
    with sqlite3.connect(db_path) as db:
        rows = db.execute("SELECT id, name, created_at, embedding FROM records ORDER BY seq").fetchall()
        application_id = db.execute("PRAGMA application_id").fetchone()[0]
        version = db.execute("PRAGMA user_version").fetchone()[0]
    db.close()
    assert len(rows) == 1, f"SqliteStore.add: the table holds {len(rows)} rows after one add"
    stored_id, name, created_at, blob = rows[0]
    assert (stored_id, name) == (record_id, "ada"), f"SqliteStore.add: the row holds {(stored_id, name)}"
    assert isinstance(blob, bytes), (
        f"SqliteStore: store the embedding as a BLOB (bytes); got {type(blob).__name__}"
    )
    assert len(blob) == 4 * WIDTH, (
        f"SqliteStore: 4 bytes per float32 value: expected a blob of {4 * WIDTH} bytes, got {len(blob)}"
    )
    assert blob == embedding.numpy().astype("<f4").tobytes(), (
        "SqliteStore: the blob must hold the values as float32, little-endian, in order"
    )
    # The time is checked as text, in the table: an ISO 8601 string with +00:00.
    stamp = datetime.fromisoformat(created_at)
    assert stamp.utcoffset() == timedelta(0), f"SqliteStore: created_at {created_at!r} is not ISO 8601 UTC"
    assert (application_id, version) == (ex.SQLITE_APPLICATION_ID, ex.SQLITE_VERSION), (
        f"SqliteStore: PRAGMA application_id/user_version are {(application_id, version)}"
    )


@pytest.mark.function("SqliteStore")
@pytest.mark.parametrize(
    "case",
    ["other-tables", "version-99", "version-0", "a-larger-application-id", "a-negative-application-id"],
)
def test_sqlite_database_that_is_not_ours_is_a_format_error(ex, db_path, case):
    with sqlite3.connect(db_path) as db:
        if case == "other-tables":  # someone else's database; user_version 1 is common
            db.execute("CREATE TABLE people (name TEXT)")
            db.execute("INSERT INTO people VALUES ('ada')")
            db.execute("PRAGMA user_version = 1")
        elif case.startswith("version"):
            db.execute(f"PRAGMA application_id = {ex.SQLITE_APPLICATION_ID}")
            db.execute(f"PRAGMA user_version = {case.split('-')[1]}")
            if case == "version-0":  # ours by its id, but not a version this code wrote
                db.execute("CREATE TABLE records (id TEXT)")
        else:  # another application's id (a signed 32-bit number), its own table, version 1
            other = 0x7FFFFFFF if case == "a-larger-application-id" else -1
            db.execute(f"PRAGMA application_id = {other}")
            db.execute("PRAGMA user_version = 1")
            db.execute("CREATE TABLE people (name TEXT)")
    db.close()
    content = db_path.read_bytes()
    with raises(ex.StoreFormatError, f"SqliteStore(a database with {case})") as info:
        ex.SqliteStore(db_path)
    assert str(db_path) in str(info.value), f"SqliteStore: name the file: {info.value}"
    assert db_path.read_bytes() == content, f"SqliteStore({case}) wrote to a database that is not a store"


@pytest.mark.function("SqliteStore")
def test_sqlite_database_as_documented_opens(ex, db_path):
    # SqliteStore's documented layout, written here: "FACE" in ASCII as the application id,
    # version 1, the given schema, a little-endian float32 blob.
    record = ("0b9d1c3e-6f0a-4c8e-9d3b-2a7e5f1c4b60", "ada", "2025-01-01T12:00:00.123456+00:00")
    db = sqlite3.connect(db_path)
    for statement in ex.SQLITE_SCHEMA:
        db.execute(statement)
    db.execute(f"PRAGMA application_id = {int.from_bytes(b'FACE', 'big')}")
    db.execute("PRAGMA user_version = 1")
    blob = np.array([0.1, -1.5, 2.0], dtype="<f4").tobytes()
    db.execute("INSERT INTO records (id, name, created_at, embedding) VALUES (?, ?, ?, ?)", (*record, blob))
    db.commit()
    db.close()
    records = ex.SqliteStore(db_path).all()
    call = 'SqliteStore(a database of application id "FACE" and version 1, as its docstring describes)'
    assert [(r.id, r.name) for r in records] == [record[:2]], (
        f"{call}: records {[(r.id, r.name) for r in records]}, expected ada's "
        f"(are SQLITE_APPLICATION_ID and SQLITE_VERSION still as given?)"
    )
    assert torch.equal(records[0].embedding, torch.tensor([0.1, -1.5, 2.0])), (
        f"{call}: ada's embedding is {records[0].embedding}, expected [0.1, -1.5, 2.0] as float32"
    )


@pytest.mark.function("SqliteStore")
def test_sqlite_stores_of_one_file_see_each_others_writes(ex, db_path):
    first, second = ex.SqliteStore(db_path), ex.SqliteStore(db_path)
    record_id = first.add("ada", vectors(1)[0])
    assert [r.id for r in second.all()] == [record_id], (
        "SqliteStore: a second store on the file must see the add"
    )
    second.remove(record_id)
    assert len(first) == 0, "SqliteStore: the first store must see the other's remove"
    with raises(KeyError, "SqliteStore.get(an id another store removed)"):
        first.get(record_id)


@pytest.mark.function("SqliteStore")
def test_sqlite_writer_waits_for_another_writers_lock(ex, sqlite_store, db_path):
    locked, failure = threading.Event(), []

    def hold_the_lock():  # another program, in the middle of a write for 0.3 s
        try:
            holder = sqlite3.connect(db_path, isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")
            locked.set()
            time.sleep(0.3)  # long enough for an add without a busy timeout to fail
            holder.execute("COMMIT")
            holder.close()
        except BaseException as err:  # noqa: BLE001 - reported in the test's thread
            failure.append(err)
            locked.set()

    thread = threading.Thread(target=hold_the_lock)
    thread.start()
    locked.wait(30)
    try:
        record_id = sqlite_store.add("ada", vectors(1)[0])  # must wait, not fail
    finally:
        thread.join(30)
    assert not failure, f"the test's own lock holder failed: {failure}"
    assert [r.id for r in sqlite_store.all()] == [record_id], (
        "SqliteStore.add, after waiting: the record is missing"
    )


def _write(store_class, path: str, name: str, count: int, width: int, barrier) -> list[str]:
    """One writer: open the store, wait until the other writer has opened it too, then add
    ``count`` records of ``width`` values (the i-th all i + 1). Returns its reports: ``refused
    NAME: ...`` for a ValueError from ``add`` (a refused width; it stops there), ``failed NAME:
    ...`` for anything else."""
    try:
        store = store_class(path)
    except BaseException:  # noqa: BLE001 - reported; the test fails with it
        barrier.abort()  # the other writer stops waiting
        return [f"failed {name}: {traceback.format_exc()}"]
    try:
        # Both have opened the store before either adds: each starts from what was on disk then
        # (a new file: empty), however slowly a loaded machine runs the other process.
        barrier.wait(60)
    except threading.BrokenBarrierError:
        return [f"failed {name}: the other writer did not open the store (its report says why)"]
    try:
        for i in range(count):
            try:
                store.add(name, torch.full((width,), float(i + 1)))
            except ValueError as err:
                return [f"refused {name}: {err}"]
    except BaseException:  # noqa: BLE001 - reported; the test fails with it
        return [f"failed {name}: {traceback.format_exc()}"]
    return []


def _other_writer(conn, barrier) -> None:
    """The other process: for each job the test's process sends, ``_write``, and send its reports."""
    # One thread: a forked child must not use the OpenMP thread pool copied from its parent.
    torch.set_num_threads(1)
    while (job := conn.recv()) is not None:
        module, qualname, path, name, count, width = job
        try:
            store_class = getattr(importlib.import_module(module), qualname)
        except BaseException:  # noqa: BLE001 - reported; the test fails with it
            barrier.abort()
            conn.send([f"failed {name}: {traceback.format_exc()}"])
            continue
        conn.send(_write(store_class, path, name, count, width, barrier))


class _OtherProcess:
    """A second process that writes to a store while the test's own process writes to it too.

    One for all the tests of this module, started when a test first needs it: forking a process
    that has imported torch, and its exit, cost ~0.1-0.2 s each on 2 busy cores.
    """

    def __init__(self) -> None:
        self.process: multiprocessing.process.BaseProcess | None = None

    def run(self, store_class, path, mine: tuple[str, int, int], theirs: tuple[str, int, int]) -> list[str]:
        """Both processes open ``store_class(path)``, then add at once: this one the job
        ``mine`` (name, count, width), the other ``theirs``. Returns both's ``refused`` reports;
        a failure or a hung writer fails the test."""
        cls = store_class.__name__
        if self.process is None:
            # fork (Linux): the child starts at once, with torch and the kit already imported.
            # Elsewhere spawn, which imports them afresh: slower, but fork is unsafe on macOS.
            linux = sys.platform.startswith("linux")
            context = multiprocessing.get_context("fork") if linux else multiprocessing.get_context("spawn")
            self.conn, child_conn = context.Pipe()
            self.barrier = context.Barrier(2)
            self.process = context.Process(target=_other_writer, args=(child_conn, self.barrier), daemon=True)
            self.process.start()
            child_conn.close()
        self.barrier.reset()  # usable again after a writer that failed to open aborted it
        self.conn.send((store_class.__module__, store_class.__qualname__, str(path), *theirs))
        reports = _write(store_class, str(path), *mine, self.barrier)
        try:
            if not self.conn.poll(120):
                raise TimeoutError
            reports += self.conn.recv()
        except (TimeoutError, EOFError, OSError):
            self.stop()
            pytest.fail(f"{cls}: the other writer process hung or died while adding", pytrace=False)
        failed = [r for r in reports if r.startswith("failed")]
        assert not failed, f"{cls}.add in a writer process failed:\n" + "\n".join(failed)
        return reports

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            self.conn.send(None)
        except OSError:
            pass
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.process = None


@pytest.fixture(scope="module")
def other_process():
    other = _OtherProcess()
    yield other
    other.stop()


def _run_writers(ex, other_process, cls, path, mine, theirs) -> list[str]:
    """This process and the other one add to ``path`` at once; their reports (``refused ...``)."""
    # The store class must open at all (a stub stops here, in this process, with its
    # NotImplementedError); on another file, so that `path` stays new.
    getattr(ex, cls)(path.with_name("probe-" + path.name))
    return other_process.run(getattr(ex, cls), path, mine, theirs)


@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")
@pytest.mark.parametrize("kind", BOTH_KINDS)
def test_two_processes_adding_at_once_lose_nothing(ex, other_process, kind, path):
    cls = KINDS[kind][0]
    # JSON rewrites the whole file per add, so fewer adds; enough to interleave many times.
    # Narrow embeddings: what is lost does not depend on the width, and short files keep it fast.
    per_process = 50 if kind == "sqlite" else 15
    reports = _run_writers(ex, other_process, cls, path, ("left", per_process, 8), ("right", per_process, 8))
    assert not reports, f"{cls}: a writer was refused: {reports}"
    store = getattr(ex, cls)(path)
    records = store.all()
    assert len(records) == 2 * per_process, (
        f"{cls}: two processes each added {per_process} records to {path.name} at once; the file "
        f"holds {len(records)}: writes were lost (take a lock and re-read the file before each change)"
    )
    assert len({r.id for r in records}) == 2 * per_process, f"{cls}: record ids repeat"
    for name in ("left", "right"):
        values = [r.embedding[0].item() for r in records if r.name == name]
        assert values == [float(i + 1) for i in range(per_process)], (
            f"{cls}: {name}'s records are not all there in the order it added them: {values}"
        )


@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")
@pytest.mark.parametrize("kind", BOTH_KINDS)
def test_two_processes_creating_one_store_with_different_widths(ex, other_process, kind, path):
    cls = KINDS[kind][0]
    # Both open the missing file (an empty store), then add a first record at the same time:
    # 3 values and 5 values. One store has one width: exactly one of them may succeed.
    reports = _run_writers(ex, other_process, cls, path, ("three", 1, 3), ("five", 1, 5))
    try:
        records = getattr(ex, cls)(path).all()
    except ValueError as err:
        pytest.fail(
            f"{cls}: two processes created {path.name} at once, adding a first embedding of width 3 "
            f"and one of width 5; both were kept and the store no longer opens ({err}): read the "
            f"width under the lock, so that one of them is refused",
            pytrace=False,
        )
    widths = sorted({r.embedding.shape[0] for r in records})
    assert len(records) == 1 and len(reports) == 1, (
        f"{cls}: two processes created {path.name} at once, adding a first embedding of width 3 and "
        f"one of width 5; expected one kept and one refused (ValueError), got {len(records)} record(s) "
        f"of widths {widths} and {len(reports)} refusal(s): read the width under the lock"
    )
    assert "3" in reports[0] and "5" in reports[0], (
        f"{cls}.add: the refusal must name both widths: {reports[0]}"
    )
