"""Quick re-runs for ``facekit watch`` and the warm worker: the tests in a fork of a process
that imported torch once.

Most of a test run of Exercise 02 goes into importing torch and timm (about 10 s on 2 cores),
not into testing. ``watch`` imports them once, then forks for every run. The child drops every
module of the trees and tests (``FRESH``), so it imports the code as it is on disk now, and
runs the very command ``run.run_tests`` runs, in-process. Fork is only used where it is safe and
where the parent's facekit is the kit under test (Linux, the checkout facekit came from);
everything else goes through ``run.run_tests``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from facekit import course
from facekit.harness import forking, run
from facekit.harness.record import RunRecord

# Imported fresh in every child: anything that holds the kit's code or the run's state.
FRESH = ("exercises", "solutions", "tests", "conftest", "facekit.pytest_plugin", "facekit.harness.plugin")


def available(root: Path) -> bool:
    return (
        sys.platform.startswith("linux")
        and hasattr(os, "fork")
        and Path(root).resolve() == course.repo_root().resolve()
    )


_warmed = False


def warm_up() -> bool:
    """Import what every run needs (the slow part) once; False, doing nothing, if it is not safe.

    A process that had torch imported before may have run torch code, whose OpenMP thread
    pool a fork copies with its locks held: the child would hang. So only a process that
    imports torch here, and runs no torch code itself, forks.
    """
    global _warmed
    if "torch" in sys.modules:
        return False
    forking.import_warm()
    _warmed = True
    return True


def run_tests(
    root: Path, target: str, test_files: list[str], weights: str = "standin", timeout: float = 900
) -> RunRecord:
    """``run.run_tests``' result, from a forked child of this warmed-up process.

    Without ``warm_up()`` (or after a run that hung) it is ``run.run_tests`` itself.
    """
    global _warmed
    if not _warmed:
        return run.run_tests(root, target, test_files, weights)
    forked = run.run_forked(root, target, test_files, weights, timeout, fresh=FRESH)
    if forked.timed_out:
        _warmed = False  # from now on, plain subprocesses
        return run.run_tests(root, target, test_files, weights)
    return forked.record
