"""Where a zip that a command writes goes: ``--out`` of ``facekit submit`` and ``facekit gradescope``."""

from __future__ import annotations

import os
from pathlib import Path


def zip_destination(out: str | Path, default_name: str) -> Path:
    """``out`` itself when it names a .zip file; ``out/default_name`` when it is a folder (one that
    exists, or a name ending in a slash). ValueError (one line) for anything else: writing a zip
    over ``images.py`` would lose the student's work."""
    text = str(out)
    path = Path(out)
    if path.is_dir() or text.endswith(("/", os.sep)):
        return path / default_name
    if path.suffix.lower() != ".zip":
        raise ValueError(
            f"--out {text} is not a .zip file name: give one ending in .zip, or a folder "
            f"to write {default_name} in; nothing was written"
        )
    return path
