"""A synthetic exercise, added to a copy of the kit the way an instructor adds one: `facekit new`,
then every placeholder written, in the exercise's own files only (its two trees' modules, its
test module, its notebook, its README, its hints in the manifest and its meta folder).

``fill`` writes what an instructor would: a reference, its signature and docstring copied into
the stub by `facekit new --sync`, tests whose failures name the function, the input and what
differs, as many catalogued mistakes as the manifest's [course.policy] asks, and the hints.
tests/kit/test_new_exercise.py then runs the kit's checks for it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from facekit import cli, course, mistakes, scaffold

TITLE = "Counting frames per name"
FUNCTION = "tally"
STEP = "Look the name up in the dict of counts: `frames[name]`."


def names(count: int) -> dict[str, int]:
    """``count`` names, each seen in a different number of frames: {"n01": 1, "n02": 2, ...}."""
    return {f"n{i:02d}": i for i in range(1, count + 1)}


def next_id(kit: Path, name: str = FUNCTION) -> str:
    """``exNN_name`` after the manifest's last exercise (a copy may hold a synthetic one already)."""
    numbers = [int(e.id[2:4]) for e in course.load(kit / "exercises" / "course.toml").exercises]
    return f"ex{max(numbers) + 1:02d}_{name}"


def new(
    kit: Path, exercise_id: str | None = None, title: str = TITLE, function: str = FUNCTION
) -> course.Exercise:
    exercise_id = exercise_id or next_id(kit)
    code = cli.main(["--root", str(kit), "new", exercise_id, title, "--functions", function])
    assert code == 0, f"facekit new {exercise_id} exited {code}"
    return course.load(kit / "exercises" / "course.toml").get(exercise_id)


def fill(kit: Path, exercise: course.Exercise) -> None:
    """Write every placeholder `facekit new` left in ``exercise`` (one function), in its own files only."""
    (function,) = exercise.functions
    exercise_id, title = exercise.id, exercise.title
    manifest = kit / "exercises" / "course.toml"
    seen = names(max(course.load(manifest).policy.min_mistakes, 2))
    table = "".join(f'        "{name}": {count},\n' for name, count in seen.items())
    reference = kit / exercise.reference
    reference.write_text(
        f'"""Exercise {exercise_id[2:4]}: {title} (reference)."""\n\n\n'
        f"def {function}(name: str) -> int:\n"
        f'    """The number of frames in which ``name`` was seen; KeyError for a name never seen."""\n'
        f"    frames = {{\n{table}    }}\n"
        f"    return frames[name]\n",
        encoding="utf-8",
    )
    code = cli.main(["--root", str(kit), "new", exercise_id, "--sync"])  # the stub's head from it
    assert code == 0, f"facekit new {exercise_id} --sync exited {code}"

    tests = kit / exercise.tests
    source = tests.read_text(encoding="utf-8")
    start = source.index(f'@pytest.mark.function("{function}")')
    expected = ", ".join(f'"{name}": {count}' for name, count in seen.items())
    tests.write_text(
        source[:start] + f"FRAMES = {{{expected}}}\n\n\n"
        f'@pytest.mark.function("{function}")\n'
        f'@pytest.mark.parametrize("name", list(FRAMES))\n'
        f"def test_{function}_counts_each_name(ex, name):\n"
        f"    got = ex.{function}(name)\n"
        f'    assert got == FRAMES[name], f"{function}({{name!r}}) returned {{got}}, expected {{FRAMES[name]}}"\n',
        encoding="utf-8",
    )

    entries = "".join(
        f'\n[[mistake]]\nid = "miscount-{name}"\nsays = "I counted {name} once more"\n'
        f"find = '\"{name}\": {count},'\nreplace = '\"{name}\": {count + 1},'\n"
        f'test = "test_{function}_counts_each_name[{name}]"\n'
        f'words = ["{function}(\'{name}\')", "expected {count}"]\n'
        for name, count in seen.items()
    )
    catalogue = mistakes.catalogue_path(kit, exercise_id)
    catalogue.write_text(
        f"# {exercise_id}: typical mistakes (format: facekit/mistakes.py).\n{entries}", "utf-8"
    )

    readme = kit / exercise.readme
    text = readme.read_text(encoding="utf-8")
    text = re.sub(r"<!-- FACEKIT-NEW: what the student builds[^>]*-->", "Count frames per name.", text)
    text = re.sub(r"<!-- FACEKIT-NEW: what \w+\(\) is for[^>]*-->", "A name's frames, from a dict.", text)
    text = re.sub(r"1\. FACEKIT-NEW: the first step.*", f"1. {STEP}", text)
    readme.write_text(text, encoding="utf-8")
    stub = kit / exercise.stub
    stub.write_text(re.sub(r"# TODO 1: FACEKIT-NEW.*", f"# TODO 1: {STEP}", stub.read_text("utf-8")), "utf-8")
    key_calls = kit / exercise.meta.key_calls
    key_calls.write_text(f'{function} = ["frames[name]"]\n', encoding="utf-8")

    assert exercise.notebook, f"facekit new gave {exercise_id} no notebook"
    notebook = kit / exercise.notebook
    book = json.loads(notebook.read_text(encoding="utf-8"))
    for cell in book["cells"]:
        if scaffold.PLACEHOLDER in "".join(cell["source"]):
            cell["source"] = f"`ex.{function}('n01')` gives 1."
    notebook.write_text(json.dumps(book, indent=1) + "\n", encoding="utf-8")

    manifest.write_text(
        manifest.read_text(encoding="utf-8")
        .replace(f"FACEKIT-NEW: a nudge for {function}()", "A dict from names to counts.")
        .replace(f"FACEKIT-NEW: a near-answer for {function}()", "return frames[name]"),
        encoding="utf-8",
    )
