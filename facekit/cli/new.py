"""``facekit new exNN_name "Title" [--functions a,b]``: scaffold a new exercise (facekit.scaffold),
then say what is left to write (``facekit verify exNN_name`` lists it)."""

from __future__ import annotations

import argparse

from facekit import scaffold
from facekit.cli.context import Context
from facekit.errors import UsageError


def run(ctx: Context, args: argparse.Namespace) -> int:
    if args.sync:
        return sync(ctx, args.exercise)
    if args.title is None:
        raise UsageError(
            f"facekit new {args.exercise} needs a title, in quotes (or --sync for an existing one)"
        )
    functions = [f.strip() for f in args.functions.split(",") if f.strip()]
    written = scaffold.new_exercise(ctx.root, args.exercise, args.title, functions)
    t = ctx.term
    t.line(t.style(f"New exercise {args.exercise}: {args.title}", "bold"))
    for path in written:
        t.line(f"  {ctx.rel(path)}")
    t.line()
    t.wrap(
        f"Every placeholder is marked {scaffold.PLACEHOLDER}. Next: `facekit verify {args.exercise}` "
        f"lists what is left to write; it passes once the README, the reference (its signatures "
        f"and docstrings: `facekit new {args.exercise} --sync` copies them into the stub), the "
        f"tests, the catalogue of mistakes, the notebook and the hints are written; the stub's "
        f"bodies stay as they are."
    )
    return 0


def sync(ctx: Context, exercise_id: str) -> int:
    """The stub's signatures and docstrings, written from the reference's (one source)."""
    exercise = ctx.exercise(exercise_id)
    stub_path, reference_path = ctx.root / exercise.stub, ctx.root / exercise.reference
    stub = stub_path.read_text(encoding="utf-8")
    reference = reference_path.read_text(encoding="utf-8")
    changed = scaffold.stub_differences(reference, stub)
    if changed:
        stub_path.write_text(scaffold.stub_from_reference(reference, stub), encoding="utf-8")
    t = ctx.term
    t.wrap(
        f"{exercise.stub}: {', '.join(changed)} now as in {exercise.reference}"
        if changed
        else f"{exercise.stub}: every signature and docstring is already the reference's"
    )
    return 0
