"""Reading a test run: the state of each exercise and of each of its functions.

The state of an exercise is derived from its tests (outcomes recorded by facekit.harness.plugin):

- done: every test passes;
- not started: every test stops at a stub's NotImplementedError;
- in progress: some tests pass or stop at NotImplementedError, none fails otherwise;
- failing: a test fails for another reason (a wrong result, an exception, a syntax error).

Which function a test covers is declared by the test: ``@pytest.mark.function("build_model")``
(a manifest name; a class stands for its methods). A test without the marker counts in a
visible "other tests" row, so every test counts exactly once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

from facekit import course, mistakes
from facekit.harness.record import Outcome, RunRecord, TestResult
from facekit.mistakes import Mistake

OTHER = "other tests"  # the row of tests that declare no manifest function


class ExerciseState(str, Enum):
    DONE = "done"
    NOT_STARTED = "not started"
    IN_PROGRESS = "in progress"
    FAILING = "failing"


class FunctionState(str, Enum):
    """Per-function states, as `facekit check` shows them."""

    DONE = "done"
    TODO = "not implemented yet"
    FAILING = "failing"
    WAITING = "waiting"
    UNTESTED = "no tests"


def test_name(nodeid: str) -> str:
    """``tests/t.py::TestX::test_y[3]`` -> ``test_y``."""
    return nodeid.split("::")[-1].split("[")[0]


test_name.__test__ = False  # type: ignore[attr-defined]  # pytest reads it: a helper, not a test


@dataclass
class FunctionStatus:
    name: str
    state: FunctionState
    total: int = 0
    passed: int = 0
    bad: int = 0  # tests failing (FAILING) or stopped at this function (TODO)
    message: str = (
        ""  # the most specific failure (shown_failure), or where the NotImplementedError was raised
    )
    where: str = ""  # the file the NotImplementedError is in
    looks_like: str = ""  # a catalogued mistake the shown failure matches: its "says" line
    # Other catalogued mistakes the same failure matches: all are shown, as possibilities.
    looks_like_also: tuple[str, ...] = ()
    broad: bool = False  # the shown failure is a broad test's: it may come from another function
    # The manifest function the catalogued mistake the shown failure matches is in (the first
    # of its words that names one), when that is not this function: a broad test of this
    # function failed because of that one.
    fault_in: str = ""


@dataclass
class ExerciseResult:
    exercise: course.Exercise
    state: ExerciseState
    tests: dict[str, TestResult] = field(default_factory=dict)
    collect_errors: list[str] = field(default_factory=list)
    functions: list[FunctionStatus] = field(default_factory=list)  # manifest order, OTHER last
    cached: bool = False  # answered from the result cache, files unchanged since that run

    @property
    def total(self) -> int:
        return len(self.tests)

    @property
    def passed(self) -> int:
        return sum(not r.failed for r in self.tests.values())

    @property
    def failing(self) -> int:
        """Tests that fail for another reason than a stub's NotImplementedError."""
        return sum(r.failed and not r.todo for r in self.tests.values())

    @property
    def done(self) -> bool:
        return self.state is ExerciseState.DONE


def display(name: str) -> str:
    """``build_model()`` for a function, ``JsonFileStore`` for a class, as is for OTHER."""
    if name == OTHER:
        return name
    return name if name.split(".")[-1][:1].isupper() else f"{name}()"


def looks_like(says: str, *also: str) -> str:
    """The line that names the catalogued mistake a failure matches (check and grading feedback);
    with ``also``, the others its signature matches too, as possibilities, never one of them."""
    if also:
        listed = "; or ".join(f'"{s}"' for s in (says, *also))
        return f"This looks like one of these mistakes others made: {listed}"
    return f'This looks like a mistake others made: "{says}"'


def whole_error(result: TestResult) -> str:
    """A failure as `facekit check` shows it: the exception's type and the test's whole
    diagnosis (the recorded ``error`` is its first line only, cut to 500 characters)."""
    error = result.error or ""
    if not result.message:
        return error
    kind = error.split(":", 1)[0]
    if not kind or result.message.startswith(kind):  # an error raised in the tree names itself
        return result.message
    return f"{kind}: {result.message}"


def also_matching(
    mistake: Mistake | None, nodeid: str, result: TestResult, tests: str, catalogue: Sequence[Mistake]
) -> tuple[str, ...]:
    """The "says" lines of the other catalogued mistakes the shown failure matches as well."""
    if mistake is None:
        return ()
    message = result.message or result.error or ""
    return tuple(m.says for m in mistakes.matching(catalogue, tests, nodeid, message) if m is not mistake)


def shown_failure(
    failing: list[tuple[str, TestResult]], tests: str, catalogue: Sequence[Mistake] = ()
) -> tuple[str, TestResult, Mistake | None]:
    """The one of a function's failing tests (node id, result; in file order) that `facekit
    check` shows: the most specific, with the catalogued mistake it matches if any.

    1. A failure with a catalogued mistake's signature (course/<id>/mistakes.toml: the test that
       mistake must fail, every one of its words in the message; facekit.mistakes.matches):
       that message is known to say what is wrong, and the mistake becomes a hint.
    2. Else the first failing test that is not broad.
    3. Else the first failing test.

    A test declares itself broad with ``@pytest.mark.function("preprocess", broad=True)``: it
    compares a whole result with a reference (timm's transform, a file read back), so many
    different mistakes fail it and it can often only say that something differs, while a
    narrower test failing alongside names the cause.
    """
    for nodeid, result in failing:
        for mistake in catalogue:
            if mistakes.matches(mistake, tests, nodeid, result.message or result.error or ""):
                return nodeid, result, mistake
    nodeid, result = next(((n, r) for n, r in failing if not r.broad), failing[0])
    return nodeid, result, None


def _function_status(
    name: str,
    owned: list[tuple[str, TestResult]],
    exercise: course.Exercise,
    catalogue: Sequence[Mistake] = (),
) -> FunctionStatus:
    status = FunctionStatus(name, FunctionState.UNTESTED, total=len(owned))
    status.passed = sum(not r.failed for _, r in owned)
    failing = [(n, r) for n, r in owned if r.failed and not r.todo]
    todos = [r.todo for _, r in owned if r.todo]  # (the stub's function, its file) of each
    stopped_here = [todo for todo in todos if exercise.function_for(todo[0]) == name]
    waiting = [todo for todo in todos if exercise.function_for(todo[0]) != name]
    if failing:
        status.state, status.bad = FunctionState.FAILING, len(failing)
        nodeid, shown, mistake = shown_failure(failing, exercise.tests, catalogue)
        status.message = f"{test_name(nodeid)}: {whole_error(shown)}"
        status.looks_like = mistake.says if mistake else ""
        status.looks_like_also = also_matching(mistake, nodeid, shown, exercise.tests, catalogue)
        if mistake is not None and shown.broad:
            named = next((w for w in mistake.words if w in exercise.functions), name)
            status.fault_in = "" if named == name else named
        status.broad = shown.broad and mistake is None
    elif stopped_here:
        status.state, status.bad = FunctionState.TODO, len(stopped_here)
        status.message, status.where = stopped_here[0]
    elif waiting:
        status.state = FunctionState.WAITING
        status.message, status.where = waiting[0]
    elif owned:
        status.state = FunctionState.DONE
    return status


def exercise_result(
    run: RunRecord, exercise: course.Exercise, cached: bool = False, catalogue: Sequence[Mistake] = ()
) -> ExerciseResult:
    """The state of one exercise and of each of its functions, from a run of its tests
    (``catalogue``: the exercise's catalogued mistakes, to name the one a failure looks like)."""
    tests = run.tests_of(exercise.tests)
    errors = run.collect_errors_of(exercise.tests)
    rows: dict[str, list[tuple[str, TestResult]]] = {f: [] for f in exercise.functions}
    for nodeid, result in tests.items():
        owner = result.function if result.function in rows and result.function != OTHER else OTHER
        rows.setdefault(owner, []).append((nodeid, result))
    if OTHER in rows:  # last, after the manifest's functions
        rows[OTHER] = rows.pop(OTHER)
    statuses = [_function_status(name, owned, exercise, catalogue) for name, owned in rows.items()]

    failed = [r for r in tests.values() if r.failed]
    if errors or not tests or any(not r.todo for r in failed):
        state = ExerciseState.FAILING
    elif not failed:
        state = ExerciseState.DONE
    elif len(failed) == len(tests):
        state = ExerciseState.NOT_STARTED
    else:
        state = ExerciseState.IN_PROGRESS
    return ExerciseResult(exercise, state, tests, errors, statuses, cached)


__all__ = [
    "OTHER",
    "ExerciseState",
    "FunctionState",
    "FunctionStatus",
    "ExerciseResult",
    "Outcome",
    "display",
    "exercise_result",
    "shown_failure",
    "test_name",
]
