"""`facekit release`: the repository students clone. It holds no reference code (no solutions/, no
solved literal students, no catalogue fix), its README's commands work there (the student's
pytest says what is not implemented yet), its links resolve, and it is one clean git commit.
The student's pytest runs with this venv, against the release tree (a fresh `pip install -e .`
would take minutes; the release's own packages are imported, which the test checks).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from facekit import cli, course, mistakes, release

ROOT = course.repo_root()
KIT = course.load()


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("release") / "course"
    assert cli.main(["release", "--out", str(out)]) == 0
    return out


def text_files(tree: Path) -> dict[str, str]:
    found = {}
    for path in tree.rglob("*"):
        rel = path.relative_to(tree)
        if path.is_file() and ".git" not in rel.parts:
            try:
                found[rel.as_posix()] = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                pass
    return found


def reference_code_in(tree: Path) -> list[str]:
    return release.reference_code(tree, ROOT, KIT)


def test_a_release_has_no_reference_code(released):
    names = set(text_files(released)) | {
        p.relative_to(released).as_posix()
        for p in released.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(released).parts
    }
    assert not [n for n in names if n.startswith("solutions/")], "solutions/ is in the student release"
    assert not [n for n in names if n.startswith("tests/kit/")], (
        f"instructor-only tests in the release: {sorted(n for n in names if n.startswith('tests/kit/'))[:5]}"
    )
    catalogues = {
        mistakes.catalogue_path(released, e.id).relative_to(released).as_posix() for e in KIT.exercises
    }
    meta = sorted(n for n in names if n.startswith(course.META_DIR + "/") and n not in catalogues)
    assert not meta, (
        f"the kit's own files of an exercise in the release (only the catalogue may be): {meta[:5]}"
    )
    assert reference_code_in(released) == [], "reference code in the student release"
    for exercise in KIT.exercises:
        assert (released / exercise.stub).read_bytes() == (ROOT / exercise.stub).read_bytes(), (
            f"{exercise.stub} in the release is not the stub as shipped"
        )


def test_the_check_finds_reference_code_where_there_is_some(tmp_path):
    """The check above can fail: a self-study release has solutions/, and the check names them."""
    out = tmp_path / "self-study"
    release.build(ROOT, out, with_solutions=True)
    found = reference_code_in(out)
    for exercise in KIT.exercises:
        assert any(f.startswith(f"{exercise.reference}: {exercise.id}.") for f in found), (
            f"the check found no reference function of {exercise.reference} in a release holding it: {found[:5]}"
        )
    said = " ".join((out / "README.md").read_text().split())
    assert "`--target solutions`" in said and "self-study" in said, said[:800]


def test_the_catalogue_names_mistakes_but_never_quotes_the_fix(released):
    for exercise in KIT.exercises:
        kit_entries = mistakes.load(ROOT, exercise)
        shipped = mistakes.load(released, exercise)  # facekit check reads it this way
        assert [(m.id, m.says, m.test, m.words) for m in shipped] == [
            (m.id, m.says, m.test, m.words) for m in kit_entries
        ], f"{exercise.id}: the catalogue changed"
        # find quotes the reference; find -> replace is the way back from the mistake to it.
        leaked = [m.id for m in shipped if m.find or m.replace]
        assert not leaked, f"{exercise.id}: the release's catalogue has the find/replace of {leaked}"
        text = mistakes.catalogue_path(released, exercise.id).read_text(encoding="utf-8")
        quoted = [m.id for m in kit_entries if len(m.find.strip()) > 20 and m.find.strip() in text]
        assert not quoted, f"{exercise.id}: the release's catalogue quotes the reference of {quoted}"


def test_the_students_pytest_in_a_release_says_what_is_not_implemented(released):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIT_", "PYTEST_", "FACEKIT_"))}
    env.update(HF_HUB_OFFLINE="1", PYTHONDONTWRITEBYTECODE="1")
    # `python -m`, from the release: its own facekit and exercises, not this kit's.
    where = subprocess.run(
        [
            sys.executable,
            "-c",
            "import facekit, exercises; print(facekit.__file__); print(exercises.__file__)",
        ],
        cwd=released,
        env=env,
        capture_output=True,
        text=True,
    )
    assert [Path(p).resolve().is_relative_to(released.resolve()) for p in where.stdout.split()] == [
        True,
        True,
    ], where.stdout + where.stderr
    readme = (released / "README.md").read_text(encoding="utf-8")
    found = re.search(r"```sh\n(.*?)```", readme, re.S)
    assert found, "the released README.md has no ```sh block"
    block = found.group(1).strip().splitlines()
    assert block == ["python3 -m venv .venv && .venv/bin/pip install -e .", ".venv/bin/pytest"], block
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=released,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, f"pytest in the release exited {proc.returncode}:\n{out[-3000:]}"
    for exercise in KIT.exercises:
        for function in exercise.functions:
            said = re.search(
                rf"^{re.escape(function)}(\.\w+)?\(\) is not implemented yet: open "
                rf"{re.escape(exercise.stub)} \(\d+ tests\)$",
                out,
                re.M,
            )
            assert said, (
                f"the student's pytest in the release does not say {function}() is not implemented:\n"
                f"{out[-3000:]}"
            )
    assert re.search(r"^\d+ not implemented in ", out, re.M) and " passed" not in out, out[-1500:]
    status = subprocess.run(
        ["git", "-C", str(released), "status", "--porcelain"], capture_output=True, text=True
    )
    assert status.stdout == "", f"the student's pytest left the repository changed:\n{status.stdout}"


def test_a_release_is_one_commit_and_its_readme_links_resolve(released):
    log = subprocess.run(["git", "-C", str(released), "log", "--format=%s"], capture_output=True, text=True)
    assert log.stdout.splitlines() == [release.COMMIT_MESSAGE], log.stdout + log.stderr
    branch = subprocess.run(
        ["git", "-C", str(released), "branch", "--show-current"], capture_output=True, text=True
    )
    assert branch.stdout.strip() == "main"
    readme = (released / "README.md").read_text(encoding="utf-8")
    pages = ["README.md", *(p.relative_to(released).as_posix() for p in (released / "docs").rglob("*.md"))]
    assert "docs/students/loop.md" in pages, pages
    for page in pages:  # the students' pages of docs/ come along, each link of theirs resolving too
        text = (released / page).read_text(encoding="utf-8")
        links = [
            t.split("#")[0]
            for t in re.findall(r"\]\(([^)\s]+)\)", text)
            if "://" not in t and t.split("#")[0]
        ]
        broken = [t for t in links if not (released / page).parent.joinpath(t).exists()]
        assert broken == [], f"{page} links to files not in the release: {broken}"
    assert "## For students" in readme and "## For instructors" not in readme
    assert not (released / "docs" / "instructors").exists()


def test_release_refuses_a_destination_that_holds_something(tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine")
    assert cli.main(["release", "--out", str(taken)]) == 1
    err = capsys.readouterr().err
    assert "already exists" in err and str(taken) in err, err
    assert [p.name for p in taken.iterdir()] == ["keep.txt"], "release wrote into a folder that was not empty"
    assert [p.name for p in tmp_path.iterdir()] == ["taken"], "a partial release was left beside it"


def test_facekit_solution_in_a_release_says_there_are_no_solutions(released, capsys):
    assert cli.main(["--root", str(released), "solution", "ex03_similarity"]) == 1
    err = capsys.readouterr().err.strip()
    assert "no reference solutions" in err and len(err.splitlines()) == 1, err


def test_release_refuses_a_kit_whose_stub_was_solved(tmp_path):
    """The instructor tried the reference in a stub's place: the release says so and writes nothing."""
    kit = tmp_path / "kit"
    for name in release.kit_files(ROOT):
        if release.wanted(name, False) or name == "README.md" or name.endswith("/mistakes.toml"):
            (kit / name).parent.mkdir(parents=True, exist_ok=True)
            (kit / name).write_bytes((ROOT / name).read_bytes())
    solved = KIT.get("ex05_retrieval")
    (kit / solved.reference).parent.mkdir(parents=True, exist_ok=True)
    (kit / solved.reference).write_bytes((ROOT / solved.reference).read_bytes())
    (kit / solved.stub).write_bytes((ROOT / solved.reference).read_bytes())
    with pytest.raises(
        release.ReleaseError, match=rf"reference code \({re.escape(solved.stub)}: ex05_retrieval\.top_k"
    ):
        release.build(kit, tmp_path / "out")
    assert not (tmp_path / "out").exists() and [p.name for p in tmp_path.iterdir()] == ["kit"]


@pytest.mark.parametrize(
    "name, in_release, in_self_study",
    [
        ("exercises/ex01_images/images.py", True, True),
        ("tests/test_ex01_images.py", True, True),
        ("tests/instructor/test_ex01_images_hidden.py", False, False),  # hidden tests stay hidden
        ("tests/kit/test_grading.py", False, False),
        ("course/ex01_images/literal/images.py", False, False),  # solved from the teaching text
        ("course/ex01_images/mistakes.toml", False, False),  # written apart, without find/replace
        ("course/ex01_images/mutation.toml", False, False),
        ("solutions/ex01_images/images.py", False, True),
        ("benchmarks/bench_grade.py", False, False),
        (".ci/run", False, False),
        ("docs/github-classroom.yml", False, False),
        ("conftest.py", True, True),
    ],
)
def test_what_a_release_takes_from_the_kit(name, in_release, in_self_study):
    assert (release.wanted(name, False), release.wanted(name, True)) == (in_release, in_self_study), name


def test_release_refuses_a_destination_inside_the_kit(capsys):
    inside = ROOT / "release-inside-the-kit"
    assert cli.main(["release", "--out", str(inside)]) == 1
    err = capsys.readouterr().err
    assert "inside the kit" in err and not inside.exists(), err
