"""The README agrees with the manifest and with CI."""

from __future__ import annotations

import re
import sys

from facekit import course

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

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


def kit_check_command() -> str:
    """The README's kit-check block, the commands .ci/run executes verbatim."""
    block = README.split("<!-- kit-check -->", 1)[1]
    found = re.search(r"```sh\n(.+?)\n```", block, re.S)
    assert found, "README.md: no ```sh block after <!-- kit-check -->"
    return found.group(1)


def test_ci_runs_the_readme_kit_check_command():
    assert "pytest --target solutions --kit" in kit_check_command()
    assert "<!-- kit-check -->" in (ROOT / ".ci" / "run").read_text()


def test_every_text_gives_the_kit_check_as_the_readme_does():
    """One recipe: wherever a text names the kit's check, it is the README's kit-check line (on
    every core: pytest-xdist, which the dev extra installs)."""
    [line] = [line for line in kit_check_command().splitlines() if "pytest --target solutions --kit" in line]
    recipe = line.removeprefix(".venv/bin/")
    texts = [
        ROOT / "README.md",
        ROOT / "CONTRIBUTING.md",
        ROOT / "CHEATSHEET.md",
        *(ROOT / "docs").rglob("*.md"),
    ]
    texts += [ROOT / "facekit" / "pytest_plugin.py"]
    found = 0
    for path in texts:
        text = path.read_text(encoding="utf-8")
        for hit in re.finditer(r"pytest --target solutions --kit[^`\n]*", text):
            found += 1
            assert hit.group(0).rstrip() == recipe, (
                f"{path.relative_to(ROOT)} gives the kit's check as `{hit.group(0).rstrip()}`, the README as `{recipe}`"
            )
    assert found > 3, f"the kit's check is named in {found} places only"
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    if " -n " in recipe:
        assert any(r.startswith("pytest-xdist") for r in pyproject["project"]["optional-dependencies"]["dev"])


# The code checks: CI runs each with the venv's tool, and pre-commit runs the same tool.
CODE_CHECKS = {"ruff check": "ruff", "ruff format": "ruff", "mypy": "mypy"}


def test_ci_checks_the_code_with_the_dev_extras_tools():
    """ruff's lint and format check and mypy run in CI (the kit-check block), with the tools the
    dev extra installs: a fresh clone's `pip install -e '.[dev]'` has them."""
    command = kit_check_command()
    for wanted in (".venv/bin/ruff check .", ".venv/bin/ruff format --check .", ".venv/bin/mypy"):
        assert re.search(rf"(^|&& ){re.escape(wanted)}( &&|$)", command, re.M), (
            f"README.md's kit-check block does not run `{wanted}`:\n{command}"
        )
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    dev = pyproject["project"]["optional-dependencies"]["dev"]
    names = {re.split(r"[ <>=!~;\[]", requirement, maxsplit=1)[0].lower() for requirement in dev}
    missing = {"ruff", "mypy", "pre-commit"} - names
    assert not missing, f"pyproject.toml's dev extra lacks {sorted(missing)}: {dev}"


def test_pre_commit_runs_the_checks_ci_runs_offline():
    """.pre-commit-config.yaml: local hooks (no download) that run the venv's ruff check, ruff
    format and mypy, mypy on the files pyproject.toml names (as CI), not on the changed files only."""
    import yaml  # pre-commit's own dependency (the dev extra)

    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    assert [repo["repo"] for repo in config["repos"]] == ["local"], "only local hooks: they run offline"
    # Each hook by its command without options: ".venv/bin/ruff check", ".venv/bin/mypy".
    hooks = {
        " ".join(word for word in hook["entry"].split() if not word.startswith("-")): hook
        for hook in config["repos"][0]["hooks"]
    }
    for check, tool in CODE_CHECKS.items():
        entry = f".venv/bin/{check}"
        hook = hooks.get(entry)
        assert hook is not None, (
            f".pre-commit-config.yaml has no hook running {entry}; it has {sorted(hooks)}"
        )
        assert hook["language"] == "system", (
            f"{entry}: language {hook['language']!r}, expected system (the venv's {tool})"
        )
    assert hooks[".venv/bin/mypy"].get("pass_filenames") is False, (
        "the mypy hook must check what [tool.mypy] files names, as CI does, not only the changed files"
    )


def test_every_exercise_readme_and_link_exists():
    targets = re.findall(r"\]\(((?:exercises|facekit|notebooks|docs)/[^)#]+)\)", README)
    assert any(t.startswith("docs/") for t in targets), "the README links into the documentation (docs/)"
    for target in targets:
        assert (ROOT / target).exists(), f"README links to a missing file: {target}"
