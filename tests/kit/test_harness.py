"""facekit.harness: one recorder, one record, one parser, whichever way the tests run.

A test process that dies mid-run (``os._exit`` in a test: a crash, a student's ``exit``) must
leave the results of the tests that ran before it, for `facekit check` as for grading: the
recorder streams each test's outcome as it finishes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
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
import os
import time


def test_hangs():
    with open("hang.pid", "w") as f:  # in the kit's folder: who is to be killed
        f.write(str(os.getpid()))
    time.sleep(600)
"""


CHOICE = "tests/test_zz_choice_probe.py"
CHOICE_SOURCE = """
import os


def test_the_choice_came_through_the_environment_only(pytestconfig, kit_target, weights_in_use):
    args = [str(a) for a in pytestconfig.invocation_params.args]
    assert not [a for a in args if a.startswith(("--target", "--weights"))], f"pytest's arguments: {args}"
    seen = (kit_target, weights_in_use.mode, str(weights_in_use.cache))
    env = tuple(os.environ.get(k) for k in ("KIT_TARGET", "KIT_WEIGHTS", "HF_HUB_CACHE"))
    assert seen == env, f"the run chose {seen}, its environment says {env}"
    with open(os.environ["CHOICE_PROBE_OUT"], "w") as out:
        out.write("|".join(seen))
"""


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    """A scratch copy of the kit with three more test modules: one whose third test kills its
    process, one whose test hangs, one that writes down the choice its run read."""
    kit = tmp_path_factory.mktemp("crash-kit")
    planted.scratch_copy(ROOT, kit)
    (kit / PROBE).write_text(PROBE_SOURCE, encoding="utf-8")
    (kit / HANG).write_text(HANG_SOURCE, encoding="utf-8")
    (kit / CHOICE).write_text(CHOICE_SOURCE, encoding="utf-8")
    return kit


def _check_run(kit, weights):
    return harness_run.run_tests(kit, "solutions", [PROBE], weights)


def _grading_run(kit, weights):
    job = {
        "workspace": str(kit),
        "env": settings.child_env(kit, settings.Choice("exercises", weights)),
        "test_files": [PROBE],
        "timeout": 120,
    }
    result = runner.run_job(job, "subprocess")
    return {n: t["outcome"] for n, t in result["tests"].items()}, result["finished"]


def test_a_crash_mid_run_leaves_the_earlier_results_for_check(kit, weights_in_use):
    record = _check_run(kit, weights_in_use)
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


def test_a_crash_mid_run_leaves_the_same_results_for_grading(kit, weights_in_use):
    outcomes, finished = _grading_run(kit, weights_in_use)
    assert outcomes == {f"{PROBE}::test_first": "passed", f"{PROBE}::test_second": "failed"}, outcomes
    assert not finished


@pytest.mark.skipif(not hasattr(os, "fork"), reason="forking: POSIX only")
def test_a_crash_mid_run_in_a_fork_leaves_the_earlier_results(kit, weights_in_use):
    forked = harness_run.run_forked(kit, "solutions", [PROBE], weights_in_use, timeout=120)
    record = forked.record
    assert forked.code == 3 and not forked.timed_out, forked
    outcomes = {n.split("::")[-1]: r.outcome.value for n, r in record.tests.items()}
    assert outcomes == {"test_first": "passed", "test_second": "failed", "test_crash": "failed"}, outcomes
    assert not record.finished


@pytest.mark.skipif(not hasattr(os, "fork"), reason="forking: POSIX only")
def test_a_forked_run_in_a_group_that_hangs_is_killed_at_its_timeout(kit, weights_in_use):
    # group=True (mutation testing's mutants): the child leads a session of its own, so the
    # kill at the timeout reaches it (and what it started). A kill that misses it leaves the
    # wait hanging: the run waits in a thread of its own, so this test fails instead.
    ended: dict[str, harness_run.Forked] = {}

    def run() -> None:
        ended["forked"] = harness_run.run_forked(
            kit, "solutions", [HANG], weights_in_use, timeout=5, group=True
        )

    started = time.monotonic()
    waiting = threading.Thread(target=run, daemon=True)
    waiting.start()
    waiting.join(120)
    seconds = time.monotonic() - started
    assert not waiting.is_alive(), (
        f"run_forked({HANG}, timeout=5, group=True) still waits after {seconds:.0f} s"
    )
    forked = ended["forked"]
    assert forked.timed_out and seconds < 60, (
        f"run_forked({HANG}, timeout=5, group=True): {seconds:.0f} s, {forked}"
    )
    assert any("timed out" in e for e in forked.record.collect_errors), forked.record.collect_errors


@pytest.mark.skipif(not hasattr(os, "fork"), reason="forking: POSIX only")
def test_forked_runs_side_by_side_end_in_any_order_and_none_outlives_its_reader(kit, weights_in_use):
    """run_forked_many (the catalogue's and mutation testing's pool): with two jobs, the probe
    started second ends first, under its own key; a reader that stops reading kills the rest."""
    (kit / "hang.pid").unlink(missing_ok=True)
    planned = [
        ("hang", harness_run.Planned(kit, (HANG,), timeout=300, group=True)),
        ("probe", harness_run.Planned(kit, (PROBE,), timeout=120)),
    ]
    runs = harness_run.run_forked_many("solutions", weights_in_use, planned, jobs=2)
    key, forked = next(runs)
    assert key == "probe" and forked.code == 3 and not forked.timed_out, (key, forked)
    outcomes = {n.split("::")[-1]: r.outcome.value for n, r in forked.record.tests.items()}
    assert outcomes == {"test_first": "passed", "test_second": "failed", "test_crash": "failed"}, outcomes
    deadline = time.monotonic() + 60
    while not (kit / "hang.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.05)  # the hang's test has not started yet: it still runs
    pid = int((kit / "hang.pid").read_text())
    runs.close()  # the reader stops: the hang, 300 s from its timeout, must go now
    try:
        os.kill(pid, 0)  # killed and reaped: not even a zombie is left
    except ProcessLookupError:
        return
    os.kill(pid, signal.SIGKILL)  # not left for the rest of the run
    os.waitpid(pid, 0)
    pytest.fail(f"run_forked_many: the hang (pid {pid}) still ran after its reader stopped reading")


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


def test_pytest_args_name_no_tree_and_no_weights():
    args = harness_run.pytest_args(["tests/t.py"], "-x")
    assert args[-1] == "tests/t.py" and "-x" in args, args
    assert not [a for a in args if a.startswith(("--target", "--weights"))], f"pytest_args: {args}"


@pytest.mark.parametrize("how", ["subprocess", "fork"])
def test_a_run_gets_its_choice_through_its_environment_only(kit, tmp_path, monkeypatch, how):
    # Not the defaults (exercises; the default stand-in folder): the child must read what it was given.
    if how == "fork" and not hasattr(os, "fork"):
        pytest.skip("forking: POSIX only")
    weights = settings.Weights("standin", tmp_path / "standin-cache", offline=True)
    out = tmp_path / "choice.txt"
    monkeypatch.setenv("CHOICE_PROBE_OUT", str(out))  # the base of settings.child_env
    if how == "subprocess":
        record = harness_run.run_tests(kit, "solutions", [CHOICE], weights, timeout=120)
        outcomes = {n: (r.outcome.value, r.error) for n, r in record.tests.items()}
    else:
        # Forked from a fresh process, as watch and the worker fork: this test process may have run
        # torch code already (the kit's fixtures build the stand-in weights in a fresh cache), and a
        # fork copies torch's OpenMP pool with its locks held, so the child would hang.
        code = (
            "import json, sys; from pathlib import Path; from facekit import settings;"
            "from facekit.harness import run;"
            "w = settings.Weights('standin', Path(sys.argv[2]), offline=True);"
            "r = run.run_forked(Path(sys.argv[1]), 'solutions', [sys.argv[3]], w, timeout=120).record;"
            "print(json.dumps({n: [t.outcome.value, t.error] for n, t in r.tests.items()}))"
        )
        done = subprocess.run(
            [sys.executable, "-c", code, str(kit), str(weights.cache), CHOICE],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, f"fork: the forking process failed: {done.stderr[-2000:]}"
        outcomes = {n: (o, e) for n, (o, e) in json.loads(done.stdout.splitlines()[-1]).items()}
    assert [o for o, _ in outcomes.values()] == ["passed"], f"{how}: run on solutions/{weights}: {outcomes}"
    read = out.read_text(encoding="utf-8")
    assert read == f"solutions|standin|{weights.cache}", f"{how}: the child read {read!r}"
