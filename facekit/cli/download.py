"""``facekit download [--force]``: the real pretrained weights of the course, into the HF cache."""

from __future__ import annotations

import argparse
from pathlib import Path

from facekit.cli.context import Context
from facekit.errors import CommandError, CorruptWeightsError, WeightsNotFoundError


def run(ctx: Context, args: argparse.Namespace) -> int:
    force = args.force
    from facekit import hub

    t = ctx.term
    weights = ctx.course.weights()
    if not weights:
        t.line("The course manifest lists no weights to download.")
        return 0
    again = " again (--force)" if force else ""
    t.line(f"Real pretrained weights of the course{again}, into the Hugging Face cache:")
    for repo_id, filename in weights:
        cached = None if force else hub.cached_file(repo_id, filename)
        t.line(f"  {repo_id}  {filename}")
        try:
            path = hub.download(repo_id, filename, force=force)
        except (WeightsNotFoundError, CorruptWeightsError):
            raise
        except Exception as err:  # the hub's own errors (HTTP, missing repo, disk full): one line
            lines = str(err).strip().splitlines()
            raise CommandError(
                f"downloading {repo_id} ({filename}) failed: {type(err).__name__}: "
                f"{lines[0] if lines else ''}"
            ) from err
        size = Path(path).stat().st_size / 1e6
        how = "already cached, hash verified" if cached else "downloaded, hash verified"
        t.line(t.style(f"    {how}: {size:.1f} MB", "green"))
    cache = hub.cache_dir()
    t.line()
    t.wrap(f"The cache is {cache}")
    t.wrap(
        "For a classroom machine without network: copy that whole folder to it, then set there "
        "(in the shell, or the environment of Jupyter):"
    )
    t.line("  HF_HUB_CACHE=<the copied folder>")
    t.line("    (or HF_HOME=<the folder above it>, if the copy is still named hub)")
    t.line("  HF_HUB_OFFLINE=1")
    t.wrap("and use them with `facekit --weights hub check` or `pytest --weights hub`.")
    return 0
