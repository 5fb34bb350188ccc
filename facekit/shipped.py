"""A kit file as shipped: its version in git at the upstream branch (as last fetched), else HEAD.

The upstream branch comes first because a student who commits their work moves HEAD.
``facekit reset`` restores a stub from it; ``facekit submit`` refuses to hand in stubs that
still equal it. Each caller words its own message from ``NotShipped.reason``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path


class NotShipped(Exception):
    """No shipped version is known. ``reason``: "no git" (not installed), "not a checkout",
    or "not in git" (the file is not in ``ref``)."""

    def __init__(self, reason: str, ref: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.ref = ref


def _git(root: Path, *args: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, timeout=60)
    except FileNotFoundError:
        raise NotShipped("no git") from None


def version(root: Path, relpath: str) -> tuple[str, bytes]:
    """(the git ref it was read at, the file's bytes); NotShipped when there is none."""
    if _git(root, "rev-parse", "--is-inside-work-tree").returncode != 0:
        raise NotShipped("not a checkout")
    upstream = _git(root, "rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{upstream}")
    ref = upstream.stdout.decode().strip() if upstream.returncode == 0 else "HEAD"
    shown = _git(root, "show", f"{ref}:./{relpath}")
    if shown.returncode != 0:
        raise NotShipped("not in git", ref)
    return ref, shown.stdout
