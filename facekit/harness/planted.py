"""A scratch copy of the kit in which a planted change runs: a catalogued mistake, a mutant.

Both the catalogue of mistakes (facekit.harness.catalogue_run) and mutation testing
(facekit.mutation) patch a copy of the reference and run the tests there (``run_planted``), in
forks of one process that imported torch once and runs no torch code itself (``prepare``: the
stand-in weights they share are built, or checked, first, in a subprocess); both take the same
options (``add_arguments``).
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Generator, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TypeVar

from facekit import settings
from facekit.harness import forking, run

K = TypeVar("K")

# Copied into each scratch kit: what the tests import. Not notebooks, not git.
COPIED = ("conftest.py", "pyproject.toml", "facekit", "exercises", "solutions", "tests")


def scratch_copy(root: Path, into: Path) -> None:
    """The kit's parts a planted change runs against, copied from ``root`` into ``into``."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
    for name in COPIED:
        source = Path(root) / name
        if source.is_dir():
            shutil.copytree(source, Path(into) / name, ignore=ignore)
        elif source.is_file():
            shutil.copy2(source, Path(into) / name)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of a command that runs planted changes (the catalogue, mutation testing)."""
    parser.add_argument(
        "--weights", choices=settings.WEIGHTS, help=f"default: {settings.WEIGHTS_ENV}, else standin"
    )
    parser.add_argument(
        "--jobs", type=int, default=forking.cores(), help="forks at a time (default: the cores)"
    )


def prepare(root: Path, weights: settings.Weights) -> None:
    """What the parent of the forks does once, before the first: the stand-in cache that
    ``weights`` names built (or checked) in a subprocess, so the children share it, then the slow
    imports. The parent itself must run no torch code before it forks (facekit.harness.forking)."""
    if weights.mode == "standin":
        subprocess.run(
            [
                sys.executable,
                "-c",
                "from facekit import hub_switch, settings; "
                "hub_switch.build_standin(settings.read_choice().weights)",
            ],
            cwd=root,
            env=run.test_env(root, settings.Choice("solutions", weights)),
            check=True,
            capture_output=True,
            timeout=300,
        )
    forking.import_warm()


def run_planted(
    root: Path,
    weights: settings.Weights,
    planned: Iterable[tuple[K, Mapping[str, str], run.Planned]],
    jobs: int,
) -> Generator[tuple[K, run.Forked, float], None, None]:
    """Each planned change in a scratch copy of the kit at ``root`` of its own, its ``files``
    (path in the kit -> text) written over the copy, its tests run against ``solutions`` in a
    fork, ``jobs`` at a time (run.run_forked_many; the Planned's root is replaced by the copy).
    Each copy is made as its fork can start and removed as it ends: ``(key, how it ended,
    seconds with the copy)``."""
    copies: dict[K, tuple[Path, float]] = {}

    def started() -> Iterator[tuple[K, run.Planned]]:
        for key, files, plan in planned:
            scratch = Path(tempfile.mkdtemp(prefix="facekit-planted-"))
            copies[key] = scratch, time.perf_counter()
            scratch_copy(root, scratch)
            for name, text in files.items():
                target = (scratch / name).resolve()
                if not target.is_relative_to(scratch.resolve()):
                    raise ValueError(f"a planted change may only replace files of the kit; got {name!r}")
                target.write_text(text, encoding="utf-8")
            yield key, dataclasses.replace(plan, root=scratch)

    try:
        for key, forked in run.run_forked_many("solutions", weights, started(), jobs):
            scratch, began = copies.pop(key)
            shutil.rmtree(scratch, ignore_errors=True)
            yield key, forked, time.perf_counter() - began
    finally:
        for scratch, _ in copies.values():
            shutil.rmtree(scratch, ignore_errors=True)
