"""The README agrees with the manifest and with CI."""

from __future__ import annotations

import re

from facekit import course

ROOT = course.repo_root()
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_lists_every_exercise_in_manifest_order():
    linked = re.findall(r"^\| \d+ \| \[([^\]]+)\]\(([^)]+)\) \|", README, re.M)
    assert linked == [(e.title, e.readme) for e in course.load().exercises]


def test_readme_table_is_the_one_made_from_the_manifest():
    """Between its markers the README holds scaffold.readme_table's table, as `facekit new` writes it."""
    from facekit import scaffold

    made = scaffold.readme_table(README, course.load().exercises)
    assert made == README, (
        f"the README's exercise table (between {scaffold.TABLE_BEGIN} and {scaffold.TABLE_END}) is not "
        f"the one made from exercises/course.toml: write it as scaffold.readme_table does"
    )


def test_readme_names_each_exercises_functions():
    for exercise in course.load().exercises:
        row = next(line for line in README.splitlines() if f"({exercise.readme})" in line)
        for function in exercise.functions:
            assert f"`{function}`" in row, f"{function} missing from the README row of {exercise.id}"


def test_ci_runs_the_readme_kit_check_command():
    block = README.split("<!-- kit-check -->", 1)[1]
    command = re.search(r"```sh\n(.+?)\n```", block, re.S).group(1)
    assert "pytest --target solutions --kit" in command
    assert "<!-- kit-check -->" in (ROOT / ".ci" / "run").read_text()


def test_every_exercise_readme_and_link_exists():
    targets = re.findall(r"\]\(((?:exercises|facekit|notebooks|docs)/[^)#]+)\)", README)
    assert any(t.startswith("docs/") for t in targets), "the README links into the documentation (docs/)"
    for target in targets:
        assert (ROOT / target).exists(), f"README links to a missing file: {target}"
