"""``facekit release --out DIR [--with-solutions]``: the repository students clone (facekit.release)."""

from __future__ import annotations

import argparse
from pathlib import Path

from facekit.cli.context import Context
from facekit.errors import CommandError


def run(ctx: Context, args: argparse.Namespace) -> int:
    from facekit import release

    try:
        made = release.build(ctx.root, Path(args.out), with_solutions=args.with_solutions)
    except (release.ReleaseError, OSError) as err:
        raise CommandError(f"release: {err}") from None
    what = "with the reference solutions (self-study)" if args.with_solutions else "without solutions/"
    ctx.term.line(
        f"Wrote {made['out']}: {made['files']} files, {what}, one commit ({made['commit'][:12]}) "
        f"on branch main. Push it where students clone from, e.g. "
        f"`git -C {made['out']} remote add origin URL && git -C {made['out']} push -u origin main`."
    )
    return 0
