"""``facekit verify [EXERCISE ...] [--only CHECKS]``: the instructor's check of the kit as shipped.

The checks are facekit.verify.CHECKS (each registered there with ``@check``); each runs once,
over every exercise at once, and its time is printed.
"""

from __future__ import annotations

import argparse
import time

from facekit import settings
from facekit import verify as kit_verify
from facekit.cli.context import Context, plural
from facekit.cli.runs import prepare_weights
from facekit.errors import UsageError


def check_args(args: argparse.Namespace) -> None:
    unknown = [c for c in (args.only or []) if c not in kit_verify.CHECKS]
    if unknown or args.only == []:
        raise UsageError(f"--only takes some of {','.join(kit_verify.CHECKS)}; got {','.join(args.only)!r}")


def run(ctx: Context, args: argparse.Namespace) -> int:
    exercise_ids, only = args.exercises, args.only
    t = ctx.term
    checks = tuple(c for c in kit_verify.CHECKS if c in only) if only else tuple(kit_verify.CHECKS)
    exercises = [ctx.exercise(i) for i in exercise_ids] if exercise_ids else list(ctx.course.exercises)
    t.wrap(t.style(f"facekit verify: {plural(len(exercises), 'exercise')} in {ctx.root}", "bold"))
    t.wrap(settings.weights_in_use(ctx.weights).describe(), first="weights: ", indent=" " * 9)
    t.line()
    if ctx.weights == "standin":
        prepare_weights(ctx)
    findings = []
    started = time.perf_counter()
    times = {}
    for check in checks:  # one check at a time, so a terminal shows what is running
        t.status(f"verify: {check}: {kit_verify.CHECKS[check].text} ...")
        began = time.perf_counter()
        findings += kit_verify.verify(ctx.root, [e.id for e in exercises], ctx.weights, checks=(check,))
        times[check] = time.perf_counter() - began
    seconds = time.perf_counter() - started

    cell = {(f.exercise, f.check): f for f in findings}
    id_w = max(len("exercise"), *(len(e.id) for e in exercises))
    t.line(t.style("exercise".ljust(id_w) + "".join(f"  {c}" for c in checks), "bold"))
    for e in exercises:
        row = e.id.ljust(id_w)
        for check in checks:
            f = cell.get((e.id, check))
            text, colour = ("-", "dim") if f is None else ("ok", "green") if f.ok else ("FAIL", "red")
            row += "  " + t.style(text, colour) + " " * (len(check) - len(text))
        t.line(row.rstrip())
    t.line(
        t.style(
            "time".ljust(id_w) + "".join(f"  {f'{times[c]:.0f}s':<{len(c)}}" for c in checks).rstrip(), "dim"
        )
    )
    t.line()
    defects = [f for f in findings if not f.ok]
    shown = findings if ctx.verbose else defects
    if shown:
        t.line(t.style("Defects:" if not ctx.verbose else "Details:", "bold"))
        for f in shown:
            colour = "green" if f.ok else "red"
            # In full: verify keeps details to a few hundred characters, and the end says why.
            t.wrap(f.detail, first=f"  {t.style(f'{f.exercise} {f.check}:', colour)} ", indent="      ")
        t.line()
    if defects:
        t.line(t.style(f"{plural(len(defects), 'defect')} ({seconds:.0f} s).", "red", "bold"))
        return 1
    t.line(t.style(f"No defects: {plural(len(findings), 'check')} passed ({seconds:.0f} s).", "green"))
    return 0
