"""``facekit solution EXERCISE``: your file next to the reference, as a unified diff, once it passes.

As rustlings shows its solution only after an exercise is done: before that the reference
would spoil the exercise, so it refuses in one line.
"""

from __future__ import annotations

import dataclasses
import difflib

from facekit.cli import runs
from facekit.cli.context import Context
from facekit.errors import CommandError


def run(ctx: Context, args) -> int:
    exercise = ctx.exercise(args.exercise)
    if not (ctx.root / exercise.reference).is_file():  # a student release (facekit release) has none
        raise CommandError(f"this copy of the course has no reference solutions ({exercise.reference} "
                           f"is not in it): your instructor's copy has them")
    mine = dataclasses.replace(ctx, target="exercises")  # your code, whatever --target says
    last = runs.last_result(mine, exercise)
    if last is None or not last.done:
        raise CommandError(f"{exercise.id} has not passed yet (as last checked, your file unchanged "
                           f"since): the reference is shown once it passes. `facekit check {exercise.id}`")
    yours = (ctx.root / exercise.stub).read_text(encoding="utf-8").splitlines(keepends=True)
    reference = (ctx.root / exercise.reference).read_text(encoding="utf-8").splitlines(keepends=True)
    t = ctx.term
    diff = list(difflib.unified_diff(yours, reference, fromfile=f"{exercise.stub} (yours)",
                                     tofile=f"{exercise.reference} (reference)"))
    if not diff:
        t.wrap(f"{exercise.stub} is the same as the reference, {exercise.reference}.")
        return 0
    t.wrap(t.style(f"{exercise.id} passes. Your file (-) against the reference (+); both are right "
                   f"as far as the tests can tell:", "bold"))
    colours = {"+": "green", "-": "red", "@": "cyan"}
    for line in diff:
        line = line.rstrip("\n")
        colour = colours.get(line[:1]) if not line.startswith(("+++", "---")) else "bold"
        t.line(t.style(line, colour) if colour else line)
    return 0
