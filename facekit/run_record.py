"""What one run of the harness says: a typed record of each test's outcome.

facekit.recorder (a pytest plugin, in the test process) writes it as JSON; ``RunRecord.read``
turns it back into these dataclasses for verify, progress and the result cache.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path


class Outcome(str, Enum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class TestResult:
    outcome: Outcome
    error: str | None = None
    # (qualified function, file) of a stub's NotImplementedError the test stopped at.
    todo: tuple[str, str] | None = None
    # The manifest function the test declares it covers: @pytest.mark.function("build_model").
    function: str | None = None
    # The test declares itself broad: @pytest.mark.function("preprocess", broad=True) (see
    # facekit.progress.shown_failure).
    broad: bool = False
    # The failure's whole message (facekit.mistakes.student_message), cut to 2000 characters.
    message: str | None = None

    __test__ = False  # not a pytest test class

    @property
    def failed(self) -> bool:
        return self.outcome is Outcome.FAILED

    @classmethod
    def from_json(cls, data: dict) -> TestResult:
        todo = data.get("todo")
        return cls(
            Outcome(data["outcome"]),
            data.get("error"),
            tuple(todo) if todo else None,
            data.get("function"),
            bool(data.get("broad")),
            data.get("message"),
        )

    def to_json(self) -> dict:
        return {**asdict(self), "outcome": self.outcome.value, "todo": list(self.todo) if self.todo else None}


@dataclass(frozen=True)
class RunRecord:
    tests: dict[str, TestResult] = field(default_factory=dict)  # by pytest node id
    collect_errors: tuple[str, ...] = ()
    exitstatus: int = 0

    @classmethod
    def from_json(cls, data: dict) -> RunRecord:
        return cls(
            {n: TestResult.from_json(r) for n, r in data.get("tests", {}).items()},
            tuple(data.get("collect_errors", ())),
            int(data.get("exitstatus", 0)),
        )

    @classmethod
    def read(cls, path: Path) -> RunRecord:
        return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")))

    def to_json(self) -> dict:
        return {
            "tests": {n: r.to_json() for n, r in self.tests.items()},
            "collect_errors": list(self.collect_errors),
            "exitstatus": self.exitstatus,
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
        return RunRecord(self.tests_of(test_file), tuple(self.collect_errors_of(test_file)), self.exitstatus)
