"""``facekit gradescope [--out ZIP]``: this kit as a Gradescope autograder (facekit.grading.gradescope)."""

from __future__ import annotations

import argparse
from pathlib import Path

from facekit.cli import grade as grade_command
from facekit.cli.context import Context
from facekit.errors import UsageError


def check_args(args: argparse.Namespace) -> None:
    from facekit.grading.outfile import zip_destination

    args.jobs, args.runner = 1, "auto"
    grade_command.check_args(args)
    try:
        args.out = str(zip_destination(args.out, "autograder.zip"))
    except ValueError as err:
        raise UsageError(f"gradescope: {err}") from None


def run(ctx: Context, args: argparse.Namespace) -> int:
    from facekit.grading import gradescope

    # The container has no Hugging Face cache: the bundle always grades on stand-in weights.
    opts = grade_command.options(ctx, args, jobs=1, weights="standin")
    out = gradescope.build_bundle(Path(args.out), opts)
    ctx.term.line(
        f"Wrote {out} ({out.stat().st_size / 1024:.0f} KiB). Upload it as the autograder of a "
        f"Gradescope programming assignment (Configure Autograder > Zip file upload)."
    )
    return 0
