"""The grader's pytest plugin: each test's final outcome, one JSON line at a time.

Loaded with ``-p facekit.grading.plugin`` in the process that runs a submission. It writes to a
file descriptor the grader opened and handed down (``FACEKIT_GRADE_FD``), line by line and
flushed, so the tests that finished before a hang or a crash still count, and a process that
died is told apart from one that finished (the last line, ``{"finished": ...}``). The collection
line names each test's declared function and the broad ones; the grader reads it from the
pristine kit only.

Two guards live here because this module is loaded (``-p``) before any student code runs:

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
import signal
import sys
from collections.abc import Callable, Generator
from pathlib import Path
from types import FrameType
from typing import IO, Any

import pytest

from facekit import mistakes, pytest_plugin
from facekit.grading.runner import HIDE_ENV, SENTINELS_ENV, TIMEOUTS_ENV

FD_ENV = "FACEKIT_GRADE_FD"
REFUSED = "solutions"
MESSAGE_CHARS = 500
DETAIL_CHARS = 2000

_out: IO[str] | None = None
_exitstatus: int | None = None
_tests: dict[str, dict] = {}
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


def _write(entry: dict[str, Any]) -> None:
    if _out is not None:
        _out.write(json.dumps(entry) + "\n")
        _out.flush()


def pytest_configure(config: pytest.Config) -> None:
    global _out
    fd = os.environ.get(FD_ENV)
    if fd and _out is None:  # read now: the code under test may clear the environment later
        _out = os.fdopen(int(fd), "w", encoding="utf-8", closefd=False)
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
    # Each test's declared function (``@pytest.mark.function("name")``) and whether it is broad,
    # as facekit.recorder reads them.
    functions: dict[str, str] = {}
    broad: list[str] = []
    visibility: dict[str, str] = {}
    for item in session.items:
        function, is_broad = pytest_plugin.declared(item)
        if function:
            functions[item.nodeid] = function
            if is_broad:
                broad.append(item.nodeid)
        marker = item.get_closest_marker("visibility")
        if marker and marker.args:
            visibility[item.nodeid] = str(marker.args[0])
    _write(
        {
            "collected": [item.nodeid for item in session.items],
            "functions": functions,
            "broad": broad,
            "visibility": visibility,
        }
    )
    hide = os.environ.pop(HIDE_ENV, None)
    if hide:
        # Collected (compiled, in memory): the files go before any student code can read them.
        import shutil

        shutil.rmtree(os.path.join(str(session.config.rootpath), hide), ignore_errors=True)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:
        lines = str(report.longrepr).strip().splitlines()
        _write({"collect_error": report.nodeid, "message": (lines[-1] if lines else "")[:MESSAGE_CHARS]})


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    if call.excinfo is not None and report.failed:
        lines = str(call.excinfo.value).strip().splitlines()
        report.facekit_grade_error = f"{call.excinfo.typename}: {lines[0] if lines else ''}"[:MESSAGE_CHARS]
        # The whole message, as `facekit check` matches it with the catalogue of mistakes.
        report.facekit_grade_detail = mistakes.student_message(
            call.excinfo, pytest_plugin.tree_under_test(item.config)
        )[:DETAIL_CHARS]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    entry = _tests.setdefault(
        report.nodeid, {"outcome": "passed", "message": None, "todo": None, "detail": None}
    )
    if report.failed and entry["outcome"] != "failed":
        entry["outcome"] = "failed"
        message = getattr(report, "facekit_grade_error", None)
        if not message:
            lines = str(report.longrepr).strip().splitlines()
            message = lines[-1][:MESSAGE_CHARS] if lines else f"failed in {report.when}"
        entry["message"] = message
        entry["detail"] = getattr(report, "facekit_grade_detail", None)
        todo = getattr(report, "facekit_todo", None)  # set by facekit.pytest_plugin
        entry["todo"] = list(todo) if todo else None
    elif report.skipped and entry["outcome"] == "passed":
        entry["outcome"] = "skipped"
    if report.when == "teardown":
        _write({"test": report.nodeid, **_tests.pop(report.nodeid)})


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global _exitstatus
    _exitstatus = int(exitstatus)
    _write({"finished": True, "exitstatus": _exitstatus})


@pytest.hookimpl(tryfirst=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    # The record is complete and the summary printed: the process ends here, before pytest's
    # last garbage collections (they look for unraisable exceptions; ~0.5 s a submission).
    if _out is not None and _exitstatus is not None:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_exitstatus)
