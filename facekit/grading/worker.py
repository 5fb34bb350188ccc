"""A grading worker: imports the heavy libraries once, then forks one child per submission.

Started by facekit.grading.runner; reads one JSON job per line on stdin and answers one JSON
result per line on stdout. It imports no kit code of a submission: the children do, after
dropping every kit module (facekit.grading.runner._child).
"""

from __future__ import annotations

import json
import sys


def main() -> int:
    from facekit.grading import runner
    from facekit.harness import forking

    # Not dumpable: a submission's process (same user) cannot read this one's memory or
    # environment through /proc, nor trace it. Each child is made dumpable again.
    runner.set_dumpable(False)
    forking.import_warm()  # the slow part, once; no torch code runs here (fork safety)
    out = sys.stdout
    for line in sys.stdin:
        if not line.strip():
            continue
        result = runner.run_job(json.loads(line), "fork")
        out.write(json.dumps(result) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
