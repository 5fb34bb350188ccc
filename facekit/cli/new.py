"""``facekit new exNN_name "Title" [--functions a,b]``: scaffold a new exercise (facekit.scaffold),
then say what is left to write (``facekit verify exNN_name`` lists it)."""

from __future__ import annotations

import argparse

from facekit import scaffold
from facekit.cli.context import Context


def run(ctx: Context, args: argparse.Namespace) -> int:
    functions = [f.strip() for f in args.functions.split(",") if f.strip()]
    written = scaffold.new_exercise(ctx.root, args.exercise, args.title, functions)
    t = ctx.term
    t.line(t.style(f"New exercise {args.exercise}: {args.title}", "bold"))
    for path in written:
        t.line(f"  {ctx.rel(path)}")
    t.line()
    t.wrap(
        f"Every placeholder is marked {scaffold.PLACEHOLDER}. Next: `facekit verify {args.exercise}` "
        f"lists what is left to write; it passes once the README, the docstrings (the same in both "
        f"trees), the reference, the tests, the notebook and the hints are written; the "
        f"stub's bodies stay as they are."
    )
    return 0
