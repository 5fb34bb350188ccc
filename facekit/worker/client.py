"""The caller's side of the warm worker: hand a command to it, start it, stop it.

``run`` answers a command through the worker, or returns None: then the command runs cold,
as it always did, and ``start`` leaves a worker starting in the background for the next one.
Anything unexpected on the way (no worker, a dead one, a stale socket, another Python) means
None, never an error: the student only notices that the next check is faster.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from facekit import course, worker
from facekit.errors import CommandError

inside_worker = False  # set in the worker's children: they answer the command themselves
REPLY_TIMEOUT = 120.0  # a worker still importing answers within this; a stuck one is given up


def usable(root: Path) -> bool:
    """This command may go through a worker: Linux, not disabled, the kit facekit came from,
    and the process's own stdin/stdout/stderr (not a test's capture)."""
    if inside_worker or worker.disabled() or not worker.supported():
        return False
    if Path(root).resolve() != course.repo_root():
        return False
    originals = (sys.__stdin__, sys.__stdout__, sys.__stderr__)
    for number, (stream, original) in enumerate(zip((sys.stdin, sys.stdout, sys.stderr), originals)):
        try:
            if stream is not original or stream is None or stream.fileno() != number:
                return False
            os.fstat(number)
        except (OSError, ValueError, AttributeError):
            return False
    return True


def _stream_spec(stream: TextIO) -> dict:
    return {"encoding": stream.encoding, "errors": stream.errors, "line_buffering": stream.line_buffering}


def _connect(root: Path) -> socket.socket | None:
    path = worker.folder(root) / worker.SOCKET
    if not path.exists():
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with worker.address(path) as where:
            sock.connect(where)
    except OSError:  # nobody listens: a worker that died; the next one replaces the file
        sock.close()
        return None
    return sock


def _stale(root: Path, identity: dict) -> bool:
    """worker.json names a worker that cannot serve this caller: stop it (its reply would be
    'stale' after its imports; this is sooner)."""
    info = worker.read_info(root)
    if info is None or info.get("identity") == identity:
        return False
    stop(root)
    return True


def _lines(sock: socket.socket) -> Iterator[str]:
    """The worker's (then the child's) reply, line by line."""
    pending = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            return
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            yield line.decode()


def run(root: Path, argv: list[str]) -> int | None:
    """The command's exit code, answered by the worker; None: run it here (cold)."""
    identity = worker.identity(root)
    if _stale(root, identity):
        return None
    sock = _connect(root)
    if sock is None:
        return None
    with sock:
        request = {
            "op": "run",
            "argv": argv,
            "sys_argv": sys.argv,
            "cwd": os.getcwd(),
            "env": dict(os.environ),
            "path": sys.path,
            "identity": identity,
            "streams": [_stream_spec(s) for s in (sys.stdin, sys.stdout, sys.stderr)],
        }
        replies = _lines(sock)
        pid = None
        try:
            try:
                sock.settimeout(REPLY_TIMEOUT)
                socket.send_fds(sock, [worker.frame(request)], [0, 1, 2])
                first = next(replies, "")
            except OSError:
                return None
            if not first.startswith("pid "):
                return None  # stale, refused, or it died first: nothing ran, so run it here
            pid = int(first.split()[1])
            sock.settimeout(None)  # the command takes as long as its tests
            try:
                last = next(replies, "")
            except OSError:
                last = ""
        except KeyboardInterrupt:
            _kill_group(pid if pid is not None else _late_pid(sock))
            raise  # facekit.cli.main says "interrupted", as on a cold run
        if last.startswith("exit "):
            return int(last.split()[1])
        raise CommandError(
            "the background worker's run ended without an answer; "
            "`facekit --no-worker ...` runs the command without it"
        )


def _late_pid(sock: socket.socket) -> int | None:
    """Ctrl-C came before the child's pid was read: read it now if it was sent."""
    try:
        sock.setblocking(False)
        line = sock.recv(64).split(b"\n", 1)[0].decode()
        return int(line.split()[1]) if line.startswith("pid ") else None
    except (OSError, ValueError, IndexError):
        return None


def _kill_group(pid: int | None) -> None:
    if pid is None:
        return  # nothing started; a child that starts now finds the connection closed
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def start(root: Path, environ: dict | None = None) -> None:
    """Start a worker in the background unless one is running or starting (its lock is held).

    ``environ``: the caller's environment before its command changed any of it."""
    import fcntl

    home = worker.folder(root)
    try:
        worker.idle_seconds()  # a wrong FACEKIT_WORKER_IDLE: no worker (the command said nothing)
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(home / worker.LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    except (OSError, ValueError):
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return  # one is running or starting
    finally:
        os.close(fd)  # released: the worker takes it (of two starting at once, one keeps it)
    try:
        with open(home / worker.LOG, "wb") as log:
            subprocess.Popen(
                [
                    sys.executable,
                    *worker.interpreter_flags(),
                    "-m",
                    "facekit.worker",
                    str(Path(root).resolve()),
                ],
                cwd=course.repo_root(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                close_fds=True,
                env=environ,
            )
    except OSError:
        pass


def stop(root: Path, timeout: float = 5.0) -> int | None:
    """End this checkout's worker; its pid, or None when none was running."""
    info = worker.read_info(root)
    home = worker.folder(root)
    if info is None or not worker.is_worker(info["pid"], root):
        for name in (worker.SOCKET, worker.INFO):  # a dead worker's leftovers
            (home / name).unlink(missing_ok=True)
        return None
    pid = info["pid"]
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while worker.is_worker(pid, root) and time.monotonic() < deadline:
        time.sleep(0.05)
    if worker.is_worker(pid, root):
        os.kill(pid, signal.SIGKILL)
        while worker.is_worker(pid, root) and time.monotonic() < deadline + timeout:
            time.sleep(0.05)
        for name in (worker.SOCKET, worker.INFO):
            (home / name).unlink(missing_ok=True)
    return pid


def status(root: Path) -> dict | None:
    """worker.json of the running worker, or None."""
    info = worker.read_info(root)
    return info if info and worker.is_worker(info["pid"], root) else None
