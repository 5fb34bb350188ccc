"""``python -m facekit.worker ROOT [--no-imports]``: the warm worker of the kit at ROOT
(started in the background by facekit.worker.client; ``--no-imports`` is for tests of its
lifecycle only)."""

import sys
from pathlib import Path

from facekit.worker import server

sys.exit(server.serve(Path(sys.argv[1]), warm="--no-imports" not in sys.argv[2:]))
