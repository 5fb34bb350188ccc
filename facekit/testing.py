"""Helpers for the exercise tests: a store test double (MemoryStore) and raises_besides_todo.

Helpers for tests of the ``facekit`` command are in facekit.cli.testing.
"""

from __future__ import annotations

import collections
import contextlib

import pytest


@contextlib.contextmanager
def raises_besides_todo(expected=Exception):
    """``pytest.raises(expected)`` that lets a stub's NotImplementedError through.

    NotImplementedError is an Exception too, so a plain ``pytest.raises(Exception)`` would
    count an untouched stub as "raised the right error".
    """
    with pytest.raises(expected) as info:
        yield info
    if isinstance(info.value, NotImplementedError):
        raise info.value


class MemoryStore:
    """Records in a list, in insertion order: Exercise 04's EmbeddingStore protocol, in memory.

    Tests of what uses a store (Exercises 05 and 06) use it instead of the student's stores, so
    they test their own exercise; ``calls`` counts each method's calls.
    """

    def __init__(self, record_type):
        from datetime import datetime, timezone

        self._record_type = record_type
        self._records = []
        self._start = datetime(2025, 1, 1, tzinfo=timezone.utc)
        self.calls: collections.Counter[str] = collections.Counter()

    def add(self, name, embedding):
        import uuid
        from datetime import timedelta

        import torch

        self.calls["add"] += 1
        assert embedding.ndim == 1, f"store one embedding [D] per record; got {tuple(embedding.shape)}"
        record = self._record_type(
            id=str(uuid.uuid4()),
            name=name,
            embedding=embedding.detach().to(torch.float32).clone(),
            created_at=self._start + timedelta(seconds=len(self._records)),
        )
        self._records.append(record)
        return record.id

    def get(self, record_id):
        self.calls["get"] += 1
        for record in self._records:
            if record.id == record_id:
                return record
        raise KeyError(record_id)

    def find(self, name):
        self.calls["find"] += 1
        return [r for r in self._records if r.name == name]

    def all(self):
        self.calls["all"] += 1
        return list(self._records)

    def remove(self, record_id):
        self.calls["remove"] += 1
        self._records.remove(self.get(record_id))

    def __len__(self):
        self.calls["len"] += 1
        return len(self._records)


# -- errors a test expects -----------------------------------------------------------------------


class Raised:
    """What ``raises`` caught: ``.value`` is the exception (like pytest's ExceptionInfo)."""

    value: BaseException | None = None


@contextlib.contextmanager
def raises(expected, call: str):
    """``pytest.raises(expected)`` whose failure names the call and what happened instead.

    ``call`` says what was called, e.g. ``"l2_normalize(torch.zeros(320))"``. A call that
    returns fails with "... returned without raising; expected ValueError"; one that raises
    another error fails with its type and message. A stub's NotImplementedError goes
    through untouched, so the harness still reports "not implemented yet".
    """
    names = " or ".join(e.__name__ for e in (expected if isinstance(expected, tuple) else (expected,)))
    caught = Raised()
    try:
        yield caught
    except NotImplementedError:
        raise
    except expected as err:
        caught.value = err
        return
    except Exception as err:  # noqa: BLE001 - reported as the wrong error
        # What was expected comes before the error's own text, which can be long (a message that
        # lists a path's every character): the record keeps a failure's first 2000 characters.
        pytest.fail(f"{call} raised {type(err).__name__}, expected {names}: {err}", pytrace=False)
    pytest.fail(f"{call} returned without raising; expected {names}", pytrace=False)


def close(got, expected, what: str, **tolerance) -> None:
    """``torch.testing.assert_close`` whose message starts with ``what`` (the call and its input)."""
    import torch

    torch.testing.assert_close(got, expected, msg=lambda default: f"{what}: {default}", **tolerance)
