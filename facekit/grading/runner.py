"""Running one submission's tests in a process of its own, and many of them in parallel.

Two ways to start that process, with the same limits, environment and record:

- ``fork`` (Linux): a worker process (``python -m facekit.grading.worker``) imports torch,
  timm, pytest and friends once, then forks one child per submission. The child drops every
  module of the kit, so it imports the workspace's own copy, and runs pytest in-process. The
  start-up cost is paid once per worker, and no process ever runs two submissions' code.
- ``subprocess``: a fresh ``python -m pytest`` per submission (the naive way; macOS, Windows).

Either way the child gets its own session (so everything it starts is killed with it), a
wall-clock timeout, a memory limit (RLIMIT_DATA: heap and anonymous memory), a cap on the
size of any file it writes, its output in a file of which only the tail is read, stdin
closed, and the environment the grader built (scratch HOME and TMPDIR, HF_HUB_OFFLINE=1).
The worker never imports student code; neither does the grader's own process.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from facekit import forking

RECORD_LIMIT = 32 * 1024 * 1024  # bytes of record read back: a flood of fake lines is cut here
OUTPUT_TAIL = 4000
TIMEOUTS_ENV = "FACEKIT_GRADE_TIMEOUTS"  # JSON for the plugin: test file -> seconds each test may run

def fork_available() -> bool:
    return sys.platform.startswith("linux") and hasattr(os, "fork")


def pytest_args(job: dict) -> list[str]:
    """The pytest command line of a job (after ``python -m pytest``)."""
    mode = ["--collect-only"] if job.get("collect_only") else []
    # no:logging: no test reads log records (caplog), and its per-phase handler swaps cost
    # ~0.2 s a submission. --tb=native: the record keeps each failure's first line only, and
    # pytest's own tracebacks parse every file in them (~15 ms a failure). Both runners get
    # the same arguments.
    return ["-q", "-p", "facekit.grading.plugin", "-p", "no:cacheprovider", "-p", "no:logging", "--tb=native",
            *mode,
            "--target=exercises", f"--weights={job['weights']}", *job["test_files"]]


def _limits(memory_mb: int | None, file_mb: int | None) -> None:
    import resource

    if memory_mb:
        size = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_DATA, (size, size))
    if file_mb:
        size = file_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _read_back(record, output) -> tuple[list[str], str]:
    record.seek(0)
    lines = record.read(RECORD_LIMIT).decode("utf-8", "replace").splitlines()
    output.seek(0, os.SEEK_END)
    size = output.tell()
    output.seek(max(0, size - OUTPUT_TAIL))
    return lines, output.read().decode("utf-8", "replace")


def parse_record(lines: list[str]) -> dict:
    """The streamed record (facekit.grading.plugin) as one dict; lines that do not parse are skipped."""
    result = {"tests": {}, "collected": None, "functions": {}, "broad": [], "collect_errors": [],
              "finished": False, "exitstatus": None}
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict):
            continue
        if isinstance(entry.get("test"), str):
            result["tests"].setdefault(entry["test"], {
                "outcome": entry.get("outcome") if entry.get("outcome") in ("passed", "failed", "skipped") else "failed",
                "message": str(entry.get("message") or "")[:500] or None,
                "detail": str(entry.get("detail") or "")[:2000] or None,
                "todo": entry.get("todo") if isinstance(entry.get("todo"), list) else None})
        elif isinstance(entry.get("collected"), list) and result["collected"] is None:
            result["collected"] = [str(n) for n in entry["collected"]]
            if isinstance(entry.get("functions"), dict):
                result["functions"] = {str(k): str(v) for k, v in entry["functions"].items()}
            if isinstance(entry.get("broad"), list):
                result["broad"] = [str(n) for n in entry["broad"]]
        elif "collect_error" in entry:
            result["collect_errors"].append(f"{entry['collect_error']}: {entry.get('message', '')}")
        elif entry.get("finished") is True:
            result["finished"] = True
            result["exitstatus"] = entry.get("exitstatus")
    return result


def _child(job: dict, record_fd: int, output_fd: int) -> int:  # pragma: no cover - in the fork
    os.setsid()
    _limits(job.get("memory_mb"), job.get("file_mb"))
    sys.stdout.flush()
    sys.stderr.flush()
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    # Only the record stays open: not the worker's pipes to the grader, nor anything else.
    os.closerange(3, record_fd)
    os.closerange(record_fd + 1, 65536)
    os.chdir(job["workspace"])
    os.environ.clear()
    os.environ.update(job["env"])
    os.environ["FACEKIT_GRADE_FD"] = str(record_fd)
    tempfile.tempdir = None  # computed again from TMPDIR
    workspace = str(Path(job["workspace"]))
    drop = {"", os.getcwd(), *job.get("drop_paths", ())}
    sys.path[:] = [workspace] + [p for p in sys.path if p not in drop]
    forking.drop_modules()
    import pytest

    code = pytest.main(pytest_args(job))
    sys.stdout.flush()
    sys.stderr.flush()
    return int(code)


class _Watch:
    """Reads the record while the child writes it and says when the test file now running has
    used up its time (``budget`` seconds per file: one exercise's tests together).

    It reads with os.pread: a forked child shares the file's offset, which a seek would move.
    """

    def __init__(self, fd: int, budget: float):
        self.fd, self.budget = fd, budget
        self.pos, self.rest = 0, b""
        self.order: list[str] | None = None
        self.index, self.reported = 0, set()
        self.file, self.since = None, time.monotonic()

    def __call__(self) -> bool:
        size = os.fstat(self.fd).st_size
        if RECORD_LIMIT > self.pos < size:
            chunk = os.pread(self.fd, min(size, RECORD_LIMIT) - self.pos, self.pos)
            self.pos += len(chunk)
            *lines, self.rest = (self.rest + chunk).split(b"\n")
            for line in lines:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if isinstance(entry, dict) and isinstance(entry.get("test"), str):
                    self.reported.add(entry["test"])
                elif isinstance(entry, dict) and isinstance(entry.get("collected"), list) and self.order is None:
                    self.order = [str(n) for n in entry["collected"]]
            while self.order and self.index < len(self.order) and self.order[self.index] in self.reported:
                self.index += 1
            running = self.order[self.index].split("::")[0] if self.order and self.index < len(self.order) else None
            if running != self.file:  # the next file's clock starts when the last one's test reports
                self.file, self.since = running, time.monotonic()
        return time.monotonic() - self.since > self.budget


def _run_once(job: dict, mode: str) -> dict:
    """One test process over ``job["test_files"]``: its record, and how it ended."""
    started = time.monotonic()
    files = max(1, len(job["test_files"]))
    # A collecting run has one limit; a grading run, ``timeout`` per test file (the watch).
    limit = float(job["timeout"]) * (1 if job.get("collect_only") else files)
    deadline = started + limit
    with tempfile.TemporaryFile() as record, tempfile.TemporaryFile() as output:
        watch = None if job.get("collect_only") else _Watch(record.fileno(), float(job["timeout"]))
        if mode == "fork":
            code, timed_out = forking.run_forked(lambda: _child(job, record.fileno(), output.fileno()),
                                                 max(0.0, deadline - time.monotonic()), group=True,
                                                 expired=watch)
        elif mode == "subprocess":
            env = dict(job["env"], FACEKIT_GRADE_FD=str(record.fileno()))
            proc = subprocess.Popen(
                [sys.executable, "-m", "pytest", *pytest_args(job)], cwd=job["workspace"], env=env,
                stdin=subprocess.DEVNULL, stdout=output, stderr=output, pass_fds=(record.fileno(),),
                start_new_session=True,
                preexec_fn=lambda: _limits(job.get("memory_mb"), job.get("file_mb")))
            try:
                timed_out = False
                while proc.poll() is None:
                    if time.monotonic() > deadline or (watch is not None and watch()):
                        timed_out = True
                        break
                    time.sleep(0.02)
            except BaseException:
                _kill_group(proc.pid)
                proc.wait()
                raise
            _kill_group(proc.pid)
            code = proc.wait()
        else:
            raise ValueError(f"runner must be 'fork' or 'subprocess'; got {mode!r}")
        lines, tail = _read_back(record, output)
    result = parse_record(lines)
    result.update(returncode=code, timed_out=timed_out, seconds=round(time.monotonic() - started, 3),
                  output_tail=tail)
    return result


def run_job(job: dict, mode: str = "fork") -> dict:
    """Run one job (a workspace, its tests, limits, env); the parsed record plus how it ended.

    A test process that crashes, exits, is stopped by the student's code or runs past one test
    file's ``timeout`` costs the rest of that file (one exercise's tests): a new process runs
    the files after it. ``interrupted`` lists each stop; the first one's ``timed_out``,
    ``returncode`` and ``output_tail`` are the result's (facekit.grading.report.status_of).
    """
    if job.get("collect_only"):
        return _run_once(job, mode)
    started = time.monotonic()
    files = list(job["test_files"])
    total = {**parse_record([]), "interrupted": []}
    first_stop = None
    while True:
        part = _run_once({**job, "test_files": files}, mode)
        total["tests"].update({k: v for k, v in part["tests"].items() if k not in total["tests"]})
        if part["collected"] is not None:
            known = set(total["collected"] or ())
            total["collected"] = (total["collected"] or []) + [n for n in part["collected"] if n not in known]
        total["functions"].update(part["functions"])
        total["broad"] = sorted(set(total["broad"]) | set(part["broad"]))
        total["collect_errors"] += part["collect_errors"]
        unreported = [n for n in part["collected"] or () if n not in part["tests"]]
        stopped = part["timed_out"] or not part["finished"] or bool(unreported)
        if stopped and first_stop is None:
            first_stop = {**part, "reported": len(total["tests"])}
        if not unreported:
            last = part
            break
        during = unreported[0]
        where = during.split("::")[0]
        lost = sum(n.split("::")[0] == where for n in unreported)
        total["interrupted"].append({"file": where, "during": during, "lost": lost,
                                     "how": "timeout" if part["timed_out"] else "crashed"})
        rest = files[files.index(where) + 1:] if where in files else []
        last = part
        if not rest:
            break
        files = rest
    stop = first_stop or last
    total.update(finished=first_stop is None and last["finished"], exitstatus=last["exitstatus"],
                 returncode=stop["returncode"], timed_out=stop["timed_out"], output_tail=stop["output_tail"],
                 seconds=round(time.monotonic() - started, 3))
    if first_stop is not None:
        total["reported_when_stopped"] = first_stop["reported"]
    return total


# -- many jobs -----------------------------------------------------------------------------------


class _Worker:
    """A ``python -m facekit.grading.worker`` process: one JSON job in, one JSON result out."""

    def __init__(self, env: dict, log: Path):
        self.log = open(log, "ab")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen([sys.executable, "-m", "facekit.grading.worker"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
                                     env=env)

    def run(self, job: dict, margin: float) -> dict | None:
        """The result, or None when the worker died or stopped answering (it is then killed)."""
        # The child's own limit is ``timeout`` per test file (facekit.grading.runner.run_job).
        files = 1 if job.get("collect_only") else max(1, len(job["test_files"]))
        timer = threading.Timer(float(job["timeout"]) * files + margin, self.proc.kill)
        timer.start()
        try:
            self.proc.stdin.write((json.dumps(job) + "\n").encode())
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        except (BrokenPipeError, OSError):
            line = b""
        finally:
            timer.cancel()
        if not line:
            self.close()
            return None
        return json.loads(line)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def worker_env(kit_root: Path) -> dict:
    """The workers' environment: the grader's kit first on the path, one thread each, offline."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(kit_root), env.get("PYTHONPATH")) if p)
    env["HF_HUB_OFFLINE"] = "1"
    env.setdefault("OMP_NUM_THREADS", "1")  # -j processes share the cores
    return env


def run_all(jobs: list[tuple[object, dict]], *, workers: int, mode: str, kit_root: Path,
            prepare=None, done=None, log_dir: Path | None = None, startup_margin: float = 120.0):
    """Run ``(key, job)`` pairs on ``workers`` parallel workers; call ``done(key, result)`` for each.

    ``prepare(key, job)`` runs just before a job (it builds the workspace) and may return a
    finished result instead (a refused submission). A worker that dies or stops answering
    gives its job a "worker died" result and is replaced.
    """
    todo: queue.Queue = queue.Queue()
    for item in jobs:
        todo.put(item)
    log_dir = Path(log_dir or tempfile.gettempdir())
    lock = threading.Lock()
    errors: list[BaseException] = []

    def lane(number: int) -> None:
        worker = None
        try:
            while True:
                try:
                    key, job = todo.get_nowait()
                except queue.Empty:
                    return
                result = prepare(key, job) if prepare else None
                if result is None:
                    if mode == "fork":
                        if worker is None:
                            worker = _Worker(worker_env(kit_root), log_dir / f"worker-{number}.log")
                        started = time.monotonic()
                        result = worker.run(job, startup_margin)
                        if result is None:
                            worker = None
                            result = {**parse_record([]), "returncode": None, "timed_out": False,
                                      "worker_died": True, "seconds": round(time.monotonic() - started, 3),
                                      "output_tail": ""}
                    else:
                        result = run_job(job, "subprocess")
                with lock:
                    if done:
                        done(key, job, result)
        except BaseException as err:  # noqa: BLE001 - handed to the caller's thread
            errors.append(err)
        finally:
            if worker is not None:
                worker.close()

    threads = [threading.Thread(target=lane, args=(n,), daemon=True) for n in range(max(1, workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(0.2)  # a short join keeps Ctrl-C working
    if errors:
        raise errors[0]
