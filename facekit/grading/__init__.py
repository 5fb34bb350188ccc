"""Grading a class: ``facekit submit`` (students), ``facekit grade`` and ``facekit gradescope``
(instructors). Each command module has ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``.
"""

from __future__ import annotations

import importlib

_MODULES = {"submit": "facekit.grading.submit", "grade": "facekit.grading.grade",
            "gradescope": "facekit.grading.gradescope"}


def command(name: str):
    """The module of a grading command (imported on demand: the CLI starts fast)."""
    return importlib.import_module(_MODULES[name])


COMMANDS = tuple(_MODULES)
