"""``python -m facekit.cli.worker_process --facekit-worker ROOT [--no-imports]``: the warm worker
of the kit at ROOT (facekit.worker), serving ``facekit.cli.main``.

The worker package knows nothing of the commands: the command line gives it the function each
forked child runs and the modules to import once (``--no-imports`` skips them: tests of its
lifecycle only). facekit.cli starts it in the background (facekit.worker.client.start).
"""

from __future__ import annotations

import sys
from pathlib import Path

from facekit import cli, worker
from facekit.worker import server

# Imported once for every child: the commands and what they use.
WARM_MODULES = (
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


def main(argv: list[str]) -> int:
    args = [a for a in argv if a != worker.MARK]
    if not args:
        raise SystemExit(f"usage: python -m {__spec__.name if __spec__ else __name__} {worker.MARK} ROOT")
    return server.serve(Path(args[0]), cli.main, WARM_MODULES, warm="--no-imports" not in args[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
