"""Exercise 04: validate_entry(), JsonFileStore and SqliteStore, tested against the selected tree.

What both stores must do is tested once, for each store (test ids ``[json]`` and
``[sqlite]``); what only one of them promises (the JSON file's atomic replace, SQLite's
blobs and concurrent writers) is tested on its own.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sqlite3
import stat
import sys
import threading
import time
import traceback
import uuid
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
import torch

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
def path(tmp_path, kind):
    return tmp_path / KINDS[kind][1]


@pytest.fixture
def open_store(ex, kind, path):
    """``open_store()`` opens the store class under test on this test's file."""
    cls = getattr(ex, KINDS[kind][0])
    return lambda where=path: cls(where)


@pytest.fixture
def store(open_store):
    return open_store()


def vectors(n: int, width: int = WIDTH, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, width, generator=torch.Generator().manual_seed(seed))


def bits(t: torch.Tensor) -> torch.Tensor:
    """The float32 bit patterns: tells -0.0 from 0.0, and compares NaNs too."""
    return t.contiguous().view(torch.int32)


def files_in(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# Values float32 has but short decimal text easily loses: extremes, subnormals, -0.0, 1/3...
AWKWARD = torch.tensor([
    3.4028234663852886e38, -3.4028234663852886e38,  # largest float32
    1.1754943508222875e-38,  # smallest normal
    1.401298464324817e-45, -2.5e-40,  # subnormals
    -0.0, 0.0, 0.1, 1 / 3, 2 / 3, 1e-7, 123456.789, -1.0000001,
], dtype=torch.float32)


# -- validate_entry -----------------------------------------------------------------------


@pytest.mark.function("validate_entry")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16], ids=str)
def test_validate_entry_returns_a_float32_copy(ex, dtype):
    embedding = vectors(1, 8)[0].to(dtype)
    stored = ex.validate_entry("ada", embedding)
    assert isinstance(stored, torch.Tensor)
    assert stored.dtype == torch.float32 and tuple(stored.shape) == (8,)
    assert torch.equal(stored, embedding.to(torch.float32))
    before = stored.clone()
    embedding.zero_()
    assert torch.equal(stored, before), "return a copy: the caller's tensor may change later"


@pytest.mark.function("validate_entry")
def test_validate_entry_detaches_from_autograd(ex):
    embedding = vectors(1, 8)[0].requires_grad_()
    stored = ex.validate_entry("ada", embedding * 2)
    assert not stored.requires_grad and stored.grad_fn is None


@pytest.mark.function("validate_entry")
def test_validate_entry_accepts_the_stores_width(ex):
    stored = ex.validate_entry("ada", vectors(1)[0], width=WIDTH)
    assert tuple(stored.shape) == (WIDTH,)


@pytest.mark.function("validate_entry")
def test_validate_entry_wrong_width_names_both(ex):
    with pytest.raises(ValueError) as info:
        ex.validate_entry("ada", vectors(1, 128)[0], width=WIDTH)
    assert "128" in str(info.value) and str(WIDTH) in str(info.value), \
        f"name the store's width and the one given: {info.value}"


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
    with pytest.raises(error) as info:
        ex.validate_entry("ada", make())
    if case == "row-1x4":
        assert "1, 4" in str(info.value), f"say which shape was given: {info.value}"
    if case == "int64":
        assert "int64" in str(info.value), f"say which dtype was given: {info.value}"


@pytest.mark.function("validate_entry")
@pytest.mark.parametrize("name, error", [("", ValueError), ("   ", ValueError),
                                         (None, TypeError), (42, TypeError)],
                         ids=["empty", "spaces", "None", "int"])
def test_validate_entry_refuses_bad_names(ex, name, error):
    with pytest.raises(error):
        ex.validate_entry(name, vectors(1, 4)[0])


# -- both stores: basics ------------------------------------------------------------------


def test_store_follows_the_protocol(ex, store):
    assert isinstance(store, ex.EmbeddingStore)
    assert len(store) == 0


def test_missing_file_is_an_empty_store(store, path):
    assert len(store) == 0
    assert store.all() == []
    assert store.find("ada") == []


def test_empty_file_is_an_empty_store(open_store, path):
    path.write_bytes(b"")
    store = open_store()
    assert len(store) == 0 and store.all() == []
    record_id = store.add("ada", vectors(1)[0])
    assert [r.id for r in open_store().all()] == [record_id]


def test_add_returns_a_uuid4_and_get_returns_the_record(ex, store):
    embedding = vectors(1)[0]
    before = datetime.now(timezone.utc)
    record_id = store.add("ada", embedding)
    after = datetime.now(timezone.utc)
    assert isinstance(record_id, str)
    assert uuid.UUID(record_id).version == 4 and str(uuid.UUID(record_id)) == record_id, \
        "ids are str(uuid.uuid4())"
    record = store.get(record_id)
    assert isinstance(record, ex.Record)
    assert record.id == record_id and record.name == "ada"
    assert record.embedding.dtype == torch.float32 and tuple(record.embedding.shape) == (WIDTH,)
    assert torch.equal(record.embedding, embedding)
    assert isinstance(record.created_at, datetime)
    assert record.created_at.utcoffset() == timedelta(0), \
        "created_at must be timezone-aware UTC: datetime.now(timezone.utc)"
    assert before <= record.created_at <= after
    assert len(store) == 1


def test_ids_are_unique(store):
    ids = [store.add("ada", row) for row in vectors(20, 4)]
    assert len(set(ids)) == 20


def test_all_and_find_keep_insertion_order(store):
    names = ["ada", "bob", "ada", "cy", "bob", "ada"]
    ids = [store.add(name, row) for name, row in zip(names, vectors(len(names)))]
    assert [r.id for r in store.all()] == ids
    assert [r.id for r in store.find("ada")] == [ids[0], ids[2], ids[5]]
    assert [r.id for r in store.find("bob")] == [ids[1], ids[4]]
    assert store.find("nobody") == []
    assert store.find("Ada") == [], "names match exactly"
    assert len(store) == len(names)


def test_round_trip_after_reopening_is_bit_exact(open_store, path):
    store = open_store()
    rows = torch.cat([AWKWARD, vectors(1, WIDTH - len(AWKWARD))[0] * 1e-3]), vectors(2)[0], vectors(2)[1]
    names = ["Zoë", "李雷", "O'Brien \"quoted\""]
    ids = [store.add(name, row) for name, row in zip(names, rows)]
    written = store.all()

    reopened = open_store(str(path)).all()  # a str path works as well as a Path
    assert [r.id for r in reopened] == ids
    assert [r.name for r in reopened] == names
    for before, after, row in zip(written, reopened, rows):
        assert after.embedding.dtype == torch.float32
        assert torch.equal(bits(after.embedding), bits(row)), \
            f"record {after.name!r}: the embedding changed on its way through the file"
        assert after.created_at == before.created_at, "created_at must read back exactly"
        assert after == before


def test_remove_deletes_one_record_and_keeps_the_others(open_store):
    store = open_store()
    ids = [store.add(name, row) for name, row in zip("abcd", vectors(4))]
    assert store.remove(ids[1]) is None
    assert len(store) == 3
    assert [r.id for r in store.all()] == [ids[0], ids[2], ids[3]]
    with pytest.raises(KeyError):
        store.get(ids[1])
    assert [r.id for r in open_store().all()] == [ids[0], ids[2], ids[3]], \
        "the removal must be in the file"


@pytest.mark.parametrize("operation", ["get", "remove"])
def test_unknown_id_is_a_key_error(store, operation):
    kept = store.add("ada", vectors(1)[0])
    missing = str(uuid.uuid4())
    with pytest.raises(KeyError) as info:
        getattr(store, operation)(missing)
    assert missing in str(info.value), "name the id that was not found"
    assert [r.id for r in store.all()] == [kept]


def test_removing_twice_is_a_key_error(store):
    record_id = store.add("ada", vectors(1)[0])
    store.remove(record_id)
    with pytest.raises(KeyError):
        store.remove(record_id)


def test_any_width_for_the_first_then_only_that_width(open_store):
    store = open_store()
    store.add("small", torch.tensor([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError) as info:
        store.add("ada", vectors(1)[0])
    assert "3" in str(info.value) and str(WIDTH) in str(info.value), \
        f"name the store's width (3) and the one given ({WIDTH}): {info.value}"
    assert len(store) == 1 and len(open_store()) == 1, "a refused add must change nothing"


@pytest.mark.parametrize("case", ["list", "int64", "row-1x4", "nan"])
def test_store_refuses_bad_embeddings(store, case):
    make, error = BAD_EMBEDDINGS[case]
    with pytest.raises(error):
        store.add("ada", make())
    assert len(store) == 0


@pytest.mark.parametrize("name, error", [("", ValueError), (None, TypeError)], ids=["empty", "None"])
def test_store_refuses_bad_names(store, name, error):
    with pytest.raises(error):
        store.add(name, vectors(1)[0])
    assert len(store) == 0


def test_float64_is_stored_as_float32(open_store):
    store = open_store()
    embedding = vectors(1)[0].double() / 3
    record_id = store.add("ada", embedding)
    for record in (store.get(record_id), open_store().get(record_id)):
        assert record.embedding.dtype == torch.float32
        assert torch.equal(record.embedding, embedding.float())


def test_the_store_keeps_its_own_copy(store):
    embedding = vectors(1)[0]
    original = embedding.clone()
    record_id = store.add("ada", embedding)
    embedding.zero_()  # the caller reuses its tensor
    assert torch.equal(store.get(record_id).embedding, original), \
        "add must store a copy, not the caller's tensor"
    for record in (store.get(record_id), store.all()[0], store.find("ada")[0]):
        record.embedding.zero_()  # a caller edits what it got back
    assert torch.equal(store.get(record_id).embedding, original), \
        "get/all/find must hand out copies of the stored embeddings"


def test_stored_embeddings_have_no_autograd_history(store):
    record_id = store.add("ada", vectors(1)[0].requires_grad_() * 2)
    embedding = store.get(record_id).embedding
    assert not embedding.requires_grad and embedding.grad_fn is None


def test_garbage_file_is_a_format_error_and_left_untouched(ex, open_store, path):
    garbage = b"\x89not a store \x00\xff\xfe" * 64
    path.write_bytes(garbage)
    with pytest.raises(ex.StoreFormatError) as info:
        open_store()
    assert str(path) in str(info.value), f"name the file: {info.value}"
    assert path.read_bytes() == garbage, "a file that is not a store must never be written"
    assert files_in(path.parent) == [path.name], "and nothing may be left next to it"


# -- JSON only ----------------------------------------------------------------------------


@pytest.fixture
def json_path(tmp_path):
    return tmp_path / "store.json"


@pytest.fixture
def json_store(ex, json_path):
    return ex.JsonFileStore(json_path)


@pytest.mark.function("JsonFileStore")
def test_json_file_is_readable_json_with_the_format_marker(ex, json_store, json_path):
    embeddings = torch.cat([AWKWARD, vectors(1, 3)[0]]), vectors(1, len(AWKWARD) + 3, seed=1)[0]
    ids = [json_store.add(name, row) for name, row in zip(["ada", "Zoë"], embeddings)]
    text = json_path.read_text(encoding="utf-8")
    data = json.loads(text)
    assert data["format"] == ex.JSON_FORMAT and data["version"] == ex.JSON_VERSION
    assert [item["id"] for item in data["records"]] == ids
    assert [item["name"] for item in data["records"]] == ["ada", "Zoë"]
    for item, row in zip(data["records"], embeddings):
        assert isinstance(item["embedding"], list), "embeddings are JSON lists of numbers"
        assert all(isinstance(v, float) for v in item["embedding"])
        # Each number must read back (as a double) to exactly the float32 value.
        assert item["embedding"] == row.tolist(), "write r.embedding.tolist(): exact, readable"
        created = datetime.fromisoformat(item["created_at"])
        assert created.utcoffset() == timedelta(0), "created_at: ISO 8601 with +00:00"


@pytest.mark.function("JsonFileStore")
def test_json_write_goes_through_a_synced_temporary_file_in_the_same_folder(
        json_store, json_path, monkeypatch):
    events = []
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
    assert len(replaces) == 1, f"one os.replace per write; saw {events}"
    _, source, destination = replaces[0]
    assert os.path.abspath(destination) == os.path.abspath(json_path)
    assert os.path.dirname(os.path.abspath(source)) == os.path.dirname(os.path.abspath(json_path)), \
        "write the temporary file in the store's own folder (a rename across disks is a copy)"
    assert ("fsync",) in events[: events.index(replaces[0])], \
        "flush and os.fsync the temporary file before replacing the old one"
    assert files_in(json_path.parent) == [json_path.name]


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
def test_json_crash_during_a_write_keeps_the_old_file(ex, json_store, json_path, monkeypatch,
                                                      operation, where):
    ids = [json_store.add(name, row) for name, row in zip(["ada", "bob"], vectors(2))]
    before_bytes = json_path.read_bytes()
    before = json_store.all()
    with monkeypatch.context() as m:
        _install_crash(where, m)
        with pytest.raises(_Crash):
            if operation == "add":
                json_store.add("cy", vectors(1, seed=5)[0])
            else:
                json_store.remove(ids[0])
    assert json_path.read_bytes() == before_bytes, "the old file must survive a failed write"
    assert files_in(json_path.parent) == [json_path.name], \
        "remove the temporary file when the write fails"
    assert json_store.all() == before, "a failed write must leave the store as it was, in memory too"
    assert ex.JsonFileStore(json_path).all() == before


JSON_NOT_OURS = {
    "not-json": b"name,embedding\nada,0.1 0.2\n",
    "truncated": None,  # the first half of a real store file
    "list": b"[1, 2, 3]",
    "no-marker": b'{"records": []}',
    "other-format": b'{"format": "someone-else", "version": 1, "records": []}',
    "version-99": b'{"format": "facekit-embeddings", "version": 99, "records": []}',
    "record-without-embedding": (b'{"format": "facekit-embeddings", "version": 1, "records": '
                                 b'[{"id": "x", "name": "ada", "created_at": '
                                 b'"2025-01-01T00:00:00+00:00"}]}'),
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
    with pytest.raises(ex.StoreFormatError) as info:
        ex.JsonFileStore(json_path)
    assert str(json_path) in str(info.value), f"name the file: {info.value}"
    if case == "version-99":
        assert "99" in str(info.value), f"say which version the file has: {info.value}"
    assert json_path.read_bytes() == content, "never overwrite a file that is not a store"


# -- SQLite only --------------------------------------------------------------------------


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "store.db"


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
    assert len(rows) == 1
    stored_id, name, created_at, blob = rows[0]
    assert (stored_id, name) == (record_id, "ada")
    assert isinstance(blob, bytes), f"store the embedding as a BLOB (bytes); got {type(blob).__name__}"
    assert len(blob) == 4 * WIDTH, f"4 bytes per float32 value: expected {4 * WIDTH}, got {len(blob)}"
    assert blob == embedding.numpy().astype("<f4").tobytes(), "float32, little-endian, in order"
    assert datetime.fromisoformat(created_at) == sqlite_store.get(record_id).created_at
    assert (application_id, version) == (ex.SQLITE_APPLICATION_ID, ex.SQLITE_VERSION)


@pytest.mark.function("SqliteStore")
@pytest.mark.parametrize("case", ["other-tables", "version-99"])
def test_sqlite_database_that_is_not_ours_is_a_format_error(ex, db_path, case):
    with sqlite3.connect(db_path) as db:
        if case == "other-tables":  # someone else's database; user_version 1 is common
            db.execute("CREATE TABLE people (name TEXT)")
            db.execute("INSERT INTO people VALUES ('ada')")
            db.execute("PRAGMA user_version = 1")
        else:
            db.execute(f"PRAGMA application_id = {ex.SQLITE_APPLICATION_ID}")
            db.execute("PRAGMA user_version = 99")
    db.close()
    content = db_path.read_bytes()
    with pytest.raises(ex.StoreFormatError) as info:
        ex.SqliteStore(db_path)
    assert str(db_path) in str(info.value), f"name the file: {info.value}"
    assert db_path.read_bytes() == content, "never write to a database that is not a store"


@pytest.mark.function("SqliteStore")
def test_sqlite_stores_of_one_file_see_each_others_writes(ex, db_path):
    first, second = ex.SqliteStore(db_path), ex.SqliteStore(db_path)
    record_id = first.add("ada", vectors(1)[0])
    assert [r.id for r in second.all()] == [record_id]
    second.remove(record_id)
    assert len(first) == 0
    with pytest.raises(KeyError):
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
    assert [r.id for r in sqlite_store.all()] == [record_id]


def _add_many(target: str, path: str, name: str, count: int, go, errors) -> None:
    """Child process: open the store, wait for the start signal, add ``count`` records."""
    try:
        from facekit import settings

        # One thread: a forked child must not use the OpenMP thread pool copied from its parent.
        torch.set_num_threads(1)
        store = settings.load_exercise(EXERCISE, target).SqliteStore(path)
        go.wait(30)
        for i in range(count):
            store.add(name, torch.full((WIDTH,), float(i)))
    except BaseException:  # noqa: BLE001 - sent to the parent, which fails the test with it
        errors.put(f"{name}: {traceback.format_exc()}")
        raise


@pytest.mark.function("SqliteStore")
@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")
def test_sqlite_two_processes_adding_at_once_lose_nothing(ex, kit_target, sqlite_store, db_path):
    per_process = 50
    # fork (Linux): the children start at once, with torch and the kit already imported.
    # Elsewhere spawn, which imports them afresh: slower, but fork is unsafe on macOS.
    context = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    go, errors = context.Event(), context.SimpleQueue()
    workers = [context.Process(target=_add_many,
                               args=(kit_target, str(db_path), name, per_process, go, errors))
               for name in ("left", "right")]
    for worker in workers:
        worker.start()
    go.set()
    for worker in workers:
        worker.join(timeout=120)
    hung = [w for w in workers if w.is_alive()]
    for worker in hung:
        worker.kill()
    problems = []
    while not errors.empty():
        problems.append(errors.get())
    assert not problems, "a writer failed:\n" + "\n".join(problems)
    assert not hung and all(w.exitcode == 0 for w in workers), \
        f"exit codes {[w.exitcode for w in workers]}"
    records = sqlite_store.all()
    assert len(records) == len(sqlite_store) == 2 * per_process, "every add must be kept"
    assert len({r.id for r in records}) == 2 * per_process
    for name in ("left", "right"):
        values = [r.embedding[0].item() for r in records if r.name == name]
        assert values == [float(i) for i in range(per_process)], \
            f"{name}'s records, in the order it added them"
