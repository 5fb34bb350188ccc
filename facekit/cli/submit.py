"""``facekit submit [--out ZIP] [--force]``: one zip of the student's work (facekit.grading.submit)."""

from __future__ import annotations

import argparse
from pathlib import Path

from facekit.cli.context import Context
from facekit.errors import CommandError, UsageError


def check_args(args: argparse.Namespace) -> None:
    """The kit around ``--root`` or the current folder becomes the root, or a one-line error."""
    from facekit.grading.submit import find_kit

    start = Path(getattr(args, "root", None) or Path.cwd()).resolve()
    root = find_kit(start)
    if root is None:
        raise CommandError(
            f"submit: {start} is not inside a copy of the kit (no exercises/course.toml "
            f"here or above); cd into your kit first"
        )
    args.root = str(root)
    if args.out:
        from facekit.grading.outfile import zip_destination

        try:
            args.out = str(zip_destination(args.out, "submission.zip"))
        except ValueError as err:
            raise UsageError(f"submit: {err}") from None


def run(ctx: Context, args: argparse.Namespace) -> int:
    from facekit.grading import submit

    out = Path(args.out) if args.out else ctx.root / "submission.zip"
    try:
        out, size, files = submit.build(ctx.root, out, args.force)
    except (ValueError, OSError) as err:
        raise CommandError(f"submit: {err}") from None
    ctx.term.line(
        f"Wrote {out} ({size / 1024:.1f} KiB: {len(files)} exercise files and submission.json). "
        f"Hand in this file."
    )
    for warning in submit.warnings(ctx.root, ctx.course):  # handed in anyway: the rest still counts
        ctx.term.error(f"facekit: warning: {warning}")
    return 0
