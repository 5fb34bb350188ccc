"""The recorder: a pytest plugin that writes each event of a run as it happens (``-p facekit.harness.plugin``).

Every test run of the kit loads it: `facekit check` and ``watch``, ``verify``, the catalogue of
mistakes and grading. It writes to the file named by ``FACEKIT_RECORD`` or to the descriptor
``FACEKIT_RECORD_FD`` (grading's pipe), one JSON line per event (facekit.harness.record), each
flushed at once: the tests that finished before a hang or a crash still count, and a process
that died is told apart from one that finished (the last line, ``{"finished": ...}``). Without
either variable it records nothing.

It tells "failed because the stub raised NotImplementedError" (facekit.pytest_plugin sets
``facekit_todo``) apart from every other failure, and keeps each test's declared function (its
``@pytest.mark.function(...)``). Grading layers its own plugin on it (facekit.grading.plugin).
"""

from __future__ import annotations

import json
import os
from collections.abc import Generator, Mapping
from pathlib import Path
from typing import IO, Any

import pytest
from pluggy import Result

from facekit import course
from facekit.harness import failure, record

NAME = "facekit-recorder"  # its name in pytest's plugin manager


# Not facekit.pytest_plugin's: importing that here, before the kit's conftest loads it, would
# keep pytest from rewriting its asserts.
def tree_under_test(config: pytest.Config) -> Path:
    """The folder of the code under test (exercises/ or solutions/, resolved once per run by
    facekit.pytest_plugin); exercises/ in a run without the kit's conftest."""
    run = getattr(config, "facekit", None)
    return Path(run["tree"]) if run else (course.repo_root() / "exercises").resolve()


def declared(item: pytest.Item) -> tuple[str | None, bool]:
    """(the manifest function a test declares with ``@pytest.mark.function``, or None; whether
    it is broad): what the record keeps for `facekit check` and grading."""
    marker = item.get_closest_marker("function")
    if not marker or not marker.args:
        return None, False
    return str(marker.args[0]), bool(marker.kwargs.get("broad"))


class Recorder:
    """Writes the events of one session to ``out``."""

    def __init__(self, out: IO[str], owned: bool = False):
        self.out, self.owned = out, owned
        self.exitstatus: int | None = None
        self._tests: dict[str, dict[str, Any]] = {}

    def write(self, event: Mapping[str, Any]) -> None:
        self.out.write(json.dumps(event) + "\n")
        self.out.flush()

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        functions, broad, visibility = {}, [], {}
        for item in session.items:
            function, is_broad = declared(item)
            if function:
                functions[item.nodeid] = function
                if is_broad:
                    broad.append(item.nodeid)
            marker = item.get_closest_marker("visibility")
            if marker and marker.args:
                visibility[item.nodeid] = str(marker.args[0])
        self.write(
            record.collected_event([item.nodeid for item in session.items], functions, broad, visibility)
        )

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            lines = str(report.longrepr).strip().splitlines()
            self.write(record.collect_error_event(report.nodeid, lines[-1] if lines else ""))

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, Result[pytest.TestReport], None]:
        outcome = yield
        report = outcome.get_result()
        if call.excinfo is not None and report.failed:
            report.facekit_error = failure.first_line(call.excinfo)[: record.MESSAGE_CHARS]  # type: ignore[attr-defined]
            report.facekit_detail = failure.student_message(  # type: ignore[attr-defined]
                call.excinfo, tree_under_test(item.config)
            )[: record.DETAIL_CHARS]

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        entry = self._tests.setdefault(
            report.nodeid, {"outcome": "passed", "message": None, "detail": None, "todo": None}
        )
        if report.failed and entry["outcome"] != "failed":
            entry["outcome"] = "failed"
            message = getattr(report, "facekit_error", None)
            if not message:
                lines = str(report.longrepr).strip().splitlines()
                message = lines[-1][: record.MESSAGE_CHARS] if lines else f"failed in {report.when}"
            entry["message"] = message
            entry["detail"] = getattr(report, "facekit_detail", None)
            todo = getattr(report, "facekit_todo", None)  # set by facekit.pytest_plugin
            entry["todo"] = list(todo) if todo else None
        elif report.skipped and entry["outcome"] == "passed":
            entry["outcome"] = "skipped"
        if report.when == "teardown":
            self.write(record.test_event(report.nodeid, **self._tests.pop(report.nodeid)))

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.exitstatus = int(exitstatus)
        self.write(record.finished_event(self.exitstatus))

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self.owned:
            self.out.close()


def from_environment(environ: Mapping[str, str]) -> Recorder | None:
    """A recorder writing where the environment says (a descriptor first), or None."""
    fd = environ.get(record.RECORD_FD_ENV)
    if fd:
        return Recorder(os.fdopen(int(fd), "w", encoding="utf-8", closefd=False))
    path = environ.get(record.RECORD_ENV)
    if path:
        return Recorder(open(path, "w", encoding="utf-8"), owned=True)  # noqa: SIM115 - closed at unconfigure
    return None


def recorder(config: pytest.Config) -> Recorder | None:
    """This session's recorder, if it records."""
    plugin = config.pluginmanager.get_plugin(NAME)
    return plugin if isinstance(plugin, Recorder) else None


def pytest_configure(config: pytest.Config) -> None:
    # Read now: the code under test may clear the environment later.
    if recorder(config) is None:
        found = from_environment(os.environ)
        if found is not None:
            config.pluginmanager.register(found, NAME)
