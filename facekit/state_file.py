"""The student's small state file: which hints were shown, and each exercise's last results.

``.facekit/`` in the kit (or the folder of ``$FACEKIT_STATE``) holds:

- ``state.json``: ``{"hints": {"<exercise>/<function>": shown}}``;
- ``results/<target>-<weights>/<exercise>.json``: the last test run of that exercise, with
  the fingerprint of the files it ran (the exercise's folder in the tree, the folders of the
  exercises it imports, its tests, and the kit itself). A result whose fingerprint still
  matches is the answer: ``facekit`` re-runs only exercises whose files changed.

Deleting any of it is harmless: it only holds conveniences.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path

from facekit import __version__, course
from facekit.harness.record import RunRecord

STATE_ENV = "FACEKIT_STATE"


def state_path(root: Path) -> Path:
    return Path(os.environ.get(STATE_ENV) or Path(root) / ".facekit" / "state.json")


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class State:
    """``{"hints": {"exercise/function": shown}}`` in a JSON file."""

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}  # missing or damaged: start afresh, it only holds conveniences
        if not isinstance(data, dict):
            data = {}
        hints = data.get("hints")
        self.hints: dict[str, int] = {
            k: v for k, v in (hints if isinstance(hints, dict) else {}).items() if isinstance(v, int)
        }

    def save(self) -> None:
        _write_atomically(self.path, json.dumps({"hints": self.hints}, indent=1) + "\n")


# -- fingerprints and the result cache -------------------------------------------------------


def _imported_exercises(folder: Path) -> set[str]:
    """Sibling exercises a tree's exercise imports (``from ..ex01_images import ...``)."""
    found = set()
    for path in folder.rglob("*.py"):
        try:
            tree = ast.parse(path.read_bytes())
        except (SyntaxError, ValueError, OSError):
            continue  # its own hash changes; the run will say what is wrong
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 2 and node.module:
                found.add(node.module.split(".")[0])
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                parts = node.module.split(".")
                if parts[0] in course.TARGETS and len(parts) > 1:
                    found.add(parts[1])
    return found


def _kit_digest() -> str:
    """The kit's own code (facekit/, the root conftest): a kit update invalidates every result."""
    root = course.repo_root()
    digest = hashlib.sha256(__version__.encode())
    paths = sorted([*(root / "facekit").rglob("*.py"), root / "conftest.py"])
    _add_files(digest, root, [p for p in paths if "__pycache__" not in p.parts])
    return digest.hexdigest()


def _add_files(digest: hashlib._Hash, root: Path, paths: Iterable[Path]) -> None:
    """Each file's name and bytes (or that it is missing) into ``digest``."""
    for path in paths:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(b"<missing>")


def fingerprint(root: Path, exercise: course.Exercise, target: str, weights: str = "standin") -> str:
    """A hash of every file the exercise's tests read: its folder, the folders it imports,
    its test module, and the kit; a result is current while it matches."""
    root = Path(root)
    digest = hashlib.sha256(f"{target}\0{weights}\0{_kit_digest()}".encode())
    folder = root / exercise.folder(target)
    folders = [folder] + [
        root / target / name for name in sorted(_imported_exercises(folder)) if name != exercise.id
    ]
    files = []
    for each in folders:
        files += sorted(p for p in each.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    _add_files(digest, root, [*files, root / target / "__init__.py", root / exercise.tests])
    return digest.hexdigest()


class ResultCache:
    """Each exercise's last run, per tree and weights, with the fingerprint it ran on."""

    def __init__(self, root: Path, target: str, weights: str):
        self.root, self.target, self.weights = Path(root), target, weights
        self.folder = state_path(root).parent / "results" / f"{target}-{weights}"

    def _path(self, exercise: course.Exercise) -> Path:
        return self.folder / f"{exercise.id}.json"

    def get(self, exercise: course.Exercise, fp: str | None = None) -> RunRecord | None:
        """The cached run of ``exercise`` if its files are unchanged since, else None."""
        fp = fp or fingerprint(self.root, exercise, self.target, self.weights)
        try:
            data = json.loads(self._path(exercise).read_text(encoding="utf-8"))
            if data.get("fingerprint") != fp:
                return None
            return RunRecord.from_json(data["run"])
        except (OSError, ValueError, KeyError, TypeError):
            return None  # missing or damaged: run again

    def put(self, exercise: course.Exercise, run: RunRecord, fp: str) -> None:
        data = {"fingerprint": fp, "run": run.only(exercise.tests).to_json()}
        _write_atomically(self._path(exercise), json.dumps(data) + "\n")
