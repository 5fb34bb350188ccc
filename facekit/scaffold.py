"""``facekit new``: the files of a new exercise, each with placeholders marked PLACEHOLDER.

Written: both trees' folders (README, ``__init__.py``, a stub that raises NotImplementedError
with a helpful message, a reference skeleton), a test module using the shared fixtures, a
notebook whose first code cell is the setup, the manifest entry and the README's row.
``facekit verify`` then reports every placeholder left (its ``todo`` check), and the
reference check fails until the reference is written.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

from facekit import course
from facekit.errors import UsageError

PLACEHOLDER = "FACEKIT-NEW"
ID_PATTERN = re.compile(r"^ex(\d\d)_[a-z][a-z0-9_]*$")
_TABLE_ROW = re.compile(r"^\| \d+ \| \[[^\]]+\]\([^)]+\) \|.*\|\s*$", re.M)


# A notebook's first code cell: it works from any folder inside the kit, installed or not.
NOTEBOOK_SETUP = (
    "try:\n    from facekit import notebooks\nexcept ModuleNotFoundError:  # the kit is not "
    "installed: find the checkout from this folder up\n"
    + '    import sys\n    from pathlib import Path\n\n    here = Path.cwd().resolve()\n    kit = next((p for p in (here, *here.parents) if (p / "facekit" / "notebooks.py").is_file()), None)\n    if kit is None:\n        raise ModuleNotFoundError("facekit is not installed: run `pip install -e .` in the kit\'s folder") from None\n    sys.path.insert(0, str(kit))\n    from facekit import notebooks\n'
    + '\nex = notebooks.setup("{exercise_id}")'
)

# Each exercise package's __all__ is what its __init__.py imports (one list, not two).
DERIVED_ALL = (
    "# The public API is what this file imports above: the kit's checks read __all__.\n"
    "__all__ = [name for name, value in globals().items()\n"
    '           if not name.startswith("_") and not isinstance(value, _Module)]\n'
)


def _function(name: str, body: str) -> str:
    return (
        f"def {name}():\n"
        f'    """{PLACEHOLDER}: what {name}() takes, returns and raises (stub and reference '
        f'share this docstring)."""\n'
        f"    {body}\n"
    )


def files(root: Path, exercise_id: str, title: str, functions: list[str]) -> dict[Path, str]:
    number = _number(exercise_id)
    module = course.default_module(exercise_id)
    paths = course.derived_paths(exercise_id, module)
    readme = paths["readme"]
    names = ", ".join(f"`{f}()`" for f in functions)
    out = {}
    out[root / readme] = (
        f"# Exercise {number}: {title}\n\n"
        f"<!-- {PLACEHOLDER}: what the student builds and why, then one step per function "
        f"({names}), each with the building blocks it needs and how to check it. -->\n"
    )
    for tree, who in (("exercises", "your code"), ("solutions", "reference")):
        out[root / tree / exercise_id / "__init__.py"] = (
            f'"""Exercise {number} ({who}): {title}."""\n\n'
            f"from types import ModuleType as _Module\n\n"
            f"from .{module} import {', '.join(functions)}\n\n{DERIVED_ALL}"
        )
    stub_body = "\n\n".join(
        _function(f, f'raise NotImplementedError("{f}() is not written yet: follow the steps in {readme}")')
        for f in functions
    )
    ref_body = "\n\n".join(
        _function(f, f'raise NotImplementedError("{PLACEHOLDER}: write the reference {f}()")')
        for f in functions
    )
    out[root / paths["stub"]] = (
        f'"""Exercise {number}: {title} (your code).\n\nWrite each '
        f'function; {readme} explains the steps.\n"""\n\n\n{stub_body}'
    )
    out[root / paths["reference"]] = f'"""Exercise {number}: {title} (reference)."""\n\n\n{ref_body}'
    tests = "\n\n".join(
        f'@pytest.mark.function("{f}")\n'
        f"def test_{f}_{PLACEHOLDER.lower().replace('-', '_')}(ex):\n"
        f"    # {PLACEHOLDER}: tests of {f}(): each failing message names the function, the\n"
        f"    # input and what differs. Shared fixtures: load_exercise, sample_face, face_tensor,\n"
        f"    # embedder (tests/../facekit/pytest_plugin.py).\n"
        f"    ex.{f}()\n"
        f'    pytest.fail("{PLACEHOLDER}: write the tests of {f}()")\n'
        for f in functions
    )
    out[root / paths["tests"]] = (
        f'"""Exercise {number}: {title}."""\n\nfrom __future__ import annotations\n\n'
        f'import pytest\n\nEXERCISE = "{exercise_id}"\n\n\n'
        f'@pytest.fixture(scope="module")\ndef ex(load_exercise):\n    return load_exercise(EXERCISE)\n'
        f"\n\n{tests}"
    )
    setup = NOTEBOOK_SETUP.format(exercise_id=exercise_id)

    def cell(kind, source):
        base = {"cell_type": kind, "id": uuid.uuid4().hex[:8], "metadata": {}, "source": source}
        return {**base, "execution_count": None, "outputs": []} if kind == "code" else base

    notebook = {
        "cells": [
            cell(
                "markdown",
                f"# Exercise {number}: {title}\n\nThis notebook runs **your** code from "
                f"`{paths['stub']}`; set `KIT_TARGET=solutions` to run the reference "
                f"instead. Instructions: `{readme}`.",
            ),
            cell("code", setup),
            cell("markdown", f"<!-- {PLACEHOLDER}: walk through {names} with small examples. -->"),
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    out[root / paths["notebook"]] = json.dumps(notebook, indent=1) + "\n"
    out[catalogue_path(root, exercise_id)] = mistakes_template(exercise_id, functions)
    return out


def catalogue_path(root: Path, exercise_id: str) -> Path:
    """The exercise's catalogue of typical mistakes (facekit/mistakes.py reads it)."""
    return root / "tests" / "kit" / "mistakes" / f"{exercise_id}.toml"


def mistakes_template(exercise_id: str, functions: list[str]) -> str:
    # One entry per function to fill in: `facekit verify` runs each against the reference.
    entries = "".join(
        f'\n[[mistake]]\nid = "{f}-{PLACEHOLDER.lower()}"\n'
        f'says = "{PLACEHOLDER}: the mistake in a student\'s words"\n'
        f'find = "{PLACEHOLDER}: text that occurs once in the reference"\n'
        f'replace = "{PLACEHOLDER}: the same text, with the mistake"\n'
        f'test = "test_{f}_{PLACEHOLDER.lower().replace("-", "_")}"\n'
        f'words = ["{f}", "{PLACEHOLDER}: what the failure message must say"]\n'
        for f in functions
    )
    return (
        f"# {exercise_id}: typical mistakes, each a find/replace on the reference, the test that\n"
        f"# must fail and words its message must contain (format: facekit/mistakes.py).\n" + entries
    )


def manifest_entry(exercise_id: str, title: str, functions: list[str]) -> str:
    hints = "\n".join(
        f'{f} = ["{PLACEHOLDER}: a nudge for {f}()", "{PLACEHOLDER}: a near-answer for {f}()"]'
        for f in functions
    )
    return (
        f'\n[[exercise]]\nid = "{exercise_id}"\ntitle = {json.dumps(title)}\n'
        f"functions = {json.dumps(functions)}\n\n[exercise.hints]\n{hints}\n"
    )


def _number(exercise_id: str) -> str:
    """The NN of exNN_name (new_exercise has checked the id; anything else is a bug here)."""
    match = ID_PATTERN.match(exercise_id)
    if match is None:
        raise ValueError(f"an exercise id is exNN_name; got {exercise_id!r}")
    return match.group(1)


def readme_row(exercise_id: str, title: str, functions: list[str]) -> str:
    number = _number(exercise_id)
    names = ", ".join(f"`{f}`" for f in functions)
    return f"| {number} | [{title}](exercises/{exercise_id}/README.md) | {names} |"


def new_exercise(root: Path, exercise_id: str, title: str, functions: list[str]) -> list[Path]:
    """Write everything; return the files written (the manifest and README included)."""
    if not ID_PATTERN.match(exercise_id):
        raise UsageError(
            f"an exercise id is exNN_name (two digits, then lower-case letters, digits, "
            f"underscores), e.g. ex07_tracking; got {exercise_id!r}"
        )
    if not title.strip() or "\n" in title:
        raise UsageError(f"the title is one line of text; got {title!r}")
    bad = [f for f in functions if not f.isidentifier()]
    if bad or not functions or len(set(functions)) != len(functions):
        raise UsageError(f"--functions takes distinct Python names, comma-separated; got {functions!r}")
    manifest = root / "exercises" / "course.toml"
    if exercise_id in {e.id for e in course.load(manifest).exercises}:
        raise UsageError(f"{exercise_id} is already in {manifest.relative_to(root)}")
    planned = files(root, exercise_id, title, functions)
    existing = [p for p in planned if p.exists()]
    if existing:
        raise UsageError(f"{existing[0].relative_to(root)} exists already: nothing was written")
    readme = root / "README.md"
    text = readme.read_text(encoding="utf-8")
    rows = list(_TABLE_ROW.finditer(text))
    if not rows:
        raise UsageError("README.md has no exercise table (| NN | [title](path) | functions |)")
    for path, content in planned.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    with manifest.open("a", encoding="utf-8") as f:
        f.write(manifest_entry(exercise_id, title, functions))
    end = rows[-1].end()
    readme.write_text(
        text[:end] + "\n" + readme_row(exercise_id, title, functions) + text[end:], encoding="utf-8"
    )
    course.load(manifest)  # the entry just written must read back
    return [*planned, manifest, readme]


def placeholders(root: Path, exercise: course.Exercise) -> list[str]:
    """What is left to write: each file (or manifest part) that still holds a PLACEHOLDER."""
    left = [
        f"{what} {path}"
        for what, path in exercise.paths().items()
        if (root / path).is_file() and PLACEHOLDER in (root / path).read_text(encoding="utf-8")
    ]
    catalogue = catalogue_path(root, exercise.id)
    if catalogue.is_file() and PLACEHOLDER in catalogue.read_text(encoding="utf-8"):
        left.append(f"mistakes {catalogue.relative_to(root).as_posix()}")
    if any(PLACEHOLDER in hint for _, hint in exercise.all_hints()):
        left.append("hints in exercises/course.toml")
    return left
