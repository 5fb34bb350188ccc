"""The jail a grading worker runs in: bubblewrap (``bwrap``), where it can run.

One jail per worker (a lane of ``-j``), not per submission, so the worker imports torch once
and forks a child per submission as before (facekit.grading.runner). What the jail gives:

- new user, PID, IPC, UTS, cgroup and network namespaces (``--unshare-all``): no network at
  all, not even the host's loopback; uid and gid 1000; no process of the host visible;
- the worker is PID 1 of its namespace (``--as-pid-1``): a signal from inside cannot kill it,
  everything orphaned is re-parented to it, and after each submission it kills every other
  process of the namespace (``kill(-1)``) before it answers, so nothing a submission started
  outlives its grading; ``--die-with-parent`` and ``--new-session`` too;
- a filesystem of read-only binds of the Python installation, its site-packages, the prepared
  kit (``/kit``, never ``solutions/``), the stand-in weights (``/standin``) or, with
  ``--weights hub``, the Hugging Face hub cache; the one writable place is ``/job``, a tmpfs
  of SCRATCH_MB that holds the submission's copy of the kit, HOME and TMPDIR (``/tmp`` points
  there) and is emptied after each submission. Not visible: ``/root``, ``/home``, the
  instructor's kit, ``--out``, other submissions.

Where bubblewrap is missing or cannot make namespaces (macOS, Windows, most containers), or
``FACEKIT_JAIL=off`` turns it off, grading runs without it and says ``isolation: none``.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

OFF_ENV = "FACEKIT_JAIL"
KIT, JOB, STANDIN, HUB = "/kit", "/job", "/standin", "/hub"
UID = 1000
SCRATCH_MB = 1024  # the tmpfs of /job: the kit's copy (~15 MB), the weights, what the tests write


@functools.cache
def _probe(bwrap: str) -> str | None:
    try:
        proc = subprocess.run(
            [
                bwrap,
                "--unshare-all",
                "--uid",
                str(UID),
                "--die-with-parent",
                "--ro-bind",
                "/",
                "/",
                "--",
                "true",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"bwrap did not run: {err}"
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        return f"bwrap cannot make a jail here: {lines[-1] if lines else f'exit code {proc.returncode}'}"
    return None


def unavailable() -> str | None:
    """Why grading runs without a jail here, or None when it runs in one."""
    if os.environ.get(OFF_ENV, "").lower() in ("off", "0", "no", "false"):
        return f"turned off ({OFF_ENV}={os.environ[OFF_ENV]})"
    if not sys.platform.startswith("linux"):
        return f"bubblewrap needs Linux; this is {sys.platform}"
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap (bwrap) is not installed: apt-get install bubblewrap"
    return _probe(bwrap)


def python_paths(exclude: list[Path]) -> list[str]:
    """The folders this Python needs, read-only: its installation, the venv, every site-packages
    on sys.path; none inside ``exclude`` (the instructor's kit), unless it is a venv there."""
    found = {sys.base_prefix, sys.prefix, os.path.dirname(os.path.realpath(sys.executable))}
    found |= {p for p in sys.path if p and os.path.isdir(p) and "site-packages" in p}
    keep: list[str] = []
    for path in sorted({os.path.realpath(p) for p in found}):
        inside = [e for e in exclude if Path(path).is_relative_to(e)]
        if (
            inside
            and "site-packages" not in path
            and not Path(path).is_relative_to(os.path.realpath(sys.prefix))
        ):
            continue
        if not any(path != other and Path(path).is_relative_to(other) for other in keep):
            keep.append(path)
    return keep


def command(
    argv: list[str],
    kit: Path,
    env: dict,
    exclude: list[Path],
    standin: Path | None = None,
    hub: str | None = None,
) -> list[str]:
    """``argv`` (run with this Python) inside a jail; ``env`` is all of its environment."""
    args = [
        shutil.which("bwrap") or "bwrap",
        "--unshare-all",
        "--uid",
        str(UID),
        "--gid",
        str(UID),
        "--die-with-parent",
        "--new-session",
        "--as-pid-1",
        "--hostname",
        "grading",
    ]
    for top in ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / top
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    for name in ("ld.so.cache", "ld.so.conf", "localtime", "nsswitch.conf"):
        if Path("/etc", name).exists():
            args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    paths = python_paths(exclude)
    # /tmp is normally a link into /job, so that one tmpfs holds all scratch; but a Python or venv
    # under /tmp (a CI clone there) needs /tmp as a folder: then /tmp is a tmpfs of its own,
    # mounted before the binds so that they stay visible on top of it.
    tmp_link = not any(Path(path).is_relative_to("/tmp") for path in paths)
    if not tmp_link:
        args += ["--size", str(SCRATCH_MB * 1024 * 1024), "--perms", "1777", "--tmpfs", "/tmp"]
    for bound in paths:
        args += ["--ro-bind", bound, bound]
    args += ["--ro-bind", str(kit), KIT]
    if standin is not None:
        args += ["--ro-bind", str(standin), STANDIN]
    if hub is not None:
        args += ["--ro-bind", hub, HUB]
    args += [
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--size",
        str(SCRATCH_MB * 1024 * 1024),
        "--perms",
        "0700",
        "--tmpfs",
        JOB,
    ]
    if tmp_link:
        args += ["--symlink", f"{JOB}/tmp", "/tmp"]
    args += ["--remount-ro", "/", "--chdir", JOB, "--clearenv"]
    for key, value in env.items():
        args += ["--setenv", key, value]
    return [*args, "--", *argv]
