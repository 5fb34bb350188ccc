"""Running the course's tests: in a subprocess, in a fork of a warmed-up process, or in-process.

Every run has the same command line (``pytest_args``: the recorder loaded, the test files) and
records through the recorder (facekit.harness.plugin) to a file or a
descriptor, read back with the one parser (facekit.harness.record). A forked child goes
through one prologue, ``enter``: its output, working folder, environment, import path and
the modules it must import afresh from disk. The tree and the weights (a settings.Choice) reach
the child through its environment only, never its command line: the environment of a run of
the kit is ``test_env`` (facekit.settings.child_env), which the child's pytest reads once at
configure; a forked child makes it its own with settings.enter_env. Grading builds its own
(a scratch HOME, offline: facekit.grading.workspace.env, also from child_env).

A run that ends without saying so (a crash, ``os._exit`` in a test, a kill, a timeout)
keeps the results of the tests that ran, and says where it stopped (``stopped``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Generator, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from facekit import settings
from facekit.harness import forking
from facekit.harness.record import RECORD_ENV, Outcome, RunRecord, TestResult, parse

PLUGIN = "facekit.harness.plugin"
KIT_MODULES = forking.KIT_MODULES
K = TypeVar("K")


def pytest_args(test_files: list[str], *extra: str) -> list[str]:
    """The command line of every test run (after ``python -m pytest``); ``extra`` before the files.

    No tree and no weights on it: the child reads them from its environment (``test_env``)."""
    return ["-q", "-p", PLUGIN, "-p", "no:cacheprovider", *extra, *test_files]


def test_env(root: Path, choice: settings.Choice) -> dict[str, str]:
    """The environment of a test process of the kit at ``root`` on ``choice`` (facekit.settings.child_env)."""
    return settings.child_env(root, choice)


test_env.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


@dataclass(frozen=True)
class Child:
    """Where and how a forked test child runs (``enter``)."""

    workdir: Path  # its working folder, first on its import path
    env: Mapping[str, str]  # its whole environment
    fresh: tuple[str, ...] = KIT_MODULES  # modules imported afresh from disk (forking.drop_modules)
    output_fd: int | None = None  # stdout and stderr go here; None: to /dev/null
    drop_paths: tuple[str, ...] = ()  # import paths it must not see (the instructor's kit, say)
    bytecode: bool = True  # False: no .pyc written (a mutant must not meet the last one's)
    # A session of its own (os.setsid): forking.run_forked(group=True) kills its whole group.
    session: bool = False


def enter(child: Child) -> None:
    """The one prologue of a forked test child, before pytest runs in it."""
    if child.session:
        os.setsid()
    sys.stdout.flush()
    sys.stderr.flush()
    opened = []
    out = child.output_fd
    if out is None:
        out = os.open(os.devnull, os.O_WRONLY)
        opened.append(out)
    stdin = os.open(os.devnull, os.O_RDONLY)
    opened.append(stdin)
    os.dup2(stdin, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    for fd in opened:
        if fd > 2:
            os.close(fd)
    previous = os.getcwd()
    os.chdir(child.workdir)
    env = dict(child.env)
    if not child.bytecode:
        sys.dont_write_bytecode = True
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    settings.enter_env(env)  # the one writer of a child's environment
    tempfile.tempdir = None  # computed again from TMPDIR
    workdir = str(child.workdir)
    # What PYTHONPATH and `python -m` give a subprocess: the working folder first; not the
    # folder the parent ran in, nor "" (that was the parent's working folder).
    drop = {"", previous, workdir, *child.drop_paths}
    sys.path[:] = [workdir] + [p for p in sys.path if p not in drop]
    forking.drop_modules(child.fresh)


def in_process(args: list[str]) -> int:
    """pytest in this process (a forked child's, after ``enter``); its exit code."""
    # Imported here, in the child: a parent that runs its tests in a subprocess never needs it.
    import pytest

    code = int(pytest.main(args))
    sys.stdout.flush()
    sys.stderr.flush()
    return code


def stopped(record: RunRecord, code: int | None, *, timed_out: bool = False, why: str = "") -> RunRecord:
    """``record`` of a run that ended with ``code``: unchanged if it finished; else what ran, the
    test it stopped in as failed, and a collection error per test module that did not get to
    the end (where it stopped). ``why``: what to say when nothing at all was recorded (pytest's
    last lines, say)."""
    if record.finished:
        return record
    how = "timed out" if timed_out else f"exit {code}"
    notes: list[str] = []
    tests = dict(record.tests)
    unreported = record.unreported()
    if record.collected is None and not record.tests:
        notes.append(why or f"the test run ended before collecting its tests ({how})")
    elif unreported:
        at = unreported[0]
        tests[at] = TestResult(
            Outcome.FAILED,
            f"the test process ended during this test ({how})",
            function=record.functions.get(at),
            broad=at in record.broad,
        )
        files = list(dict.fromkeys(n.split("::")[0] for n in unreported))
        notes.append(f"{files[0]}: the test run stopped at {at.split('::', 1)[-1]} ({how})")
        notes += [f"{f}: not run: the test run stopped at {at} ({how})" for f in files[1:]]
    else:
        notes.append(f"the test run ended before it finished ({how})")
    return replace(record, tests=tests, collect_errors=(*record.collect_errors, *notes), exitstatus=code)


def read(path: Path) -> RunRecord:
    """The record a run wrote to ``path``; an empty one, not finished, if it wrote nothing."""
    try:
        return parse(Path(path).read_text(encoding="utf-8").splitlines())
    except FileNotFoundError:
        return RunRecord(finished=False)


def run_tests(
    root: Path, target: str, test_files: list[str], weights: settings.Weights, timeout: float = 900
) -> RunRecord:
    """The tests in ``test_files`` against ``target`` on ``weights`` in a subprocess rooted at
    ``root`` (so a copy of the kit is tested as itself); per-test outcomes. The child gets the
    tree and the weights through its environment (``test_env``) only."""
    with tempfile.TemporaryDirectory(prefix="facekit-run-") as tmp:
        path = Path(tmp) / "record.jsonl"
        env = {**test_env(Path(root), settings.Choice(target, weights)), RECORD_ENV: str(path)}
        command = [sys.executable, "-m", "pytest", *pytest_args(test_files)]
        proc = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=timeout)
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
        return stopped(read(path), proc.returncode, why=" / ".join(tail) or "pytest did not run")


@dataclass(frozen=True)
class Forked:
    """How a forked run ended: its record, the child's exit code, whether it timed out."""

    record: RunRecord
    code: int | None
    timed_out: bool


@dataclass(frozen=True)
class Planned:
    """One forked test run (``run_forked_many``): the tests in ``test_files`` of the kit at ``root``."""

    root: Path
    test_files: tuple[str, ...]
    timeout: float = 900
    fresh: tuple[str, ...] = KIT_MODULES
    extra: tuple[str, ...] = ()
    group: bool = False
    bytecode: bool = True


@dataclass
class _Started:
    key: Any
    planned: Planned
    running: forking.Running
    folder: tempfile.TemporaryDirectory[str]

    @property
    def record_path(self) -> Path:
        return Path(self.folder.name) / "record.jsonl"


def _start(key: Any, planned: Planned, target: str, weights: settings.Weights) -> _Started:
    folder = tempfile.TemporaryDirectory(prefix="facekit-run-")
    path = Path(folder.name) / "record.jsonl"
    child_env = {**test_env(Path(planned.root), settings.Choice(target, weights)), RECORD_ENV: str(path)}
    args = pytest_args(list(planned.test_files), *planned.extra)

    def child() -> int:
        enter(
            Child(
                Path(planned.root), child_env, planned.fresh, bytecode=planned.bytecode, session=planned.group
            )
        )
        return in_process(args)

    try:
        running = forking.start(child, planned.timeout, group=planned.group)
    except BaseException:
        folder.cleanup()
        raise
    return _Started(key, planned, running, folder)


def run_forked_many(
    target: str, weights: settings.Weights, planned: Iterable[tuple[K, Planned]], jobs: int
) -> Generator[tuple[K, Forked], None, None]:
    """Each planned run in a fork of this process (which imported what the tests need once, and
    ran no torch code: facekit.harness.forking), at most ``jobs`` at a time; ``(key, how it
    ended)`` as each ends. ``planned`` is read only when a run can start, so a caller's generator
    may prepare each run's folder just in time (and remove it when its result comes back)."""
    waiting = iter(planned)
    running: list[_Started] = []
    try:
        while True:
            while len(running) < max(1, jobs) and (nxt := next(waiting, None)) is not None:
                running.append(_start(*nxt, target, weights))
            if not running:
                return
            ended = [(s, result) for s in running if (result := s.running.poll()) is not None]
            if not ended:
                time.sleep(forking.POLL_S)
            for started, (code, timed_out) in ended:
                running.remove(started)
                files = " ".join(started.planned.test_files)
                why = f"the test run ended before writing its results; `pytest {files}` shows why"
                record = stopped(read(started.record_path), code, timed_out=timed_out, why=why)
                started.folder.cleanup()
                yield started.key, Forked(record, code, timed_out)
    finally:  # Ctrl-C, an error, a caller that stopped reading: no child outlives this call
        for started in running:
            started.running.kill()
            started.folder.cleanup()


def run_forked(
    root: Path,
    target: str,
    test_files: list[str],
    weights: settings.Weights,
    timeout: float = 900,
    *,
    fresh: tuple[str, ...] = KIT_MODULES,
    extra: tuple[str, ...] = (),
    group: bool = False,
    bytecode: bool = True,
) -> Forked:
    """``run_tests`` in a fork of this process (``run_forked_many`` with one run)."""
    planned = Planned(Path(root), tuple(test_files), timeout, fresh, extra, group, bytecode)
    return next(run_forked_many(target, weights, [(None, planned)], 1))[1]
