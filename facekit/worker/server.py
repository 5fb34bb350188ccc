"""The worker process (``python -m facekit.worker ROOT``): import once, fork per command.

One loop, no threads (a fork from a threaded process can copy a lock another thread holds):
accept a connection, check it (same user, same identity), fork a child for the command and
go back to listening. The child owns the connection from then on: it tells the caller its
pid (Ctrl-C in the caller kills the child's process group), runs ``facekit.cli.main`` on the
caller's terminal, and sends the exit code. The worker only reaps children, so two commands
at once are both answered, and a worker that ends does not cut a command short.
"""

from __future__ import annotations

import fcntl
import gc
import importlib
import io
import json
import os
import select
import signal
import socket
import struct
import sys
import time
from pathlib import Path

from facekit import worker
from facekit.harness import forking, warm
from facekit.worker import HEADER

MAX_REQUEST = 4 << 20
# Imported once for every child: the commands and what they use.
_COMMAND_MODULES = (
    "facekit.cli",
    "facekit.cli.check",
    "facekit.cli.list",
    "facekit.cli.hint",
    "facekit.cli.tryout",
    "facekit.cli.runs",
    "facekit.progress",
    "facekit.mistakes",
    "facekit.harness.run",
    "facekit.hub_switch",
    "facekit.hub",
    "facekit.standin",
    "facekit.data",
    "facekit.trees",
    "facekit.verify",
    "facekit.testing",
)


def recv_request(conn: socket.socket) -> tuple[dict, list[int]]:
    """The request and the three descriptors (stdin, stdout, stderr) sent with it."""
    data, fds, _flags, _addr = socket.recv_fds(conn, 65536, 3)
    try:
        while len(data) < HEADER.size or len(data) < HEADER.size + HEADER.unpack_from(data)[0]:
            if len(data) > MAX_REQUEST:
                raise ValueError("request too long")
            more = conn.recv(65536)
            if not more:
                raise ConnectionError("the caller left before its request was complete")
            data += more
        (size,) = HEADER.unpack_from(data)
        request = json.loads(data[HEADER.size : HEADER.size + size])
        if not isinstance(request, dict):
            raise ValueError("a request is a JSON object")
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    return request, list(fds)


def _same_user(conn: socket.socket) -> bool:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid == os.getuid()


def _caller_gone(conn: socket.socket) -> bool:
    """The caller closed its end (it gave up waiting): its command must not run after all."""
    try:
        if not select.select([conn], [], [], 0)[0]:
            return False  # nothing to read: still waiting for its answer
        return conn.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def _text(fd: int, spec: dict, write: bool) -> io.TextIOWrapper:
    """A text stream on ``fd`` made like the caller's sys.stdin/stdout/stderr, so the bytes
    written (encoding, error handler, line buffering) are the ones a cold run writes."""
    raw = io.FileIO(fd, "w" if write else "r", closefd=False)
    buffer = io.BufferedWriter(raw) if write else io.BufferedReader(raw)
    return io.TextIOWrapper(
        buffer, encoding=spec["encoding"], errors=spec["errors"], line_buffering=spec["line_buffering"]
    )


def _child(conn: socket.socket, request: dict, fds: list[int], closing: list[int]) -> int:
    """Run the caller's command as ``facekit`` would, in this fork (see the module docstring)."""
    os.setsid()  # its own process group: the caller's Ctrl-C kills it and what it started
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    for fd in closing:
        os.close(fd)
    for std, fd in enumerate(fds):
        os.dup2(fd, std)
    for fd in fds:
        if fd > 2:
            os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.path[:] = request["path"]
    sys.argv = request["sys_argv"]
    forking.drop_modules(("exercises", "solutions", "tests", "conftest"))
    sys.stdin = _text(0, request["streams"][0], write=False)
    sys.stdout = _text(1, request["streams"][1], write=True)
    sys.stderr = _text(2, request["streams"][2], write=True)
    from facekit import cli
    from facekit.worker import client

    client.inside_worker = True  # this run answers itself: no worker of its own, no delegating
    conn.sendall(f"pid {os.getpid()}\n".encode())
    code = cli.main(request["argv"])
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    conn.sendall(f"exit {code}\n".encode())
    return code


def _fork_child(conn: socket.socket, request: dict, fds: list[int], closing: list[int]) -> int:
    sys.stdout.flush()
    sys.stderr.flush()
    gc.freeze()  # as forking.run_forked: the child's collections leave torch's objects alone
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = forking.CHILD_FAILED
        try:
            code = _child(conn, request, fds, closing)
        except BaseException:  # noqa: BLE001 - the caller sees no exit line and says so
            pass
        finally:
            os._exit(code & 0xFF)
    gc.unfreeze()
    return pid


def _reap() -> None:
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _warm_up() -> None:
    """The slow imports (no torch code: see facekit.harness.forking), then the kit's commands and the
    pytest plugins every test run loads."""
    from importlib import metadata

    warm.warm_up()
    for name in _COMMAND_MODULES:
        importlib.import_module(name)
    for entry in metadata.entry_points(group="pytest11"):
        try:
            entry.load()
        except Exception:  # noqa: BLE001 - pytest itself reports a plugin that cannot load
            pass


def _write_info(path: Path, info: dict) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(info) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def serve(root: Path, warm: bool = True) -> int:
    """Listen until idle, stopped, stale or replaced. ``warm=False`` (tests of the worker's
    lifecycle only) skips the imports."""
    root = Path(root).resolve()
    home = worker.folder(root)
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    lock_fd = os.open(home / worker.LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return 0  # another worker serves this folder
    try:
        idle = worker.idle_seconds()
    except ValueError:
        idle = worker.DEFAULT_IDLE  # the caller that started it said so already
    me = worker.identity(root)
    path = home / worker.SOCKET
    path.unlink(missing_ok=True)  # a dead worker's: the lock says none is alive
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    umask = os.umask(0o177)  # owner-only from the moment it exists
    try:
        with worker.address(path) as where:
            listener.bind(where)
    finally:
        os.umask(umask)
    os.chmod(path, 0o600)
    listener.listen(64)
    inode = path.stat().st_ino
    info_path = home / worker.INFO
    info = {
        "pid": os.getpid(),
        "identity": me,
        "idle": idle,
        "socket": str(path),
        "started": time.time(),
        "ready": False,
    }
    _write_info(info_path, info)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        if warm:
            _warm_up()
        _write_info(info_path, {**info, "ready": True})  # commands are answered at once from now on
        last = checked = time.monotonic()
        while True:
            if select.select([listener], [], [], 0.5)[0]:
                conn, _ = listener.accept()
                last = time.monotonic()
                try:
                    if _serve_one(conn, me, [listener.fileno(), lock_fd]):
                        return 0
                finally:
                    conn.close()
            _reap()
            now = time.monotonic()
            if now - last > idle:
                return 0
            if now - checked >= 1.0:
                checked = now
                if not _still_ours(path, inode) or worker.code_digest(root) != me["code"]:
                    return 0
    finally:
        listener.close()
        if _still_ours(path, inode):
            path.unlink(missing_ok=True)
        current = worker.read_info(root)  # a newer worker may have taken the folder over
        if current and current["pid"] == os.getpid():
            info_path.unlink(missing_ok=True)


def _still_ours(path: Path, inode: int) -> bool:
    try:
        return path.stat().st_ino == inode
    except OSError:
        return False


def _serve_one(conn: socket.socket, me: dict, closing: list[int]) -> bool:
    """Answer one connection; True when the worker must end (stop, or a caller it cannot serve)."""
    fds: list[int] = []
    try:
        conn.settimeout(10)
        if not _same_user(conn):
            return False
        request, fds = recv_request(conn)
        if request.get("op") != "run" or len(fds) != 3:
            conn.sendall(b"refused\n")
            return False
        if request.get("identity") != me:
            conn.sendall(b"stale\n")  # another Python or venv, or the kit changed: make way
            return True
        if _caller_gone(conn):
            return False
        pid = _fork_child(conn, request, fds, closing)
        print(
            f"{time.strftime('%H:%M:%S')} child {pid}: facekit {' '.join(request['argv'])}",
            file=sys.stderr,
            flush=True,
        )  # worker.log: what it ran, for whoever wonders
        return False
    except (OSError, ValueError, KeyError, ConnectionError):
        return False
    finally:
        for fd in fds:
            os.close(fd)
