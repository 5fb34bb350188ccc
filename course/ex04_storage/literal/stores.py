"""Exercise 04 written only from the stub's TODO steps and the hints, word for word.

The stub's docstring follows.

Exercise 04: keep face embeddings in a JSON file, then in SQLite, without losing any.

Read README.md in this folder first, then replace each `raise NotImplementedError(...)`
with your code, in this order: validate_entry, JsonFileStore, SqliteStore. Check your
work with `pytest tests/test_ex04_storage.py` from the kit's root.

Record, EmbeddingStore and StoreFormatError are in api.py: use them, do not change them.
"""

from __future__ import annotations

import contextlib  # noqa: F401  (you will need most of these)
import dataclasses
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


def validate_entry(name: str, embedding: torch.Tensor, width: int | None = None) -> torch.Tensor:
    # TODO 1
    if not isinstance(name, str):
        raise TypeError(f"name must be a str; got {type(name).__name__}")
    if name.strip() == "":
        raise ValueError(f"name must not be empty; got {name!r}")
    # TODO 2
    if not isinstance(embedding, torch.Tensor):
        raise TypeError(f"embedding must be a torch.Tensor; got {type(embedding).__name__}")
    if embedding.is_floating_point() is False:
        raise TypeError(f"embedding must hold floats; got {embedding.dtype}")
    # TODO 3
    if embedding.ndim != 1:
        raise ValueError(f"embedding must be 1-D; got shape {tuple(embedding.shape)}")
    if embedding.numel() == 0:
        raise ValueError("embedding has no values")
    # TODO 4
    if width is not None and embedding.shape[0] != width:
        raise ValueError(f"embedding has width {embedding.shape[0]}; the store holds width {width}")
    # TODO 5
    copy = embedding.detach().to(device="cpu", dtype=torch.float32).clone()
    # TODO 6
    if not torch.isfinite(copy).all():
        raise ValueError("embedding holds NaN or infinity")
    return copy


class JsonFileStore:
    def __init__(self, path: str | os.PathLike) -> None:
        # TODO 1
        self.path = Path(path)
        self._records = self._load()

    def _load(self) -> dict:
        # TODO 1a
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except UnicodeDecodeError as err:
            raise StoreFormatError(f"{self.path} is not a JSON file") from err
        if text.strip() == "":
            return {}
        # TODO 1b
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise StoreFormatError(f"{self.path} is not a JSON file") from err
        # TODO 1c
        if (
            not isinstance(data, dict)
            or data.get("format") != JSON_FORMAT
            or data.get("version") != JSON_VERSION
        ):
            version = data.get("version") if isinstance(data, dict) else None
            raise StoreFormatError(
                f"{self.path} is not a {JSON_FORMAT} file of version {JSON_VERSION} "
                f"(version found: {version})"
            )
        # TODO 1d
        records = {}
        try:
            for item in data["records"]:
                records[item["id"]] = Record(
                    item["id"],
                    item["name"],
                    torch.tensor(item["embedding"], dtype=torch.float32),
                    datetime.fromisoformat(item["created_at"]),
                )
        except (KeyError, TypeError, ValueError) as err:
            raise StoreFormatError(f"{self.path} holds a bad record: {err}") from err
        return records

    def add(self, name: str, embedding: torch.Tensor) -> str:
        # TODO 2
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(f"{self.path}{JSON_LOCK_SUFFIX}", timeout=BUSY_TIMEOUT_S):
            current = self._load()
            width = next((r.embedding.shape[0] for r in current.values()), None)
            embedding = validate_entry(name, embedding, width)
            # TODO 3
            record = Record(
                id=str(uuid.uuid4()), name=name, embedding=embedding, created_at=datetime.now(timezone.utc)
            )
            # TODO 4
            records = {**current, record.id: record}
            self._save(records)
            self._records = records
        return record.id

    def get(self, record_id: str) -> Record:
        # TODO 5
        if record_id not in self._records:
            raise KeyError(f"no record with id {record_id!r}")
        record = self._records[record_id]
        return dataclasses.replace(record, embedding=record.embedding.clone())

    def find(self, name: str) -> list[Record]:
        # TODO 6
        return [
            dataclasses.replace(r, embedding=r.embedding.clone())
            for r in self._records.values()
            if r.name == name
        ]

    def all(self) -> list[Record]:
        # TODO 7
        return [dataclasses.replace(r, embedding=r.embedding.clone()) for r in self._records.values()]

    def remove(self, record_id: str) -> None:
        # TODO 8
        with FileLock(f"{self.path}{JSON_LOCK_SUFFIX}", timeout=BUSY_TIMEOUT_S):
            current = self._load()
            if record_id not in current:
                raise KeyError(f"no record with id {record_id!r}")
            records = {k: v for k, v in current.items() if k != record_id}
            self._save(records)
            self._records = records

    def _save(self, records: dict) -> None:
        # TODO 9a
        data = {
            "format": JSON_FORMAT,
            "version": JSON_VERSION,
            "records": [
                {
                    "id": r.id,
                    "name": r.name,
                    "created_at": r.created_at.isoformat(),
                    "embedding": r.embedding.tolist(),
                }
                for r in records.values()
            ],
        }
        text = json.dumps(data, indent=2)
        # TODO 9b-e (hint 2: try/except BaseException)
        fd, temporary = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            if os.path.exists(temporary):
                os.remove(temporary)
            raise

    def __len__(self) -> int:
        # TODO 10
        return len(self._records)


class SqliteStore:
    def __init__(self, path: str | os.PathLike) -> None:
        # TODO 2
        self.path = Path(path)
        # TODO 3 (hint: catch sqlite3.OperationalError first, re-raise it)
        try:
            self._write(self._create)
        except sqlite3.OperationalError:
            raise
        except sqlite3.DatabaseError as err:
            raise StoreFormatError(f"{self.path} is not a SQLite database: {err}") from err

    def _create(self, db) -> None:
        application_id = db.execute("PRAGMA application_id").fetchone()[0]
        version = db.execute("PRAGMA user_version").fetchone()[0]
        tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if application_id == 0 and version == 0 and tables == 0:
            for statement in SQLITE_SCHEMA:
                db.execute(statement)
            db.execute(f"PRAGMA application_id = {SQLITE_APPLICATION_ID}")
            db.execute(f"PRAGMA user_version = {SQLITE_VERSION}")
        elif application_id != SQLITE_APPLICATION_ID or version != SQLITE_VERSION:
            raise StoreFormatError(
                f"{self.path} is not a facekit store (application id {application_id:#x}, version {version})"
            )

    # TODO 1
    def _connect(self):
        return sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)

    def _write(self, statements):
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                result = statements(db)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            return result
        finally:
            db.close()

    def add(self, name: str, embedding: torch.Tensor) -> str:
        # TODO 4
        def insert(db):
            row = db.execute("SELECT length(embedding) FROM records LIMIT 1").fetchone()
            width = None if row is None else row[0] // 4
            valid = validate_entry(name, embedding, width)
            record_id = str(uuid.uuid4())
            db.execute(
                "INSERT INTO records (id, name, created_at, embedding) VALUES (?, ?, ?, ?)",
                (
                    record_id,
                    name,
                    datetime.now(timezone.utc).isoformat(),
                    valid.numpy().astype("<f4").tobytes(),
                ),
            )
            return record_id

        return self._write(insert)

    @staticmethod
    def _record(row) -> Record:
        record_id, name, created_at, blob = row
        return Record(
            record_id,
            name,
            torch.from_numpy(np.frombuffer(blob, dtype="<f4").astype(np.float32)),
            datetime.fromisoformat(created_at),
        )

    def get(self, record_id: str) -> Record:
        # TODO 5
        with contextlib.closing(self._connect()) as db:
            row = db.execute(
                "SELECT id, name, created_at, embedding FROM records WHERE id = ?", (record_id,)
            ).fetchone()
        if row is None:
            raise KeyError(f"no record with id {record_id!r}")
        return self._record(row)

    def find(self, name: str) -> list[Record]:
        # TODO 6
        with contextlib.closing(self._connect()) as db:
            rows = db.execute(
                "SELECT id, name, created_at, embedding FROM records WHERE name = ? ORDER BY seq", (name,)
            ).fetchall()
        return [self._record(row) for row in rows]

    def all(self) -> list[Record]:
        # TODO 7
        with contextlib.closing(self._connect()) as db:
            rows = db.execute("SELECT id, name, created_at, embedding FROM records ORDER BY seq").fetchall()
        return [self._record(row) for row in rows]

    def remove(self, record_id: str) -> None:
        # TODO 8
        def delete(db):
            if db.execute("DELETE FROM records WHERE id = ?", (record_id,)).rowcount == 0:
                raise KeyError(f"no record with id {record_id!r}")

        self._write(delete)

    def __len__(self) -> int:
        # TODO 9
        with contextlib.closing(self._connect()) as db:
            return db.execute("SELECT count(*) FROM records").fetchone()[0]
