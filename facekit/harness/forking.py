"""Test runs in forks of a process that imported torch once.

Every forked test run goes through here: ``facekit watch`` and the warm worker
(facekit.harness.warm), the catalogue of mistakes and mutation testing (facekit.harness.run),
and grading (facekit.grading.runner). Each needs the same three things, kept here:

- the slow imports done once, before any fork, and no torch code run: a fork copies
  OpenMP's thread pool with its locks held, and a child that uses it hangs;
- in the child, every module of the code under test dropped, so it is imported afresh
  from disk (the tree, the tests, the kit's own copy where that is under test too);
- a wait that cannot hang and leaves nothing running: on a timeout, Ctrl-C or any error the
  child (its whole process group, for a child that made one) is killed and reaped.
"""

from __future__ import annotations

import gc
import importlib
import os
import signal
import sys
import time
from collections.abc import Callable

# What a test run of the course imports first: numpy to timm. sqlite3 and pdb: what the tests
# and pytest's own plugins import next.
WARM = (
    "numpy",
    "PIL.Image",
    "pytest",
    "huggingface_hub",
    "safetensors.torch",
    "torch",
    "timm",
    "timm.data",
    "sqlite3",
    "pdb",
)
# Everything that holds the kit's code, a tree's or the tests'.
KIT_MODULES = ("facekit", "exercises", "solutions", "tests", "conftest")
CHILD_FAILED = 70  # the child raised before it could return a code
POLL_S = 0.02


def cores() -> int:
    """The cores this process may use: how many forks (or graded submissions) run side by side."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def import_warm() -> None:
    """The slow imports, once. Runs no torch code (see the module docstring)."""
    for name in WARM:
        importlib.import_module(name)


def drop_modules(prefixes: tuple[str, ...] = KIT_MODULES) -> None:
    """Forget every module named ``prefix`` or ``prefix.*``: the next import reads it from disk."""
    for name in [n for n in sys.modules if any(n == p or n.startswith(p + ".") for p in prefixes)]:
        del sys.modules[name]


def _kill(pid: int, group: bool) -> None:
    try:
        if group:
            os.killpg(pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _reap(pid: int) -> int | None:
    try:
        return os.waitpid(pid, 0)[1]
    except ChildProcessError:
        return None


class Running:
    """A forked child on its way (``start``): ``poll`` it until it answers, or ``kill`` it."""

    def __init__(self, pid: int, timeout: float, group: bool, expired: Callable[[], bool] | None) -> None:
        self.pid, self.group, self.expired = pid, group, expired
        self.deadline = time.monotonic() + timeout

    def poll(self) -> tuple[int | None, bool] | None:
        """None while it runs; then (exit code as ``os.waitstatus_to_exitcode`` gives it,
        whether it timed out). Past its deadline, or when ``expired()`` says so, it is killed."""
        status: int | None
        done, status = os.waitpid(self.pid, os.WNOHANG)
        if done:
            timed_out = False
        elif time.monotonic() > self.deadline or (self.expired is not None and self.expired()):
            _kill(self.pid, self.group)
            status, timed_out = _reap(self.pid), True
        else:
            return None
        if self.group:
            _kill(self.pid, self.group)  # whatever it started and left behind
        return (os.waitstatus_to_exitcode(status) if status is not None else None), timed_out

    def kill(self) -> None:
        """End it now and reap it (Ctrl-C, an error in the parent): it must not outlive its parent's call."""
        _kill(self.pid, self.group)
        _reap(self.pid)


def start(
    child: Callable[[], int],
    timeout: float,
    *,
    group: bool = False,
    expired: Callable[[], bool] | None = None,
) -> Running:
    """Fork; the child exits with ``child()``'s return value (CHILD_FAILED if it raised).

    ``group``: ``child`` starts its own session (os.setsid), and the whole group is killed
    when the child ends too, so nothing it started outlives it. ``expired()``, polled while the
    child runs, ends it early as a timeout when it answers True (a limit that moves).
    """
    sys.stdout.flush()
    sys.stderr.flush()
    # What the parent imported moves out of the collector's sight: the child's collections
    # no longer walk (and, by touching, copy) torch's hundreds of thousands of objects.
    gc.freeze()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = CHILD_FAILED
        try:
            code = int(child())
        finally:
            os._exit(code)
    gc.unfreeze()  # the parent collects as before
    return Running(pid, timeout, group, expired)


def run_forked(
    child: Callable[[], int],
    timeout: float,
    *,
    group: bool = False,
    expired: Callable[[], bool] | None = None,
) -> tuple[int | None, bool]:
    """``start`` and wait: (exit code, whether it timed out)."""
    running = start(child, timeout, group=group, expired=expired)
    try:
        while (ended := running.poll()) is None:  # a modest poll: a child that hangs cannot hang this process
            time.sleep(POLL_S)
    except BaseException:  # Ctrl-C, or anything else: the child must not outlive this call
        running.kill()
        raise
    return ended
