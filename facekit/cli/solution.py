"""``facekit solution EXERCISE``: your file next to the reference, as a unified diff, once it passes.

As rustlings shows its solution only after an exercise is done: before that the reference
would spoil the exercise, so it refuses in one line. ``--code`` compares the code alone: the
TODO comments and the docstrings, which make most of a full diff, are left out of both files.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import difflib
import io
import tokenize

from facekit.cli import runs
from facekit.cli.context import Context
from facekit.errors import CommandError


def code_only(source: str) -> list[str]:
    """``source``'s lines without docstrings and comments, runs of blank lines as one.

    Found with ast and tokenize, so a ``#`` or a triple quote inside a string is left alone."""
    drop: set[int] = set()
    cut: dict[int, int] = {}  # line: the column its trailing comment starts at
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                drop.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            if token.line[: token.start[1]].strip():
                cut[token.start[0]] = token.start[1]
            else:
                drop.add(token.start[0])
    kept: list[str] = []
    for number, line in enumerate(source.splitlines(keepends=True), 1):
        if number in cut:
            line = line[: cut[number]].rstrip() + "\n"
        blank = not line.strip()
        if number in drop or (blank and (not kept or not kept[-1].strip())):
            continue
        kept.append(line)
    return kept


def run(ctx: Context, args: argparse.Namespace) -> int:
    exercise = ctx.exercise(args.exercise)
    if not (ctx.root / exercise.reference).is_file():  # a student release (facekit release) has none
        raise CommandError(
            f"this copy of the course has no reference solutions ({exercise.reference} "
            f"is not in it): your instructor's copy has them"
        )
    mine = dataclasses.replace(ctx, target="exercises")  # your code, whatever --target says
    last = runs.last_result(mine, exercise)
    if last is None or not last.done:
        raise CommandError(
            f"{exercise.id} has not passed yet (as last checked, your file unchanged "
            f"since): the reference is shown once it passes. `facekit check {exercise.id}`"
        )
    your_text = (ctx.root / exercise.stub).read_text(encoding="utf-8")
    reference_text = (ctx.root / exercise.reference).read_text(encoding="utf-8")
    what = "file"
    if getattr(args, "code", False):
        try:
            yours, reference, what = code_only(your_text), code_only(reference_text), "code"
        except (SyntaxError, tokenize.TokenError) as err:  # it passed, so this is a file edited since
            raise CommandError(
                f"{exercise.stub} does not parse ({err}); `facekit solution "
                f"{exercise.id}` without --code shows the whole files"
            ) from None
    else:
        yours, reference = your_text.splitlines(keepends=True), reference_text.splitlines(keepends=True)
    t = ctx.term
    diff = list(
        difflib.unified_diff(
            yours, reference, fromfile=f"{exercise.stub} (yours)", tofile=f"{exercise.reference} (reference)"
        )
    )
    if not diff:
        t.wrap(f"{exercise.stub}'s {what} is the same as the reference's, {exercise.reference}.")
        return 0
    t.wrap(
        t.style(
            f"{exercise.id} passes. Your {what} (-) against the reference (+); both are right "
            f"as far as the tests can tell:",
            "bold",
        )
    )
    colours = {"+": "green", "-": "red", "@": "cyan"}
    for line in diff:
        line = line.rstrip("\n")
        colour = colours.get(line[:1]) if not line.startswith(("+++", "---")) else "bold"
        t.line(t.style(line, colour) if colour else line)
    if what == "file":
        t.wrap(f"(`facekit solution {exercise.id} --code` leaves out comments and docstrings.)")
    return 0
