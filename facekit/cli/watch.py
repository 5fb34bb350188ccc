"""``facekit watch``: check again on every save under exercises/; move on when an exercise passes."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

from facekit import course
from facekit.cli import runs
from facekit.cli.check import report
from facekit.cli.context import Context, header, require_files
from facekit.errors import UsageError
from facekit.harness import warm


def check_args(args: argparse.Namespace) -> None:
    if args.interval <= 0:
        raise UsageError(f"--interval must be a positive number of seconds; got {args.interval}")


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Modification time and size of every file under exercises/ (bytecode caches left out)."""
    found = {}
    for path in (root / "exercises").rglob("*"):
        if "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        try:
            stat = path.stat()
        except OSError:  # deleted while we looked
            continue
        if path.is_file():
            found[str(path)] = (stat.st_mtime_ns, stat.st_size)
    return found


def _footer(ctx: Context, current: course.Exercise) -> None:
    t = ctx.term
    done = len(runs.done_ids(ctx))
    t.line()
    t.line(
        t.style(f"{done}/{len(ctx.course.exercises)} done", "bold")
        + t.style(f"  Watching exercises/ for saved files ({current.id}). Ctrl-C to stop.", "dim")
    )


def run(
    ctx: Context,
    args: argparse.Namespace | None = None,
    interval: float | None = None,
    sleep: Callable[[float], object] = time.sleep,
) -> int:
    """Poll exercises/ every ``interval`` seconds (no dependency, no busy loop); ``sleep`` is for tests.

    It checks one exercise at a time: the one named (pinned: it stops when that one passes), or
    the first not done as last checked, then the next as each passes, until the course is done.
    """
    if interval is None:
        assert args is not None, "watch.run takes the parsed command line, or an interval"
        interval = args.interval
    pinned = getattr(args, "exercise", None)
    t = ctx.term
    current = ctx.exercise(pinned) if pinned else runs.current(ctx)
    for exercise in ctx.course.exercises:
        require_files(ctx, exercise)
    try:
        header(ctx)
        if current is None:
            t.wrap("Every exercise passes: the course is done. Well done!")
            return 0
        runner = None
        if warm.available(ctx.root):  # import torch once; each run is then a fork
            t.status("loading torch and timm once ...")
            if warm.warm_up():
                runner = warm.run_tests
        latest = snapshot(ctx.root)
        first = True
        while True:
            if not first:
                sleep(interval)
                now = snapshot(ctx.root)
                if now == latest:
                    continue
                latest = now  # taken before the run: a save during the run triggers another
                t.clear_screen()
                header(ctx)
            first = False
            while True:
                (result,), seconds, _ = runs.results(ctx, [current], runner)
                report(ctx, result, seconds, next_step=not result.done)
                if not result.done:
                    break
                if pinned:
                    t.line()
                    t.wrap(f"{current.id} passes. `facekit watch` goes on with the next exercise.")
                    return 0
                current = runs.current(ctx)
                if current is None:
                    t.line()
                    t.wrap("Every exercise passes: the course is done. Well done!")
                    return 0
                t.line()
                t.line(t.style(f"Moving on to {current.id}.", "bold"))
                t.line()
            _footer(ctx, current)
    except KeyboardInterrupt:
        t.line()
        t.line("Stopped watching.")
        return 0
