"""facekit.harness: one recorder, one record, one parser, whichever way the tests run.

A test process that dies mid-run (``os._exit`` in a test: a crash, a student's ``exit``) must
leave the results of the tests that ran before it, for `facekit check` as for grading: the
recorder streams each test's outcome as it finishes.
"""

from __future__ import annotations

import os
import time

import pytest

from facekit import course, settings
from facekit.grading import runner
from facekit.harness import planted, record
from facekit.harness import run as harness_run
from facekit.harness.record import Outcome, RunRecord, TestResult

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


HANG = "tests/test_zz_hang_probe.py"
HANG_SOURCE = """
import time


def test_hangs():
    time.sleep(600)
"""


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    """A scratch copy of the kit with two more test modules: one whose third test kills its
    process, one whose test hangs."""
    kit = tmp_path_factory.mktemp("crash-kit")
    planted.scratch_copy(ROOT, kit)
    (kit / PROBE).write_text(PROBE_SOURCE, encoding="utf-8")
    (kit / HANG).write_text(HANG_SOURCE, encoding="utf-8")
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
    # The test the process died in counts as failed; the one after it did not run.
    assert outcomes == {"test_first": "passed", "test_second": "failed", "test_crash": "failed"}, (
        f"run_tests({PROBE}) with test_crash calling os._exit(3): {outcomes}"
    )
    second = record.tests[f"{PROBE}::test_second"]
    assert second.error == "AssertionError: second: 2 differs from 3", second
    crash = record.tests[f"{PROBE}::test_crash"]
    assert crash.error == "the test process ended during this test (exit 3)", crash
    assert not record.finished and record.exitstatus == 3, record
    assert any("test_crash" in e and "exit 3" in e for e in record.collect_errors), record.collect_errors


def test_a_crash_mid_run_leaves_the_same_results_for_grading(kit):
    outcomes, finished = _grading_run(kit)
    assert outcomes == {f"{PROBE}::test_first": "passed", f"{PROBE}::test_second": "failed"}, outcomes
    assert not finished


@pytest.mark.skipif(not hasattr(os, "fork"), reason="forking: POSIX only")
def test_a_crash_mid_run_in_a_fork_leaves_the_earlier_results(kit):
    forked = harness_run.run_forked(kit, "solutions", [PROBE], timeout=120)
    record = forked.record
    assert forked.code == 3 and not forked.timed_out, forked
    outcomes = {n.split("::")[-1]: r.outcome.value for n, r in record.tests.items()}
    assert outcomes == {"test_first": "passed", "test_second": "failed", "test_crash": "failed"}, outcomes
    assert not record.finished


@pytest.mark.skipif(not hasattr(os, "fork"), reason="forking: POSIX only")
@pytest.mark.timeout(120, method="thread")  # a child that is not killed hangs the wait
def test_a_forked_run_in_a_group_that_hangs_is_killed_at_its_timeout(kit):
    # group=True (mutation testing's mutants): the child leads a session of its own, so the
    # kill at the timeout reaches it (and what it started).
    started = time.monotonic()
    forked = harness_run.run_forked(kit, "solutions", [HANG], timeout=5, group=True)
    seconds = time.monotonic() - started
    assert forked.timed_out and seconds < 60, (
        f"run_forked({HANG}, timeout=5, group=True): {seconds:.0f} s, {forked}"
    )
    assert any("timed out" in e for e in forked.record.collect_errors), forked.record.collect_errors


def test_check_and_grading_read_the_same_lines_alike():
    # One parser: grading's dict (runner.parse_record) is the record check reads, field by field.
    lines = [
        '{"collected": ["t.py::a", "t.py::b", "t.py::c"], "functions": {"t.py::a": "f", "t.py::b": "f"},'
        ' "broad": ["t.py::b"], "visibility": {}}',
        '{"test": "t.py::a", "outcome": "failed", "message": "AssertionError: f(1) differs",'
        ' "detail": "f(1) differs by 2", "todo": null}',
        "not json",
        '{"test": "t.py::b", "outcome": "failed", "message": "NotImplementedError: f",'
        ' "detail": "NotImplementedError raised in f: f", "todo": ["f", "exercises/x.py"]}',
        '{"test": "t.py::a", "outcome": "passed"}',
    ]
    run = record.parse(lines)
    graded = runner.parse_record(lines)
    assert not run.finished and graded["finished"] is False
    assert run.unreported() == ["t.py::c"], run.unreported()
    a, b = run.tests["t.py::a"], run.tests["t.py::b"]
    assert (a.error, a.message, a.function, a.broad) == (
        "AssertionError: f(1) differs",
        "f(1) differs by 2",
        "f",
        False,
    )
    assert b.todo == ("f", "exercises/x.py") and b.broad, b
    for nodeid, result in run.tests.items():
        test = graded["tests"][nodeid]
        assert (test["outcome"], test["message"], test["detail"]) == (
            result.outcome.value,
            result.error,
            result.message,
        ), f"{nodeid}: grading reads {test}, check reads {result}"
    assert graded["sequence"] == [("t.py::a", "failed"), ("t.py::b", "failed"), ("t.py::a", "passed")]


def test_a_result_cache_entry_written_before_the_harness_reads_back_the_same():
    # facekit.state_file kept RunRecord.to_json() of facekit.run_record: same keys, no "finished".
    old = {
        "tests": {
            "tests/t.py::test_a": {
                "outcome": "failed",
                "error": "AssertionError: f(3) differs",
                "todo": None,
                "function": "f",
                "broad": True,
                "message": "f(3) differs by 0.5",
            },
            "tests/t.py::test_b": {
                "outcome": "failed",
                "error": "NotImplementedError: g",
                "todo": ["g", "exercises/x.py"],
                "function": "g",
                "broad": False,
                "message": None,
            },
        },
        "collect_errors": [],
        "exitstatus": 1,
    }
    run = RunRecord.from_json(old)
    assert run.finished and run.exitstatus == 1
    assert run.tests["tests/t.py::test_a"] == TestResult(
        Outcome.FAILED, "AssertionError: f(3) differs", None, "f", True, "f(3) differs by 0.5"
    )
    assert run.tests["tests/t.py::test_b"].todo == ("g", "exercises/x.py")
    again = RunRecord.from_json(run.to_json())
    assert again.tests == run.tests and again.exitstatus == 1
