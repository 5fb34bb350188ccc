"""The warm worker (facekit.worker): same answers as a cold run, owner-only, and it goes away.

Every test that starts a worker stops it at teardown (the ``workers`` fixture), and points
FACEKIT_STATE at a folder of its own, so the checkout's .facekit/ is never touched. Most
start it with ``--no-imports`` (no torch: its lifecycle is what they test); the comparison of
warm and cold output uses a real one.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from facekit import course, state_file, worker
from facekit.worker import client

ROOT = course.repo_root()
pytestmark = pytest.mark.skipif(not worker.supported(), reason="the worker runs where fork is safe (Linux)")


def wait_for(condition, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"waited {timeout:g} s for {what}")


def alive(pid: int) -> bool:
    """Running (a zombie, dead but not yet reaped, does not count)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def group_members(pgid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


class Workers:
    """Start workers for one test, each with its own environment; all stopped at teardown."""

    def __init__(self, tmp_path: Path):
        self.tmp = tmp_path
        self.procs: list[subprocess.Popen] = []
        self.state = tmp_path / "state"
        self.state.mkdir()
        self.env = {k: v for k, v in os.environ.items() if k != worker.NO_WORKER_ENV}
        self.env[state_file.STATE_ENV] = str(self.state / "state.json")
        self.log = self.state / "test-worker.log"

    def start(self, root: Path = ROOT, *, imports: bool = False, env: dict | None = None) -> subprocess.Popen:
        env = {**self.env, **(env or {})}
        with open(self.log, "ab") as log:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "facekit.cli.worker_process",
                    worker.MARK,
                    str(root),
                    *([] if imports else ["--no-imports"]),
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        self.procs.append(proc)
        info = self.state / worker.INFO
        wait_for(
            lambda: (
                info.exists()
                and f'"pid": {proc.pid},' in info.read_text()
                and (self.state / worker.SOCKET).exists()
            ),
            f"worker {proc.pid} to listen",
        )
        return proc

    def facekit(self, *argv: str, **kwargs) -> subprocess.CompletedProcess:
        kwargs.setdefault("env", self.env)
        return subprocess.run(
            [sys.executable, "-m", "facekit", *argv],
            check=False,
            cwd=ROOT,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=600,
            **kwargs,
        )

    def served(self) -> list[int]:
        """The pids of the children the workers forked for commands (their log)."""
        text = self.log.read_text() if self.log.exists() else ""
        return [int(pid) for pid in re.findall(r"child (\d+): facekit", text)]

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)


@pytest.fixture
def workers(tmp_path):
    w = Workers(tmp_path)
    yield w
    w.stop_all()


def masked(text: str) -> str:
    """Output with its timings (``(2.7 s)``) left out: the only thing two runs may differ in."""
    return re.sub(r"\(\d+\.\d s\)", "(N s)", text)


def test_a_warm_check_prints_what_a_cold_check_prints_byte_for_byte(workers):
    """Exercise 03's tests on the untouched stubs (failing, exit 1) and on the reference (exit 0)."""
    workers.start(imports=True)
    for target, code in (("exercises", 1), ("solutions", 0)):
        argv = ("check", "ex03_similarity", "--target", target)
        served = len(workers.served())
        cold = workers.facekit(*argv, "--no-worker")
        warm = workers.facekit(*argv)
        assert len(workers.served()) == served + 1, f"the worker did not answer `facekit {' '.join(argv)}`"
        for what, a, b in (("stdout", cold.stdout, warm.stdout), ("stderr", cold.stderr, warm.stderr)):
            assert masked(a) == masked(b), (
                f"facekit {' '.join(argv)}: {what} differs cold vs warm:\n{a}\n---\n{b}"
            )
        assert (cold.returncode, warm.returncode) == (code, code), (
            f"facekit {' '.join(argv)}: exit codes cold {cold.returncode}, warm {warm.returncode}, expected {code}"
        )


def test_the_socket_is_owner_only_and_stop_leaves_no_process(workers):
    proc = workers.start()
    path = workers.state / worker.SOCKET
    mode = path.stat().st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600, (
        f"{path}: mode {oct(mode)}, expected a socket 0600"
    )
    status = workers.facekit("worker", "status")
    assert f"pid {proc.pid}" in status.stdout, (
        f"`facekit worker status` does not name pid {proc.pid}: {status.stdout}"
    )
    stopped = workers.facekit("worker", "stop")
    assert f"pid {proc.pid}" in stopped.stdout and proc.wait(10) is not None, stopped.stdout
    assert not path.exists() and not (workers.state / worker.INFO).exists(), (
        "stop left the socket or worker.json"
    )
    again = workers.facekit("worker", "status")
    assert "No worker is running" in again.stdout, again.stdout


def test_two_commands_at_once_are_both_answered(workers):
    workers.start()
    argv = [sys.executable, "-m", "facekit", "hint", "ex01_images", "load_image"]
    procs = [
        subprocess.Popen(
            argv,
            cwd=ROOT,
            env=workers.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert all("for load_image() (ex01_images)" in out for out, _ in outs), outs
    assert len(workers.served()) == 2, f"expected the worker to answer both, it answered {workers.served()}"


def test_ctrl_c_in_the_caller_ends_its_run_and_everything_the_run_started(workers):
    """A worker without torch runs the check's tests in a subprocess: slow enough to interrupt."""
    workers.start()
    caller = subprocess.Popen(
        [sys.executable, "-m", "facekit", "check", "ex01_images"],
        cwd=ROOT,
        env=workers.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    child = wait_for(lambda: workers.served(), "the worker to start the command")[0]
    wait_for(lambda: len(group_members(child)) > 1, "the check to start its test run")
    caller.send_signal(signal.SIGINT)
    caller.wait(timeout=60)
    wait_for(lambda: not group_members(child), f"the run's processes (group {child}) to end", timeout=5)
    out, err = caller.communicate(timeout=60)  # returns once every writer (the run too) is gone
    assert caller.returncode == 130 and err == "facekit: interrupted\n", (caller.returncode, err)
    assert "tests pass" not in out, f"the interrupted run went on and reported:\n{out}"


def test_a_dead_workers_socket_is_replaced_without_a_word(workers):
    path = workers.state / worker.SOCKET
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(path))
    dead.close()  # the file stays, nobody listens: what a killed worker leaves
    os.environ[state_file.STATE_ENV] = workers.env[state_file.STATE_ENV]
    try:
        assert client.run(ROOT, ["hint", "ex01_images"]) is None, "a stale socket must mean: run it cold"
    finally:
        del os.environ[state_file.STATE_ENV]
    proc = workers.start()
    answer = workers.facekit("hint", "ex01_images", "load_image")
    assert answer.returncode == 0 and workers.served(), (answer, workers.served())
    proc.kill()  # killed outright: the next command runs cold, answers, and says nothing about it
    proc.wait(10)
    after = workers.facekit("hint", "ex01_images", "load_image")
    assert after.returncode == 0 and "Hint" in after.stdout and not after.stderr, after


def test_a_caller_with_another_environment_replaces_the_worker(workers):
    proc = workers.start(env={"HF_HUB_DISABLE_TELEMETRY": "1"})  # read when huggingface_hub is imported
    answer = workers.facekit("hint", "ex01_images", "load_image")
    assert answer.returncode == 0 and not workers.served(), "a worker with another environment answered"
    assert proc.wait(10) is not None


def fake_kit(root: Path) -> Path:
    for name in worker.WATCHED:
        path = root / name
        if path.suffix:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("")
        else:
            path.mkdir(parents=True)
            (path / "code.py").write_text("")
    return root


@pytest.mark.parametrize("name", worker.WATCHED)
def test_the_code_digest_sees_a_change_to_each_watched_path(tmp_path, name):
    root = fake_kit(tmp_path / "kit")
    before = worker.code_digest(root)
    changed = root / name if (root / name).is_file() else root / name / "code.py"
    changed.write_text("# changed\n")
    assert worker.code_digest(root) != before, (
        f"editing {changed.relative_to(root)} left the digest unchanged"
    )


@pytest.mark.parametrize("how", ["code", "folder", "idle"])
def test_the_worker_exits_on_a_code_change_a_deleted_folder_and_when_idle(workers, tmp_path, how):
    root = fake_kit(tmp_path / "kit")
    proc = workers.start(root, env={worker.IDLE_ENV: "2" if how == "idle" else "600"})
    time.sleep(1.2)  # the worker looks once a second
    assert proc.poll() is None, f"the worker ended by itself ({proc.returncode})"
    if how == "code":
        (root / "facekit" / "code.py").write_text("# edited\n")
    elif how == "folder":
        for path in workers.state.iterdir():
            if path.name != workers.log.name:
                path.unlink()
    assert proc.wait(15) == 0
    assert not (workers.state / worker.SOCKET).exists(), "the socket outlived its worker"


def test_no_worker_where_fork_is_unsafe_or_it_is_turned_off(monkeypatch):
    monkeypatch.delenv(worker.NO_WORKER_ENV, raising=False)
    monkeypatch.setattr(sys, "platform", "darwin")
    assert not worker.supported(), "macOS must run cold"
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv(worker.NO_WORKER_ENV, "1")
    assert not client.usable(ROOT), f"{worker.NO_WORKER_ENV}=1 must run cold"


def test_the_idle_time_must_be_a_positive_number(monkeypatch):
    monkeypatch.setenv(worker.IDLE_ENV, "soon")
    with pytest.raises(
        ValueError, match=f"{worker.IDLE_ENV} must be a positive number of seconds; got 'soon'"
    ):
        worker.idle_seconds()
    monkeypatch.setenv(worker.IDLE_ENV, "90")
    assert worker.idle_seconds() == 90


def test_the_students_loop_page_says_what_the_worker_does():
    text = " ".join((ROOT / "docs" / "students" / "loop.md").read_text(encoding="utf-8").split())
    for fact in (
        f".facekit/{worker.SOCKET}",
        f"exits after {worker.DEFAULT_IDLE // 60} minutes",
        f"{worker.IDLE_ENV}=SECONDS",
        f"{worker.NO_WORKER_ENV}=1",
        "--no-worker",
        "facekit worker stop",
        "facekit worker status",
        "benchmarks/bench_loop.py",
    ):
        assert fact in text, f"docs/students/loop.md should say {fact!r} (facekit.worker)"
    phrase = "answers the next `facekit check`, `try`, `hint` and `facekit`"
    assert phrase in text, (
        f"docs/students/loop.md should name the commands the worker answers ({worker.COMMANDS}): {phrase!r}"
    )


def test_on_a_system_without_fork_and_fcntl_the_commands_run_cold_and_say_nothing(tmp_path):
    """As on Windows: no fcntl module, another platform name. The command answers as usual."""
    probe = (
        "import sys; sys.modules['fcntl'] = None; sys.platform = 'win32'\n"
        "from facekit import cli; code = cli.main(['hint', 'ex01_images', 'load_image'])\n"
        "print('worker server imported:', 'facekit.worker.server' in sys.modules, 'exit', code)"
    )
    env = {k: v for k, v in os.environ.items() if k != worker.NO_WORKER_ENV}
    env[state_file.STATE_ENV] = str(tmp_path / "state.json")
    proc = subprocess.run(
        [sys.executable, "-c", probe],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.stdout.strip().endswith("worker server imported: False exit 0") and not proc.stderr, (
        proc.stdout,
        proc.stderr,
    )
    assert "Hint 1 of" in proc.stdout, proc.stdout
    assert not (tmp_path / worker.SOCKET).exists() and not (tmp_path / worker.LOCK).exists(), (
        "a worker was started"
    )
