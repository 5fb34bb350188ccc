"""A pytest plugin that writes each test's outcome to a JSON file (``-p facekit.recorder``).

``facekit`` runs the harness in a subprocess with it, to tell "failed because the stub raised
NotImplementedError" apart from every other way a test can fail, and to know which function
each test covers (its ``@pytest.mark.function(...)``). facekit.run_record reads the file.
"""

from __future__ import annotations

import json
import os

import pytest

RECORD_ENV = "FACEKIT_RECORD"
_MESSAGE_CHARS = 2000
_results: dict = {"tests": {}, "collect_errors": []}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    from facekit import pytest_plugin

    report.facekit_function, report.facekit_broad = pytest_plugin.declared(item)
    if call.excinfo is not None and report.failed:
        lines = str(call.excinfo.value).strip().splitlines()
        report.facekit_error = f"{call.excinfo.typename}: {lines[0] if lines else ''}"[:300]
        report.facekit_message = _message(item, call.excinfo)
        value = call.excinfo.value
        if isinstance(value, SyntaxError) and value.filename:
            # str() names the file without its folder; the whole path says which tree.
            report.facekit_error = (
                f"{call.excinfo.typename}: {value.msg} ({_where(value.filename)}, line {value.lineno})"
            )


def _message(item, excinfo) -> str:
    """The whole message, as the catalogue of mistakes reads it (to match a student's failure
    with a catalogued mistake); long ones are cut, the record stays small."""
    from facekit import mistakes, pytest_plugin

    return mistakes.student_message(excinfo, pytest_plugin.tree_under_test(item.config))[:_MESSAGE_CHARS]


def _where(filename: str) -> str:
    from pathlib import Path

    from facekit import course

    try:
        return Path(filename).resolve().relative_to(course.repo_root()).as_posix()
    except ValueError:
        return filename


def pytest_runtest_logreport(report):
    entry = _results["tests"].setdefault(
        report.nodeid,
        {"outcome": "passed", "error": None, "todo": None, "function": None, "broad": False, "message": None},
    )
    entry["function"] = entry["function"] or getattr(report, "facekit_function", None)
    entry["broad"] = entry["broad"] or getattr(report, "facekit_broad", False)
    if report.failed and entry["outcome"] == "passed":
        entry["outcome"] = "failed"
        entry["error"] = getattr(report, "facekit_error", None) or str(report.longrepr)[-300:]
        entry["message"] = getattr(report, "facekit_message", None)
        todo = getattr(report, "facekit_todo", None)
        entry["todo"] = list(todo) if todo else None
    elif report.skipped and report.when in ("setup", "call"):
        entry["outcome"] = "skipped"


def pytest_collectreport(report):
    if report.failed:
        _results["collect_errors"].append(f"{report.nodeid}: {str(report.longrepr).strip().splitlines()[-1]}")


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get(RECORD_ENV)
    if path:
        with open(path, "w", encoding="utf-8") as f:
            json.dump({**_results, "exitstatus": int(exitstatus)}, f)
