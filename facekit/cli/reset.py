"""``facekit reset EXERCISE [--yes]``: put a stub back as shipped (from git); the student's
file is kept as a .bak that never overwrites an earlier one."""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Callable
from pathlib import Path

from facekit import shipped
from facekit.cli.context import Context
from facekit.errors import CommandError


def pristine(root: Path, relpath: str) -> tuple[str, bytes]:
    """(git ref, the stub as shipped), or a CommandError that says what to do instead."""
    try:
        return shipped.version(root, relpath)
    except shipped.NotShipped as err:
        if err.reason == "not in git":
            raise CommandError(
                f"{relpath} is not in git at {err.ref}: there is no shipped version to restore."
            ) from None
        why = "git is not installed" if err.reason == "no git" else f"{root} is not a git checkout"
        raise CommandError(
            f"facekit reset restores a stub from git, and {why}. "
            f"Copy {relpath} from a fresh copy of the kit instead."
        ) from None


def _backup_path(path: Path) -> Path:
    backup = path.with_name(path.name + ".bak")
    number = 2
    while backup.exists():  # never overwrite an earlier backup: it may hold real work
        backup = path.with_name(f"{path.name}.bak.{number}")
        number += 1
    return backup


def run(ctx: Context, args: argparse.Namespace, ask: Callable[[str], str] | None = None) -> int:
    exercise_id, yes = args.exercise, args.yes
    t = ctx.term
    ask = ask or input
    exercise = ctx.exercise(exercise_id)
    path = ctx.root / exercise.stub
    ref, content = pristine(ctx.root, exercise.stub)
    current = path.read_bytes() if path.is_file() else None
    if current == content:
        t.wrap(f"{exercise.stub} is already as shipped ({ref}): nothing to do.")
        return 0
    backup = _backup_path(path) if current is not None else None
    if not yes:
        keep = f" and keeps your file as {ctx.rel(backup)}" if backup else ""
        t.wrap(f"This puts {exercise.stub} back as shipped (its version at {ref}){keep}.")
        try:
            answer = ask("Go ahead? [y/N] ")
        except EOFError:
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            t.line("Nothing changed.")
            return 1
    if backup:
        shutil.copy2(path, backup)
    path.write_bytes(content)
    t.wrap(f"{exercise.stub} is back as shipped (its version at {ref}).")
    if backup:
        t.wrap(f"Your previous file is in {ctx.rel(backup)}.")
    return 0
