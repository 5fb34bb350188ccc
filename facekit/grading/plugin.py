"""The grader's pytest plugin, layered on the recorder (facekit.harness.plugin).

Loaded with ``-p facekit.grading.plugin`` in the process that runs a submission, beside the
recorder, which writes the record to the descriptor the grader opened and handed down
(``FACEKIT_RECORD_FD``). The collection line names each test's declared function and the
broad ones; the grader reads it from the pristine kit only. This plugin adds what only
grading needs: a limit per test, hidden tests deleted once collected, an early exit once the
record is complete, and two guards, here because this module is loaded (``-p``) before any
student code runs:

- the reference is refused: ``import solutions`` (or ``solutions.*``) raises ImportError (and
  ``facekit.app_parts``, Exercise 06's stand-ins, from anything but a test module),
  wherever the instructor's environment would find it (an old editable install, a path);
- sentinel tests: the grader names, per run, tests of its own (``FACEKIT_GRADE_SENTINELS``,
  read and removed from the environment at configure time), some that must pass and some that
  must fail, placed at the start of test files and at the end. A record in which they do not
  come out as planted was forged (facekit.grading.integrity checks it in the grader).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
from collections.abc import Callable, Generator
from pathlib import Path
from types import FrameType

import pytest

from facekit.grading.runner import HIDE_ENV, SENTINELS_ENV, TIMEOUTS_ENV
from facekit.harness import plugin as recorder

REFUSED = "solutions"

_sentinels: list[dict] = []


# Exercise 06's tests give the app these working parts of Exercises 01-05; a submission's own
# module importing them would hand in the kit's parts as its answers.
TESTS_ONLY = "facekit.app_parts"


def _importer_is_a_test() -> bool:
    """Whether the code asking for an import (past importlib's own frames) is a test module."""
    frame: FrameType | None = sys._getframe(2)
    while frame is not None and (
        frame.f_code.co_filename.startswith("<frozen") or "importlib" in frame.f_code.co_filename
    ):
        frame = frame.f_back
    if frame is None:
        return False
    where = Path(frame.f_code.co_filename)
    return where.parent.name == "tests" and where.name.startswith("test_")


class _RefuseReference:
    """A meta path finder, first in line: the reference solutions cannot be imported, and the
    kit's parts for Exercise 06 only from a test module."""

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> None:
        if fullname == REFUSED or fullname.startswith(REFUSED + "."):
            raise ImportError(
                f"{fullname} is the course's reference solution: a graded submission cannot import it",
                name=fullname,
            )
        if fullname == TESTS_ONLY and not _importer_is_a_test():
            raise ImportError(
                f"{fullname} is what the kit's tests give Exercise 06: a graded submission cannot import it",
                name=fullname,
            )
        return None


if not any(isinstance(f, _RefuseReference) for f in sys.meta_path):
    sys.meta_path.insert(0, _RefuseReference())

_timeouts: dict[str, float] = {}


class TestTimeout(BaseException):
    """Raised in a test that ran past its limit (SIGALRM). A BaseException, as pytest's own
    outcomes are: a student's ``except Exception`` does not swallow it."""


def pytest_configure(config: pytest.Config) -> None:
    # Read now: the code under test may clear the environment later.
    try:
        _timeouts.update(
            {str(k): float(v) for k, v in json.loads(os.environ.get(TIMEOUTS_ENV) or "{}").items()}
        )
    except (ValueError, TypeError, AttributeError):
        pass
    plan = os.environ.pop(SENTINELS_ENV, None)
    if plan:
        _sentinels[:] = json.loads(plan)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, None, None]:
    # A per-test limit: SIGALRM raises TestTimeout in the test (its setup, call or teardown), so
    # a hang costs that test only. Code that blocks the signal is stopped by the grader's
    # limit on the whole exercise instead (facekit.grading.runner).
    seconds = _timeouts.get(item.nodeid.split("::")[0])
    if not seconds:
        yield
        return

    def expired(signum: int, frame: FrameType | None) -> None:
        raise TestTimeout(f"the test ran longer than {seconds:g} s, its exercise's limit per test")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _sentinel_function(name: str, must_fail: bool) -> Callable[[], None]:
    def sentinel() -> None:
        if must_fail:
            raise AssertionError("expected failure")

    sentinel.__name__ = sentinel.__qualname__ = name
    return sentinel


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    # Each sentinel at the start of its file's tests (``file`` null: after the last test), in
    # that file's module, so its node id looks like any other test's.
    for spec in _sentinels:
        where: int | None
        if spec.get("file") is None:
            where = len(items)
            anchor = items[-1] if items else None
        else:
            where = next(
                (i for i, item in enumerate(items) if item.nodeid.split("::")[0] == spec["file"]), None
            )
            anchor = items[where] if where is not None else None
        if anchor is None or where is None:
            continue  # its file did not collect: the grader does not expect it
        module = anchor.getparent(pytest.Module) or anchor.parent
        item = pytest.Function.from_parent(
            module, name=spec["name"], callobj=_sentinel_function(spec["name"], bool(spec["fail"]))
        )
        items.insert(where, item)


def pytest_collection_finish(session: pytest.Session) -> None:
    hide = os.environ.pop(HIDE_ENV, None)
    if hide:
        # Collected (compiled, in memory): the files go before any student code can read them.
        shutil.rmtree(os.path.join(str(session.config.rootpath), hide), ignore_errors=True)


@pytest.hookimpl(tryfirst=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    # The record is complete and the summary printed: the process ends here, before pytest's
    # last garbage collections (they look for unraisable exceptions; ~0.5 s a submission).
    found = recorder.recorder(config)
    if found is not None and found.exitstatus is not None:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(found.exitstatus)
