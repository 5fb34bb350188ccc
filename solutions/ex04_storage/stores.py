"""Exercise 04, reference solution: embedding stores in a JSON file and in SQLite."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sqlite3
import tempfile
import uuid
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from filelock import FileLock

from .api import Record, StoreFormatError

# The JSON store's marker: a file without it is not ours, and is never overwritten.
JSON_FORMAT = "facekit-embeddings"
JSON_VERSION = 1
# SQLite keeps two integers in its file header for the application: "FACE" in ASCII, and
# the version of our tables. A new database has 0 in both.
SQLITE_APPLICATION_ID = 0x46414345
SQLITE_VERSION = 1
# One statement per string: sqlite3's executescript() would COMMIT the open transaction first.
# seq (SQLite's rowid) grows with every insert, so ORDER BY seq is insertion order.
SQLITE_SCHEMA = (
    """CREATE TABLE records (
        seq        INTEGER PRIMARY KEY,
        id         TEXT NOT NULL UNIQUE,
        name       TEXT NOT NULL,
        created_at TEXT NOT NULL,
        embedding  BLOB NOT NULL
    )""",
    "CREATE INDEX records_by_name ON records (name)",
)
# How long a writer waits for another one's lock before giving up, in seconds.
BUSY_TIMEOUT_S = 30.0
# The JSON store's writers take turns through a lock file next to the store: faces.json.lock.
JSON_LOCK_SUFFIX = ".lock"


def validate_entry(name: str, embedding: torch.Tensor, width: int | None = None) -> torch.Tensor:
    """Check a name and an embedding before they are stored; return the embedding to store.

    ``width`` is the width D of the embeddings the store already holds (None when it is
    empty: then any width is fine). Returns a new 1-D ``torch.float32`` CPU tensor with
    the embedding's values: a copy, so changing the caller's tensor afterwards changes
    nothing stored. Other float dtypes (float64, float16, ...) are converted to float32.

    Raises TypeError when ``name`` is not a str or ``embedding`` is not a torch.Tensor of
    floats, and ValueError when ``name`` is empty (or only spaces), ``embedding`` is not
    1-D (a ``[1, D]`` row from compute_embedding: store ``embedding[0]``), has no values,
    holds NaN or infinity, or its width is not ``width`` (the message names both widths).
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str; got {type(name).__name__}")
    if not name.strip():
        raise ValueError(f"name must not be empty; got {name!r}")
    if not isinstance(embedding, torch.Tensor):
        raise TypeError(f"embedding must be a torch.Tensor of shape [D]; got {type(embedding).__name__}")
    if not embedding.is_floating_point():
        raise TypeError(f"embedding must hold floats (torch.float32); got {embedding.dtype}")
    if embedding.ndim != 1:
        hint = " (one row of a batch? store embedding[0])" if embedding.ndim == 2 else ""
        raise ValueError(
            f"embedding must be 1-D, shape [D]; got {embedding.ndim} dimensions "
            f"{tuple(embedding.shape)}{hint}"
        )
    if embedding.numel() == 0:
        raise ValueError("embedding must have at least one value; got shape (0,)")
    if width is not None and embedding.shape[0] != width:
        raise ValueError(
            f"embedding must have width {width} like the ones already stored; got width {embedding.shape[0]}"
        )
    # A copy on the CPU, cut off from autograd: the caller may change or free their tensor.
    stored = embedding.detach().to(device="cpu", dtype=torch.float32).clone()
    # Checked after the conversion: a float64 beyond float32's range becomes infinity.
    if not torch.isfinite(stored).all():
        raise ValueError(
            "embedding holds NaN or infinity (as float32); a broken embedding "
            "cannot be compared with anything"
        )
    return stored


def _new_record(name: str, embedding: torch.Tensor) -> Record:
    return Record(id=str(uuid.uuid4()), name=name, embedding=embedding, created_at=datetime.now(timezone.utc))


def _width_of(records) -> int | None:
    for record in records:
        return record.embedding.shape[0]
    return None


# -- JSON --------------------------------------------------------------------------------------


class JsonFileStore:
    """Embeddings in one human-readable JSON file, rewritten atomically on every change.

    The file looks like this (``created_at`` in ISO 8601, UTC; each embedding a list of
    numbers, written exactly enough to read back the same float32 values, bit for bit)::

        {"format": "facekit-embeddings", "version": 1,
         "records": [{"id": "...", "name": "ada", "created_at": "2025-01-01T12:00:00.123456+00:00",
                      "embedding": [0.10000000149011612, -1.5, ...]}, ...]}

    A missing or empty file is an empty store (the file is created on the first ``add``).
    A file that is not JSON, or JSON without the format marker and version above, raises
    StoreFormatError naming the file, and is left untouched. Records are read when the
    store is opened, and again, under the lock below, before every change; every change
    writes the whole file to a temporary file in the same folder and then replaces the old file with it (``os.replace``), so a crash at any
    moment leaves either the old file or the new one, never half of one.

    Many writers, one file: each ``add`` and ``remove`` holds a lock on
    ``<path>.lock`` (``filelock.FileLock``, waiting up to BUSY_TIMEOUT_S seconds), reads
    the file again, makes its change on what it read and writes it back, so no process's
    record is lost to another's write (a lost update). Reads (``get``, ``find``, ``all``)
    use the records as of this store's last read or write.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        """Open the store in ``path`` (a JSON file; missing or empty means no records yet)."""
        self.path = Path(path)
        self._records: dict[str, Record] = self._load()  # by id; dicts keep insertion order

    def add(self, name: str, embedding: torch.Tensor) -> str:
        """Store ``embedding`` under ``name`` and write the file; return the new record's id."""
        self.path.parent.mkdir(parents=True, exist_ok=True)  # the lock file lives there too
        with self._lock():
            # What other processes wrote since we last looked: our change goes on top of it.
            current = self._load()
            record = _new_record(name, validate_entry(name, embedding, _width_of(current.values())))
            records = {**current, record.id: record}
            # The file first, then memory: if writing fails, both still hold the old records.
            self._save(records)
        self._records = records
        return record.id

    def get(self, record_id: str) -> Record:
        """The record with this id; KeyError if there is none."""
        return _copy(self._records[self._known(record_id)])

    def find(self, name: str) -> list[Record]:
        """Every record with exactly this name, oldest first ([] if none)."""
        return [_copy(r) for r in self._records.values() if r.name == name]

    def all(self) -> list[Record]:
        """Every record, in the order they were added (oldest first)."""
        return [_copy(r) for r in self._records.values()]

    def remove(self, record_id: str) -> None:
        """Delete the record with this id and write the file; KeyError if there is none."""
        with self._lock():
            current = self._load()
            if record_id not in current:
                raise KeyError(f"no record with id {record_id!r} in {self.path}")
            records = {k: r for k, r in current.items() if k != record_id}
            self._save(records)
        self._records = records

    def __len__(self) -> int:
        """How many records the store holds."""
        return len(self._records)

    def __repr__(self) -> str:
        return f"JsonFileStore({str(self.path)!r}, {len(self)} records)"

    # -- helpers --

    def _lock(self) -> FileLock:
        # A separate lock file: the store file itself is replaced on every write, so a lock
        # held on it would be held on a file that is no longer the store.
        return FileLock(f"{self.path}{JSON_LOCK_SUFFIX}", timeout=BUSY_TIMEOUT_S)

    def _known(self, record_id: str) -> str:
        if record_id not in self._records:
            raise KeyError(f"no record with id {record_id!r} in {self.path}")
        return record_id

    def _load(self) -> dict[str, Record]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except UnicodeDecodeError as err:
            raise StoreFormatError(
                f"{self.path} is not a JSON embedding store: it is not even "
                f"UTF-8 text ({err}); the file was left as it is"
            ) from None
        if not text.strip():
            return {}
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise StoreFormatError(
                f"{self.path} is not valid JSON ({err}): a corrupt or foreign "
                f"file; the file was left as it is"
            ) from None
        if not isinstance(data, dict) or data.get("format") != JSON_FORMAT:
            raise StoreFormatError(
                f"{self.path} is JSON but not an embedding store: it lacks "
                f'"format": "{JSON_FORMAT}"; the file was left as it is'
            )
        if data.get("version") != JSON_VERSION:
            raise StoreFormatError(
                f"{self.path} is an embedding store of version "
                f"{data.get('version')!r}; this code reads version {JSON_VERSION}"
            )
        records: dict[str, Record] = {}
        items = data.get("records")
        if not isinstance(items, list):
            raise StoreFormatError(f'{self.path}: "records" must be a list; got {type(items).__name__}')
        for number, item in enumerate(items):
            try:
                record = Record(
                    id=str(item["id"]),
                    name=str(item["name"]),
                    embedding=torch.tensor(item["embedding"], dtype=torch.float32),
                    created_at=datetime.fromisoformat(item["created_at"]),
                )
            except (KeyError, TypeError, ValueError) as err:
                raise StoreFormatError(
                    f"{self.path}: record #{number} is malformed ({type(err).__name__}: {err})"
                ) from None
            width = _width_of(records.values())
            if record.embedding.ndim != 1 or width not in (None, record.embedding.shape[0]):
                raise StoreFormatError(
                    f"{self.path}: record #{number} has an embedding of shape "
                    f"{tuple(record.embedding.shape)}; expected [{width or 'D'}]"
                )
            records[record.id] = record
        return records

    def _save(self, records: dict[str, Record]) -> None:
        data = {
            "format": JSON_FORMAT,
            "version": JSON_VERSION,
            "records": [
                {
                    "id": r.id,
                    "name": r.name,
                    "created_at": r.created_at.isoformat(),
                    # tolist() gives Python floats (doubles): each holds a float32 exactly, and
                    # json writes the shortest text that reads back to the same double.
                    "embedding": r.embedding.tolist(),
                }
                for r in records.values()
            ],
        }
        # Serialise before touching the disk: a failure here leaves no file behind.
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        # Same folder, so os.replace is a rename within one file system (atomic); across file
        # systems it would raise OSError (EXDEV) and copy nothing.
        fd, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                file.write(text)
                file.flush()  # Python's buffer -> the operating system
                os.fsync(file.fileno())  # the operating system's cache -> the disk
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.remove(temporary)
            raise
        _fsync_folder(self.path.parent)


def _copy(record: Record) -> Record:
    # Records are frozen but tensors are not: hand out copies so nobody edits ours in place.
    return dataclasses.replace(record, embedding=record.embedding.clone())


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); Windows cannot open a folder, and needs not."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- SQLite ------------------------------------------------------------------------------------


def _to_blob(embedding: torch.Tensor) -> bytes:
    # "<f4": little-endian float32, 4 bytes a value, whatever the machine's own byte order.
    return embedding.numpy().astype("<f4").tobytes()


def _from_blob(blob: bytes) -> torch.Tensor:
    # frombuffer shares the (read-only) bytes; astype makes a writable native float32 copy.
    return torch.from_numpy(np.frombuffer(blob, dtype="<f4").astype(np.float32))


class SqliteStore:
    """Embeddings in a SQLite database file: one transaction per change, safe for many processes.

    One table, ``records`` (see SQLITE_SCHEMA): ``id``, ``name``, ``created_at`` (ISO 8601
    text, UTC) and ``embedding``, a BLOB of D float32 values in little-endian byte order
    (4·D bytes). ``seq`` keeps the insertion order. The file header carries
    SQLITE_APPLICATION_ID and SQLITE_VERSION (``PRAGMA application_id`` / ``user_version``).

    A missing or empty file becomes a new store. A file that is not a SQLite database, or
    a database of someone else's (another application id, other tables), raises
    StoreFormatError naming the file, and is left untouched. Every method opens its own
    connection, so each call sees what other processes have committed; a write waits up
    to BUSY_TIMEOUT_S seconds for another process's write instead of failing.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        """Open the store in ``path`` (a SQLite file; missing or empty means a new store)."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self._transaction() as db:
                app_id = db.execute("PRAGMA application_id").fetchone()[0]
                version = db.execute("PRAGMA user_version").fetchone()[0]
                objects = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
                if (app_id, version, objects) == (0, 0, 0):  # a new, empty database: make it ours
                    for statement in SQLITE_SCHEMA:
                        db.execute(statement)
                    db.execute(f"PRAGMA application_id = {SQLITE_APPLICATION_ID}")
                    db.execute(f"PRAGMA user_version = {SQLITE_VERSION}")
                elif app_id != SQLITE_APPLICATION_ID:
                    raise StoreFormatError(
                        f"{self.path} is a SQLite database but not an embedding store "
                        f"(application id {app_id:#x}, expected {SQLITE_APPLICATION_ID:#x}); "
                        f"the file was left as it is"
                    )
                elif version != SQLITE_VERSION:
                    raise StoreFormatError(
                        f"{self.path} is an embedding store of version "
                        f"{version}; this code reads version {SQLITE_VERSION}"
                    )
        except sqlite3.OperationalError:
            raise  # locked, read-only, disk full...: real problems, but not the file's format
        except sqlite3.DatabaseError as err:
            raise StoreFormatError(
                f"{self.path} is not a SQLite database ({err}): a corrupt or "
                f"foreign file; the file was left as it is"
            ) from None

    def add(self, name: str, embedding: torch.Tensor) -> str:
        """Store ``embedding`` under ``name`` in one transaction; return the new record's id."""
        # BEGIN IMMEDIATE takes the write lock first: the width read here is still the
        # width when the INSERT runs, even with other processes adding at the same time.
        with self._transaction() as db:
            row = db.execute("SELECT length(embedding) FROM records LIMIT 1").fetchone()
            width = None if row is None else row[0] // 4
            record = _new_record(name, validate_entry(name, embedding, width))
            db.execute(
                "INSERT INTO records (id, name, created_at, embedding) VALUES (?, ?, ?, ?)",
                (record.id, record.name, record.created_at.isoformat(), _to_blob(record.embedding)),
            )
        return record.id

    def get(self, record_id: str) -> Record:
        """The record with this id; KeyError if there is none."""
        rows = self._select("WHERE id = ?", (record_id,))
        if not rows:
            raise KeyError(f"no record with id {record_id!r} in {self.path}")
        return rows[0]

    def find(self, name: str) -> list[Record]:
        """Every record with exactly this name, oldest first ([] if none)."""
        return self._select("WHERE name = ?", (name,))

    def all(self) -> list[Record]:
        """Every record, in the order they were added (oldest first)."""
        return self._select()

    def remove(self, record_id: str) -> None:
        """Delete the record with this id in one transaction; KeyError if there is none."""
        with self._transaction() as db:
            if db.execute("DELETE FROM records WHERE id = ?", (record_id,)).rowcount == 0:
                raise KeyError(f"no record with id {record_id!r} in {self.path}")

    def __len__(self) -> int:
        """How many records the store holds."""
        with contextlib.closing(self._connect()) as db:
            return db.execute("SELECT count(*) FROM records").fetchone()[0]

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r})"

    # -- helpers --

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: no hidden BEGINs; _transaction says where each one starts
        # and ends. timeout: SQLite's busy timeout, how long to wait for a lock.
        return sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)

    @contextlib.contextmanager
    def _transaction(self):
        """A connection inside BEGIN IMMEDIATE ... COMMIT; ROLLBACK if the block raises."""
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            db.close()

    def _select(self, where: str = "", parameters: tuple = ()) -> list[Record]:
        with contextlib.closing(self._connect()) as db:
            rows = db.execute(
                f"SELECT id, name, created_at, embedding FROM records {where} ORDER BY seq", parameters
            ).fetchall()
        return [
            Record(id=i, name=n, embedding=_from_blob(e), created_at=datetime.fromisoformat(c))
            for i, n, c, e in rows
        ]
