"""``facekit`` / ``facekit list``: every exercise with its state, and the progress.

Exercises whose files are unchanged since their last run answer from the result cache
(no test process, no torch import); only the others run, in one pytest process.
"""

from __future__ import annotations

import argparse

from facekit import progress
from facekit.cli import runs
from facekit.cli.context import Context, header, plural, require_files
from facekit.progress import ExerciseState

_STATE_LOOK = {
    ExerciseState.DONE: ("done", "green"),
    ExerciseState.NOT_STARTED: ("todo", "dim"),
    ExerciseState.IN_PROGRESS: ("progress", "yellow"),
    ExerciseState.FAILING: ("failing", "red"),
}


def _state_text(result: progress.ExerciseResult) -> str:
    if result.state is ExerciseState.IN_PROGRESS:
        return f"in progress ({result.passed}/{result.total} pass)"
    if result.state is ExerciseState.FAILING:
        if result.collect_errors or not result.tests:
            return "failing (tests do not run)"
        return f"failing ({plural(result.failing, 'test')})"
    return result.state.value


def run(ctx: Context, args: argparse.Namespace | None = None) -> int:
    exercises = list(ctx.course.exercises)
    for exercise in exercises:
        require_files(ctx, exercise)
    header(ctx)
    results, seconds, ran = runs.results(ctx, exercises)
    t = ctx.term
    states = [_state_text(r) for r in results]
    id_w = max(len(r.exercise.id) for r in results)
    state_w = max(len(s) for s in states)
    title_w = max(10, t.width - 2 - id_w - 2 - 2 - state_w - 1)
    for result, text in zip(results, states):
        mark, colour = _STATE_LOOK[result.state]
        title = t.ellipsis(result.exercise.title, title_w).ljust(title_w)
        t.line(
            f"{t.style(t.mark(mark), colour)} {result.exercise.id.ljust(id_w)}  {title}  "
            f"{t.style(text.rjust(state_w), colour)}"
        )
    done = sum(r.done for r in results)
    cached = sum(r.cached for r in results)
    t.line()
    if cached == len(results):
        how = "(cached: no file changed since the last run)"
    elif cached:
        how = f"({plural(ran, 'test')} run in {seconds:.1f} s; {cached} cached)"
    else:
        how = f"({plural(ran, 'test')}, {seconds:.1f} s)"
    t.line(t.style(f"{done}/{len(results)} done", "bold") + t.style(f"  {how}", "dim"))
    following = next((r.exercise for r in results if not r.done), None)
    if following is None:
        t.wrap("Every exercise passes: the course is done. Well done!")
    else:
        prefix = f"Next: `facekit check {following.id}` ("
        t.line(f"{prefix}{t.ellipsis(following.title, t.width - len(prefix) - 1)})")
    return 0
