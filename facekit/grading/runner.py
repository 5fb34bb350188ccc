"""Running one submission's tests in a process of its own, and many of them in parallel.

Two ways to start that process, with the same limits, environment and record:

- ``fork`` (Linux): a worker process (``python -m facekit.grading.worker``) imports torch,
  timm, pytest and friends once, then forks one child per submission. The child drops every
  module of the kit, so it imports the workspace's own copy, and runs pytest in-process. The
  start-up cost is paid once per worker, and no process ever runs two submissions' code.
  Where bubblewrap runs, each worker is in a jail of its own (facekit.grading.jail), PID 1
  of its namespace, and kills every other process there after each submission.
- ``subprocess``: a fresh ``python -m pytest`` per submission (the naive way; macOS, Windows).

Either way the child gets its own session, a wall-clock timeout, a memory limit (RLIMIT_AS:
every mapping, shared ones too, beyond what the process had when it started), a cap on the
size of any file it writes, its output in a file of which only the tail is read, stdin
closed, and the environment the grader built (scratch HOME and TMPDIR, HF_HUB_OFFLINE=1). Its
record comes back through a pipe, read as it is written: what was sent cannot be taken back.
Whoever runs the job (the worker, or run_job for the subprocess way) builds the submission's
workspace first, from the prepared kit, and checks the copy against the kit's manifest.
The worker never imports student code; neither does the grader's own process.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from facekit.harness import forking, record
from facekit.harness import run as runs

RECORD_LIMIT = 32 * 1024 * 1024  # bytes of record read back: a flood of fake lines is cut here
OUTPUT_TAIL = 4000
READ_GRACE = 2.0  # seconds to wait for the record's end after the child is gone
TIMEOUTS_ENV = "FACEKIT_GRADE_TIMEOUTS"  # JSON for the plugin: test file -> seconds each test may run
# The plugin's other inputs, named here so that the grader never imports the plugin, whose import
# puts its refusing import hook in front of the importing process's imports.
SENTINELS_ENV = "FACEKIT_GRADE_SENTINELS"
HIDE_ENV = "FACEKIT_GRADE_HIDE"  # a folder of hidden tests: deleted once they are collected


def fork_available() -> bool:
    return sys.platform.startswith("linux") and hasattr(os, "fork")


def pytest_args(job: dict) -> list[str]:
    """The pytest command line of a job (after ``python -m pytest``)."""
    mode = ["--collect-only"] if job.get("collect_only") else []
    # no:logging: no test reads log records (caplog), and its per-phase handler swaps cost
    # ~0.2 s a submission. --tb=native: the record keeps each failure's first line only, and
    # pytest's own tracebacks parse every file in them (~15 ms a failure). Both runners get
    # the same arguments.
    # The tree and the weights: in job["env"] (workspace.env), read by the plugin at configure.
    return runs.pytest_args(
        list(job["test_files"]),
        "-p",
        "facekit.grading.plugin",
        "-p",
        "no:logging",
        "--tb=native",
        *mode,
    )


def _address_space() -> int:
    """Bytes of address space this process has mapped now (0 where /proc cannot say)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _limits(memory_mb: int | None, file_mb: int | None) -> None:
    import resource

    if memory_mb:
        # RLIMIT_AS counts every mapping, shared anonymous memory too (RLIMIT_DATA does not):
        # memory_mb beyond what the process has mapped when it starts (a fork of a worker
        # that imported torch has mapped much already; none of it is the submission's).
        size = _address_space() + memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (size, size))
    if file_mb:
        size = file_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def set_dumpable(value: bool) -> None:
    """prctl(PR_SET_DUMPABLE): whether processes of the same user may trace this one (Linux)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(4, int(value), 0, 0, 0)  # 4: PR_SET_DUMPABLE
    except (OSError, AttributeError):
        pass


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class _Pipe:
    """The record's pipe: a thread reads it as the child writes (a full pipe would stall the
    child), up to RECORD_LIMIT bytes, until the end or ``stop()``."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()
        self.data = bytearray()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.read_fd], [], [], 0.1)
            if not ready:
                continue
            chunk = os.read(self.read_fd, 65536)
            if not chunk:
                return
            if len(self.data) < RECORD_LIMIT:
                self.data += chunk[: RECORD_LIMIT - len(self.data)]

    def close_writer(self) -> None:
        if self.write_fd >= 0:
            os.close(self.write_fd)
            self.write_fd = -1

    def finish(self) -> list[str]:
        """The lines, once every writer closed it or READ_GRACE passed (something the child
        started may still hold it open; it is killed, and its lines do not count)."""
        self.close_writer()
        self._thread.join(READ_GRACE)
        self._stop.set()
        self._thread.join()
        os.close(self.read_fd)
        return bytes(self.data).decode("utf-8", "replace").splitlines()


def _tail(output: IO[bytes]) -> str:
    output.seek(0, os.SEEK_END)
    size = output.tell()
    output.seek(max(0, size - OUTPUT_TAIL))
    return output.read().decode("utf-8", "replace")


def parse_record(lines: list[str]) -> dict:
    """The streamed record (facekit.harness.record.parse) as the dict grading passes around:
    the one place grading reads the recorder's lines."""
    run = record.parse(lines)
    return {
        "tests": {
            nodeid: {
                "outcome": t.outcome.value,
                "message": t.error if t.failed else None,
                "detail": (t.message or None) if t.failed else None,
                "todo": list(t.todo) if t.todo else None,
            }
            for nodeid, t in run.tests.items()
        },
        "collected": list(run.collected) if run.collected is not None else None,
        "functions": dict(run.functions),
        "broad": list(run.broad),
        **({"visibility": dict(run.visibility)} if run.collected is not None else {}),
        "collect_errors": list(run.collect_errors),
        "finished": run.finished,
        "exitstatus": run.exitstatus,
        # For facekit.grading.integrity: every test line in order, and the other lines' counts.
        "sequence": list(run.sequence),
        "record_meta": {
            "collected_lines": run.lines.collected,
            "finished_lines": run.lines.finished,
            "exitstatus": run.lines.exitstatus,
        },
    }


def _child(job: dict, record_fd: int, output_fd: int) -> int:  # pragma: no cover - in the fork
    set_dumpable(True)
    os.setsid()
    _limits(job.get("memory_mb"), job.get("file_mb"))
    env = {**job["env"], record.RECORD_FD_ENV: str(record_fd)}
    runs.enter(
        runs.Child(
            Path(job["workspace"]), env, output_fd=output_fd, drop_paths=tuple(job.get("drop_paths", ()))
        )
    )
    # Only the record stays open: not the worker's pipes to the grader, nor anything else.
    os.closerange(3, record_fd)
    os.closerange(record_fd + 1, 65536)
    return runs.in_process(pytest_args(job))


def build_workspace(job: dict) -> str | None:
    """The job's workspace under ``job["dir"]`` (emptied first): the prepared kit's copy with the
    student's files, HOME, TMPDIR, the weights' copy. Returns why the copy cannot be trusted
    (it differs from the kit's manifest), or None."""
    from facekit.grading import integrity, workspace

    folder = Path(job["dir"])
    empty(folder)
    files = {path: base64.b64decode(data) for path, data in job["files"].items()}
    kit = workspace.make(
        Path(job["template"]), folder, files, Path(job["standin"]) if job.get("standin") else None
    )
    (folder / "shm").mkdir()
    if job.get("manifest") is not None:
        pristine = {k: v for k, v in job["manifest"].items() if k not in files}
        changed = integrity.differences(pristine, integrity.manifest(kit, skip=set(files)))
        if changed:
            return (
                f"the prepared kit it was copied from differs from the one the grader prepared "
                f"({', '.join(changed[:3])}{' ...' if len(changed) > 3 else ''})"
            )
    return None


def empty(folder: Path) -> None:
    """Everything inside ``folder`` removed, whatever a submission left there (modes included)."""
    folder.mkdir(parents=True, exist_ok=True)

    def writable(func: Callable[[str], object], path: str, _exc: object) -> None:
        os.chmod(os.path.dirname(path), 0o700)
        if os.path.isdir(path) and not os.path.islink(path):
            os.chmod(path, 0o700)
        func(path)

    for entry in list(folder.iterdir()):
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, onerror=writable)
        else:
            entry.unlink()


def _sweep() -> None:
    """In a jail, where this process is PID 1: every other process of the namespace killed and
    reaped (what a submission started, double forks and new sessions included), and the
    namespace's shared memory emptied."""
    if os.getpid() != 1:
        return
    try:
        os.kill(-1, signal.SIGKILL)  # from PID 1: every process of the namespace but itself
    except ProcessLookupError:
        pass
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            break
    # /tmp too where it is a tmpfs of its own (jail.command: a Python under /tmp), not a link
    # into the submission's scratch.
    for shared in (Path("/dev/shm"), *([Path("/tmp")] if not Path("/tmp").is_symlink() else [])):
        try:
            empty(shared)
        except OSError:
            pass  # nothing the next submission reads


class _Watch:
    """Reads the record while the child writes it (the pipe's bytes so far) and says when the
    test file now running has used up its time (``budget`` seconds per file: one exercise's
    tests together)."""

    def __init__(self, pipe: _Pipe, budget: float):
        self.pipe, self.budget = pipe, budget
        self.pos, self.rest = 0, b""
        self.order: list[str] | None = None
        self.index, self.reported = 0, set[str]()
        self.file: str | None = None
        self.since = time.monotonic()

    def __call__(self) -> bool:
        if len(self.pipe.data) > self.pos:
            chunk = bytes(self.pipe.data[self.pos :])
            self.pos += len(chunk)
            *lines, self.rest = (self.rest + chunk).split(b"\n")
            for line in lines:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if isinstance(entry, dict) and isinstance(entry.get("test"), str):
                    self.reported.add(entry["test"])
                elif (
                    isinstance(entry, dict)
                    and isinstance(entry.get("collected"), list)
                    and self.order is None
                ):
                    self.order = [str(n) for n in entry["collected"]]
            while self.order and self.index < len(self.order) and self.order[self.index] in self.reported:
                self.index += 1
            running = (
                self.order[self.index].split("::")[0] if self.order and self.index < len(self.order) else None
            )
            if running != self.file:  # the next file's clock starts when the last one's test reports
                self.file, self.since = running, time.monotonic()
        return time.monotonic() - self.since > self.budget


def _run_once(job: dict, mode: str) -> dict:
    """One test process over ``job["test_files"]`` in the built workspace: its record, and how it ended."""
    started = time.monotonic()
    files = max(1, len(job["test_files"]))
    # A collecting run has one limit; a grading run, ``timeout`` per test file (the watch).
    deadline = started + float(job["timeout"]) * (1 if job.get("collect_only") else files)
    pipe = _Pipe()
    read = False  # the pipe finished (else the finally below finishes it)
    watch = None if job.get("collect_only") else _Watch(pipe, float(job["timeout"]))
    try:
        with tempfile.TemporaryFile() as output:
            if mode == "fork":

                def child() -> int:
                    os.close(pipe.read_fd)
                    return _child(job, pipe.write_fd, output.fileno())

                # The fork holds the writing end; this process closes its copy once the fork has
                # its own (run_forked returns after the child ended: closed then at the latest).
                code, timed_out = forking.run_forked(
                    child, max(0.0, deadline - time.monotonic()), group=True, expired=watch
                )
                _sweep()
            elif mode == "subprocess":
                env = {**job["env"], record.RECORD_FD_ENV: str(pipe.write_fd)}
                proc = subprocess.Popen(
                    [sys.executable, "-m", "pytest", *pytest_args(job)],
                    cwd=job["workspace"],
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=output,
                    pass_fds=(pipe.write_fd,),
                    start_new_session=True,
                    preexec_fn=lambda: _limits(job.get("memory_mb"), job.get("file_mb")),
                )
                pipe.close_writer()
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
            lines = pipe.finish()
            read = True
            tail = _tail(output)
    finally:
        if not read:
            pipe.finish()
    result = parse_record(lines)
    result.update(
        returncode=code, timed_out=timed_out, seconds=round(time.monotonic() - started, 3), output_tail=tail
    )
    return result


def run_job(job: dict, mode: str = "fork") -> dict:
    """Run one job (a workspace, its tests, limits, env); the parsed record plus how it ended.

    A test process that crashes, exits, is stopped by the student's code or runs past one test
    file's ``timeout`` costs the rest of that file (one exercise's tests): a new process runs
    the files after it. ``interrupted`` lists each stop; the first one's ``timed_out``,
    ``returncode`` and ``output_tail`` are the result's (facekit.grading.report.status_of). The
    records' test lines are joined in order (facekit.grading.integrity checks them as one).
    """
    started = time.monotonic()
    if job.get("files") is not None:
        problem = build_workspace(job)
        if problem:
            return {
                **parse_record([]),
                "returncode": None,
                "timed_out": False,
                "kit_changed": problem,
                "seconds": round(time.monotonic() - started, 3),
                "output_tail": "",
            }
    try:
        if job.get("collect_only"):
            return _run_once(job, mode)
        files = list(job["test_files"])
        total = {**parse_record([]), "interrupted": []}
        first_stop = None
        while True:
            part = _run_once({**job, "test_files": files}, mode)
            total["tests"].update({k: v for k, v in part["tests"].items() if k not in total["tests"]})
            total["sequence"] += part["sequence"]
            for key in ("collected_lines", "finished_lines"):
                total["record_meta"][key] = max(total["record_meta"][key], part["record_meta"][key])
            total["record_meta"]["exitstatus"] = part["record_meta"]["exitstatus"]
            if part["collected"] is not None:
                known = set(total["collected"] or ())
                total["collected"] = (total["collected"] or []) + [
                    n for n in part["collected"] if n not in known
                ]
            if part.get("visibility"):
                total.setdefault("visibility", {}).update(part["visibility"])
            total["functions"].update(part["functions"])
            total["broad"] = sorted(set(total["broad"]) | set(part["broad"]))
            total["collect_errors"] += part["collect_errors"]
            unreported = [n for n in part["collected"] or () if n not in part["tests"]]
            stopped = part["timed_out"] or not part["finished"] or bool(unreported)
            if stopped and first_stop is None:
                first_stop = {**part, "reported": len(total["tests"])}
            last = part
            if not unreported:
                break
            during = unreported[0]
            where = during.split("::")[0]
            lost = sum(n.split("::")[0] == where for n in unreported)
            total["interrupted"].append(
                {
                    "file": where,
                    "during": during,
                    "lost": lost,
                    "how": "timeout" if part["timed_out"] else "crashed",
                }
            )
            rest = files[files.index(where) + 1 :] if where in files else []
            if not rest:
                break
            files = rest
        stop = first_stop or last
        total.update(
            finished=first_stop is None and last["finished"],
            exitstatus=last["exitstatus"],
            returncode=stop["returncode"],
            timed_out=stop["timed_out"],
            output_tail=stop["output_tail"],
            seconds=round(time.monotonic() - started, 3),
        )
        if first_stop is not None:
            total["reported_when_stopped"] = first_stop["reported"]
        return total
    finally:
        if job.get("files") is not None and job.get("clean", True):
            empty(Path(job["dir"]))


# -- many jobs -----------------------------------------------------------------------------------


class _Worker:
    """A ``python -m facekit.grading.worker`` process: one JSON job in, one JSON result out."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path):
        self.log = open(log, "ab")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, env=env
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None  # both PIPE
        self.stdin: IO[bytes] = self.proc.stdin
        self.stdout: IO[bytes] = self.proc.stdout

    def run(self, job: dict[str, Any], margin: float) -> dict[str, Any] | None:
        """The result, or None when the worker died or stopped answering (it is then killed)."""
        # The child's own limit is ``timeout`` per test file (facekit.grading.runner.run_job).
        files = 1 if job.get("collect_only") else max(1, len(job.get("test_files") or ()))
        timer = threading.Timer(float(job["timeout"]) * files + margin, self.proc.kill)
        timer.start()
        try:
            self.stdin.write((json.dumps(job) + "\n").encode())
            self.stdin.flush()
            line = self.stdout.readline()
        except (BrokenPipeError, OSError):
            line = b""
        finally:
            timer.cancel()
        if not line:
            self.close()
            return None
        result: dict[str, Any] = json.loads(line)
        return result

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.stdin.close()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def worker_env(template: Path) -> dict:
    """A worker's environment without a jail: the prepared kit (never the instructor's, which
    holds solutions/) first on the path, one thread each, offline."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(template), env.get("PYTHONPATH")) if p)
    env["HF_HUB_OFFLINE"] = "1"
    env.setdefault("OMP_NUM_THREADS", "1")  # -j processes share the cores
    return env


def jailed_worker(jail_spec: dict) -> tuple[list[str], dict]:
    """(argv, env) of a worker in a jail: a minimal environment, the prepared kit at /kit."""
    from facekit.grading import jail

    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "PYTHONPATH": jail.KIT,
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "HOME": jail.JOB,
    }
    argv = jail.command(
        [sys.executable, "-m", "facekit.grading.worker"],
        Path(jail_spec["kit"]),
        env,
        [Path(p) for p in jail_spec["exclude"]],
        jail_spec.get("standin"),
        jail_spec.get("hub"),
    )
    return argv, {}


def run_all(
    jobs: list[tuple[Any, dict[str, Any]]],
    *,
    workers: int,
    mode: str,
    template: Path,
    prepare: Callable[[Any, dict[str, Any], Path], dict[str, Any]] | None = None,
    done: Callable[[Any, dict[str, Any], dict[str, Any]], None] | None = None,
    log_dir: Path | None = None,
    startup_margin: float = 120.0,
    jail_spec: dict[str, Any] | None = None,
) -> None:
    """Run ``(key, job)`` pairs on ``workers`` parallel workers; call ``done(key, job, result)`` for each.

    ``prepare(key, job, folder)`` runs just before a job and returns the job to run, its
    workspace to be built in ``folder`` (the lane's: ``/job`` inside a jail), or a finished
    result instead (a refused submission). A worker that dies or stops answering gives its job
    a "worker died" result and is replaced. ``jail_spec`` (fork only): each worker in a jail
    (facekit.grading.jail) with these binds: ``kit``, ``standin``, ``hub``, ``exclude``.
    """
    from facekit.grading import jail

    todo: queue.Queue = queue.Queue()
    for item in jobs:
        todo.put(item)
    log_dir = Path(log_dir or tempfile.gettempdir())
    lock = threading.Lock()
    errors: list[BaseException] = []

    def lane(number: int) -> None:
        worker = None
        folder = Path(jail.JOB) if jail_spec else log_dir / f"lane-{number}"
        try:
            while True:
                try:
                    key, job = todo.get_nowait()
                except queue.Empty:
                    return
                result = prepare(key, job, folder) if prepare else job
                if isinstance(result, dict) and "workspace" in result:
                    job = result
                    if mode == "fork":
                        if worker is None:
                            argv, env = (
                                jailed_worker(jail_spec)
                                if jail_spec
                                else ([sys.executable, "-m", "facekit.grading.worker"], worker_env(template))
                            )
                            worker = _Worker(argv, env, log_dir / f"worker-{number}.log")
                        started = time.monotonic()
                        result = worker.run(job, startup_margin)
                        if result is None:
                            worker = None
                            result = {
                                **parse_record([]),
                                "returncode": None,
                                "timed_out": False,
                                "worker_died": True,
                                "seconds": round(time.monotonic() - started, 3),
                                "output_tail": "",
                            }
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
            if not jail_spec:
                shutil.rmtree(folder, ignore_errors=True)

    threads = [threading.Thread(target=lane, args=(n,), daemon=True) for n in range(max(1, workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(0.2)  # a short join keeps Ctrl-C working
    if errors:
        raise errors[0]
