"""What one run of the tests says: the recorder's events, their one parser, the typed record.

The recorder (facekit.harness.plugin) writes one JSON object a line, each as it happens, to a
file or a descriptor; grading reads the same lines through its jail's pipe. The events:

- ``{"collected": [node ids], "functions": {id: function}, "broad": [ids], "visibility": {id: v}}``
  once, when collection ends (each test's ``@pytest.mark.function`` and ``visibility``);
- ``{"collect_error": node id, "message": its last line}`` for a module that does not collect;
- ``{"test": node id, "outcome": "passed"|"failed"|"skipped", "message": the failure's first
  line, "detail": its whole message (facekit.harness.failure), "todo": [function, file] of a
  stub's NotImplementedError}`` when a test's teardown ends;
- ``{"finished": true, "exitstatus": n}`` when the session ends.

``parse`` turns any lines (damaged, forged, cut short) into a ``RunRecord``: lines that are
not JSON objects are skipped, a test's first line counts; ``sequence`` and ``lines`` keep what
facekit.grading.integrity checks (every test line in order; how often the run said it
collected and finished). ``RunRecord.to_json``/``from_json`` are the result cache's form.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

# Where the recorder writes: a file, or a descriptor the runner opened and handed down.
RECORD_ENV = "FACEKIT_RECORD"
RECORD_FD_ENV = "FACEKIT_RECORD_FD"
MESSAGE_CHARS = 500  # a failure's first line
DETAIL_CHARS = 2000  # a failure's whole message


class Outcome(str, Enum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class TestResult:
    outcome: Outcome
    # The failure's first line: "AssertionError: f(3) differs", cut to MESSAGE_CHARS.
    error: str | None = None
    # (qualified function, file) of a stub's NotImplementedError the test stopped at.
    todo: tuple[str, str] | None = None
    # The manifest function the test declares it covers: @pytest.mark.function("build_model").
    function: str | None = None
    # The test declares itself broad: @pytest.mark.function("preprocess", broad=True) (see
    # facekit.progress.shown_failure).
    broad: bool = False
    # The failure's whole message (facekit.harness.failure.student_message), cut to DETAIL_CHARS.
    message: str | None = None

    __test__ = False  # not a pytest test class

    @property
    def failed(self) -> bool:
        return self.outcome is Outcome.FAILED

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TestResult:
        todo = data.get("todo")
        return cls(
            Outcome(data["outcome"]),
            data.get("error"),
            (str(todo[0]), str(todo[1])) if todo else None,
            data.get("function"),
            bool(data.get("broad")),
            data.get("message"),
        )

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "outcome": self.outcome.value, "todo": list(self.todo) if self.todo else None}


@dataclass(frozen=True)
class RecordLines:
    """What facekit.grading.integrity asks of the lines themselves: how many said the tests
    were collected and finished, and the exit status the first finished line gave."""

    collected: int = 0
    finished: int = 0
    exitstatus: object = None


@dataclass(frozen=True)
class RunRecord:
    tests: dict[str, TestResult] = field(default_factory=dict)  # by pytest node id, in report order
    collect_errors: tuple[str, ...] = ()
    exitstatus: int | None = 0
    # What the collected line said: every test in run order (None: no such line), and what
    # each test declares (also on its TestResult, once it ran).
    collected: tuple[str, ...] | None = None
    functions: dict[str, str] = field(default_factory=dict)
    broad: tuple[str, ...] = ()
    visibility: dict[str, str] = field(default_factory=dict)
    # Whether the session ended and said so (a crash or a kill leaves False).
    finished: bool = True
    sequence: tuple[tuple[str, str], ...] = ()  # (node id, outcome) of each test line, in order
    lines: RecordLines = RecordLines()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunRecord:
        return cls(
            {n: TestResult.from_json(r) for n, r in data.get("tests", {}).items()},
            tuple(data.get("collect_errors", ())),
            data.get("exitstatus", 0),
            finished=bool(data.get("finished", True)),
        )

    @classmethod
    def read(cls, path: Path) -> RunRecord:
        """A record file the recorder wrote (its event lines)."""
        return parse(Path(path).read_text(encoding="utf-8").splitlines())

    def to_json(self) -> dict[str, Any]:
        return {
            "tests": {n: r.to_json() for n, r in self.tests.items()},
            "collect_errors": list(self.collect_errors),
            "exitstatus": self.exitstatus,
            "finished": self.finished,
        }

    def tests_of(self, test_file: str) -> dict[str, TestResult]:
        """The results of one test module (an exercise's ``tests`` path)."""
        prefix = test_file + "::"
        return {nodeid: r for nodeid, r in self.tests.items() if nodeid.startswith(prefix)}

    def collect_errors_of(self, test_file: str) -> list[str]:
        """Collection errors of that module, and those of no module (a broken conftest)."""
        return [e for e in self.collect_errors if e.startswith(test_file) or "::" not in e]

    def only(self, test_file: str) -> RunRecord:
        """This record cut down to one test module (what the result cache keeps per exercise)."""
        return RunRecord(
            self.tests_of(test_file),
            tuple(self.collect_errors_of(test_file)),
            self.exitstatus,
            finished=self.finished,
        )

    def unreported(self) -> list[str]:
        """Collected tests with no result: what a run that stopped did not get to."""
        return [n for n in self.collected or () if n not in self.tests]


# -- the events ----------------------------------------------------------------------------------


def collected_event(
    nodeids: list[str], functions: dict[str, str], broad: list[str], visibility: dict[str, str]
) -> dict[str, Any]:
    return {"collected": nodeids, "functions": functions, "broad": broad, "visibility": visibility}


def collect_error_event(nodeid: str, message: str) -> dict[str, Any]:
    return {"collect_error": nodeid, "message": message[:MESSAGE_CHARS]}


def test_event(
    nodeid: str, outcome: str, message: str | None, detail: str | None, todo: list[str] | None
) -> dict[str, Any]:
    return {"test": nodeid, "outcome": outcome, "message": message, "detail": detail, "todo": todo}


test_event.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def finished_event(exitstatus: int) -> dict[str, Any]:
    return {"finished": True, "exitstatus": exitstatus}


def test_result(entry: Mapping[str, Any], function: str | None = None, broad: bool = False) -> TestResult:
    """One test's event as a TestResult, whatever a damaged or forged line holds."""
    raw = entry.get("outcome")
    outcome = Outcome(raw) if raw in ("passed", "failed", "skipped") else Outcome.FAILED
    message = str(entry.get("message") or "")[:MESSAGE_CHARS] or None
    detail = entry.get("detail")
    todo = entry.get("todo")
    return TestResult(
        outcome,
        error=message or ("failed" if outcome is Outcome.FAILED else None),
        todo=(str(todo[0]), str(todo[1])) if isinstance(todo, list) and len(todo) == 2 else None,
        function=function,
        broad=broad,
        message=detail[:DETAIL_CHARS] if isinstance(detail, str) else None,
    )


test_result.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse(lines: Iterable[str | bytes]) -> RunRecord:
    """The record the lines hold; lines that are not JSON objects are skipped."""
    entries: list[dict[str, Any]] = []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    collected: tuple[str, ...] | None = None
    functions: dict[str, str] = {}
    broad: tuple[str, ...] = ()
    visibility: dict[str, str] = {}
    collected_lines = finished_lines = 0
    first_exitstatus: object = None
    exitstatus: object = None
    collect_errors: list[str] = []
    for entry in entries:
        if isinstance(entry.get("test"), str):
            continue
        if isinstance(entry.get("collected"), list):
            collected_lines += 1
            if collected_lines > 1:
                continue
            collected = tuple(str(n) for n in entry["collected"])
            if isinstance(entry.get("functions"), dict):
                functions = {str(k): str(v) for k, v in entry["functions"].items()}
            if isinstance(entry.get("broad"), list):
                broad = tuple(str(n) for n in entry["broad"])
            if isinstance(entry.get("visibility"), dict):
                visibility = {str(k): str(v) for k, v in entry["visibility"].items()}
        elif "collect_error" in entry:
            collect_errors.append(f"{entry['collect_error']}: {entry.get('message', '')}")
        elif entry.get("finished") is True:
            finished_lines += 1
            if finished_lines == 1:
                first_exitstatus = entry.get("exitstatus")
            exitstatus = entry.get("exitstatus")
    broad_set = set(broad)
    tests: dict[str, TestResult] = {}
    sequence: list[tuple[str, str]] = []
    for entry in entries:
        nodeid = entry.get("test")
        if not isinstance(nodeid, str):
            continue
        sequence.append((nodeid, str(entry.get("outcome"))))
        if nodeid not in tests:
            tests[nodeid] = test_result(entry, functions.get(nodeid), nodeid in broad_set)
    return RunRecord(
        tests,
        tuple(collect_errors),
        _int_or_none(exitstatus),
        collected=collected,
        functions=functions,
        broad=broad,
        visibility=visibility,
        finished=finished_lines > 0,
        sequence=tuple(sequence),
        lines=RecordLines(collected_lines, finished_lines, first_exitstatus),
    )
