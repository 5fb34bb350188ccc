"""Fixtures the kit's own test modules share: a run that several modules read is made once."""

from __future__ import annotations

import os

import pytest

from facekit import course, verify, worker
from facekit.harness import run as harness_run

# The kit's tests run every command cold: no test starts or uses a warm worker (facekit.worker)
# unless it asks for one (tests/kit/test_worker.py), so none leaves a process behind.
os.environ[worker.NO_WORKER_ENV] = "1"


def selected_exercises(request: pytest.FixtureRequest, fixture: str) -> tuple[course.Exercise, ...]:
    """The manifest's exercises a session-wide ``fixture`` is read for: when every selected test
    that reads it is one exercise's (``-k ex07_tracking``), those exercises; else all of them."""
    exercises = course.load().exercises
    readers = [item for item in request.session.items if fixture in getattr(item, "fixturenames", ())]
    specs = [getattr(item, "callspec", None) for item in readers]
    if not readers or not all(spec and "exercise" in spec.params for spec in specs):
        return exercises
    wanted = {getattr(spec.params["exercise"], "id", spec.params["exercise"]) for spec in specs if spec}
    return tuple(e for e in exercises if e.id in wanted)


@pytest.fixture(scope="session")
def stub_run(request):
    """The harness against the untouched stubs, every exercise at once, in a subprocess (as
    `facekit check` runs it). test_kit reads every exercise of it, test_cli Exercise 02's
    (``stub_run.only(test_file)``): one subprocess instead of one per module. Only the exercises
    the selected tests read (selected_exercises)."""
    exercises = selected_exercises(request, "stub_run")
    return harness_run.run_tests(course.repo_root(), "exercises", [e.tests for e in exercises])


@pytest.fixture(scope="session")
def apis(request):
    """The public API of each exercise in both trees (verify.public_apis), of the exercises the
    selected tests read (selected_exercises)."""
    exercises = selected_exercises(request, "apis")
    return verify.public_apis(course.repo_root(), [e.module(t) for e in exercises for t in course.TARGETS])
