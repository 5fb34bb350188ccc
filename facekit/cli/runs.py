"""Running exercises' tests for the student's commands, answering from the result cache when
an exercise's files are unchanged since its last run (facekit.state_file.ResultCache)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from facekit import course, mistakes, progress, settings
from facekit.cli.context import Context
from facekit.harness import warm
from facekit.harness.record import RunRecord
from facekit.state_file import ResultCache, fingerprint

# facekit.harness.run.run_tests' signature: (root, target, test files, weights) -> the run's record.
Runner = Callable[[Path, str, list[str], str], RunRecord]

tests_ran = False  # this process ran tests (facekit.cli starts a warm worker for the next run)


def prepare_weights(ctx: Context) -> None:
    """Stand-in weights: one cache kept across runs (built once), checked and rebuilt if damaged."""
    if ctx.weights != "standin":
        from facekit import hub

        missing = [f"{r}/{f}" for r, f in ctx.course.weights() if hub.cached_file(r, f) is None]
        if missing and hub.is_offline():  # the harness would stop before any test: say why here
            repo, _, name = missing[0].rpartition("/")
            raise hub._not_found(repo, name, "the hub is offline (HF_HUB_OFFLINE=1)")
        if missing:
            ctx.term.wrap(
                f"Note: {', '.join(missing)} not in the Hugging Face cache yet; the tests "
                f"will try to download it (`facekit download` fetches everything once)."
            )
        return
    from facekit import hub_switch

    cache = settings.standin_cache_dir()
    os.environ[settings.STANDIN_CACHE_ENV] = str(cache)  # the harness in the subprocess reuses it
    if hub_switch.standin_ready(cache):  # a damaged cache is removed, and rebuilt by the harness
        return
    ctx.term.wrap(ctx.term.style(f"Building the stand-in weights once, in {cache} ...", "dim"))


def results(
    ctx: Context, exercises: list[course.Exercise], runner: Runner | None = None, cached: bool = True
) -> tuple[list[progress.ExerciseResult], float, int]:
    """Each exercise's result: from the cache where its files are unchanged (``cached``), else
    from one run of the harness over the others (facekit.harness.warm.run_tests unless ``runner``
    is given).

    Returns (results, seconds, tests run now).
    """
    cache = ResultCache(ctx.root, ctx.target, ctx.weights)
    # Fingerprints before the run: a file saved during the run makes its result stale.
    fps = {e.id: fingerprint(ctx.root, e, ctx.target, ctx.weights) for e in exercises}
    known = {e.id: cache.get(e, fps[e.id]) for e in exercises} if cached else {}
    stale = [e for e in exercises if known.get(e.id) is None]
    started = time.perf_counter()
    run = None
    if stale:
        prepare_weights(ctx)
        names = stale[0].id if len(stale) == 1 else f"{len(stale)} exercises"
        ctx.term.status(f"checking {names} ...")
        global tests_ran
        tests_ran = True
        # warm.run_tests is run.run_tests (a subprocess) except in the warm worker (a fork there).
        run = (runner or warm.run_tests)(ctx.root, ctx.target, [e.tests for e in stale], ctx.weights)
        ctx.term.clear_status()
        for e in stale:
            try:
                cache.put(e, run, fps[e.id])
            except OSError as err:  # a read-only checkout still gets its report
                ctx.term.error(f"facekit: could not save results to {cache.folder}: {err}")
                break
    seconds = time.perf_counter() - started
    out = []
    for e in exercises:
        record = known.get(e.id) or run
        assert record is not None, f"{e.id} was stale, so this run's record holds it"
        out.append(
            progress.exercise_result(
                record, e, cached=known.get(e.id) is not None, catalogue=catalogue(ctx, e)
            )
        )
    return out, seconds, len(run.tests) if run else 0


def catalogue(ctx: Context, exercise: course.Exercise) -> list[mistakes.Mistake]:
    """The exercise's catalogued mistakes (facekit.mistakes.known)."""
    return mistakes.known(ctx.root, exercise)


def last_result(ctx: Context, exercise: course.Exercise) -> progress.ExerciseResult | None:
    """The exercise's cached result if its files are unchanged since; None otherwise."""
    run = ResultCache(ctx.root, ctx.target, ctx.weights).get(exercise)
    return progress.exercise_result(run, exercise, cached=True) if run else None


def done_ids(ctx: Context) -> set[str]:
    done: set[str] = set()
    for e in ctx.course.exercises:
        result = last_result(ctx, e)
        if result and result.done:
            done.add(e.id)
    return done


def current(ctx: Context) -> course.Exercise | None:
    """The first exercise that has not passed (as last checked, files unchanged since)."""
    done = done_ids(ctx)
    return next((e for e in ctx.course.exercises if e.id not in done), None)
