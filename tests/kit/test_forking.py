"""facekit.harness.forking: the one fork-and-wait that watch, the mistakes catalogue and grading share.

Each test forks this process; no child runs torch code. A child reports its pid (and any
process it starts) through a file, so the test can see that nothing outlives the call.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from facekit.harness import forking

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="forking: POSIX only")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); one that the test's reaper collected does not.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(")")[-1].split()[0] != "Z"


def _gone(pid: int) -> bool:
    """Whether ``pid`` has ended; if not, it is killed now, so a failing test leaves nothing running."""
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
        return False
    return True


def _read_pids(path) -> list[int]:
    for _ in range(200):
        if path.exists() and path.read_text().endswith("\n"):
            return [int(p) for p in path.read_text().split()]
        time.sleep(0.01)
    raise AssertionError(f"the child never wrote its pid to {path}")


def test_the_childs_return_value_is_its_exit_code():
    assert forking.run_forked(lambda: 3, timeout=30) == (3, False)


def test_a_child_that_raises_exits_with_child_failed():
    def child():
        raise RuntimeError("boom")

    code, timed_out = forking.run_forked(child, timeout=30)
    assert (code, timed_out) == (forking.CHILD_FAILED, False)


def test_a_child_that_hangs_is_killed_at_the_timeout(tmp_path):
    pids = tmp_path / "pids"

    def child():
        pids.write_text(f"{os.getpid()}\n")
        time.sleep(600)
        return 0

    started = time.monotonic()
    code, timed_out = forking.run_forked(child, timeout=0.5)
    assert timed_out and code == -9, (code, timed_out)
    assert time.monotonic() - started < 30
    assert _gone(_read_pids(pids)[0]), "run_forked returned with the hung child still running"


def test_ctrl_c_while_waiting_kills_the_child(tmp_path, monkeypatch):
    pids = tmp_path / "pids"

    def child():
        pids.write_text(f"{os.getpid()}\n")
        signal.pause()  # not time.sleep: the parent's patched one would end the child at once
        return 0

    real_sleep = time.sleep
    polls = []

    def interrupted_sleep(seconds):
        polls.append(seconds)
        if pids.exists():
            raise KeyboardInterrupt
        real_sleep(seconds)

    monkeypatch.setattr(forking.time, "sleep", interrupted_sleep)
    with pytest.raises(KeyboardInterrupt):
        forking.run_forked(child, timeout=600)
    monkeypatch.undo()
    assert _gone(_read_pids(pids)[0]), "Ctrl-C left the child running"


def test_with_group_whatever_the_child_started_dies_with_it(tmp_path):
    pids = tmp_path / "pids"

    def child():
        os.setsid()
        grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        pids.write_text(f"{grandchild.pid}\n")
        return 0  # leaves the grandchild behind

    code, timed_out = forking.run_forked(child, timeout=30, group=True)
    assert (code, timed_out) == (0, False)
    grandchild = _read_pids(pids)[0]
    for _ in range(100):  # SIGKILL is delivered at once; its reaping (by init) may lag
        if not _alive(grandchild):
            break
        time.sleep(0.02)
    assert _gone(grandchild), "a process the child started outlived run_forked(group=True)"


def test_drop_modules_forgets_a_package_and_its_submodules_only():
    sys.modules["facekit_probe_pkg"] = type(sys)("facekit_probe_pkg")
    sys.modules["facekit_probe_pkg.sub"] = type(sys)("facekit_probe_pkg.sub")
    sys.modules["facekit_probe_pkg_other"] = type(sys)("facekit_probe_pkg_other")
    try:
        forking.drop_modules(("facekit_probe_pkg",))
        assert "facekit_probe_pkg" not in sys.modules and "facekit_probe_pkg.sub" not in sys.modules
        assert "facekit_probe_pkg_other" in sys.modules, (
            "a module whose name only starts the same was dropped"
        )
    finally:
        for name in ("facekit_probe_pkg", "facekit_probe_pkg.sub", "facekit_probe_pkg_other"):
            sys.modules.pop(name, None)
