"""A scratch copy of the kit in which a planted change runs: a catalogued mistake, a mutant.

Both the catalogue of mistakes (facekit.harness.catalogue_run) and mutation testing
(facekit.mutation) patch a copy of the reference and run the tests there, in forks of one
process that imported torch once and runs no torch code itself; the stand-in weights they
share are built (or checked) first, in a subprocess.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

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


def prepare_standin(root: Path, env: dict[str, str]) -> None:
    """Build (or check) the stand-in cache that ``env`` (settings.child_env) names, in a
    subprocess, so the forked children share it (the parent must run no torch code before it
    forks)."""
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from facekit import hub_switch, settings; hub_switch.build_standin(settings.read_choice().weights)",
        ],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
