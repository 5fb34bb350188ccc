"""``facekit check [EXERCISE]``: run one exercise's tests, say what is done and what to do next."""

from __future__ import annotations

import argparse

from facekit import course, progress
from facekit.cli import runs
from facekit.cli.context import Context, header, plural, require_files
from facekit.progress import ExerciseState, FunctionState

_FUNCTION_LOOK = {
    FunctionState.DONE: ("done", "green"),
    FunctionState.TODO: ("todo", "yellow"),
    FunctionState.FAILING: ("failing", "red"),
    FunctionState.WAITING: ("waiting", "dim"),
    FunctionState.UNTESTED: ("waiting", "dim"),
}


def run(ctx: Context, args: argparse.Namespace) -> int:
    exercise: course.Exercise | None
    if args.exercise:
        exercise = ctx.exercise(args.exercise)
    else:
        exercise = runs.current(ctx)
        if exercise is None:
            ctx.term.wrap(
                f"Every exercise passed when last checked ({ctx.target}/, unchanged since). "
                f"`facekit check EXERCISE` runs one again."
            )
            return 0
    require_files(ctx, exercise)
    header(ctx)
    (result,), seconds, _ = runs.results(ctx, [exercise], cached=False)
    report(ctx, result, seconds)
    return 0 if result.done else 1


def _function_text(f: progress.FunctionStatus) -> str:
    if f.state is FunctionState.DONE:
        return f"done ({plural(f.total, 'test')})"
    if f.state is FunctionState.TODO:
        return f"not implemented yet ({plural(f.bad, 'test')} stop{'s' * (f.bad == 1)} there)"
    if f.state is FunctionState.FAILING:
        return f"failing ({f.bad} of {plural(f.total, 'test')})"
    if f.state is FunctionState.WAITING:
        return f"{f.passed}/{f.total} pass; the others need {progress.display(f.message)}"
    return "no test covers it"


def report(ctx: Context, result: progress.ExerciseResult, seconds: float, next_step: bool = True) -> None:
    t = ctx.term
    e = result.exercise
    t.line(t.style(f"{e.id}: {e.title}", "bold"))
    t.line(t.style(f"{result.passed}/{result.total} tests pass ({seconds:.1f} s)", "dim"))
    if result.collect_errors or not result.tests:
        t.line(f"{t.style(t.mark('failing'), 'red')} the tests of {e.id} do not run:")
        t.wrap(
            result.collect_errors[0] if result.collect_errors else "no test ran",
            indent="    ",
            max_lines=None if ctx.verbose else 3,
        )
    syntax = syntax_error(result)
    if syntax:  # every test that imports the file fails the same way: say it once
        t.line(f"{t.style(t.mark('failing'), 'red')} {t.style(syntax, 'red')}")
    syntax_kind = syntax.split(":")[0] if syntax else ""  # "SyntaxError", "IndentationError"
    width = max([len(progress.display(f.name)) for f in result.functions] + [0])
    for f in result.functions:
        mark, colour = _FUNCTION_LOOK[f.state]
        text = _function_text(f)
        same = syntax and f.state is FunctionState.FAILING and f.message.endswith(syntax)
        if same:
            text = f"waits for the {syntax_kind} above"
        t.line(
            f"  {t.style(t.mark(mark), colour)} {progress.display(f.name).ljust(width)}  "
            f"{t.style(text, colour)}"
        )
        if f.state is FunctionState.FAILING and not same:
            # The test's own diagnosis whole: its decisive words often come last.
            t.wrap(f.message, indent="      ")
            if f.looks_like:
                t.wrap(progress.looks_like(f.looks_like, *f.looks_like_also), indent="      ")
            if f.fault_in:
                t.wrap(
                    f"This test runs the whole pipeline: the fault looks like "
                    f"{progress.display(f.fault_in)}'s.",
                    indent="      ",
                )
            elif f.broad:
                t.wrap(
                    "This test runs the whole pipeline: the fault can be in any function it calls.",
                    indent="      ",
                )
    if ctx.verbose:
        failed = {n: r for n, r in result.tests.items() if r.failed}
        if failed:
            t.line()
            t.line("Every failing test:")
            for nodeid, r in failed.items():
                t.wrap(f"{nodeid.split('::', 1)[-1]}: {r.error}", first="  ", indent="      ")
    if next_step:
        t.line()
        t.wrap(next_step_text(ctx, result))


def next_step_text(ctx: Context, result: progress.ExerciseResult) -> str:
    e = result.exercise
    source = e.source(ctx.target)
    full = f"`pytest {e.tests}` shows the full report."
    if result.collect_errors or not result.tests:
        return f"Next: fix what stops the tests from running; {full}"
    syntax = syntax_error(result)
    if syntax:
        return f"Next: fix the {syntax}; {full}"
    by_state: dict[FunctionState, list[progress.FunctionStatus]] = {}
    for f in result.functions:
        by_state.setdefault(f.state, []).append(f)
    if FunctionState.FAILING in by_state:
        # A function whose only failures are broad tests may just call the one that is wrong.
        failing = by_state[FunctionState.FAILING]
        culprit = next((f for f in failing if not f.broad and not f.fault_in), None)
        if culprit is None and any(f.fault_in for f in failing):
            # A whole-pipeline test whose failure names a mistake in another function.
            fault = next(f.fault_in for f in failing if f.fault_in)
            return f"Next: fix {progress.display(fault)} in {source}; {full}"
        if culprit is None:
            # Only whole-pipeline tests fail, while every narrower test passes: the test's
            # function is not to blame more than any other it calls.
            names = ", ".join(progress.display(n) for n in e.functions)
            return (
                f"Next: only a test of the whole pipeline fails, while the narrower tests pass: "
                f"the fault can be in any function it calls ({names}); its message above says "
                f"what differs. {full}"
            )
        if culprit.name == progress.OTHER:
            return f"Next: make the failing tests above pass; {full}"
        return f"Next: fix {progress.display(culprit.name)} in {source}; {full}"
    if FunctionState.TODO in by_state:
        f = by_state[FunctionState.TODO][0]
        return _implement(ctx, e, f.message or f.name, f.where or source, fallback=f.name)
    if FunctionState.WAITING in by_state:
        f = by_state[FunctionState.WAITING][0]
        return _implement(ctx, e, f.message, f.where or source)
    if result.state is not ExerciseState.DONE:
        return f"Next: {full}"
    following = runs.current(ctx)
    if following is None:
        return "Every exercise passes: the course is done. Well done!"
    return f"All tests pass. Next: `facekit check {following.id}` ({following.title})."


def owner(
    ctx: Context, where: str, raised_in: str, fallback: course.Exercise
) -> tuple[course.Exercise, str | None]:
    """The exercise whose file ``where`` is, and its manifest function ``raised_in`` belongs to.

    Exercise 06 calls Exercise 03's cosine_similarity: its stub is Exercise 03's to fill in,
    with Exercise 03's README and hints.
    """
    for exercise in ctx.course.exercises:
        if where in (exercise.stub, exercise.reference):
            return exercise, exercise.function_for(raised_in)
    return fallback, fallback.function_for(raised_in)


def _implement(ctx: Context, e: course.Exercise, name: str, where: str, fallback: str | None = None) -> str:
    home, function = owner(ctx, where, name, e)
    function = function or fallback
    hint = f"`facekit hint {home.id} {function}`" if function else f"`facekit hint {home.id}`"
    of = "" if home.id == e.id else f" (part of {home.id}; these tests of {e.id} need it)"
    return (
        f"Next: implement {progress.display(name)} in {where}{of}: follow its TODO steps "
        f"({home.readme} explains them). Stuck? {hint}"
    )


_SYNTAX = ("SyntaxError:", "IndentationError:", "TabError:")


def syntax_error(result: progress.ExerciseResult) -> str | None:
    """The first syntax error a test stopped at ("SyntaxError: ... (file, line N)"), if any."""
    return next(
        (r.error for r in result.tests.values() if r.failed and (r.error or "").startswith(_SYNTAX)), None
    )
