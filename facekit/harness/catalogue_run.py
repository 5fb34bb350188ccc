"""The catalogue of mistakes planted one at a time (``python -m facekit.harness.catalogue_run EXERCISE``).

``run(root, exercise)`` (what ``facekit verify --only mistakes`` calls) starts one subprocess
rooted at the kit, so a copy of the kit is checked as itself. That process imports torch,
timm and pytest once, then per mistake copies the kit to a scratch folder
(facekit.harness.planted), applies the patch to the copy's reference and runs, in a fork,
every test that some entry's signature names, against ``solutions``. facekit.mistakes judges
each run (caught with its words? taken for another mistake?).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
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


def run_one(
    root: Path, exercise: course.Exercise, mistake: Mistake, weights: str, catalogue: Sequence[Mistake] = ()
) -> MistakeOutcome:
    """One mistake planted in a scratch copy of the kit, its tests run in a fork, judged."""
    started = time.perf_counter()
    try:
        source = mistakes.patched((root / mistake.file).read_text(encoding="utf-8"), mistake)
    except (CatalogueError, FileNotFoundError) as err:
        return MistakeOutcome(mistake.id, False, str(err))
    scratch = Path(tempfile.mkdtemp(prefix="facekit-mistake-"))
    try:
        planted.scratch_copy(root, scratch)
        (scratch / mistake.file).write_text(source, encoding="utf-8")
        forked = runs.run_forked(
            scratch,
            "solutions",
            _tests_to_run(exercise, mistake, catalogue),
            weights,
            PER_MISTAKE_TIMEOUT_S,
            extra=("-p", "no:randomly"),
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    seconds = time.perf_counter() - started
    if forked.timed_out:
        return MistakeOutcome(mistake.id, False, f"the tests ran over {PER_MISTAKE_TIMEOUT_S} s", seconds)
    ok, detail, messages = mistakes.judge(mistake, forked.record, exercise.tests)
    found = mistakes.confusions(mistake, forked.record, catalogue, exercise.tests)
    return MistakeOutcome(mistake.id, ok, detail, seconds, messages, found)


def run_catalogue(
    root: Path, exercise_id: str, weights: str = "standin", only: list[str] | None = None
) -> dict[str, Any]:
    """Every mistake of the exercise, in this (not yet warmed-up) process: the main of the subprocess."""
    root = Path(root).resolve()
    exercise = course.load(root / "exercises" / "course.toml").get(exercise_id)
    started = time.perf_counter()
    try:
        catalogue = mistakes.load(root, exercise)
    except CatalogueError as err:
        return {"error": str(err), "outcomes": [], "seconds": 0.0}
    chosen = [m for m in catalogue if m.id in only] if only else catalogue
    if weights == "standin":
        # One checked stand-in cache for every child (the one `facekit` keeps), built here
        # in a subprocess: this process must run no torch code before it forks.
        os.environ.setdefault(settings.STANDIN_CACHE_ENV, str(settings.standin_cache_dir()))
        planted.prepare_standin(root, runs.test_env(root, "solutions", weights))
    # The slow imports, once: every child starts with them done.
    forking.import_warm()
    outcomes = [run_one(root, exercise, m, weights, catalogue) for m in chosen]
    return {
        "error": None,
        "seconds": time.perf_counter() - started,
        "outcomes": [asdict(o) for o in outcomes],
    }


def run(
    root: Path,
    exercise_id: str,
    weights: str = "standin",
    only: list[str] | None = None,
    timeout: float = 1800,
) -> dict[str, Any]:
    """``run_catalogue`` in a subprocess rooted at ``root`` (so a copy of the kit is checked as itself)."""
    root = Path(root)
    env = runs.test_env(root, "solutions", weights)
    env.setdefault("OMP_NUM_THREADS", "1")
    with tempfile.TemporaryDirectory(prefix="facekit-mistakes-") as tmp:
        out = Path(tmp) / "outcomes.json"
        command = [
            sys.executable,
            "-m",
            "facekit.harness.catalogue_run",
            exercise_id,
            "--weights",
            weights,
            "--json",
            str(out),
            *(f"--only={m}" for m in only or []),
        ]
        proc = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=timeout)
        if not out.exists():
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
            return {
                "error": " / ".join(tail) or "the catalogue run did not finish",
                "outcomes": [],
                "seconds": 0.0,
            }
        result: dict[str, Any] = json.loads(out.read_text())
        return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m facekit.harness.catalogue_run",
        description="Run one exercise's catalogue of mistakes.",
    )
    parser.add_argument("exercise")
    parser.add_argument("--weights", default="standin", choices=settings.WEIGHTS)
    parser.add_argument("--json", type=Path, help="write the outcomes here")
    parser.add_argument("--only", action="append", help="only this mistake id (repeatable)")
    args = parser.parse_args(argv)
    result = run_catalogue(course.repo_root(), args.exercise, args.weights, args.only)
    if args.json:
        args.json.write_text(json.dumps(result))
    if result["error"]:
        print(result["error"], file=sys.stderr)
        return 1
    for o in result["outcomes"]:
        print(f"{'ok  ' if o['ok'] else 'FAIL'} {o['mistake']} ({o['seconds']:.1f} s): {o['detail']}")
        for confusion in o.get("confusions", []):
            print(f"MISLABEL {o['mistake']}: {confusion}")
    mislabelled = sum(bool(o.get("confusions")) for o in result["outcomes"])
    print(
        f"{sum(o['ok'] for o in result['outcomes'])}/{len(result['outcomes'])} caught, "
        f"{mislabelled} would be named wrongly, in {result['seconds']:.0f} s"
    )
    return 0 if all(o["ok"] and not o.get("confusions") for o in result["outcomes"]) else 1


if __name__ == "__main__":
    sys.exit(main())
