"""What grading knows of a submission, typed: a test's outcome, an exercise's score, the result.

Every writer (grades.csv, grades.json, feedback, the summary, Gradescope's results.json, the class
report, the gradebook and its exports) takes these. grades.json is their one JSON form
(``to_json``/``from_json`` here); grades.csv is written by facekit.grading.report.csv_rows.

The test process's record (facekit.grading.runner.parse_record's per-test dicts) becomes a
TestOutcome in one place only: ``outcome_from_record``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

NOT_RUN = "not run"


def round_score(value: float) -> float:
    """A score as it is shown (2 decimals); totals add the unrounded ones."""
    return round(value + 0.0, 2)


@dataclass(frozen=True)
class TestOutcome:
    """One test of the kit as one submission's run left it. ``todo``: (function, file) of the stub
    it stopped at; ``exercise``, ``function`` and ``broad`` as the pristine kit declares them;
    ``visibility``: "visible", or an instructor's hidden test's."""

    __test__ = False  # not a pytest test class, whatever its name

    outcome: str
    message: str | None = None
    todo: tuple[str, ...] | None = None
    detail: str | None = None
    exercise: str | None = None
    function: str | None = None
    broad: bool = False
    visibility: str = "visible"

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"

    def to_json(self) -> dict[str, Any]:
        """The whole record, keys in the order grades.json has always had them."""
        return {
            "outcome": self.outcome,
            "message": self.message,
            "todo": list(self.todo) if self.todo is not None else None,
            "detail": self.detail,
            "exercise": self.exercise,
            "function": self.function,
            "broad": self.broad,
            "visibility": self.visibility,
        }

    def compact(self) -> dict[str, Any]:
        """As grades.json keeps it: ``outcome`` always; no key whose value is empty (None, False:
        ``from_json`` gives them back); for a test that stopped at a stub, ``todo`` (its function
        and file) without the stub's NotImplementedError text; ``detail`` only where it says more
        than ``message``. An untouched hand-in's record was ~240 KB with them all."""
        whole = self.to_json()
        kept = {k: v for k, v in whole.items() if v is not None and v is not False and v != [] and v != ""}
        if kept.get("todo"):
            kept.pop("message", None)
            kept.pop("detail", None)
        elif kept.get("detail") == kept.get("message"):
            kept.pop("detail", None)
        return {"outcome": self.outcome, **kept}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TestOutcome:
        """A test as grades.json holds it (whole or compact)."""
        todo = data.get("todo")
        return cls(
            outcome=str(data["outcome"]),
            message=data.get("message"),
            todo=tuple(todo) if todo else None,
            detail=data.get("detail"),
            exercise=data.get("exercise"),
            function=data.get("function"),
            broad=bool(data.get("broad")),
            visibility=data.get("visibility") or "visible",
        )


def outcome_from_record(entry: Mapping[str, Any] | None) -> TestOutcome:
    """A test as the grading run's record reports it (facekit.grading.runner.parse_record; None: it
    never reported, so it did not run): the one place that reads the record's per-test fields."""
    if entry is None:
        return TestOutcome(NOT_RUN)
    todo = entry.get("todo")
    return TestOutcome(
        outcome=str(entry["outcome"]),
        message=entry.get("message"),
        todo=tuple(todo) if todo else None,
        detail=entry.get("detail"),
    )


def outcomes_of(run: Mapping[str, Any] | None) -> dict[str, TestOutcome]:
    """Each test a run's record reports (none for no run), by node id."""
    return {nodeid: outcome_from_record(entry) for nodeid, entry in ((run or {}).get("tests") or {}).items()}


@dataclass(frozen=True)
class Declared:
    """What the pristine kit declares of its tests (prepared_kit's collecting run): each test's
    function (``@pytest.mark.function``), the broad ones, the instructor's hidden tests (node id
    -> visibility) and their secrets (names and source lines no message shown may quote)."""

    functions: dict[str, str] = field(default_factory=dict)
    broad: list[str] = field(default_factory=list)
    hidden: dict[str, str] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "functions": self.functions,
            "broad": self.broad,
            "hidden": self.hidden,
            "secrets": self.secrets,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Declared:
        return cls(
            functions=dict(data.get("functions") or {}),
            broad=list(data.get("broad") or ()),
            hidden=dict(data.get("hidden") or {}),
            secrets=list(data.get("secrets") or ()),
        )


@dataclass(frozen=True)
class Override:
    """An exercise's score as the instructor set it (overrides.csv)."""

    points: float
    comment: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"points": self.points, "comment": self.comment}


@dataclass(frozen=True)
class ExerciseScore:
    """One exercise of one submission: ``score`` rounded for display, ``exact`` as the tests gave
    it (totals add those), ``override`` the instructor's where there is one."""

    score: float
    points: int
    passed: int
    total: int
    all_or_nothing: bool = False
    exact: float = 0.0
    override: Override | None = None

    def value(self) -> float:
        """Unrounded: the override's points, else what the tests gave."""
        return float(self.override.points) if self.override else self.exact

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "score": self.score,
            "points": self.points,
            "passed": self.passed,
            "total": self.total,
            "all_or_nothing": self.all_or_nothing,
        }
        if self.override is not None:
            data["override"] = self.override.to_json()
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any], exact: float | None = None) -> ExerciseScore:
        override = data.get("override")
        return cls(
            score=data["score"],
            points=data["points"],
            passed=data["passed"],
            total=data["total"],
            all_or_nothing=bool(data.get("all_or_nothing")),
            exact=float(data["score"] if exact is None else exact),
            override=Override(override["points"], override.get("comment") or "") if override else None,
        )


@dataclass(frozen=True)
class Late:
    """A hand-in after the due time: each started day counts."""

    submitted: str
    due: str
    source: str  # where the time comes from: submission.json, the git commit, the file's time
    days_late: int
    penalty_percent: float

    def to_json(self) -> dict[str, Any]:
        return {
            "submitted": self.submitted,
            "due": self.due,
            "from": self.source,
            "days_late": self.days_late,
            "penalty_percent": self.penalty_percent,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Late:
        return cls(data["submitted"], data["due"], data["from"], data["days_late"], data["penalty_percent"])


@dataclass(frozen=True)
class SubmissionResult:
    """One submission graded: a row of grades.csv, a submission of grades.json, a feedback file.

    ``isolation`` and ``limits`` (how it was graded) are None only in a row of an older gradebook."""

    id: str
    status: str
    reason: str
    total: float
    exercises: dict[str, ExerciseScore]
    tests: dict[str, TestOutcome] = field(default_factory=dict)
    source: str = ""
    seconds: float = 0.0
    cached: bool = False
    max_total: float = 0.0
    late: Late | None = None
    files: list[str] = field(default_factory=list)
    fingerprints: dict[str, dict[str, str | None]] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    submitted: dict[str, Any] = field(default_factory=dict)
    isolation: str | None = None
    limits: str | None = None

    @property
    def exact(self) -> dict[str, float]:
        return {k: e.exact for k, e in self.exercises.items()}

    def to_json(self, compact: bool = False) -> dict[str, Any]:
        """A submission of grades.json, keys in the order it has always had them; ``compact``:
        each test as grades.json keeps it (TestOutcome.compact)."""
        data: dict[str, Any] = {
            "id": self.id,
            "source": self.source,
            "status": self.status,
            "reason": self.reason,
            "seconds": self.seconds,
            "cached": self.cached,
            "total": self.total,
            "max_total": self.max_total,
            "exercises": {k: e.to_json() for k, e in self.exercises.items()},
            "exact": self.exact,
            "late": self.late.to_json() if self.late else None,
            "files": list(self.files),
            "fingerprints": self.fingerprints,
            "ignored": list(self.ignored),
            "warnings": list(self.warnings),
            "submitted": self.submitted,
            "tests": {n: t.compact() if compact else t.to_json() for n, t in self.tests.items()},
        }
        if self.isolation is not None:
            data["isolation"] = self.isolation
        if self.limits is not None:
            data["limits"] = self.limits
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SubmissionResult:
        """A submission as grades.json holds it (KeyError, TypeError or ValueError when it is not one)."""
        exact = data.get("exact") or {}
        return cls(
            id=str(data["id"]),
            status=str(data["status"]),
            reason=data.get("reason") or "",
            total=data["total"],
            exercises={k: ExerciseScore.from_json(e, exact.get(k)) for k, e in data["exercises"].items()},
            tests={n: TestOutcome.from_json(t) for n, t in (data.get("tests") or {}).items()},
            source=data.get("source") or "",
            seconds=float(data.get("seconds") or 0.0),
            cached=bool(data.get("cached")),
            max_total=data.get("max_total") or 0.0,
            late=Late.from_json(data["late"]) if data.get("late") else None,
            files=list(data.get("files") or ()),
            fingerprints=dict(data.get("fingerprints") or {}),
            ignored=list(data.get("ignored") or ()),
            warnings=list(data.get("warnings") or ()),
            submitted=dict(data.get("submitted") or {}),
            isolation=data.get("isolation"),
            limits=data.get("limits"),
        )

    def with_(self, **changes: Any) -> SubmissionResult:
        """A copy with ``changes`` (dataclasses.replace)."""
        return replace(self, **changes)
