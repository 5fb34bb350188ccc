"""``facekit hint [EXERCISE [FUNCTION]]``: the next hint for one function, one more each time.

Hints are per function in the manifest, from a nudge to a near-answer. Without FUNCTION, the
first function of the exercise that was not done when last checked and has hints left.
"""

from __future__ import annotations

import argparse

from facekit import course, progress
from facekit.cli import runs
from facekit.cli.context import Context
from facekit.errors import UsageError
from facekit.progress import FunctionState
from facekit.term import Term


def _key(exercise: course.Exercise, function: str) -> str:
    return f"{exercise.id}/{function}"


def _next_function(ctx: Context, exercise: course.Exercise, shown: dict[str, int]) -> str | None:
    with_hints = [f for f in exercise.functions if exercise.hints.get(f)]
    last = runs.last_result(ctx, exercise)
    done = {f.name for f in last.functions if f.state is FunctionState.DONE} if last else set()
    todo = [f for f in with_hints if f not in done] or with_hints
    left = [f for f in todo if shown.get(_key(exercise, f), 0) < len(exercise.hints[f])]
    return (left or todo)[0] if todo else None


def _show(t: Term, hint: str, first: str, indent: str) -> None:
    for number, paragraph in enumerate(p for p in hint.split("\n\n") if p.strip()):
        t.wrap(paragraph, first=first if number == 0 else indent, indent=indent)


def run(ctx: Context, args: argparse.Namespace) -> int:
    t = ctx.term
    exercise = ctx.exercise(args.exercise) if args.exercise else runs.current(ctx)
    if exercise is None:
        raise UsageError("every exercise has passed; name one: facekit hint EXERCISE")
    state = ctx.state()
    if args.function and args.function not in exercise.functions:
        raise UsageError(
            f"{exercise.id} has no function {args.function!r}; its functions: {', '.join(exercise.functions)}"
        )
    function = args.function or _next_function(ctx, exercise, state.hints)
    hints = exercise.hints.get(function, ()) if function else ()
    if function is None or not hints:
        what = f"{progress.display(function)} in {exercise.id}" if function else exercise.id
        t.wrap(f"{what} has no hints. Its README walks through each step: {exercise.readme}")
        return 0
    key = _key(exercise, function)
    name = progress.display(function)
    shown = min(state.hints.get(key, 0), len(hints))
    if shown >= len(hints):
        t.line(
            t.style(
                f"All {len(hints)} hints for {name} ({exercise.id}) were shown; here they are again.", "bold"
            )
        )
        for number, hint in enumerate(hints, 1):
            t.line()
            _show(t, hint, first=f"{number}. ", indent="   ")
        t.line()
        t.wrap(f"The README explains every step: {exercise.readme}.")
        return 0
    # Recorded before it is printed: a reader that stops early (`| head -1`) has seen it.
    state.hints[key] = shown + 1
    try:
        state.save()
    except OSError as err:
        t.error(f"facekit: could not save which hints were shown to {state.path}: {err}")
    t.line(t.style(f"Hint {shown + 1} of {len(hints)} for {name} ({exercise.id}):", "bold"))
    t.line()
    _show(t, hints[shown], first="  ", indent="  ")
    t.line()
    left = len(hints) - shown - 1
    more = (
        f"Another one: `facekit hint {exercise.id} {function}`"
        if left
        else f"That was the last hint for {name}"
    )
    t.wrap(
        t.style(
            f"{more} ({left} left). Shown hints are remembered in {ctx.rel(state.path)}; "
            f"delete it to start over.",
            "dim",
        )
    )
    return 0
