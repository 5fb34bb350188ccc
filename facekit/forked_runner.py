"""Quick re-runs for ``facekit watch``: the harness in a fork of a process that imported torch once.

(This module was facekit.warm.)

Most of a test run of Exercise 02 goes into importing torch and timm (about 10 s on 2 cores),
not into testing. ``watch`` imports them once, then forks for every run. The child drops every
module of the trees and tests, so it imports the code as it is on disk now, and runs the very
command ``facekit.verify.run_tests`` runs, in-process. Fork is only used where it is safe and
where the parent's facekit is the kit under test (Linux, the checkout facekit came from);
everything else goes through ``verify.run_tests``.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from facekit import course, forking, settings, verify
from facekit.run_record import RunRecord

# Imported fresh in every child: anything that holds the kit's code or the run's results.
_FRESH = ("exercises", "solutions", "tests", "conftest", "facekit.pytest_plugin", "facekit.recorder")


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


def _child(root: Path, target: str, test_files: list[str], weights: settings.Weights, record: Path) -> int:
    import pytest

    from facekit import recorder

    devnull = open(os.devnull, "w")  # noqa: SIM115 - the child ends with os._exit
    os.dup2(devnull.fileno(), 1)
    os.dup2(devnull.fileno(), 2)
    sys.stdout = sys.stderr = devnull
    os.chdir(root)
    env = settings.child_env(root, settings.Choice(target, weights))
    env[recorder.RECORD_ENV] = str(record)
    settings.enter_env(env)
    sys.path.insert(0, str(root))  # what PYTHONPATH and `python -m` give the subprocess
    forking.drop_modules(_FRESH)
    # The command line of verify.run_tests.
    return int(
        pytest.main(
            [
                "-q",
                "-p",
                "facekit.recorder",
                "-p",
                "no:cacheprovider",
                *test_files,
            ]
        )
    )


def run_tests(
    root: Path, target: str, test_files: list[str], weights: settings.Weights, timeout: float = 900
) -> RunRecord:
    """``verify.run_tests``' result, from a forked child of this warmed-up process.

    Without ``warm_up()`` (or after a run that hung) it is ``verify.run_tests`` itself.
    """
    global _warmed
    if not _warmed:
        return verify.run_tests(root, target, test_files, weights)
    root = Path(root)
    with tempfile.TemporaryDirectory(prefix="facekit-watch-") as tmp:
        record = Path(tmp) / "record.json"
        code, timed_out = forking.run_forked(
            lambda: _child(root, target, test_files, weights, record), timeout
        )
        if timed_out:
            _warmed = False  # from now on, plain subprocesses
            return verify.run_tests(root, target, test_files, weights)
        if not record.exists():
            return RunRecord(
                {},
                (
                    "the test run ended before writing its results; "
                    f"`pytest {' '.join(test_files)}` shows why",
                ),
                code,
            )
        return RunRecord.read(record)
