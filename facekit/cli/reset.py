"""``facekit reset EXERCISE [--yes]``: put a stub back as shipped (from git); the student's
file is kept as a .bak that never overwrites an earlier one."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from facekit.cli.context import Context
from facekit.errors import CommandError


def _git(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, timeout=60)


def pristine(root: Path, relpath: str) -> tuple[str, bytes]:
    """The file as shipped: its version at the upstream branch (as last fetched), else at HEAD.

    The upstream branch comes first because a student who commits their work moves HEAD.
    """
    try:
        inside = _git(root, "rev-parse", "--is-inside-work-tree")
    except FileNotFoundError:
        raise CommandError(f"facekit reset restores a stub from git, and git is not installed. "
                           f"Copy {relpath} from a fresh copy of the kit instead.") from None
    if inside.returncode != 0:
        raise CommandError(f"facekit reset restores a stub from git, and {root} is not a git "
                           f"checkout. Copy {relpath} from a fresh copy of the kit instead.")
    upstream = _git(root, "rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{upstream}")
    ref = upstream.stdout.decode().strip() if upstream.returncode == 0 else "HEAD"
    shown = _git(root, "show", f"{ref}:./{relpath}")
    if shown.returncode != 0:
        raise CommandError(f"{relpath} is not in git at {ref}: there is no shipped version to restore.")
    return ref, shown.stdout


def _backup_path(path: Path) -> Path:
    backup = path.with_name(path.name + ".bak")
    number = 2
    while backup.exists():  # never overwrite an earlier backup: it may hold real work
        backup = path.with_name(f"{path.name}.bak.{number}")
        number += 1
    return backup


def run(ctx: Context, args, ask=None) -> int:
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
