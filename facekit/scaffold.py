"""``facekit new``: the files of a new exercise, each with placeholders marked PLACEHOLDER.

Written: both trees' folders (README with a Task section per function, ``__init__.py``, a stub
that raises NotImplementedError with a helpful message, a reference skeleton), a test module
using the shared fixtures, a notebook whose first code cell is the setup, the catalogue of
mistakes in the exercise's meta folder (course/<id>/), the manifest entry, and the README's
exercise table made again from the manifest between its markers (TABLE_BEGIN, TABLE_END).
``facekit verify`` then reports every placeholder left, whatever its case (its ``todo``
check), and the reference check fails until the reference is written.

The reference is the one source of each signature and docstring: ``stub_from_reference``
(``facekit new EXERCISE --sync``) copies them into the stub, and the kit checks that they agree
(``stub_differences``). Chosen over nbgrader's/otter's solution markers, which generate the
whole stub from an annotated reference: the stubs' bodies here are teaching text of their own
(numbered TODO steps, the NotImplementedError naming the README), which markers would move into
the reference, and the six exercises' stubs already agree with their references line for line.
"""

from __future__ import annotations

import ast
import json
import re
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from facekit import course
from facekit.errors import UsageError

PLACEHOLDER = "FACEKIT-NEW"
# What is left to write, in whatever case it was left (a test named test_f_facekit_new, too).
PLACEHOLDER_FOUND = re.compile(r"facekit[-_]new", re.I)
ID_PATTERN = re.compile(r"^ex(\d\d)_[a-z][a-z0-9_]*$")
# The README's exercise table lies between these lines, made from the manifest (readme_table).
TABLE_BEGIN, TABLE_END = "<!-- exercises:begin -->", "<!-- exercises:end -->"


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
        f'    """{PLACEHOLDER}: what {name}() takes, returns and raises (written in the reference; '
        f'`facekit new --sync` copies it to the stub)."""\n'
        f"    {body}\n"
    )


def files(root: Path, exercise_id: str, title: str, functions: list[str]) -> dict[Path, str]:
    number = _number(exercise_id)
    module = course.default_module(exercise_id)
    paths = course.derived_paths(exercise_id, module)
    readme = paths["readme"]
    names = ", ".join(f"`{f}()`" for f in functions)
    out = {}
    # One "## Task N:" section per function, in the manifest's order (the kit checks that order).
    tasks = "".join(
        f"\n## Task {n}: `{f}()`\n\n<!-- {PLACEHOLDER}: what {f}() is for, the building blocks "
        f"it needs and how to check it. -->\n\n1. {PLACEHOLDER}: the first step of {f}(), naming "
        f"each call it needs (course/{exercise_id}/key_calls.toml).\n"
        for n, f in enumerate(functions, 1)
    )
    out[root / readme] = (
        f"# Exercise {number}: {title}\n\n"
        f"<!-- {PLACEHOLDER}: what the student builds and why ({names}). -->\n{tasks}"
    )
    for tree, who in (("exercises", "your code"), ("solutions", "reference")):
        out[root / tree / exercise_id / "__init__.py"] = (
            f'"""Exercise {number} ({who}): {title}."""\n\n'
            f"from types import ModuleType as _Module\n\n"
            f"from .{module} import {', '.join(functions)}\n\n{DERIVED_ALL}"
        )
    stub_body = "\n\n".join(
        _function(
            f,
            f"# TODO 1: {PLACEHOLDER}: the first step of {f}(), as the README gives it.\n"
            f'    raise NotImplementedError("{f}() is not written yet: follow the steps in {readme}")',
        )
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
    out[root / course.meta_of(exercise_id).key_calls] = (
        f"# {exercise_id}: the calls each function's recipe needs. Its README's Task steps, its stub's\n"
        f"# TODO steps and its last hint must each name every one, and the reference must make it\n"
        f"# (tests/kit/test_teaching.py::test_readme_todo_and_last_hint_give_the_same_recipe).\n\n"
        + "".join(f'{f} = ["{PLACEHOLDER}: a call the recipe of {f}() needs"]\n' for f in functions)
    )
    return out


def catalogue_path(root: Path, exercise_id: str) -> Path:
    """The exercise's catalogue of typical mistakes (facekit/mistakes.py reads it)."""
    return root / course.meta_of(exercise_id).mistakes


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


def exercise_table(exercises: Sequence[course.Exercise], link: Callable[[course.Exercise], str]) -> str:
    """The exercises as a Markdown table: number, title linked by ``link``, the functions to write.
    The README's (``readme_table``) and the documentation site's (docs/hooks.py) are this one."""
    rows = ["| # | exercise | you write |", "|---|---|---|"]
    for exercise in exercises:
        names = ", ".join(f"`{f}`" for f in exercise.functions)
        rows.append(f"| {exercise.id[2:4]} | [{exercise.title}]({link(exercise)}) | {names} |")
    return "\n".join(rows)


def readme_table(text: str, exercises: Sequence[course.Exercise]) -> str:
    """The README ``text`` with the table between TABLE_BEGIN and TABLE_END made from ``exercises``."""
    begin, end = text.find(TABLE_BEGIN), text.find(TABLE_END)
    if begin < 0 or end < begin:
        raise UsageError(
            f"README.md has no exercise table between the lines {TABLE_BEGIN} and {TABLE_END}: "
            f"put them around it"
        )
    table = exercise_table(exercises, lambda e: e.readme)
    # Blank lines around it: a Markdown table then never runs into the markers' comments.
    return text[: begin + len(TABLE_BEGIN)] + "\n\n" + table + "\n\n" + text[end:]


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
    readme_table(text, ())  # no markers: refused before anything is written
    for path, content in planned.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    with manifest.open("a", encoding="utf-8") as f:
        f.write(manifest_entry(exercise_id, title, functions))
    kit = course.load(manifest)  # the entry just written must read back
    readme.write_text(readme_table(text, kit.exercises), encoding="utf-8")
    return [*planned, manifest, readme]


def placeholders(root: Path, exercise: course.Exercise) -> list[str]:
    """What is left to write: each file (or manifest part) that still holds a PLACEHOLDER."""
    left = [
        f"{what} {path}"
        for what, path in exercise.paths().items()
        if (root / path).is_file() and PLACEHOLDER_FOUND.search((root / path).read_text(encoding="utf-8"))
    ]
    catalogue = catalogue_path(root, exercise.id)
    if catalogue.is_file() and PLACEHOLDER_FOUND.search(catalogue.read_text(encoding="utf-8")):
        left.append(f"mistakes {catalogue.relative_to(root).as_posix()}")
    key_calls = root / exercise.meta.key_calls
    if key_calls.is_file() and PLACEHOLDER_FOUND.search(key_calls.read_text(encoding="utf-8")):
        left.append(f"key calls {exercise.meta.key_calls}")
    if any(PLACEHOLDER_FOUND.search(hint) for _, hint in exercise.all_hints()):
        left.append("hints in exercises/course.toml")
    return left


# -- the stub's signatures and docstrings, from the reference -------------------------------------
# One source: the reference. A stub keeps its own module docstring and bodies (TODO steps and the
# NotImplementedError); each function's and class's decorators, signature and docstring are the
# reference's, copied as text (``stub_from_reference``; `facekit new EXERCISE --sync` writes it).


def _heads(tree: ast.Module) -> dict[str, tuple[int, int]]:
    """{qualified name: (first line, last line)} of each top-level function's and class's and each
    method's head: decorators, signature, docstring (1-based, inclusive)."""
    found: dict[str, tuple[int, int]] = {}

    def visit(nodes: list[ast.stmt], prefix: str) -> None:
        for node in nodes:
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            body = node.body[0]
            documented = (
                isinstance(body, ast.Expr)
                and isinstance(body.value, ast.Constant)
                and isinstance(body.value.value, str)
            )
            last = body.end_lineno if documented and body.end_lineno else body.lineno - 1
            if last >= first:  # a head on its own lines (not `def f(): ...` on one line)
                found[prefix + node.name] = (first, last)
            if isinstance(node, ast.ClassDef):
                visit(node.body, f"{prefix}{node.name}.")

    visit(tree.body, "")
    return found


def stub_from_reference(reference: str, stub: str) -> str:
    """``stub`` with the head (decorators, signature, docstring) of each function, class and method
    it shares with ``reference`` replaced by the reference's; everything else of the stub kept."""
    ref_lines, stub_lines = reference.splitlines(keepends=True), stub.splitlines(keepends=True)
    ref_heads, stub_heads = _heads(ast.parse(reference)), _heads(ast.parse(stub))
    shared = sorted((stub_heads[n], ref_heads[n]) for n in stub_heads if n in ref_heads)
    for (s_first, s_last), (r_first, r_last) in reversed(shared):
        stub_lines[s_first - 1 : s_last] = ref_lines[r_first - 1 : r_last]
    return "".join(stub_lines)


def stub_differences(reference: str, stub: str) -> list[str]:
    """The functions, classes and methods whose head in ``stub`` is not the reference's."""
    ref_lines, stub_lines = reference.splitlines(), stub.splitlines()
    ref_heads, stub_heads = _heads(ast.parse(reference)), _heads(ast.parse(stub))
    return [
        name
        for name, (first, last) in stub_heads.items()
        if name in ref_heads
        and stub_lines[first - 1 : last] != ref_lines[ref_heads[name][0] - 1 : ref_heads[name][1]]
    ]
