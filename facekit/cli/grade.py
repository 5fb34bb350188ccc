"""``facekit grade SUBMISSION... [--out DIR] [-j N]``: grade a class (facekit.grading.grade)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from facekit.cli.context import Context
from facekit.errors import UsageError

if TYPE_CHECKING:  # the grader is imported when a class is graded
    from facekit.grading import grade
    from facekit.grading.records import SubmissionResult


def check_args(args: argparse.Namespace) -> None:
    if args.jobs < 1:
        raise UsageError(f"-j must be at least 1; got {args.jobs}")
    if args.timeout <= 0:
        raise UsageError(f"--timeout must be a positive number of seconds; got {args.timeout:g}")
    if getattr(args, "test_timeout", None) is not None and args.test_timeout <= 0:
        raise UsageError(f"--test-timeout must be a positive number of seconds; got {args.test_timeout:g}")
    if args.memory_mb < 256:
        raise UsageError(f"--memory-mb must be at least 256; got {args.memory_mb}")
    if getattr(args, "runner", "auto") == "fork" and not sys.platform.startswith("linux"):
        raise UsageError("--runner fork needs Linux; use --runner subprocess")
    if getattr(args, "due", None):
        from facekit.grading import gradebook

        try:
            gradebook.parse_due(args.due)
        except ValueError as err:
            raise UsageError(str(err)) from None
    if not 0 <= getattr(args, "late_penalty", 0) <= 100:
        raise UsageError(f"--late-penalty must be a percent from 0 to 100; got {args.late_penalty:g}")
    if args.extra_tests and not Path(args.extra_tests).is_dir():
        raise UsageError(f"--extra-tests must be a folder of test files; {args.extra_tests} is not a folder")


def options(ctx: Context, args: argparse.Namespace, **fixed: object) -> grade.Options:
    """grade.Options from the command line (the exercise ids of --all-or-nothing checked later)."""
    from facekit.grading import grade

    ids = {i.strip() for i in args.all_or_nothing.split(",") if i.strip()}
    if ids == {"all"}:
        ids = {e.id for e in ctx.course.exercises}
    values = dict(
        out=Path(args.out),
        timeout=args.timeout,
        test_timeout=args.test_timeout,
        memory_mb=args.memory_mb,
        extra_tests=Path(args.extra_tests) if args.extra_tests else None,
        all_or_nothing=ids,
        kit_root=ctx.root,
    )
    return grade.Options(**{**values, **fixed})


def run(ctx: Context, args: argparse.Namespace) -> int:
    from facekit.grading import grade, gradebook, report

    opts = options(
        ctx,
        args,
        jobs=args.jobs,
        weights=ctx.weights,
        force=args.force,
        runner=args.runner,
        replace=args.replace,
        due=gradebook.parse_due(args.due) if args.due else None,
        late_percent=args.late_penalty,
        require_jail=args.require_jail,
    )
    roster = grade.read_roster(Path(args.roster)) if args.roster else None

    def progress(result: SubmissionResult) -> None:
        ctx.term.line(
            f"  {result.id}: {result.total:g} ({result.status}, {result.seconds:.1f} s"
            f"{', cached' if result.cached else ''})"
        )

    results, meta, seconds = grade.grade(args.submissions, opts, roster, progress)
    for line in report.summary(results, ctx.course, opts.out, seconds, meta):
        ctx.term.line(line)
    ctx.term.line(f"The class at a glance (for you, it names students): {Path(opts.out) / 'report.html'}")
    return 0
