"""Exercise 04, the shared API: what a stored embedding looks like and what every store can do.

The reference solution uses this same file: you use it, you do not change it.
Your code is in stores.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

import torch


class StoreFormatError(ValueError):
    """The file exists but is not a store of this kit's format (corrupt, or someone else's file).

    The message names the file. A store that raises this never writes to the file, so
    nothing in it is lost: move it away or open another path.
    """


@dataclass(frozen=True, eq=False, repr=False)
class Record:
    """One stored embedding.

    - ``id``: a random UUID (version 4) as a string, e.g. ``"1b4e28ba-2fa1-4d2b-a4a9-0c1d2e3f4a5b"``,
      given by the store when the embedding is added;
    - ``name``: who the embedding belongs to (not unique: one person may have many embeddings);
    - ``embedding``: a 1-D ``torch.float32`` CPU tensor ``[D]``;
    - ``created_at``: when it was added, a timezone-aware ``datetime`` in UTC. Files keep it
      as an ISO 8601 string (``datetime.isoformat()``), which reads back to an equal datetime.

    Two records are equal when all four fields are: the embeddings with ``torch.equal``
    (a tensor of many values has no single truth value, so the dataclass default ``==``
    cannot compare them).
    """

    id: str
    name: str
    embedding: torch.Tensor
    created_at: datetime

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Record):
            return NotImplemented
        return (
            self.id == other.id
            and self.name == other.name
            and self.created_at == other.created_at
            and self.embedding.dtype == other.embedding.dtype
            and self.embedding.shape == other.embedding.shape
            and torch.equal(self.embedding, other.embedding)
        )

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        # 320 numbers would drown the other fields: show the embedding's dtype and width.
        dtype = str(self.embedding.dtype).removeprefix("torch.")
        return (
            f"Record(id={self.id!r}, name={self.name!r}, "
            f"embedding=<{dtype}[{', '.join(map(str, self.embedding.shape))}]>, "
            f"created_at={self.created_at.isoformat()!r})"
        )


@runtime_checkable
class EmbeddingStore(Protocol):
    """What every embedding store can do, whatever it keeps its records in.

    Code that only needs these methods (a search, a notebook) accepts any store:
    ``JsonFileStore``, ``SqliteStore`` or one of your own. ``isinstance(x, EmbeddingStore)``
    checks that ``x`` has the methods (not what they do).

    All embeddings of one store have the same width ``D``, set by the first one added.
    """

    def add(self, name: str, embedding: torch.Tensor) -> str:
        """Store ``embedding`` under ``name``; return the new record's id.

        Raises TypeError for a name that is not a str or an embedding that is not a float
        tensor, and ValueError for an empty name, an embedding that is not 1-D, is empty or
        holds NaN or infinity, or whose width differs from the store's.
        """
        ...

    def get(self, record_id: str) -> Record:
        """The record with this id; KeyError if there is none."""
        ...

    def find(self, name: str) -> list[Record]:
        """Every record with exactly this name, oldest first ([] if none)."""
        ...

    def all(self) -> list[Record]:
        """Every record, in the order they were added (oldest first)."""
        ...

    def remove(self, record_id: str) -> None:
        """Delete the record with this id; KeyError if there is none."""
        ...

    def __len__(self) -> int:
        """How many records the store holds."""
        ...
