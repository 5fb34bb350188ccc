"""``facekit worker stop|status``: the checkout's background worker (facekit.worker)."""

from __future__ import annotations

import argparse
import time

from facekit import worker
from facekit.cli.context import Context
from facekit.worker import client


def run(ctx: Context, args: argparse.Namespace) -> int:
    t = ctx.term
    where = ctx.rel(worker.folder(ctx.root))
    if args.action == "stop":
        pid = client.stop(ctx.root)
        t.line(f"Stopped the worker (pid {pid})." if pid else "No worker was running.")
        return 0
    info = client.status(ctx.root)
    if info is None:
        how = (
            "off: " + worker.NO_WORKER_ENV + " is set"
            if worker.disabled()
            else "the next `facekit check` starts one"
            if worker.supported()
            else "this system runs every command without one"
        )
        t.wrap(f"No worker is running ({how}).")
        return 0
    if not info.get("ready"):
        t.wrap(
            f"The worker is starting (pid {info['pid']}): it imports torch and timm once; "
            f"commands wait for it."
        )
        return 0
    idle = info.get("idle", worker.DEFAULT_IDLE)
    t.wrap(
        f"The worker runs: pid {info['pid']}, for {_minutes(time.time() - info.get('started', time.time()))}, "
        f"socket {where}/{worker.SOCKET}. It exits after {_minutes(idle)} without a command "
        f"({worker.IDLE_ENV}), when the kit's code changes, or on `facekit worker stop`."
    )
    return 0


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"
