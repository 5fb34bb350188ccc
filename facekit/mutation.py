"""Mutation testing of the references with cosmic-ray's operators and the kit's forked runner.

``python -m facekit.mutation [EXERCISE ...] [--sample N] [--seed S] [--budget SECONDS]``

cosmic-ray (8.x) generates the mutants: its ``init`` enumerates every position each of its
operators can mutate in the exercise's reference, and ``mutate_code`` makes the mutant. Its own
runner is not used: it runs a shell command per mutant, so every mutant would pay the ~7 s
import of torch and timm. Instead, as for the catalogue of mistakes (facekit.harness.catalogue_run), one
process imports torch, timm and pytest once and forks a child per mutant, which writes the
mutant into a scratch copy of the kit and runs the exercise's tests there against
``solutions`` with ``-x``: a failing test kills the mutant. Mutants inside annotations of a
module with ``from __future__ import annotations`` are left out: that code never runs.

Survivors that no test can or should tell apart from the reference are recorded, with one
sentence why, in ``course/<exercise>/mutation.toml`` (``course.Exercise.meta``)::

    [[equivalent]]
    operator = "core/NumberReplacer"
    function = "l2_normalize"               # cosmic-ray's definition name
    code = "return x / norms"               # the reference's line, stripped; stale when it changes
    mutated = "return x / norms"            # the mutant's line, stripped
    why = "..."

An entry matches the mutant of that operator that turns that line into that one. A recorded
entry that matches no mutant any more (the code changed) is reported as stale. Per exercise
it prints: mutants generated, run, killed, survived (recorded equivalent or not), timed out,
the share of non-equivalent mutants killed, and the time.
"""

from __future__ import annotations

import os
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from facekit import course, settings
from facekit.harness import planted, run

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass(frozen=True)
class Mutant:
    operator: str
    occurrence: int
    function: str  # cosmic-ray's definition name of the mutated node
    line: int
    code: str  # the reference's line, stripped
    mutated: str  # the whole mutated source

    @property
    def into(self) -> str:
        """The mutated line, stripped."""
        lines = self.mutated.splitlines()
        return lines[self.line - 1].strip() if 0 < self.line <= len(lines) else ""

    @property
    def where(self) -> str:
        return f"line {self.line} ({self.function}): {self.operator}: {self.code}  ->  {self.into}"


@dataclass
class Report:
    exercise: str
    generated: int = 0
    killed: int = 0
    timed_out: int = 0
    equivalent: list[str] = field(default_factory=list)
    survived: list[str] = field(default_factory=list)  # not recorded as equivalent
    stale: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str = ""

    @property
    def run(self) -> int:
        return self.killed + self.timed_out + len(self.equivalent) + len(self.survived)

    @property
    def score(self) -> float | None:
        """Killed (a timeout counts as killed, as in cosmic-ray) of the non-equivalent run."""
        counted = self.killed + self.timed_out + len(self.survived)
        return (self.killed + self.timed_out) / counted if counted else None

    @property
    def ok(self) -> bool:
        return not self.error and not self.survived and not self.stale


def mutants(path: Path) -> list[Mutant]:
    """Every mutant cosmic-ray's operators make of the file, in its order."""
    from cosmic_ray import plugins
    from cosmic_ray.commands.init import _all_work_items
    from cosmic_ray.mutating import mutate_code

    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    unevaluated = _annotations(source)
    found = []
    for item in _all_work_items([path], {}):
        spec = item.mutations[0]
        if any(start <= tuple(spec.start_pos) < end for start, end in unevaluated):
            continue  # `str | None` -> `str - None` in an annotation that never runs
        operator = plugins.get_operator(spec.operator_name)(**(spec.operator_args or {}))
        try:
            mutated = mutate_code(source, operator, spec.occurrence)
        except Exception:  # noqa: BLE001 - an operator cosmic-ray cannot apply at that node
            # (8.7.0's ExceptionReplacer on `except (Image.Error, ...)`): no mutant to run.
            continue
        if mutated is None or mutated == source:
            continue
        line = spec.start_pos[0]
        found.append(
            Mutant(
                spec.operator_name,
                spec.occurrence,
                spec.definition_name or "<module>",
                line,
                lines[line - 1].strip() if 0 < line <= len(lines) else "",
                mutated,
            )
        )
    return found


def _annotations(source: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """The (start, end) positions of the annotations of a module that imports
    ``from __future__ import annotations``: they are never evaluated, so no mutant there
    can change what the code does (cosmic-ray's operators would make a dozen per ``a | b``)."""
    import ast

    tree = ast.parse(source)
    lazy = any(
        isinstance(node, ast.ImportFrom)
        and node.module == "__future__"
        and any(a.name == "annotations" for a in node.names)
        for node in tree.body
    )
    if not lazy:
        return []
    spans = []
    for node in ast.walk(tree):
        annotation = None
        if isinstance(node, ast.arg) or isinstance(node, ast.AnnAssign):
            annotation = node.annotation
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            annotation = node.returns
        if annotation is not None:
            # Parsed source always has end positions (only hand-built nodes lack them).
            assert annotation.end_lineno is not None and annotation.end_col_offset is not None
            spans.append(
                (
                    (annotation.lineno, annotation.col_offset),
                    (annotation.end_lineno, annotation.end_col_offset),
                )
            )
    return spans


def load_equivalents(root: Path, exercise_id: str) -> list[dict]:
    path = Path(root) / course.meta_of(exercise_id).mutation
    if not path.exists():
        return []
    entries = tomllib.loads(path.read_text(encoding="utf-8")).get("equivalent", [])
    for number, entry in enumerate(entries, 1):
        missing = [
            k for k in ("operator", "function", "code", "mutated", "why") if not str(entry.get(k, "")).strip()
        ]
        if missing:
            raise ValueError(f"{path}: equivalent #{number} lacks {', '.join(missing)}")
    return entries


def _recorded(mutant: Mutant, entries: list[dict]) -> dict | None:
    return next(
        (
            e
            for e in entries
            if e["operator"] == mutant.operator
            and e["function"] == mutant.function
            and e["code"].strip() == mutant.code
            and e["mutated"].strip() == mutant.into
        ),
        None,
    )


def _planned(root: Path, exercise: course.Exercise, timeout: float) -> run.Planned:
    """The exercise's tests against ``solutions``, stopping at the first failure."""
    return run.Planned(
        root,
        (exercise.tests,),
        timeout,
        extra=("-x", "-p", "no:randomly"),
        group=True,
        bytecode=False,  # no .pyc written: the scratch copy is thrown away
    )


def run_exercise(
    root: Path,
    exercise_id: str,
    weights: settings.Weights,
    sample: int | None = None,
    seed: int = 0,
    budget: float | None = None,
    jobs: int = 1,
) -> Report:
    """Run the exercise's mutants (a seeded sample of ``sample``, or all), ``jobs`` forks at a
    time, each in a scratch copy of the kit of its own; within ``budget`` seconds, those left
    are not run and not counted."""
    root = Path(root).resolve()
    exercise = course.load(root / "exercises" / "course.toml").get(exercise_id)
    report = Report(exercise_id)
    started = time.perf_counter()
    every = mutants(root / exercise.reference)
    report.generated = len(every)
    entries = load_equivalents(root, exercise_id)
    report.stale = [
        f"{e['function']}: {e['operator']}: {e['code']}  ->  {e['mutated']}"
        for e in entries
        if not any(_recorded(m, [e]) for m in every)
    ]
    chosen = every
    if sample is not None and sample < len(every):
        chosen = sorted(random.Random(seed).sample(every, sample), key=lambda m: (m.line, m.operator))

    # The unmutated reference first: every test must pass, and its time sets the timeout.
    [(_, baseline, seconds)] = planted.run_planted(
        root, weights, [(-1, {}, _planned(root, exercise, 600))], 1
    )
    if baseline.code != 0:
        report.error = f"the tests fail on the unmutated reference (pytest exit {baseline.code})"
        report.seconds = time.perf_counter() - started
        return report
    timeout = max(30.0, 5 * seconds)

    def planned() -> Iterator[tuple[int, dict[str, str], run.Planned]]:
        # Read by the pool only when a fork can start: the budget is checked as each one starts.
        for index, mutant in enumerate(chosen):
            if budget is not None and time.perf_counter() - started > budget:
                return
            yield index, {exercise.reference: mutant.mutated}, _planned(root, exercise, timeout)

    ended = {index: forked for index, forked, _ in planted.run_planted(root, weights, planned(), jobs)}
    for index, mutant in enumerate(chosen):  # in the sample's order, whatever order the forks ended in
        if index not in ended:
            continue  # not run: over the budget
        if ended[index].timed_out:
            report.timed_out += 1
        elif ended[index].code != 0:
            report.killed += 1
        elif _recorded(mutant, entries):
            report.equivalent.append(mutant.where)
        else:
            report.survived.append(mutant.where)
    report.seconds = time.perf_counter() - started
    return report


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m facekit.mutation",
        description="Mutation testing of the references (cosmic-ray's operators).",
    )
    parser.add_argument("exercises", nargs="*", help="exercise ids (default: every exercise)")
    parser.add_argument("--sample", type=int, help="a seeded sample of this many mutants per exercise")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budget", type=float, help="seconds per exercise; mutants left are not run")
    planted.add_arguments(parser)
    parser.add_argument(
        "--list",
        action="store_true",
        help="list each mutant's place (recorded equivalents marked) and run none",
    )
    args = parser.parse_args(argv)
    root = course.repo_root()
    manifest = course.load(root / "exercises" / "course.toml")
    ids = args.exercises or [e.id for e in manifest.exercises]
    for exercise_id in ids:
        manifest.get(exercise_id)  # an unknown id: an error before torch is imported
    if args.list:
        for exercise_id in ids:
            entries = load_equivalents(root, exercise_id)
            for m in mutants(root / manifest.get(exercise_id).reference):
                print(f"{exercise_id}: {'equivalent ' if _recorded(m, entries) else ''}{m.where}")
        return 0
    choice = settings.read_choice("solutions", args.weights)
    planted.prepare(root, choice.weights)
    from importlib.metadata import version

    import cosmic_ray  # noqa: F401 - its version is reported

    print(
        f"cosmic-ray {version('cosmic-ray')} operators; {args.jobs} fork(s) at a time on {os.cpu_count()} CPU(s)"
    )
    print(
        f"{'exercise':<18}{'mutants':>8}{'run':>6}{'killed':>8}{'equiv':>7}{'survived':>10}{'timeout':>9}"
        f"{'score':>8}{'time':>8}"
    )
    failed = False
    for exercise_id in ids:
        report = run_exercise(
            root, exercise_id, choice.weights, args.sample, args.seed, args.budget, args.jobs
        )
        score = "-" if report.score is None else f"{100 * report.score:.1f}%"
        print(
            f"{exercise_id:<18}{report.generated:>8}{report.run:>6}{report.killed:>8}{len(report.equivalent):>7}"
            f"{len(report.survived):>10}{report.timed_out:>9}{score:>8}{report.seconds:>7.0f}s",
            flush=True,
        )
        if report.error:
            print(f"  error: {report.error}")
        for where in report.survived:
            print(f"  survived: {where}")
        for entry in report.stale:
            print(f"  stale equivalent (matches no mutant any more): {entry}")
        failed = failed or not report.ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
