"""The two trees, exercises/ (the student's code) and solutions/ (the reference): importing
an exercise from one, and reading its module-level constants without importing it.
"""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path
from types import ModuleType

from facekit import course, settings


def load_exercise(exercise_id: str, target: str) -> ModuleType:
    """Import an exercise from the tree ``target``: ``load_exercise("ex02_embeddings", "solutions")``."""
    root = str(course.repo_root())
    if root not in sys.path:  # the trees are importable from a checkout even without install
        sys.path.insert(0, root)
    return importlib.import_module(course.load().get(exercise_id).module(settings.check_target(target)))


def constants(path: Path, *names: str) -> dict:
    """Module-level literal constants of a source file (``OUTPUT_SUFFIXES = (...)``), unimported.

    The CLI checks its options against an exercise's constants before torch is imported, so a
    usage error answers at once. A name that is not a plain literal there raises ValueError.
    """
    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id in names:
                found[node.targets[0].id] = ast.literal_eval(node.value)
    missing = [n for n in names if n not in found]
    if missing:
        raise ValueError(f"{path} defines no literal {', '.join(missing)}")
    return found
