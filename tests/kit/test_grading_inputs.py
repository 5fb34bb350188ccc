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
from dataclasses import replace
from pathlib import Path

import pytest

from facekit import cli, course
from facekit.grading import gradescope, records, report, sources
from facekit.grading.records import SubmissionResult

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
    for args in (
        ["init", "-q"],
        ["add", "-A"],
        ["-c", "user.name=a", "-c", "user.email=a@b", "commit", "-qm", "kit"],
    ):
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


def test_gradescope_refuses_an_extra_test_file_that_does_not_compile_naming_it_as_given(
    tmp_path, capsys, monkeypatch
):
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


def test_the_bundle_names_catalogued_mistakes_but_never_quotes_the_reference(tmp_path):
    """The bundle carries each exercise's catalogue for the feedback, as a student's release has
    it: id, says, test, words, with no find/replace (they quote the reference), and nothing
    else of an exercise's meta folder (its literal student solves the exercise)."""
    from facekit import mistakes

    bundle = tmp_path / "autograder.zip"
    assert cli.main(["gradescope", "--out", str(bundle)]) == 0
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(tmp_path / "source")
        names = archive.namelist()
    meta = sorted(n for n in names if n.startswith(course.META_DIR + "/"))
    assert meta == sorted(e.meta.mistakes for e in KIT.exercises), f"the bundle's meta files: {meta}"
    for exercise in KIT.exercises:
        shipped = mistakes.load(tmp_path / "source", exercise)
        kit = mistakes.load(ROOT, exercise)
        assert [(m.id, m.says, m.test, m.words) for m in shipped] == [
            (m.id, m.says, m.test, m.words) for m in kit
        ], f"{exercise.id}: the bundle's catalogue is not the kit's"
        leaked = [m.id for m in shipped if m.find or m.replace]
        assert not leaked, f"{exercise.id}: the bundle's catalogue has the find/replace of {leaked}"


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


def read_only_grade(paths, opts):
    """grade.grade's result for hand-ins that are read (and refused) but whose tests never run."""
    subs = [sources.read(Path(p), KIT) for p in paths]
    expected = {e.id: [f"{e.tests}::test_a"] for e in KIT.exercises}
    results = []
    for sub in subs:
        status, reason = report.status_of(None, sub.refused, opts.timeout)
        exercises, tests = report.score(None, expected, KIT)
        results.append(
            SubmissionResult(
                id=sub.id,
                status=status,
                reason=reason,
                ignored=sub.ignored,
                total=0,
                exercises=exercises,
                tests=tests,
            )
        )
    return results, {}, 0.0


def test_autograde_of_several_zips_writes_the_refusal_into_results_json(tmp_path, monkeypatch):
    """No test run: grade.grade is replaced by one that scores what it is given as `facekit grade`
    scores a folder with no student files, and records what it was given."""
    root, source = tmp_path / "autograder", tmp_path / "source"
    (root / "submission").mkdir(parents=True)
    (source / "exercises").mkdir(parents=True)
    (source / "exercises" / "course.toml").write_bytes((ROOT / "exercises" / "course.toml").read_bytes())
    write_zip(root / "submission" / "first.zip", {SIMILARITY: b"x = 1\n"})
    write_zip(root / "submission" / "second.zip", {SIMILARITY: b"x = 2\n"})
    given: list[Path] = []

    def fake_grade(paths, opts, roster=None, progress=None):
        given.extend(Path(p) for p in paths)
        return read_only_grade(paths, opts)

    monkeypatch.setattr(gradescope.grade, "grade", fake_grade)
    data = gradescope.autograde(root, source)
    assert len(given) == 1 and not list(given[0].glob("*.zip")), (
        f"grade was given {given}: the zips would be graded as a class"
    )
    written = json.loads((root / "results" / "results.json").read_text())
    assert written == data and data["score"] == 0
    assert (
        data["output"].startswith("Status: refused")
        and "first.zip" in data["output"]
        and "second.zip" in data["output"]
        and "upload one zip" in data["output"]
    ), data["output"]


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
    proc = subprocess.run(
        ["bash", "-c", command], cwd=kit, env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0 and record.is_file(), f"{command}: {proc.stderr}"
    cwd, root, args = record.read_text().strip().split("|")
    assert args == "-m facekit.grading.gradescope run"
    assert Path(cwd, root).resolve() == (kit / "ag").resolve(), (
        f"run_autograder gave root {root!r} to a Python running in {cwd}: it grades the wrong folder"
    )


# -- what Gradescope shows, and that it always has something to show -------------------------------


def fake_result(
    passed_of: dict[str, tuple[int, int]], status="ok", reason="", warnings=()
) -> SubmissionResult:
    """A graded result as `facekit grade` makes it (report.score on a run), no test run: per
    exercise id, (tests passed, tests)."""
    expected = {
        e.id: [f"{e.tests}::test_{i}" for i in range(passed_of.get(e.id, (0, 2))[1])] for e in KIT.exercises
    }
    ran = {}
    for exercise in KIT.exercises:
        passed, _ = passed_of.get(exercise.id, (0, 2))
        for i, nodeid in enumerate(expected[exercise.id]):
            ran[nodeid] = {
                "outcome": "passed" if i < passed else "failed",
                "message": "AssertionError: differs",
            }
    exercises, outcomes = report.score(records.outcomes_of({"tests": ran}), expected, KIT)
    tests = {
        nodeid: replace(
            test,
            exercise=nodeid.split("::")[0].removeprefix("tests/test_").removesuffix(".py"),
            function=None,
        )
        for nodeid, test in outcomes.items()
    }
    total = sum(e.score for e in exercises.values())
    return SubmissionResult(
        id="submission",
        status=status,
        reason=reason,
        ignored=[],
        warnings=list(warnings),
        total=total,
        max_total=report.max_total(KIT),
        exercises=exercises,
        tests=tests,
    )


def test_results_json_is_markdown_with_a_useful_overview():
    result = fake_result(
        {"ex01_images": (2, 2), "ex03_similarity": (1, 2)},
        warnings=["uncommitted changes to x.py were not graded"],
    )
    data = gradescope.results_json(result, KIT, 3.0)
    # Gradescope shows "text" (its default for tests) raw: the feedback's `code` and lists need "md".
    assert (data.get("output_format"), data.get("test_output_format")) == ("md", "md"), (
        f"results.json output_format={data.get('output_format')!r}, test_output_format={data.get('test_output_format')!r}"
    )
    assert all(t.get("output_format", data["test_output_format"]) == "md" for t in data["tests"])
    output = data["output"]
    assert f"**Total: 15 / {report.max_total(KIT)}**" in output, output
    assert "| ex01_images: " in output and "| 10 / 10 | 2 of 2 |" in output, output
    assert (
        "| 5 / 10 | 1 of 2 |" in output and "Note: uncommitted changes to x.py were not graded" in output
    ), output
    assert len(output.splitlines()) > len(KIT.exercises), f"the top-level output says only: {output!r}"


def test_autograde_writes_results_json_with_score_0_and_why_when_grading_fails(tmp_path, monkeypatch):
    root, source = tmp_path / "autograder", tmp_path / "source"
    (root / "submission").mkdir(parents=True)
    (source / "exercises").mkdir(parents=True)
    (source / "exercises" / "course.toml").write_bytes((ROOT / "exercises" / "course.toml").read_bytes())
    (root / "submission" / "similarity.py").write_bytes(b"x = 1\n")

    def broken_grade(paths, opts, roster=None, progress=None):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(gradescope.grade, "grade", broken_grade)
    monkeypatch.setenv(gradescope.ROOT_ENV, str(root))
    monkeypatch.chdir(source)  # run_autograder starts it in the bundle's source/
    assert gradescope.main(["run"]) == 0
    written = json.loads((root / "results" / "results.json").read_text())
    assert written["score"] == 0 and written["tests"] == [], written
    assert "No space left on device" in written["output"] and "Not graded" in written["output"], written[
        "output"
    ]


def test_run_autograder_writes_results_json_when_its_python_cannot_even_start(tmp_path):
    root = tmp_path / "autograder"
    script = root / "source" / "run_autograder"
    script.parent.mkdir(parents=True)
    script.write_text(gradescope.RUN_AUTOGRADER)
    script.chmod(0o755)
    (root / "submission").mkdir()
    (root / "results").mkdir()
    (root / "results" / "results.json").write_text('{"score": 60}')  # an earlier run's, tried locally
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FACEKIT_")},
        gradescope.ROOT_ENV: str(root),
        "FACEKIT_AUTOGRADER_PYTHON": str(tmp_path / "no-such-python"),
    }
    proc = subprocess.run([str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    written = json.loads((root / "results" / "results.json").read_text())
    assert written["score"] == 0 and "exit code 127" in written["output"], written


def _stub(path: Path, text: str) -> None:
    path.write_text("#!/bin/sh\n" + text)
    path.chmod(0o755)


def _python_stub(bin_dir: Path, name: str, version: str, log: Path) -> None:
    """A stand-in Python ``name`` of ``version``: answers setup.sh's version check, makes a venv
    whose pip and python only write down what they were asked."""
    recent = tuple(int(p) for p in version.split(".")[:2]) >= (3, 10)
    venv_tool = f'#!/bin/sh\\necho "venv-$(/usr/bin/basename "$0") $*" >> "{log}"\\n'
    _stub(
        bin_dir / name,
        f"""echo "{name} $*" >> "{log}"
case "$1" in
  -c) exit {0 if recent else 1} ;;
  --version) echo "Python {version}" ;;
  -m) /bin/mkdir -p "$3/bin"
      for tool in pip python; do printf '{venv_tool}' > "$3/bin/$tool"; /bin/chmod +x "$3/bin/$tool"; done ;;
esac
""",
    )


@pytest.mark.parametrize(
    "image, manager, system_python, installs",
    [
        ("Ubuntu 20.04", "apt-get", "3.8.10", "python3.11"),
        ("Ubuntu 18.04", "apt-get", "3.6.9", "python3.11"),
        ("Ubuntu 22.04", "apt-get", "3.10.12", None),
        ("Ubuntu 24.04", "apt-get", "3.12.3", None),
        ("Fedora 38", "dnf", "3.11.4", None),
        ("Rocky 8", "dnf", "3.6.8", "python3.11"),
    ],
)
def test_setup_sh_builds_the_venv_with_a_python_of_at_least_3_10(
    tmp_path, image, manager, system_python, installs
):
    """setup.sh run on a stand-in of each base image Gradescope documents: its package manager and
    add-apt-repository only write down their arguments (installing python3.11 puts it on the
    PATH); the image's python3 has its version."""
    root, bin_dir, log = tmp_path / "autograder", tmp_path / "bin", tmp_path / "log"
    (root / "source").mkdir(parents=True)
    bin_dir.mkdir()
    (bin_dir / "basename").symlink_to("/usr/bin/basename")
    _python_stub(bin_dir, "python3", system_python, log)
    _stub(
        bin_dir / manager,
        f'echo "{manager} $*" >> "{log}"\n'
        f'case "$*" in *"install"*python3.11*) printf "" > "{tmp_path}/installed" ;; esac\n',
    )
    _stub(bin_dir / "add-apt-repository", f'echo "add-apt-repository $*" >> "{log}"\n')
    script = root / "source" / "setup.sh"
    script.write_text(gradescope.SETUP_SH)
    later = tmp_path / "later"
    later.mkdir()
    _python_stub(later, "python3.11", "3.11.11", log)
    _stub(
        bin_dir / "python3.11", f'[ -e "{tmp_path}/installed" ] || exit 127\nexec "{later}/python3.11" "$@"\n'
    )
    env = {"PATH": str(bin_dir), gradescope.ROOT_ENV: str(root), "HOME": str(tmp_path)}
    proc = subprocess.run(["/bin/bash", str(script)], env=env, capture_output=True, text=True, timeout=60)
    calls = log.read_text().splitlines() if log.exists() else []
    assert proc.returncode == 0, (
        f"setup.sh on {image} (python3 {system_python}): {proc.stderr}\n" + "\n".join(calls)
    )
    venv = [c for c in calls if " -m venv " in c]
    assert venv == [f"{installs or 'python3'} -m venv {root}/venv"], (
        f"setup.sh on {image} (python3 {system_python}) made its venv with: {venv}"
    )
    deadsnakes = any(c.startswith("add-apt-repository") and "ppa:deadsnakes/ppa" in c for c in calls)
    assert deadsnakes == (manager == "apt-get" and installs is not None), calls
    assert (
        calls[-1] == "venv-python -m facekit.grading.gradescope prepare" and "venv-pip install ." in calls
    ), calls


def test_setup_sh_stops_saying_which_image_to_choose_when_no_python_3_10_can_be_had(tmp_path):
    root, bin_dir, log = tmp_path / "autograder", tmp_path / "bin", tmp_path / "log"
    (root / "source").mkdir(parents=True)
    bin_dir.mkdir()
    _python_stub(bin_dir, "python3", "3.6.8", log)
    _stub(bin_dir / "dnf", f'echo "dnf $*" >> "{log}"\n')  # CentOS 8: its mirrors are gone
    script = root / "source" / "setup.sh"
    script.write_text(gradescope.SETUP_SH)
    env = {"PATH": str(bin_dir), gradescope.ROOT_ENV: str(root), "HOME": str(tmp_path)}
    proc = subprocess.run(["/bin/bash", str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "choose Ubuntu 22.04" in proc.stderr, (proc.returncode, proc.stderr)
    assert not (root / "venv").exists()


def test_the_gradescope_page_names_the_base_image_to_choose():
    page = " ".join((ROOT / "docs" / "instructors" / "gradescope.md").read_text(encoding="utf-8").split())
    assert "base image **Ubuntu 22.04**" in page, (
        "docs/instructors/gradescope.md does not say which base image to choose"
    )
    assert "deadsnakes" in page, (
        "docs/instructors/gradescope.md does not say where an older image's Python 3.10+ comes from"
    )
    assert "Ubuntu 22.04 (the default)" in gradescope.SETUP_SH, "setup.sh names another image than the page"


def test_autograde_of_a_damaged_zip_writes_its_refusal_into_results_json(tmp_path, monkeypatch):
    """No test run, as above: grade.grade reads the hand-in as `facekit grade` does and scores
    nothing. A bad CRC raised out of the read, and run_autograder wrote no results.json."""
    root, source = tmp_path / "autograder", tmp_path / "source"
    (root / "submission").mkdir(parents=True)
    (source / "exercises").mkdir(parents=True)
    (source / "exercises" / "course.toml").write_bytes((ROOT / "exercises" / "course.toml").read_bytes())
    zipped = write_zip(
        tmp_path / "ok.zip", {SIMILARITY: b"def cosine_similarity(a, b):\n    return 1\n" * 20}
    )
    data = bytearray(zipped.read_bytes())
    data[14] ^= 0x01  # the CRC-32 in the local header ...
    central = data.rfind(b"PK\x01\x02")
    data[central + 16] ^= 0x01  # ... and in the central directory
    (root / "submission" / "submission.zip").write_bytes(bytes(data))

    def reading_grade(paths, opts, roster=None, progress=None):
        return read_only_grade(paths, opts)

    monkeypatch.setattr(gradescope.grade, "grade", reading_grade)
    results = gradescope.autograde(root, source)
    written = json.loads((root / "results" / "results.json").read_text())
    assert written == results and results["score"] == 0
    assert (
        results["output"].startswith("Status: refused") and f"bad CRC in {SIMILARITY}" in results["output"]
    ), results["output"]


def test_a_failure_message_reaches_markdown_as_code_not_as_markup():
    result = fake_result({"ex03_similarity": (1, 2)})
    result = replace(
        result,
        tests={
            n: replace(
                test, function="is_match", message="RuntimeError raised in <module>: __init__ * 2 failed"
            )
            if test.outcome == "failed" and test.exercise == "ex03_similarity"
            else test
            for n, test in result.tests.items()
        },
    )
    exercise = next(e for e in KIT.exercises if e.id == "ex03_similarity")
    data = gradescope.results_json(result, KIT, 1.0)
    output = next(t["output"] for t in data["tests"] if t["name"].startswith(exercise.id))
    shown = next(line for line in output.splitlines() if line.startswith("- `is_match`: failing"))
    assert "first failure: `test_1: RuntimeError raised in <module>: __init__ * 2 failed`" in shown, shown
    assert report.code_span("a `b` c") == "``a `b` c``" and report.code_span("`x`") == "`` `x` ``"
