"""Fixtures the kit's own test modules share: a run that several modules read is made once."""

from __future__ import annotations

import os

import pytest

from facekit import course, worker
from facekit.harness import run as harness_run

# The kit's tests run every command cold: no test starts or uses a warm worker (facekit.worker)
# unless it asks for one (tests/kit/test_worker.py), so none leaves a process behind.
os.environ[worker.NO_WORKER_ENV] = "1"


@pytest.fixture(scope="session")
def stub_run():
    """The harness against the untouched stubs, every exercise at once, in a subprocess (as
    `facekit check` runs it). test_kit reads every exercise of it, test_cli Exercise 02's
    (``stub_run.only(test_file)``): one subprocess instead of one per module."""
    return harness_run.run_tests(course.repo_root(), "exercises", [e.tests for e in course.load().exercises])
