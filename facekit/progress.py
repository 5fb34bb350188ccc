"""A student's progress: what a test run says about each exercise, and the small state file.

The state of an exercise is derived from its tests (outcomes recorded by facekit.recorder):

- done: every test passes;
- not started: every test stops at a stub's NotImplementedError;
- in progress: some tests pass or stop at NotImplementedError, none fails otherwise;
- failing: a test fails for another reason (a wrong result, an exception, a syntax error).

The state file (``.facekit/state.json`` in the kit, or ``$FACEKIT_STATE``) remembers which
hints were shown and which exercises passed, with a fingerprint of their code and tests, so
``facekit check`` knows where you are without re-running everything. Deleting it is harmless.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from facekit import course

STATE_ENV = "FACEKIT_STATE"

DONE = "done"
NOT_STARTED = "not started"
IN_PROGRESS = "in progress"
FAILING = "failing"

# Per-function states, as `facekit check` shows them.
F_DONE = "done"
F_TODO = "not implemented yet"
F_FAILING = "failing"
F_WAITING = "waiting"
F_UNTESTED = "no tests"


# -- the state file ----------------------------------------------------------------------------


def state_path(root: Path) -> Path:
    return Path(os.environ.get(STATE_ENV) or Path(root) / ".facekit" / "state.json")


class State:
    """``{"hints": {id: shown}, "passed": {target: {id: fingerprint}}}`` in a JSON file."""

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}  # missing or damaged: start afresh, it only holds conveniences
        if not isinstance(data, dict):
            data = {}
        self.hints: dict[str, int] = dict(data.get("hints") or {})
        self.passed: dict[str, dict[str, str]] = {t: dict(v) for t, v in (data.get("passed") or {}).items()}

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps({"hints": self.hints, "passed": self.passed}, indent=1) + "\n",
                       encoding="utf-8")
        os.replace(tmp, self.path)

    def is_done(self, target: str, exercise_id: str, fingerprint: str) -> bool:
        return self.passed.get(target, {}).get(exercise_id) == fingerprint

    def record(self, target: str, exercise_id: str, fingerprint: str, done: bool) -> None:
        passed = self.passed.setdefault(target, {})
        if done:
            passed[exercise_id] = fingerprint
        else:
            passed.pop(exercise_id, None)


def fingerprint(root: Path, exercise: course.Exercise, target: str) -> str:
    """A hash of the exercise's folder in ``target`` and of its tests: "done" holds while it matches."""
    digest = hashlib.sha256(target.encode())
    folder = (Path(root) / exercise.source(target)).parent
    files = sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)
    for path in [*files, Path(root) / exercise.tests]:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(b"<missing>")
    return digest.hexdigest()


# -- reading a run -------------------------------------------------------------------------------


def test_name(nodeid: str) -> str:
    """``tests/t.py::TestX::test_y[3]`` -> ``test_y``."""
    return nodeid.split("::")[-1].split("[")[0]


def short(function: str) -> str:
    """The last part of a manifest name: ``JsonFileStore.add`` -> ``add``."""
    return function.split(".")[-1]


def functions_by_test(source: str, functions: tuple[str, ...]) -> dict[str, list[str]]:
    """For each test function in a test module's source, the manifest functions it exercises.

    A function named in the test's name wins (``test_build_model_has_no_classifier``);
    otherwise the functions its body refers to (``ex.compute_embedding(...)``). A method
    (``Store.add``) counts when the test refers to its class and, unless it is a dunder,
    to the method. Fixtures are not followed: such a test is attributed through the
    NotImplementedError it stops at, or not at all.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    result: dict[str, list[str]] = {}
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or not node.name.startswith("test"):
            continue
        padded = f"_{node.name}_"
        named = [f for f in functions if not short(f).startswith("__") and f"_{short(f)}_" in padded]
        if named:
            result[node.name] = named
            continue
        used = set()
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name):
                used.add(sub.id)
            elif isinstance(sub, ast.Attribute):
                used.add(sub.attr)
        found = []
        for f in functions:
            owner, _, method = f.rpartition(".")
            if owner:
                if owner in used and (method.startswith("__") or method in used):
                    found.append(f)
            elif f in used:
                found.append(f)
        result[node.name] = found
    return result


@dataclass
class FunctionStatus:
    name: str
    state: str
    total: int = 0
    passed: int = 0
    bad: int = 0  # tests failing (F_FAILING) or stopped at this function (F_TODO)
    message: str = ""  # the first failure, or where the NotImplementedError was raised
    where: str = ""  # the file the NotImplementedError is in


@dataclass
class ExerciseResult:
    exercise: course.Exercise
    state: str
    tests: dict = field(default_factory=dict)
    collect_errors: list = field(default_factory=list)
    functions: list = field(default_factory=list)  # FunctionStatus, manifest order first
    other_failures: list = field(default_factory=list)  # (test, error) not attributed to a function

    @property
    def total(self) -> int:
        return len(self.tests)

    @property
    def passed(self) -> int:
        return sum(r["outcome"] != "failed" for r in self.tests.values())


def _todo_rows(result: dict, exercise: course.Exercise) -> list[str]:
    """The row a NotImplementedError belongs to: its manifest function (or class), else its own."""
    raised_in = result["todo"][0]  # a qualified name: "build_model", "JsonFileStore.add"
    return [exercise.function_for(raised_in) or raised_in]


def display(name: str) -> str:
    """``build_model()`` for a function, ``JsonFileStore`` for a class."""
    return name if name.split(".")[-1][:1].isupper() else f"{name}()"


def exercise_result(run: dict, exercise: course.Exercise, root: Path) -> ExerciseResult:
    """The state of one exercise and of each of its functions, from ``verify.run_tests``' record."""
    from facekit import verify

    tests = verify.tests_of(run, exercise)
    errors = verify.collect_errors_of(run, exercise)
    try:
        source = (Path(root) / exercise.tests).read_text(encoding="utf-8")
    except OSError:
        source = ""
    mapping = functions_by_test(source, exercise.functions)

    rows: dict[str, list[tuple[str, dict]]] = {f: [] for f in exercise.functions}
    todo_of: dict[str, list[str]] = {}
    other = []
    for nodeid, result in tests.items():
        mapped = list(mapping.get(test_name(nodeid), []))
        todo = _todo_rows(result, exercise) if result["todo"] else []
        todo_of[nodeid] = todo
        owners = list(dict.fromkeys(mapped + todo))
        for owner in owners:
            rows.setdefault(owner, []).append((nodeid, result))
        if not owners and result["outcome"] == "failed":
            other.append((test_name(nodeid), result["error"]))

    statuses = []
    for name, owned in rows.items():
        status = FunctionStatus(name, F_UNTESTED, total=len(owned))
        status.passed = sum(r["outcome"] != "failed" for _, r in owned)
        failing = [(n, r) for n, r in owned if r["outcome"] == "failed" and not r["todo"]]
        stopped_here = [(n, r) for n, r in owned if name in todo_of[n]]
        waiting = [(n, r) for n, r in owned if r["todo"] and name not in todo_of[n]]
        if failing:
            status.state, status.bad = F_FAILING, len(failing)
            nodeid, first = failing[0]
            status.message = f"{test_name(nodeid)}: {first['error']}"
        elif stopped_here:
            status.state, status.bad = F_TODO, len(stopped_here)
            status.message, status.where = stopped_here[0][1]["todo"]
        elif waiting:
            status.state = F_WAITING
            todo = waiting[0][1]["todo"]
            status.message, status.where = todo[0], todo[1]
        elif owned:
            status.state = F_DONE
        statuses.append(status)

    failed = [r for r in tests.values() if r["outcome"] == "failed"]
    if errors or not tests or any(not r["todo"] for r in failed):
        state = FAILING
    elif not failed:
        state = DONE
    elif len(failed) == len(tests):
        state = NOT_STARTED
    else:
        state = IN_PROGRESS
    return ExerciseResult(exercise, state, tests, errors, statuses, other)
