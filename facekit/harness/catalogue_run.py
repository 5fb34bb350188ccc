"""The catalogue of mistakes planted one at a time (``python -m facekit.harness.catalogue_run EXERCISE ...``).

``run(root, exercises)`` (what ``facekit verify --only mistakes`` calls) starts one subprocess
rooted at the kit, so a copy of the kit is checked as itself. That process imports torch,
timm and pytest once, then per mistake copies the kit to a scratch folder
(facekit.harness.planted), applies the patch to the copy's reference and runs, in a fork,
every test that some entry's signature names, against ``solutions``: ``--jobs`` forks at a
time (default: one per core), whichever exercise their mistakes come from. facekit.mistakes
judges each run (caught with its words? taken for another mistake?).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from facekit import course, mistakes, settings
from facekit.harness import forking, planted
from facekit.harness import run as runs
from facekit.mistakes import CatalogueError, Mistake

PER_MISTAKE_TIMEOUT_S = 180


@dataclass
class MistakeOutcome:
    mistake: str
    ok: bool
    detail: str
    seconds: float = 0.0
    messages: list[str] = field(default_factory=list)
    # Failures, with this mistake planted, whose message has another mistake's signature:
    # `facekit check` would name the wrong mistake (see facekit.mistakes.confusions).
    confusions: list[str] = field(default_factory=list)


def _tests_to_run(exercise: course.Exercise, mistake: Mistake, catalogue: Sequence[Mistake]) -> list[str]:
    # Not only the mistake's test: every test a catalogued signature names (only those can
    # show a "looks like" line), so the confusion check sees each failure that could
    # name a mistake for a student who made this one.
    ids = {mistakes.node_id(m, exercise.tests) for m in (catalogue or [mistake])}
    # A parameter's id when its whole test is there too would run it twice.
    return sorted(n for n in ids if not ("[" in n and n.split("[")[0] in ids))


def _patched(root: Path, mistake: Mistake) -> str | MistakeOutcome:
    """The reference with ``mistake`` planted, or the outcome of a patch that does not apply."""
    try:
        return mistakes.patched((root / mistake.file).read_text(encoding="utf-8"), mistake)
    except (CatalogueError, FileNotFoundError) as err:
        return MistakeOutcome(mistake.id, False, str(err))


def _run_mistakes(
    root: Path,
    chosen: Sequence[tuple[course.Exercise, Mistake, Sequence[Mistake]]],
    weights: settings.Weights,
    jobs: int,
) -> list[MistakeOutcome]:
    """Each (exercise, mistake, its catalogue) planted in a scratch copy of the kit of its own,
    its tests run in a fork (``jobs`` at a time), judged; the outcomes in ``chosen``'s order."""
    outcomes: dict[int, MistakeOutcome] = {}

    def planned() -> Iterator[tuple[int, dict[str, str], runs.Planned]]:
        for index, (exercise, mistake, catalogue) in enumerate(chosen):
            source = _patched(root, mistake)
            if isinstance(source, MistakeOutcome):
                outcomes[index] = source
                continue
            tests = tuple(_tests_to_run(exercise, mistake, catalogue))
            plan = runs.Planned(root, tests, PER_MISTAKE_TIMEOUT_S, extra=("-p", "no:randomly"))
            yield index, {mistake.file: source}, plan

    for index, forked, seconds in planted.run_planted(root, weights, planned(), jobs):
        exercise, mistake, catalogue = chosen[index]
        if forked.timed_out:
            detail = f"the tests ran over {PER_MISTAKE_TIMEOUT_S} s"
            outcomes[index] = MistakeOutcome(mistake.id, False, detail, seconds)
            continue
        ok, detail, messages = mistakes.judge(mistake, forked.record, exercise.tests)
        found = mistakes.confusions(mistake, forked.record, catalogue, exercise.tests)
        outcomes[index] = MistakeOutcome(mistake.id, ok, detail, seconds, messages, found)
    return [outcomes[i] for i in range(len(chosen))]


def run_catalogue(
    root: Path,
    exercise_ids: Sequence[str],
    weights: settings.Weights,
    only: list[str] | None = None,
    jobs: int = 1,
) -> dict[str, dict[str, Any]]:
    """Every mistake of each exercise, in this (not yet warmed-up) process, ``jobs`` forks at a
    time: the main of the subprocess. {exercise id: {"error", "outcomes", "seconds"}}."""
    root = Path(root).resolve()
    manifest = course.load(root / "exercises" / "course.toml")
    results: dict[str, dict[str, Any]] = {}
    chosen: list[tuple[course.Exercise, Mistake, Sequence[Mistake]]] = []
    for exercise_id in exercise_ids:
        exercise = manifest.get(exercise_id)
        try:
            catalogue = mistakes.load(root, exercise)
        except CatalogueError as err:
            results[exercise_id] = {"error": str(err), "outcomes": [], "seconds": 0.0}
            continue
        results[exercise_id] = {"error": None, "outcomes": [], "seconds": 0.0}
        chosen += [(exercise, m, catalogue) for m in catalogue if not only or m.id in only]
    planted.prepare(root, weights)
    for (exercise, _, _), outcome in zip(chosen, _run_mistakes(root, chosen, weights, jobs)):
        result = results[exercise.id]
        result["outcomes"].append(asdict(outcome))
        result["seconds"] += outcome.seconds  # the time its mistakes ran, forks side by side
    return results


def run(
    root: Path,
    exercise_ids: Sequence[str],
    weights: settings.Weights,
    only: list[str] | None = None,
    jobs: int | None = None,
    timeout: float = 3600,
) -> dict[str, dict[str, Any]]:
    """``run_catalogue`` in a subprocess rooted at ``root`` (so a copy of the kit is checked as
    itself); the subprocess gets the weights through its environment only. ``jobs``: forks at
    a time (default: this machine's cores). {exercise id: {"error", "outcomes", "seconds"}}."""
    root = Path(root)
    env = runs.test_env(root, settings.Choice("solutions", weights))
    env.setdefault("OMP_NUM_THREADS", "1")
    with tempfile.TemporaryDirectory(prefix="facekit-mistakes-") as tmp:
        out = Path(tmp) / "outcomes.json"
        command = [
            sys.executable,
            "-m",
            "facekit.harness.catalogue_run",
            *exercise_ids,
            "--json",
            str(out),
            f"--jobs={jobs or forking.cores()}",
            *(f"--only={m}" for m in only or []),
        ]
        proc = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=timeout)
        if not out.exists():
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
            error = " / ".join(tail) or "the catalogue run did not finish"
            return {e: {"error": error, "outcomes": [], "seconds": 0.0} for e in exercise_ids}
        result: dict[str, dict[str, Any]] = json.loads(out.read_text())
        return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m facekit.harness.catalogue_run",
        description="Run exercises' catalogues of mistakes.",
    )
    parser.add_argument("exercises", nargs="+", help="exercise ids")
    planted.add_arguments(parser)
    parser.add_argument("--json", type=Path, help="write the outcomes here")
    parser.add_argument("--only", action="append", help="only this mistake id (repeatable)")
    args = parser.parse_args(argv)
    root = course.repo_root()
    manifest = course.load(root / "exercises" / "course.toml")
    for exercise_id in args.exercises:
        manifest.get(exercise_id)  # an unknown id: an error before torch is imported
    choice = settings.read_choice("solutions", args.weights)
    results = run_catalogue(root, args.exercises, choice.weights, args.only, args.jobs)
    if args.json:
        args.json.write_text(json.dumps(results))
    ok = True
    for exercise_id, result in results.items():
        if result["error"]:
            print(f"{exercise_id}: {result['error']}", file=sys.stderr)
            ok = False
            continue
        for o in result["outcomes"]:
            print(f"{'ok  ' if o['ok'] else 'FAIL'} {o['mistake']} ({o['seconds']:.1f} s): {o['detail']}")
            for confusion in o.get("confusions", []):
                print(f"MISLABEL {o['mistake']}: {confusion}")
        mislabelled = sum(bool(o.get("confusions")) for o in result["outcomes"])
        print(
            f"{exercise_id}: {sum(o['ok'] for o in result['outcomes'])}/{len(result['outcomes'])} caught, "
            f"{mislabelled} would be named wrongly, in {result['seconds']:.0f} s of forks"
        )
        ok = ok and all(o["ok"] and not o.get("confusions") for o in result["outcomes"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
