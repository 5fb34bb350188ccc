"""The kit as shipped: every stub fails for the right reason, the trees mirror each other."""

from __future__ import annotations

import pytest

from facekit import course, verify

ROOT = course.repo_root()
EXERCISES = course.load().exercises
IDS = [e.id for e in EXERCISES]


@pytest.fixture(scope="session")
def stub_run():
    """The harness against the untouched stubs, every exercise at once, in a subprocess."""
    return verify.run_tests(ROOT, "exercises", [e.tests for e in EXERCISES])


@pytest.fixture(scope="session")
def apis():
    return verify.public_apis(ROOT, [e.module(t) for e in EXERCISES for t in course.TARGETS])


@pytest.mark.parametrize("exercise", EXERCISES, ids=IDS)
def test_manifest_names_existing_files(exercise):
    finding = verify.file_findings(ROOT, exercise)
    assert finding.ok, finding.detail


@pytest.mark.parametrize("exercise", EXERCISES, ids=IDS)
def test_stub_fails_every_test_with_its_not_implemented_error(stub_run, exercise):
    finding = verify.stub_findings(stub_run, exercise)
    assert finding.ok, finding.detail


@pytest.mark.parametrize("exercise", EXERCISES, ids=IDS)
def test_stub_and_reference_expose_the_same_api(apis, exercise):
    finding = verify.mirror_findings(apis, exercise)
    assert finding.ok, finding.detail


@pytest.mark.parametrize("exercise", EXERCISES, ids=IDS)
def test_reference_passes_its_tests(kit_target, exercise):
    if kit_target == "solutions":
        pytest.skip("this run already tests the reference solutions (--target solutions)")
    run = verify.run_tests(ROOT, "solutions", [exercise.tests])
    finding = verify.reference_findings(run, exercise)
    assert finding.ok, finding.detail
