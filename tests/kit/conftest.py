"""Fixtures the kit's own test modules share: a run that several modules read is made once."""

from __future__ import annotations

import os

import pytest

from facekit import course, verify, worker

# The kit's tests run every command cold: no test starts or uses a warm worker (facekit.worker)
# unless it asks for one (tests/kit/test_worker.py), so none leaves a process behind.
os.environ[worker.NO_WORKER_ENV] = "1"


@pytest.fixture(scope="session")
def stub_run(request):
    """The harness against the untouched stubs, every exercise at once, in a subprocess (as
    `facekit check` runs it). test_kit reads every exercise of it, test_cli Exercise 02's
    (``stub_run.only(test_file)``): one subprocess instead of one per module. When every
    selected test that reads it is one exercise's (``-k ex07_tracking``), only those exercises run."""
    exercises = course.load().exercises
    readers = [item for item in request.session.items if "stub_run" in getattr(item, "fixturenames", ())]
    named = [getattr(item, "callspec", None) for item in readers]
    wanted = {spec.params["exercise"] for spec in named if spec and "exercise" in spec.params}
    if readers and all(spec and "exercise" in spec.params for spec in named):
        exercises = tuple(e for e in exercises if e in wanted or e.id in wanted)
    return verify.run_tests(course.repo_root(), "exercises", [e.tests for e in exercises])
