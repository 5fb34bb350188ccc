"""The warm worker: ``facekit check``, ``try``, ``hint`` and the list in about a second.

A cold ``facekit check`` spends most of its time importing torch and timm. The worker is a
background process per kit checkout that has imported them (and the kit) once and forks a
child for every command; the child runs the command exactly as ``facekit`` would
(``facekit.cli.main``) on the caller's terminal, folder and environment, and runs the tests
in a fork of its own that imports the student's code afresh from disk (facekit.harness.warm,
as ``facekit watch`` does).

Where it lives: a Unix socket ``worker.sock`` in the checkout's ``.facekit/`` (owner-only,
never a TCP port), with ``worker.json`` (its pid and identity) and ``worker.lock`` (held for
its lifetime: one worker per folder). It exits after ``FACEKIT_WORKER_IDLE`` seconds without
a command (default 20 minutes), when the kit's own code changes (facekit/, tests/, the
manifest, pyproject.toml, conftest.py), when a caller's Python, venv, installed packages or
import-time environment differ from its own, when its socket is removed, and on ``facekit worker stop``.
``--no-worker`` or ``FACEKIT_NO_WORKER=1`` runs a command cold; so does every platform
without a safe fork (macOS, Windows), silently.

This package: paths, identity and settings (here), the server (facekit.worker.server, run as
``python -m facekit.worker ROOT``), and the caller's side (facekit.worker.client).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import struct
import sys
from pathlib import Path

from facekit import course, state_file

NO_WORKER_ENV = "FACEKIT_NO_WORKER"
IDLE_ENV = "FACEKIT_WORKER_IDLE"
DEFAULT_IDLE = 20 * 60  # seconds
COMMANDS = ("list", "check", "try", "hint")  # the student's loop; the others always run cold
SOCKET, INFO, LOCK, LOG = "worker.sock", "worker.json", "worker.lock", "worker.log"
# The kit's own code: a change to any file under these (or to one of these files) ends the
# worker, whose imported copy would be stale.
WATCHED = ("facekit", "tests", "exercises/course.toml", "pyproject.toml", "conftest.py")
# Environment read when torch, timm, huggingface_hub or Python itself start: a caller whose
# values differ needs a worker started with them.
_IMPORT_ENV = (
    "PYTHON",
    "HF_",
    "HUGGINGFACE",
    "TORCH",
    "PYTORCH",
    "OMP_",
    "MKL_",
    "KMP_",
    "OPENBLAS",
    "TIMM",
    "CUDA",
    "LD_",
    "XDG_",
    "HOME",
    "LANG",
    "LC_",
)


HEADER = struct.Struct("!I")  # a request on the socket: its length, then the request as JSON


def frame(request: dict) -> bytes:
    body = json.dumps(request).encode()
    return HEADER.pack(len(body)) + body


def folder(root: Path) -> Path:
    """The checkout's ``.facekit/`` (the state file's folder: FACEKIT_STATE moves both)."""
    return state_file.state_path(root).parent


def supported() -> bool:
    """A fork is safe here: Linux (macOS's system libraries are not fork-safe; Windows has none)."""
    return sys.platform.startswith("linux") and hasattr(os, "fork") and hasattr(socket, "send_fds")


def disabled() -> bool:
    return os.environ.get(NO_WORKER_ENV, "") not in ("", "0")


def idle_seconds() -> float:
    """FACEKIT_WORKER_IDLE, or the default; ValueError naming the variable when it is not a number > 0."""
    raw = os.environ.get(IDLE_ENV, "").strip()
    if not raw:
        return DEFAULT_IDLE
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise ValueError(f"{IDLE_ENV} must be a positive number of seconds; got {raw!r}")
    return value


def code_digest(root: Path) -> str:
    """Name, size and modification time of every file of the kit's own code (WATCHED)."""
    root = Path(root)
    digest = hashlib.sha256()
    for name in WATCHED:
        top = root / name
        paths = [top] if not top.is_dir() else []
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            paths += [Path(dirpath) / f for f in sorted(filenames) if not f.endswith(".pyc")]
        for path in paths:
            try:
                stat = path.stat()
                seen = f"{stat.st_size}:{stat.st_mtime_ns}"
            except OSError:
                seen = "missing"
            digest.update(f"{path.relative_to(root).as_posix()}\0{seen}\0".encode())
    return digest.hexdigest()


def identity(root: Path) -> dict:
    """What a worker must share with its caller: the interpreter, the venv, the kit's code and
    the environment read at import time. A caller that differs in any of them runs cold."""
    env = sorted((k, v) for k, v in os.environ.items() if k.startswith(_IMPORT_ENV))
    return {
        "python": os.path.realpath(sys.executable),
        "prefix": sys.prefix,
        "version": sys.version,
        "kit": str(course.repo_root()),
        "code": code_digest(root),
        "env": hashlib.sha256(json.dumps(env).encode()).hexdigest(),
        "packages": _packages(),
        "flags": interpreter_flags(),
    }


def interpreter_flags() -> list[str]:
    """The command-line options of this interpreter (-X, -W, -O, ...): the worker is started
    with the caller's, and serves only callers that have the same."""
    import subprocess

    # Private, so not in typeshed, but what multiprocessing and test.support use to pass the flags on.
    return subprocess._args_from_interpreter_flags()  # type: ignore[attr-defined]


def _packages() -> list[int]:
    """When each site-packages folder last changed: a package installed, upgraded or removed
    since the worker imported its copy makes the worker stale."""
    found = []
    for entry in sorted(set(sys.path)):
        if entry.endswith("site-packages"):
            try:
                found.append(os.stat(entry).st_mtime_ns)
            except OSError:
                pass
    return found


class _Address:
    """The socket's address for bind/connect: its path, or for a path too long for a Unix
    socket (about 108 bytes) the same file reached through a short /proc/self/fd/N link."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def __enter__(self) -> str:
        if len(os.fsencode(str(self.path))) < 100:
            return str(self.path)
        self._fd = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY)
        return f"/proc/self/fd/{self._fd}/{self.path.name}"

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)


def address(path: Path) -> _Address:
    return _Address(path)


def read_info(root: Path) -> dict | None:
    """worker.json: the running worker's pid and identity, or None (missing or damaged)."""
    try:
        info = json.loads((folder(root) / INFO).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and isinstance(info.get("pid"), int) else None


def is_worker(pid: int, root: Path) -> bool:
    """``pid`` is a worker of this checkout (not a process that reused its number)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"facekit.worker" in cmdline and os.fsencode(str(Path(root).resolve())) in cmdline
