"""Exercise 04: keep face embeddings in a JSON file, then in SQLite, without losing any.

Read README.md in this folder first, then replace each `raise NotImplementedError(...)`
with your code, in this order: validate_entry, JsonFileStore, SqliteStore. Check your
work with `pytest tests/test_ex04_storage.py` from the kit's root.

Record, EmbeddingStore and StoreFormatError are in api.py: use them, do not change them.
"""

from __future__ import annotations

import contextlib  # noqa: F401  (you will need most of these)
import dataclasses  # noqa: F401
import json  # noqa: F401
import os
import sqlite3  # noqa: F401
import tempfile  # noqa: F401
import uuid  # noqa: F401
from datetime import datetime, timezone  # noqa: F401
from pathlib import Path  # noqa: F401

import numpy as np  # noqa: F401
import torch
from filelock import FileLock  # noqa: F401

from .api import Record, StoreFormatError  # noqa: F401

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


def _todo(what: str) -> NotImplementedError:
    return NotImplementedError(
        f"Exercise 04: {what} is not implemented yet. Open exercises/ex04_storage/stores.py "
        f"and follow its TODO steps (instructions: exercises/ex04_storage/README.md)."
    )


# -- Task 1: checking what comes in ------------------------------------------------------------


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
    # TODO 1. name: not a str -> TypeError; empty or only spaces (name.strip() == "") -> ValueError.
    # TODO 2. embedding: not a torch.Tensor -> TypeError; not floating point
    #         (embedding.is_floating_point() is False) -> TypeError naming embedding.dtype.
    # TODO 3. embedding.ndim != 1 -> ValueError with tuple(embedding.shape); no values
    #         (embedding.numel() == 0) -> ValueError.
    # TODO 4. width is not None and embedding.shape[0] != width -> ValueError naming both widths.
    # TODO 5. Make the copy to store: embedding.detach().to(device="cpu", dtype=torch.float32).clone()
    # TODO 6. NaN or infinity in the copy (not torch.isfinite(copy).all()) -> ValueError.
    #         Return the copy.
    raise _todo("validate_entry()")


# -- Task 2: JSON ------------------------------------------------------------------------------


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
        # TODO 1. Keep self.path = Path(path) and read the file into self._records, a dict
        #         {id: Record} (dicts keep insertion order). Put the reading in a helper
        #         method, e.g. self._load():
        #   a. FileNotFoundError, or a file with only whitespace -> no records: {}.
        #   b. json.loads(text); a json.JSONDecodeError (or a UnicodeDecodeError while
        #      reading) -> raise StoreFormatError naming self.path (`from None` or `from err`).
        #   c. Not a dict, data.get("format") != JSON_FORMAT, or data.get("version") !=
        #      JSON_VERSION -> StoreFormatError naming self.path (and, for a wrong
        #      version, the version found: data.get("version")).
        #   d. Each item of data["records"] -> Record(id, name,
        #      torch.tensor(item["embedding"], dtype=torch.float32),
        #      datetime.fromisoformat(item["created_at"])). A missing key or a bad value
        #      (KeyError, TypeError, ValueError) -> StoreFormatError naming self.path.
        raise _todo("JsonFileStore.__init__()")

    def add(self, name: str, embedding: torch.Tensor) -> str:
        """Store ``embedding`` under ``name`` and write the file; return the new record's id."""
        # TODO 2. Writers take turns: everything below runs inside
        #         `with FileLock(f"{self.path}{JSON_LOCK_SUFFIX}", timeout=BUSY_TIMEOUT_S):`
        #         (make the folder first: self.path.parent.mkdir(parents=True, exist_ok=True)).
        #         Inside it, read the file again (current = self._load()): another process
        #         may have added records since you opened the store. Without lock and
        #         re-read, two processes adding at once both write "their" file, and one
        #         record is lost. Then embedding = validate_entry(name, embedding, width),
        #         width being the width of any record in `current` (None when there are none).
        # TODO 3. record = Record(id=str(uuid.uuid4()), name=name, embedding=embedding,
        #         created_at=datetime.now(timezone.utc)).
        # TODO 4. Build the new dict (current records + this one) and write it with a helper,
        #         e.g. self._save(records) (see TODO 9). Only when that returned, set
        #         self._records = records: a failed write must leave the store as it was.
        #         Return record.id.
        raise _todo("JsonFileStore.add()")

    def get(self, record_id: str) -> Record:
        """The record with this id; KeyError if there is none."""
        # TODO 5. Unknown id -> KeyError naming it. Return a copy whose embedding is
        #         .clone()d (dataclasses.replace(record, embedding=...)): records are
        #         frozen, tensors are not, and a caller must not change the stored one.
        raise _todo("JsonFileStore.get()")

    def find(self, name: str) -> list[Record]:
        """Every record with exactly this name, oldest first ([] if none)."""
        # TODO 6. The records whose name == name, in stored order, copied as in TODO 5.
        raise _todo("JsonFileStore.find()")

    def all(self) -> list[Record]:
        """Every record, in the order they were added (oldest first)."""
        # TODO 7. Every record, in stored order, copied as in TODO 5.
        raise _todo("JsonFileStore.all()")

    def remove(self, record_id: str) -> None:
        """Delete the record with this id and write the file; KeyError if there is none."""
        # TODO 8. Under the lock, on the file read again (as in TODO 2): unknown id ->
        #         KeyError. Otherwise the new dict without it, written with self._save(...)
        #         before self._records changes (as in TODO 4).
        #
        # TODO 9. The atomic write, self._save(records):
        #   a. data = {"format": JSON_FORMAT, "version": JSON_VERSION, "records": [...]},
        #      each record {"id", "name", "created_at": r.created_at.isoformat(),
        #      "embedding": r.embedding.tolist()}; text = json.dumps(data, indent=2).
        #      Serialise BEFORE touching the disk.
        #   b. fd, temporary = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp"):
        #      a new file in the SAME folder as self.path.
        #   c. with os.fdopen(fd, "w", encoding="utf-8") as f: f.write(text); f.flush();
        #      os.fsync(f.fileno())
        #   d. os.replace(temporary, self.path)
        #   e. If b-d raise anything: os.remove(temporary) (if it still exists), then re-raise.
        raise _todo("JsonFileStore.remove()")

    def __len__(self) -> int:
        """How many records the store holds."""
        # TODO 10. The number of records.
        raise _todo("JsonFileStore.__len__()")


# -- Task 3: SQLite ----------------------------------------------------------------------------


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
        # TODO 1. Two helpers first (the README shows both):
        #   - self._connect(): sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S,
        #     isolation_level=None): no hidden transactions, and wait for locks;
        #   - a write transaction: db = self._connect(); db.execute("BEGIN IMMEDIATE");
        #     run the statements; db.execute("COMMIT"), or db.execute("ROLLBACK") and
        #     re-raise if one raised; db.close() in every case.
        # TODO 2. self.path = Path(path). In one write transaction read
        #         PRAGMA application_id, PRAGMA user_version and
        #         SELECT count(*) FROM sqlite_master:
        #   - all three 0: a new database. Run each statement of SQLITE_SCHEMA, then
        #     f"PRAGMA application_id = {SQLITE_APPLICATION_ID}" and
        #     f"PRAGMA user_version = {SQLITE_VERSION}".
        #   - otherwise the id must be SQLITE_APPLICATION_ID and the version SQLITE_VERSION,
        #     else raise StoreFormatError naming self.path.
        # TODO 3. A file that is not a database raises sqlite3.DatabaseError ("file is not a
        #         database") at the first statement: turn it into StoreFormatError naming
        #         self.path. Let sqlite3.OperationalError (a subclass: locked, read-only...)
        #         through unchanged.
        raise _todo("SqliteStore.__init__()")

    def add(self, name: str, embedding: torch.Tensor) -> str:
        """Store ``embedding`` under ``name`` in one transaction; return the new record's id."""
        # TODO 4. In ONE write transaction:
        #         `row = db.execute("SELECT length(embedding) FROM records LIMIT 1").fetchone()`
        #         gives bytes, 4 a value: `width = None if row is None else row[0] // 4`;
        #         validate_entry(name, embedding, width); INSERT INTO records
        #         (id, name, created_at, embedding) VALUES (?, ?, ?, ?) with the new id,
        #         created_at.isoformat() and the blob: embedding.numpy().astype("<f4").tobytes().
        #         Use ? placeholders, never f-strings, for values. Return the id.
        raise _todo("SqliteStore.add()")

    def get(self, record_id: str) -> Record:
        """The record with this id; KeyError if there is none."""
        # TODO 5. SELECT id, name, created_at, embedding FROM records WHERE id = ?
        #         No row -> KeyError. A row -> Record: the blob back to a tensor with
        #         torch.from_numpy(np.frombuffer(blob, dtype="<f4").astype(np.float32)),
        #         created_at with datetime.fromisoformat. (A helper for row -> Record helps
        #         in the next three methods too.) Close the connection (contextlib.closing).
        raise _todo("SqliteStore.get()")

    def find(self, name: str) -> list[Record]:
        """Every record with exactly this name, oldest first ([] if none)."""
        # TODO 6. As TODO 5, with WHERE name = ? ORDER BY seq.
        raise _todo("SqliteStore.find()")

    def all(self) -> list[Record]:
        """Every record, in the order they were added (oldest first)."""
        # TODO 7. As TODO 5, every row, ORDER BY seq.
        raise _todo("SqliteStore.all()")

    def remove(self, record_id: str) -> None:
        """Delete the record with this id in one transaction; KeyError if there is none."""
        # TODO 8. In a write transaction: DELETE FROM records WHERE id = ?. The cursor's
        #         .rowcount is the number of rows deleted: 0 -> KeyError (which rolls back).
        raise _todo("SqliteStore.remove()")

    def __len__(self) -> int:
        """How many records the store holds."""
        # TODO 9. SELECT count(*) FROM records.
        raise _todo("SqliteStore.__len__()")
