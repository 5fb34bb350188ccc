"""What ``facekit submit`` and ``facekit gradescope`` do with inputs of the wrong kind: an --out that
is not a zip or is a folder, a deleted or broken exercise module, unknown --all-or-nothing ids, an
extra test file that does not compile, several zips in one Gradescope upload, and the README's way
of trying the bundle locally. No test runs a grading; the bundle builds take a few seconds.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import zipfile
from pathlib import Path

import pytest

from facekit import cli, course
from facekit.grading import gradescope, report, sources

ROOT = course.repo_root()
KIT = course.load()
EX = {e.id: e for e in KIT.exercises}
SIMILARITY = EX["ex03_similarity"].stub


def make_student_kit(tmp_path: Path) -> Path:
    """A student's copy of the kit: the manifest and the stubs, committed (as test_grading's)."""
    kit = tmp_path / "kit"
    (kit / "exercises").mkdir(parents=True)
    (kit / "exercises" / "course.toml").write_bytes((ROOT / "exercises" / "course.toml").read_bytes())
    for e in KIT.exercises:
        (kit / e.stub).parent.mkdir(parents=True, exist_ok=True)
        (kit / e.stub).write_bytes((ROOT / e.stub).read_bytes())
    for args in (["init", "-q"], ["add", "-A"], ["-c", "user.name=a", "-c", "user.email=a@b", "commit", "-qm", "kit"]):
        subprocess.run(["git", "-C", str(kit), *args], check=True, capture_output=True)
    (kit / SIMILARITY).write_bytes((ROOT / EX["ex03_similarity"].reference).read_bytes())  # some work
    return kit


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, f"expected one line on stderr, got:\n{err}"
    return err


# -- facekit submit --------------------------------------------------------------------------------


def test_submit_refuses_an_out_that_is_not_a_zip_and_leaves_the_file_alone(tmp_path, capsys):
    kit = make_student_kit(tmp_path)
    module = kit / EX["ex01_images"].stub
    before = module.read_bytes()
    assert cli.main(["--root", str(kit), "submit", "--out", str(module)]) == 2
    err = one_line_error(capsys)
    assert str(module) in err and ".zip" in err, err
    assert module.read_bytes() == before, f"submit --out {module} overwrote the student's module"
    assert not list(kit.rglob("*.zip")) and not list(kit.rglob("*.tmp")), "something was written"


def test_submit_into_a_folder_writes_submission_zip_there_and_says_so(tmp_path, capsys):
    kit = make_student_kit(tmp_path)
    folder = tmp_path / "hand-in"
    folder.mkdir()
    assert cli.main(["--root", str(kit), "submit", "--out", str(folder)]) == 0
    written = folder / "submission.zip"
    assert str(written) in capsys.readouterr().out
    with zipfile.ZipFile(written) as archive:
        assert SIMILARITY in archive.namelist()
    # A folder not there yet, named with a trailing slash, is a folder too.
    assert cli.main(["--root", str(kit), "submit", "--out", str(tmp_path / "new") + "/"]) == 0
    assert zipfile.is_zipfile(tmp_path / "new" / "submission.zip")


def test_submit_names_a_missing_module_and_one_that_does_not_compile_and_submits_the_rest(tmp_path, capsys):
    kit = make_student_kit(tmp_path)
    missing, broken = EX["ex01_images"].stub, EX["ex05_retrieval"].stub
    (kit / missing).unlink()
    (kit / broken).write_text("import numpy\n\ndef top_k(:\n    pass\n")
    assert cli.main(["--root", str(kit), "submit"]) == 0
    captured = capsys.readouterr()
    warnings = [line for line in captured.err.splitlines() if "warning" in line]
    assert any(missing in line and "missing" in line for line in warnings), captured.err
    assert any(f"{broken}, line 3" in line and "ex05_retrieval" in line for line in warnings), captured.err
    with zipfile.ZipFile(kit / "submission.zip") as archive:
        names = set(archive.namelist())
    assert names == {e.stub for e in KIT.exercises if e.stub != missing} | {"submission.json"}
    # Nothing to warn about: no warning line.
    (kit / broken).write_bytes((ROOT / EX["ex05_retrieval"].reference).read_bytes())
    (kit / missing).write_bytes((ROOT / EX["ex01_images"].stub).read_bytes())
    assert cli.main(["--root", str(kit), "submit"]) == 0
    assert "warning" not in capsys.readouterr().err


# -- facekit gradescope ----------------------------------------------------------------------------


def test_gradescope_refuses_unknown_all_or_nothing_ids_before_writing(tmp_path, capsys):
    bundle = tmp_path / "x.zip"
    assert cli.main(["gradescope", "--all-or-nothing", "ex9", "--out", str(bundle)]) == 2
    err = one_line_error(capsys)
    assert "--all-or-nothing" in err and "ex9" in err, err
    assert not list(tmp_path.iterdir()), f"wrote {list(tmp_path.iterdir())}"


def test_gradescope_refuses_an_extra_test_file_that_does_not_compile_naming_it_as_given(tmp_path, capsys, monkeypatch):
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "test_ex03_similarity_hidden.py").write_text("def test_fine():\n    pass\n")
    (hidden / "test_ex04_storage_hidden.py").write_text("\n\ndef test_broken(:\n    pass\n")
    out = tmp_path / "out"
    monkeypatch.chdir(tmp_path)  # the folder as the instructor names it: relative
    assert cli.main(["gradescope", "--extra-tests", "hidden", "--out", str(out / "a.zip")]) == 2
    err = one_line_error(capsys)
    assert "hidden/test_ex04_storage_hidden.py" in err and "line 3" in err, err
    assert "tests/instructor" not in err, err
    assert not out.exists(), "the bundle was written"


def test_gradescope_out_a_folder_gets_autograder_zip_and_a_non_zip_name_is_refused(tmp_path, capsys):
    assert cli.main(["gradescope", "--out", str(tmp_path / "bundle.txt")]) == 2
    err = one_line_error(capsys)
    assert "bundle.txt" in err and ".zip" in err, err
    assert not list(tmp_path.iterdir())
    assert cli.main(["gradescope", "--out", str(tmp_path)]) == 0
    written = tmp_path / "autograder.zip"
    assert str(written) in capsys.readouterr().out
    with zipfile.ZipFile(written) as archive:
        assert "run_autograder" in archive.namelist()


def write_zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return path


def test_several_zips_in_one_upload_are_refused_naming_them(tmp_path):
    folder = tmp_path / "submission"
    folder.mkdir()
    one = write_zip(folder / "a.zip", {SIMILARITY: b"x = 1\n"})
    assert gradescope._submission_path(folder, KIT) == (one, None)  # one zip: graded as before
    write_zip(folder / "b.zip", {SIMILARITY: b"x = 2\n"})
    path, refused = gradescope._submission_path(folder, KIT)
    assert refused and "a.zip" in refused and "b.zip" in refused and "upload one zip" in refused, refused
    (folder / "similarity.py").write_bytes(b"x = 3\n")  # the modules themselves beside them: graded
    assert gradescope._submission_path(folder, KIT) == (folder, None)


def test_autograde_of_several_zips_writes_the_refusal_into_results_json(tmp_path, monkeypatch):
    """No test run: grade.grade is replaced by one that scores what it is given as `facekit grade`
    scores a folder with no student files, and records what it was given."""
    root, source = tmp_path / "autograder", tmp_path / "source"
    (root / "submission").mkdir(parents=True)
    (source / "exercises").mkdir(parents=True)
    (source / "exercises" / "course.toml").write_bytes((ROOT / "exercises" / "course.toml").read_bytes())
    write_zip(root / "submission" / "first.zip", {SIMILARITY: b"x = 1\n"})
    write_zip(root / "submission" / "second.zip", {SIMILARITY: b"x = 2\n"})
    given = []

    def fake_grade(paths, opts, roster=None, progress=None):
        given.extend(Path(p) for p in paths)
        subs = [sources.read(Path(p), KIT) for p in paths]
        expected = {e.id: [f"{e.tests}::test_a"] for e in KIT.exercises}
        results = []
        for sub in subs:
            status, reason = report.status_of(None, sub.refused, opts.timeout)
            exercises, tests = report.score(None, expected, KIT)
            results.append({"id": sub.id, "status": status, "reason": reason, "ignored": sub.ignored,
                            "total": 0, "exercises": exercises, "tests": tests})
        return results, {}, 0.0

    monkeypatch.setattr(gradescope.grade, "grade", fake_grade)
    data = gradescope.autograde(root, source)
    assert len(given) == 1 and not list(given[0].glob("*.zip")), \
        f"grade was given {given}: the zips would be graded as a class"
    written = json.loads((root / "results" / "results.json").read_text())
    assert written == data and data["score"] == 0
    assert data["output"].startswith("Status: refused") and "first.zip" in data["output"] \
        and "second.zip" in data["output"] and "upload one zip" in data["output"], data["output"]


# -- the README ------------------------------------------------------------------------------------


def test_readme_try_it_locally_command_runs_the_bundles_python_from_where_it_is_typed(tmp_path):
    """The Gradescope page's command, run as typed in the kit (DIR a relative folder): run_autograder starts
    in DIR/source, and the Python it names must still be found there, with DIR still DIR."""
    readme = " ".join((ROOT / "docs" / "instructors" / "gradescope.md").read_text(encoding="utf-8").split())
    match = re.search(r"`(FACEKIT_AUTOGRADER_ROOT=DIR [^`]*run_autograder)`", readme)
    assert match, "docs/instructors/gradescope.md has no `FACEKIT_AUTOGRADER_ROOT=DIR ... run_autograder`"
    command = match.group(1).replace("DIR", "ag")
    kit = tmp_path / "kit"
    python = kit / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    record = tmp_path / "record"
    # A stand-in Python: where it runs, the root it is given, its arguments.
    python.write_text(f'#!/bin/sh\necho "$PWD|$FACEKIT_AUTOGRADER_ROOT|$*" > "{record}"\n')
    python.chmod(0o755)
    script = kit / "ag" / "source" / "run_autograder"
    script.parent.mkdir(parents=True)
    script.write_text(gradescope.RUN_AUTOGRADER)
    script.chmod(0o755)
    (kit / "ag" / "submission").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACEKIT_")}
    proc = subprocess.run(["bash", "-c", command], cwd=kit, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and record.is_file(), f"{command}: {proc.stderr}"
    cwd, root, args = record.read_text().strip().split("|")
    assert args == "-m facekit.grading.gradescope run"
    assert Path(cwd, root).resolve() == (kit / "ag").resolve(), \
        f"run_autograder gave root {root!r} to a Python running in {cwd}: it grades the wrong folder"
