"""facekit.harness: one recorder, one record, one parser, whichever way the tests run.

A test process that dies mid-run (``os._exit`` in a test: a crash, a student's ``exit``) must
leave the results of the tests that ran before it, for `facekit check` as for grading: the
recorder streams each test's outcome as it finishes.
"""

from __future__ import annotations

import os

import pytest

from facekit import course, settings
from facekit.grading import runner
from facekit.harness import planted
from facekit.harness import run as harness_run

ROOT = course.repo_root()
PROBE = "tests/test_zz_crash_probe.py"
PROBE_SOURCE = """
import os


def test_first():
    pass


def test_second():
    assert False, "second: 2 differs from 3"


def test_crash():
    os._exit(3)


def test_after():
    pass
"""


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    """A scratch copy of the kit with one more test module, whose third test kills its process."""
    kit = tmp_path_factory.mktemp("crash-kit")
    planted.scratch_copy(ROOT, kit)
    (kit / PROBE).write_text(PROBE_SOURCE, encoding="utf-8")
    return kit


def _check_run(kit):
    return harness_run.run_tests(kit, "solutions", [PROBE])


def _grading_run(kit):
    job = {
        "workspace": str(kit),
        "env": settings.child_env(kit, "exercises", "standin"),
        "test_files": [PROBE],
        "timeout": 120,
        "weights": "standin",
    }
    result = runner.run_job(job, "subprocess")
    return {n: t["outcome"] for n, t in result["tests"].items()}, result["finished"]


def test_a_crash_mid_run_leaves_the_earlier_results_for_check(kit):
    record = _check_run(kit)
    outcomes = {n.split("::")[-1]: r.outcome.value for n, r in record.tests.items()}
    assert outcomes == {"test_first": "passed", "test_second": "failed"}, (
        f"run_tests({PROBE}) with test_crash calling os._exit(3): {outcomes}"
    )
    second = record.tests[f"{PROBE}::test_second"]
    assert second.error == "AssertionError: second: 2 differs from 3", second
    assert not record.finished and record.exitstatus == 3, record
    assert any("test_crash" in e and "exit 3" in e for e in record.collect_errors), record.collect_errors


def test_a_crash_mid_run_leaves_the_same_results_for_grading(kit):
    outcomes, finished = _grading_run(kit)
    assert outcomes == {f"{PROBE}::test_first": "passed", f"{PROBE}::test_second": "failed"}, outcomes
    assert not finished


@pytest.mark.skipif(not hasattr(os, "fork"), reason="forking: POSIX only")
def test_a_crash_mid_run_in_a_fork_leaves_the_earlier_results(kit):
    record = harness_run.run_forked(kit, "solutions", [PROBE], fresh=harness_run.KIT_MODULES)
    outcomes = {n.split("::")[-1]: r.outcome.value for n, r in record.tests.items()}
    assert outcomes == {"test_first": "passed", "test_second": "failed"}, outcomes
    assert not record.finished
