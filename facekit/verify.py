"""The instructor's check of the kit as shipped, for every exercise in the manifest.

- the reference solutions pass their tests;
- every stub fails every one of its tests with its own NotImplementedError (an import error,
  a syntax error, a wrong assertion or a test that passes on a stub is a kit defect);
- stub and reference expose the same public names, signatures and docstrings;
- the notebook is valid nbformat and executes against the reference;
- the README, the CHEATSHEET and every file the manifest names exist;
- the course's ``[course.policy]`` holds (enough catalogued mistakes per exercise and in all).

``facekit verify`` and the kit's own tests (tests/kit) both call this module. The tests run
through the harness (facekit.harness); everything that imports the trees runs in a
subprocess rooted at ``root``, so a copy of the kit (with planted defects, say) is checked as
itself, not as the installed kit.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from facekit import course, mistakes, notebooks, scaffold, settings
from facekit.harness import catalogue_run
from facekit.harness import run as runs
from facekit.harness.record import RunRecord


@dataclass(frozen=True)
class Finding:
    exercise: str
    check: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class VerifyContext:
    """What a check gets: the kit's root, the exercises to check, the weights to use."""

    root: Path
    exercises: tuple[course.Exercise, ...]
    weights: settings.Weights

    def with_tests(self) -> list[course.Exercise]:
        return [e for e in self.exercises if (self.root / e.tests).is_file()]


@dataclass(frozen=True)
class Check:
    name: str
    text: str  # what passing means, for `facekit verify --help` and its progress line
    run: Callable[[VerifyContext], list[Finding]]


CHECKS: dict[str, Check] = {}  # in the order they run and are shown


def check(name: str, text: str):
    """Register a verify check: ``@check("name", "what passing means")`` on a function that
    takes a VerifyContext and returns one Finding per exercise."""

    def register(run: Callable[[VerifyContext], list[Finding]]):
        CHECKS[name] = Check(name, text, run)
        return run

    return register


def _no_tests_finding(run: RunRecord, exercise: course.Exercise, check: str) -> Finding | None:
    """A finding when the exercise's tests did not collect or none ran; None when they ran."""
    errors = run.collect_errors_of(exercise.tests)
    if errors:
        tree = "the stub" if check == "stub" else "the reference"
        return Finding(exercise.id, check, False, f"tests do not collect against {tree}: {errors[0]}")
    if not run.tests_of(exercise.tests):
        return Finding(exercise.id, check, False, f"no tests ran from {exercise.tests}")
    return None


def reference_findings(run: RunRecord, exercise: course.Exercise) -> Finding:
    problem = _no_tests_finding(run, exercise, "reference")
    if problem:
        return problem
    tests = run.tests_of(exercise.tests)
    failed = {n: r for n, r in tests.items() if r.failed}
    if failed:
        nodeid, result = next(iter(failed.items()))
        return Finding(
            exercise.id,
            "reference",
            False,
            f"{len(failed)}/{len(tests)} tests fail, e.g. {nodeid.split('::')[-1]}: {result.error}",
        )
    skipped = sum(r.outcome == "skipped" for r in tests.values())
    return Finding(
        exercise.id,
        "reference",
        True,
        f"{len(tests) - skipped} passed" + (f", {skipped} skipped" if skipped else ""),
    )


def stub_findings(run: RunRecord, exercise: course.Exercise) -> Finding:
    problem = _no_tests_finding(run, exercise, "stub")
    if problem:
        return problem
    tests = run.tests_of(exercise.tests)
    stub = Path(exercise.stub).as_posix()
    wrong = []
    for nodeid, result in tests.items():
        name = nodeid.split("::")[-1]
        if not result.failed:
            wrong.append(f"{name} {result.outcome.value} on the untouched stub")
        elif not result.todo:
            wrong.append(f"{name} failed with {result.error}, not the stub's NotImplementedError")
        elif Path(result.todo[1]).as_posix() != stub:
            wrong.append(f"{name} stopped at a NotImplementedError in {result.todo[1]}, not {stub}")
    if wrong:
        return Finding(exercise.id, "stub", False, f"{len(wrong)}/{len(tests)} tests: {wrong[0]}")
    functions = sorted({r.todo[0] for r in tests.values() if r.todo})
    reached = {exercise.function_for(f) for f in functions}
    missing = [f for f in exercise.functions if f not in reached]
    detail = f"all {len(tests)} tests stop at NotImplementedError ({', '.join(functions)})"
    if missing:
        return Finding(
            exercise.id, "stub", False, f"no test reaches {', '.join(missing)} (listed in the manifest)"
        )
    return Finding(exercise.id, "stub", True, detail)


_API_SCRIPT = r"""
import importlib, inspect, json, sys

def describe(obj):
    kind = "class" if inspect.isclass(obj) else "function" if callable(obj) else "value"
    entry = {"kind": kind, "doc": inspect.getdoc(obj) if kind != "value" else None}
    if kind == "function":
        entry["signature"] = str(inspect.signature(obj))
    elif kind == "class":
        members = {}
        for name, member in vars(obj).items():
            if name.startswith("_") and name not in ("__init__", "__len__", "__iter__", "__contains__"):
                continue
            member = getattr(obj, name)
            members[name] = {"doc": inspect.getdoc(member),
                             "signature": str(inspect.signature(member)) if callable(member) else None}
        entry["members"] = members
    else:
        entry["value"] = repr(obj)
    return entry

out = {}
for module in sys.argv[1:]:
    try:
        mod = importlib.import_module(module)
        names = getattr(mod, "__all__", None)
        if names is None:
            out[module] = {"error": "the package defines no __all__"}
            continue
        out[module] = {"api": {n: describe(getattr(mod, n)) for n in names}}
    except Exception as err:
        out[module] = {"error": f"{type(err).__name__}: {err}"}
print(json.dumps(out))
"""


def public_apis(root: Path, modules: list[str], weights: settings.Weights) -> dict:
    """``{module: {"api": {...}} or {"error": ...}}`` for each module, imported in a subprocess."""
    proc = subprocess.run(
        [sys.executable, "-c", _API_SCRIPT, *modules],
        cwd=root,
        env=settings.child_env(root, settings.Choice("solutions", weights)),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
        return {m: {"error": tail[0]} for m in modules}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _api_differences(stub: dict, reference: dict) -> list[str]:
    problems = []
    for name in sorted(set(stub) | set(reference)):
        if name not in stub or name not in reference:
            where = "the stub" if name not in stub else "the reference"
            problems.append(f"{name} is missing from {where}")
            continue
        a, b = stub[name], reference[name]
        for key in ("kind", "signature", "doc", "value"):
            if a.get(key) != b.get(key):
                problems.append(f"{name}: {key} differs ({a.get(key)!r:.60} vs {b.get(key)!r:.60})")
        members_a, members_b = a.get("members") or {}, b.get("members") or {}
        for member in sorted(set(members_a) | set(members_b)):
            if members_a.get(member) != members_b.get(member):
                problems.append(f"{name}.{member}: signature or docstring differs")
    return problems


def mirror_findings(apis: dict, exercise: course.Exercise) -> Finding:
    stub, reference = apis[exercise.module("exercises")], apis[exercise.module("solutions")]
    for tree, result in (("stub", stub), ("reference", reference)):
        if "error" in result:
            return Finding(
                exercise.id, "mirror", False, f"the {tree} package does not import: {result['error']}"
            )
    problems = _api_differences(stub["api"], reference["api"])
    missing = [f for f in exercise.functions if f.split(".")[0] not in reference["api"]]
    if missing:
        problems.insert(0, f"manifest functions not exported: {', '.join(missing)}")
    if problems:
        return Finding(exercise.id, "mirror", False, f"{len(problems)} difference(s): {problems[0]}")
    return Finding(exercise.id, "mirror", True, f"{len(reference['api'])} public names match")


def file_findings(root: Path, exercise: course.Exercise) -> Finding:
    missing = [f"{what} {path}" for what, path in exercise.paths().items() if not (root / path).is_file()]
    if not (root / "CHEATSHEET.md").is_file():
        missing.append("CHEATSHEET.md")
    if missing:
        return Finding(exercise.id, "files", False, "missing: " + ", ".join(missing))
    return Finding(exercise.id, "files", True, "README, stub, reference, tests, notebook present")


def notebook_findings(root: Path, exercise: course.Exercise, weights: settings.Weights) -> Finding:
    if not exercise.notebook:
        return Finding(exercise.id, "notebook", True, "none listed")
    path = root / exercise.notebook
    try:
        notebooks.validate(path)
        notebooks.execute(
            path, target="solutions", weights=weights.mode, standin_cache=weights.cache, root=root
        )
    except Exception as err:  # noqa: BLE001 - any failure here is a finding, reported in one line
        return Finding(exercise.id, "notebook", False, f"{type(err).__name__}: {err}"[:300])
    return Finding(exercise.id, "notebook", True, "valid, executes against the reference")


# -- the checks, in the order they run: one line each to add another ---------------------------


@check("files", "README, stub, reference, tests, notebook and CHEATSHEET exist")
def _files(ctx: VerifyContext) -> list[Finding]:
    return [file_findings(ctx.root, e) for e in ctx.exercises]


@check("todo", "nothing is left of facekit new's placeholders")
def _todo(ctx: VerifyContext) -> list[Finding]:
    found = []
    for e in ctx.exercises:
        left = scaffold.placeholders(ctx.root, e)
        found.append(
            Finding(
                e.id,
                "todo",
                not left,
                f"left to write ({scaffold.PLACEHOLDER}): " + ", ".join(left) if left else "no placeholders",
            )
        )
    return found


@check("reference", "the reference solutions pass their tests")
def _reference(ctx: VerifyContext) -> list[Finding]:
    present = ctx.with_tests()
    if not present:
        return []
    run = runs.run_tests(ctx.root, "solutions", [e.tests for e in present], ctx.weights)
    return [reference_findings(run, e) for e in present]


@check("stub", "every stub fails its tests only with NotImplementedError")
def _stub(ctx: VerifyContext) -> list[Finding]:
    present = ctx.with_tests()
    if not present:
        return []
    run = runs.run_tests(ctx.root, "exercises", [e.tests for e in present], ctx.weights)
    return [stub_findings(run, e) for e in present]


@check("mirror", "stub and reference have the same names, signatures, docstrings")
def _mirror(ctx: VerifyContext) -> list[Finding]:
    apis = public_apis(ctx.root, [e.module(t) for e in ctx.exercises for t in course.TARGETS], ctx.weights)
    return [mirror_findings(apis, e) for e in ctx.exercises]


@check("notebook", "the notebook is valid and runs against the reference")
def _notebook(ctx: VerifyContext) -> list[Finding]:
    return [notebook_findings(ctx.root, e, ctx.weights) for e in ctx.exercises]


def mistake_findings(
    root: Path, exercises: Sequence[course.Exercise | str], weights: settings.Weights
) -> list[Finding]:
    """A Finding per exercise: ok when every catalogued mistake is caught, with its words. One
    subprocess for them all (torch imported once), its forks side by side on the cores."""
    ids = [e if isinstance(e, str) else e.id for e in exercises]
    if not ids:
        return []
    results = catalogue_run.run(Path(root), ids, weights)
    return [mistake_finding(exercise_id, results[exercise_id]) for exercise_id in ids]


def mistake_finding(exercise_id: str, result: dict) -> Finding:
    """The Finding of one exercise's catalogue run (an entry of ``catalogue_run.run``'s answer)."""
    if result["error"]:
        return Finding(exercise_id, "mistakes", False, result["error"][:300])
    outcomes = result["outcomes"]
    bad = [o for o in outcomes if not o["ok"]]
    if bad:
        first = bad[0]
        return Finding(
            exercise_id,
            "mistakes",
            False,
            f"{len(bad)}/{len(outcomes)} mistakes not caught as promised, e.g. "
            f"{first['mistake']}: {first['detail']}"[:400],
        )
    confused = [o for o in outcomes if o.get("confusions")]
    if confused:
        first = confused[0]
        return Finding(
            exercise_id,
            "mistakes",
            False,
            f"{len(confused)}/{len(outcomes)} mistakes would be named wrongly by `facekit "
            f"check`, e.g. with {first['mistake']} planted, {first['confusions'][0]}"[:600],
        )
    return Finding(
        exercise_id,
        "mistakes",
        True,
        f"all {len(outcomes)} mistakes caught with their words, none taken for another "
        f"({result['seconds']:.0f} s of test runs)",
    )


@check("mistakes", "every catalogued student mistake is caught, with its promised words")
def _mistakes(ctx: VerifyContext) -> list[Finding]:
    return mistake_findings(ctx.root, ctx.with_tests(), ctx.weights)


def policy_findings(
    policy: course.Policy, counts: dict[str, int | str], exercise_ids: list[str]
) -> list[Finding]:
    """One Finding per exercise of ``exercise_ids`` on the course's ``[course.policy]``.

    ``counts``: each exercise of the whole course -> its number of catalogued mistakes, or why
    its catalogue cannot be read. The total is the course's, whichever exercises are checked."""
    total = sum(n for n in counts.values() if isinstance(n, int))
    where = "exercises/course.toml [course.policy]"
    found = []
    for exercise_id in exercise_ids:
        count = counts[exercise_id]
        if isinstance(count, str):
            found.append(Finding(exercise_id, "policy", False, f"its catalogue cannot be read: {count}"))
        elif count < policy.min_mistakes:
            found.append(
                Finding(
                    exercise_id,
                    "policy",
                    False,
                    f"{count} catalogued mistakes; {where} asks at least {policy.min_mistakes} "
                    f"(min_mistakes) in {course.meta_of(exercise_id).mistakes}",
                )
            )
        elif total < policy.min_mistakes_total:
            found.append(
                Finding(
                    exercise_id,
                    "policy",
                    False,
                    f"the course has {total} catalogued mistakes in all; {where} asks at least "
                    f"{policy.min_mistakes_total} (min_mistakes_total)",
                )
            )
        else:
            found.append(
                Finding(
                    exercise_id,
                    "policy",
                    True,
                    f"{count} catalogued mistakes (at least {policy.min_mistakes}), {total} in the "
                    f"course (at least {policy.min_mistakes_total})",
                )
            )
    return found


@check("policy", "the course's [course.policy] holds: enough catalogued mistakes, each and in all")
def _policy(ctx: VerifyContext) -> list[Finding]:
    manifest = course.load(ctx.root / "exercises" / "course.toml")
    counts: dict[str, int | str] = {}
    for exercise in manifest.exercises:
        try:
            counts[exercise.id] = len(mistakes.load(ctx.root, exercise))
        except mistakes.CatalogueError as error:
            counts[exercise.id] = str(error)
    return policy_findings(manifest.policy, counts, [e.id for e in ctx.exercises])


def verify(
    root: Path | None,
    exercise_ids: list[str] | None,
    weights: settings.Weights,
    checks: tuple[str, ...] | None = None,
) -> list[Finding]:
    """Every check in ``checks`` (default: all) for every exercise (or those named), as findings."""
    root = Path(root or course.repo_root())
    manifest = course.load(root / "exercises" / "course.toml")
    exercises = tuple(manifest.get(i) for i in exercise_ids) if exercise_ids else manifest.exercises
    ctx = VerifyContext(root, exercises, weights)
    names = list(CHECKS)
    findings = []
    for name in checks or names:
        findings += CHECKS[name].run(ctx)
    order = {e.id: i for i, e in enumerate(exercises)}
    return sorted(findings, key=lambda f: (order[f.exercise], names.index(f.check)))
