"""Grading a class: ``facekit submit``, ``facekit grade`` and the Gradescope bundle.

One synthetic class, made from the reference tree, is graded once (module fixture) through the
real command: complete, untouched, half done, a planted bug, ``os._exit`` at import, a syntax
error, memory exhaustion at import, one bringing its own tests/ and conftest.py, and a zip with
a ``../../x`` entry. Two hanging submissions are graded in a second batch with short limits
(the class needs long ones on a loaded machine): one spins in one case of ``is_match`` (the
limit per test stops it), one hangs at import with SIGALRM blocked (the limit per exercise
stops it); each loses only what hung. The other tests read their outputs, or use no test run.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import zipfile
from datetime import timedelta
from html import escape
from pathlib import Path

import pytest

from facekit import cli, course, mistakes, progress, state_file
from facekit.cli import parser as cli_parser
from facekit.grading import grade, gradebook, gradescope, records, report, runner, sources, workspace
from facekit.grading.records import Declared, ExerciseScore, SubmissionResult
from facekit.harness.record import Outcome, RunRecord, TestResult

ROOT = course.repo_root()
KIT = course.load()
EX = {e.id: e for e in KIT.exercises}
# A complete submission needs about 4 s on 2 quiet cores and far more on a loaded machine: the
# class's timeout is far above that. The hanging ones have a batch of their own, with HANG_TIMEOUT.
TIMEOUT = 120
HANG_TIMEOUT = 20  # per exercise: an honest exercise needs under 2 s on 2 quiet cores
TEST_TIMEOUT = 10  # per test, in the hanging batch


def reference(exercise_id: str) -> bytes:
    return (ROOT / EX[exercise_id].reference).read_bytes()


def complete() -> dict[str, bytes]:
    return {e.stub: reference(e.id) for e in KIT.exercises}


def write_folder(folder: Path, files: dict[str, bytes]) -> Path:
    for relpath, content in files.items():
        (folder / relpath).parent.mkdir(parents=True, exist_ok=True)
        (folder / relpath).write_bytes(content)
    return folder


def write_zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for relpath, content in files.items():
            archive.writestr(relpath, content)
    return path


SIMILARITY = EX["ex03_similarity"].stub
BUGGY = reference("ex03_similarity").replace(b"return score >= threshold", b"return score > threshold")
SPINS = reference("ex03_similarity").replace(
    b"    return score >= threshold",
    b"    while score == threshold == -0.25:\n        pass\n    return score >= threshold",
)
# A conftest that would turn every failure into a pass, and a tests/ that passes trivially.
CHEAT_CONFTEST = b"""
import pytest
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    report.outcome = "passed"
    report.longrepr = None
"""


def _read_out(out: Path) -> tuple[dict, dict]:
    data = json.loads((out / "grades.json").read_text())
    with open(out / "grades.csv", newline="") as f:
        return data, {row["id"]: row for row in csv.DictReader(f)}


@pytest.fixture(scope="module")
def batches(tmp_path_factory):
    """The class, and two hanging submissions in a batch of their own (-j 2, short limits),
    graded at the same time with `facekit grade`, after one empty run has prepared the kit and
    the weights they share. {"class": (out, data, rows, base), "hanging": (out, data, rows)}."""
    assert b"return score >= threshold" in reference("ex03_similarity"), "the planted bug needs this line"
    base = tmp_path_factory.mktemp("class")
    subs = base / "subs"
    subs.mkdir()
    stubs = {e.stub: (ROOT / e.stub).read_bytes() for e in KIT.exercises}
    write_zip(subs / "complete.zip", complete())
    write_zip(subs / "untouched.zip", stubs)
    write_zip(subs / "half.zip", {e.stub: reference(e.id) for e in KIT.exercises[:3]})
    # The bug in Exercise 03 beside a complete Exercise 02 (which does not use it); the rest as
    # shipped. The broken ones, too, differ from the stubs only where the tests look: quick runs.
    write_zip(
        subs / "buggy.zip",
        {**stubs, EX["ex02_embeddings"].stub: reference("ex02_embeddings"), SIMILARITY: BUGGY},
    )
    write_folder(
        subs / "exits",
        {**stubs, EX["ex01_images"].stub: reference("ex01_images"), SIMILARITY: b"import os\nos._exit(0)\n"},
    )
    write_folder(
        subs / "syntax",
        {**stubs, SIMILARITY: reference("ex03_similarity"), EX["ex05_retrieval"].stub: b"def top_k(:\n"},
    )
    write_folder(
        subs / "hog",
        {
            **stubs,
            SIMILARITY: reference("ex03_similarity"),
            EX["ex01_images"].stub: b"hog = bytearray(64 * 1024 ** 3)\n",
        },
    )
    cheat = write_folder(
        subs / "cheat",
        {
            **stubs,
            "conftest.py": CHEAT_CONFTEST,
            "tests/test_ex01_images.py": b"def test_ok():\n    pass\n",
            "tests/conftest.py": CHEAT_CONFTEST,
        },
    )
    (cheat / "pyproject.toml").write_text("[tool.pytest.ini_options]\naddopts = '-p no:facekit'\n")
    write_zip(subs / "escape.zip", {"../../x": b"written outside", **complete()})
    # A correct app beside broken exercises it is built from: a syntax error (02), a bug (03),
    # an exit at import (05).
    write_folder(
        subs / "blamed",
        {
            **complete(),
            EX["ex02_embeddings"].stub: b"def build_model(:\n",
            SIMILARITY: BUGGY,
            EX["ex05_retrieval"].stub: b"import os\nos._exit(3)\n",
        },
    )
    hanging = base / "hanging"
    # A hang the per-test limit cannot stop (SIGALRM blocked), at import: the exercise's limit does.
    write_folder(
        hanging / "blocks",
        {
            **complete(),
            EX["ex01_images"].stub: (
                b"import signal, time\nsignal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})\n"
                b"while True:\n    time.sleep(1)\n"
            ),
        },
    )
    # The issue's `while True: pass`, in one case of is_match only: a score exactly at a threshold of -0.25.
    write_folder(hanging / "spins", {**complete(), SIMILARITY: SPINS})

    out, out_hanging = base / "out", base / "out-hanging"
    grade.grade([], grade.Options(out=out, timeout=TIMEOUT))  # the prepared kit and weights, once
    shutil.copytree(out / ".cache", out_hanging / ".cache", symlinks=True)
    codes: dict[str, int] = {}
    # The hanging ones mostly sleep: their batch runs beside the class's.
    thread = threading.Thread(
        target=lambda: codes.setdefault(
            "hanging",
            cli.main(
                [
                    "grade",
                    str(hanging / "blocks"),
                    str(hanging / "spins"),
                    "--out",
                    str(out_hanging),
                    "-j",
                    "2",
                    "--timeout",
                    str(HANG_TIMEOUT),
                    "--test-timeout",
                    str(TEST_TIMEOUT),
                ]
            ),
        )
    )
    thread.start()
    try:
        codes["class"] = cli.main(
            [
                "grade",
                *map(str, sorted(subs.iterdir())),
                "--out",
                str(out),
                "-j",
                "2",
                "--timeout",
                str(TIMEOUT),
            ]
        )
    finally:
        thread.join()
    assert codes == {"class": 0, "hanging": 0}
    return {"class": (out, *_read_out(out), base), "hanging": (out_hanging, *_read_out(out_hanging))}


@pytest.fixture(scope="module")
def graded(batches):
    """The class: (out folder, grades.json, rows of grades.csv, base folder)."""
    return batches["class"]


@pytest.fixture(scope="module")
def hung(batches):
    """Two hanging submissions graded side by side (-j 2) with HANG_TIMEOUT per exercise
    and TEST_TIMEOUT per test: (out folder, grades.json, rows of grades.csv)."""
    return batches["hanging"]


def test_a_hang_the_test_limit_cannot_stop_costs_its_exercise_only(hung):
    blocks = by_id(hung[1])["blocks"]
    assert blocks["status"] == "timeout", f"{blocks['status']} {blocks['reason']}"
    assert "grading went on with the next exercise" in blocks["reason"], blocks["reason"]
    scores = {k: v["score"] for k, v in blocks["exercises"].items()}
    # Exercise 06's tests give the app the kit's parts, not the student's Exercise 01.
    assert scores == {e.id: 0 if e.id == "ex01_images" else 10 for e in KIT.exercises}, scores
    assert blocks["seconds"] < 2 * HANG_TIMEOUT + TIMEOUT, blocks["seconds"]


def test_a_hang_in_one_case_costs_that_test_only(hung):
    spins = by_id(hung[1])["spins"]
    assert spins["status"] == "timeout" and "ran past the limit per test" in spins["reason"], spins["reason"]
    failed = {n: t for n, t in spins["tests"].items() if t["outcome"] != "passed"}
    assert failed and all(
        t["function"] == "is_match" and t["message"].startswith("TestTimeout") for t in failed.values()
    ), failed
    ex03 = spins["exercises"]["ex03_similarity"]
    assert ex03["passed"] == ex03["total"] - len(failed), ex03
    assert {k: v["score"] for k, v in spins["exercises"].items() if k != "ex03_similarity"} == {
        e.id: 10 for e in KIT.exercises if e.id != "ex03_similarity"
    }


def test_the_graders_own_process_imports_no_submitted_code(graded):
    _, _, _, base = graded
    workspaces = {str(base), tempfile.gettempdir() + os.sep + "facekit-grade-"}
    loaded = [
        name
        for name, module in list(sys.modules.items())
        if any(str(getattr(module, "__file__", "") or "").startswith(w) for w in workspaces)
    ]
    assert loaded == [], f"the grader imported submitted code: {loaded}"


def by_id(data):
    return {s["id"]: s for s in data["submissions"]}


@pytest.mark.parametrize(
    "sub_id, status, totals",
    [
        ("complete", "ok", {e.id: 10 for e in KIT.exercises}),
        ("untouched", "ok", {e.id: 0 for e in KIT.exercises}),
        ("half", "ok", {**{e.id: 10 for e in KIT.exercises[:3]}, **{e.id: 0 for e in KIT.exercises[3:]}}),
        ("cheat", "ok", {e.id: 0 for e in KIT.exercises}),
        ("escape", "refused", {e.id: 0 for e in KIT.exercises}),
    ],
)
def test_each_submission_gets_its_score_and_status(graded, sub_id, status, totals):
    _, data, _, _ = graded
    result = by_id(data)[sub_id]
    scores = {k: v["score"] for k, v in result["exercises"].items()}
    assert (result["status"], scores) == (status, totals), f"{sub_id}: {result['status']} {result['reason']}"


def test_a_planted_bug_costs_part_of_its_exercise_only(graded):
    out, data, _, _ = graded
    buggy = by_id(data)["buggy"]
    ex03 = buggy["exercises"]["ex03_similarity"]
    assert buggy["status"] == "ok"
    assert 0 < ex03["passed"] < ex03["total"], ex03
    assert ex03["score"] == round(10 * ex03["passed"] / ex03["total"], 2)
    assert {k: v["score"] for k, v in buggy["exercises"].items() if k != "ex03_similarity"} == {
        e.id: 10 if e.id == "ex02_embeddings" else 0 for e in KIT.exercises if e.id != "ex03_similarity"
    }
    feedback = (out / "feedback" / "buggy.md").read_text()
    assert "`is_match`: failing" in feedback, feedback
    assert "`l2_normalize`: passes" in feedback
    # The failure shown is the one `facekit check` shows (facekit.progress.shown_failure): this
    # bug is a catalogued mistake, so its test, its words, and what the student likely thought.
    mistake = next(
        m
        for m in mistakes.load(ROOT, EX["ex03_similarity"])
        if m.replace.strip() == "return score > threshold"
    )
    shown = next(line for line in feedback.splitlines() if line.startswith("- `is_match`: failing"))
    assert mistake.test in shown and all(w.lower() in shown.lower() for w in mistake.words), shown
    assert progress.looks_like(mistake.says) in feedback, feedback


def test_exit_at_import_costs_the_tests_of_its_exercise_and_grading_goes_on(graded):
    _, data, _, _ = graded
    exits = by_id(data)["exits"]
    assert exits["status"] == "crashed", exits
    assert exits["exercises"]["ex01_images"]["score"] == 10  # ran before the import that exited
    assert exits["exercises"]["ex03_similarity"]["score"] == 0
    # The run went on after Exercise 03's tests: the stubs of 02, 04 and 05 ran (and failed).
    ran = {
        by_id(data)["exits"]["tests"][n]["exercise"]
        for n, t in exits["tests"].items()
        if t["outcome"] != report.NOT_RUN
    }
    assert {"ex04_storage", "ex05_retrieval"} <= ran, ran
    assert "grading went on with the next exercise" in exits["reason"], exits["reason"]


def test_the_app_is_graded_on_its_own_code_and_blamed_for_nothing_else(graded):
    out, data, _, _ = graded
    blamed = by_id(data)["blamed"]
    scores = {k: v["score"] for k, v in blamed["exercises"].items()}
    assert {
        k: scores[k] for k in ("ex01_images", "ex02_embeddings", "ex04_storage", "ex05_retrieval", "ex06_app")
    } == {"ex01_images": 10, "ex02_embeddings": 0, "ex04_storage": 10, "ex05_retrieval": 0, "ex06_app": 10}, (
        scores
    )
    assert 0 < scores["ex03_similarity"] < 10, scores
    section = (out / "feedback" / "blamed.md").read_text().split("## ex06_app")[1]
    assert "failing" not in section and "This looks like" not in section, section


def test_syntax_error_and_memory_exhaustion_are_rows_with_reasons(graded):
    _, data, _, _ = graded
    results = by_id(data)
    syntax = results["syntax"]
    assert syntax["status"] == "syntax error" and "SyntaxError" in syntax["reason"], syntax["reason"]
    assert syntax["exercises"]["ex05_retrieval"]["score"] == 0
    assert syntax["exercises"]["ex03_similarity"]["score"] == 10
    hog = results["hog"]
    assert hog["exercises"]["ex01_images"]["score"] == 0, hog["reason"]
    assert hog["exercises"]["ex03_similarity"]["score"] == 10, hog["reason"]


def test_submissions_own_tests_and_conftest_are_ignored_and_listed(graded):
    _, data, _, _ = graded
    cheat = by_id(data)["cheat"]
    assert {"conftest.py", "tests/conftest.py", "tests/test_ex01_images.py", "pyproject.toml"} <= set(
        cheat["ignored"]
    )
    assert cheat["total"] == 0


def test_path_traversal_writes_nothing_outside(graded):
    out, data, _, base = graded
    assert "../../x" in by_id(data)["escape"]["reason"]
    for folder in (base, base.parent, out, out.parent.parent):
        assert not (folder / "x").exists(), f"{folder / 'x'} was written"


def test_unreported_tests_count_as_failed_with_expected_counts_from_the_kit(graded, hung):
    blocks = by_id(hung[1])["blocks"]
    expected = graded[1]["exercises"]
    for exercise_id, ex in blocks["exercises"].items():
        assert ex["total"] == expected[exercise_id]["tests"] > 0
    assert all(
        t["outcome"] == report.NOT_RUN for t in blocks["tests"].values() if t["exercise"] == "ex01_images"
    )


@pytest.mark.parametrize("batch", ["graded", "hung"])
def test_csv_and_json_agree_and_every_student_has_feedback(request, batch):
    out, data, rows = request.getfixturevalue(batch)[:3]
    assert set(rows) == set(by_id(data))
    for result in data["submissions"]:
        row = rows[result["id"]]
        assert float(row["total"]) == result["total"] and row["status"] == result["status"]
        for exercise_id, ex in result["exercises"].items():
            assert float(row[exercise_id]) == ex["score"], (result["id"], exercise_id)
        assert (out / "feedback" / f"{result['id']}.md").is_file()
    if batch == "hung":
        return
    assert data["max_total"] == sum(e.points for e in KIT.exercises)
    untouched = (out / "feedback" / "untouched.md").read_text()
    assert "`load_image`: not implemented yet" in untouched
    # A function whose tests stop at another one's stub waits for it, as `facekit check` says.
    assert "- `login`: waits for `register` (exercises/ex06_app/app.py), not implemented yet" in untouched


def test_grade_writes_a_class_report_that_agrees_with_grades_json_and_the_feedback(graded):
    from test_classreport import assert_agrees_with_grades_json  # tests/kit/test_classreport.py

    out, data, _, _ = graded  # before test_a_second_run_..., which grades two of them into out again
    html = assert_agrees_with_grades_json(out)
    # Each catalogued mistake a student's feedback names is in the report, with that student.
    rows = [row.split("</tr>", 1)[0] for row in html.split("<tr data-mistake=")[1:]]
    named = 0
    for result in data["submissions"]:
        feedback = (out / "feedback" / f"{result['id']}.md").read_text(encoding="utf-8")
        # One mistake, or several that the same failure matches (each possible).
        for line in re.findall(
            r"This looks like (?:a mistake|one of these mistakes) others made: (.*)", feedback
        ):
            said = re.findall(r'"([^"]*)"', line)
            student = rf"data-figure=\"students\">[^<]*\b{re.escape(result['id'])}\b"
            assert any(
                all(f"“{escape(s)}”" in row for s in said) and re.search(student, row) for row in rows
            ), (
                f"report.html has no row of the mistake(s) {said} naming {result['id']}, whose feedback names them"
            )
            named += 1
    assert named, "no feedback of the class names a catalogued mistake (the buggy submission's should)"


def test_every_field_a_real_grading_writes_is_named_in_the_outputs_reference(graded):
    out, data, rows, _ = graded
    page = (ROOT / "docs" / "reference" / "outputs.md").read_text(encoding="utf-8")
    result = data["submissions"][0]
    results = gradescope.results_json(SubmissionResult.from_json(result), KIT, 1.0, ROOT)
    fields = {
        "grades.csv": set(next(iter(rows.values()))) - {e.id for e in KIT.exercises},
        "grades.json": set(data),
        "a submission": set(result),
        "an exercise": set().union(*(set(e) for s in data["submissions"] for e in s["exercises"].values())),
        "a test": set().union(*(set(t) for s in data["submissions"] for t in s["tests"].values())),
        "results.json": set(results),
        "a results.json test": set(results["tests"][0]),
    }
    for where, keys in fields.items():
        missing = sorted(k for k in keys if f"`{k}`" not in page)
        assert not missing, f"docs/reference/outputs.md does not describe {where}'s fields {missing}"


def test_a_second_run_reuses_the_results_of_unchanged_submissions(graded, tmp_path):
    out, data, _, base = graded
    results, _, _ = grade.grade(
        [base / "subs" / "complete.zip", base / "subs" / "half.zip"],
        grade.Options(out=out, jobs=1, timeout=TIMEOUT),
    )
    assert [r.cached for r in results] == [True, True]
    assert [r.total for r in results] == [by_id(data)["complete"]["total"], by_id(data)["half"]["total"]]
    from test_classreport import assert_agrees_with_grades_json  # tests/kit/test_classreport.py

    assert_agrees_with_grades_json(out)  # report.html was written again with grades.json: never stale


# -- no test runs below ---------------------------------------------------------------------------


def test_exercise_score_is_points_times_the_passed_fraction():
    exercise = KIT.exercises[0]
    expected: dict[str, list[str]] = {e.id: [] for e in KIT.exercises}
    expected[exercise.id] = ["t::a", "t::b", "t::c", "t::d"]
    run = {
        "tests": {
            "t::a": {"outcome": "passed"},
            "t::b": {"outcome": "passed"},
            "t::c": {"outcome": "skipped"},
            "t::x": {"outcome": "passed"},
        }
    }
    scores, tests = report.score(records.outcomes_of(run), expected, KIT)
    assert scores[exercise.id].to_json() == {
        "score": 5.0,
        "points": 10,
        "passed": 2,
        "total": 4,
        "all_or_nothing": False,
    }
    assert tests["t::d"].outcome == report.NOT_RUN and "t::x" not in tests
    scores, _ = report.score(records.outcomes_of(run), expected, KIT, all_or_nothing={exercise.id})
    assert scores[exercise.id].score == 0


def test_status_tells_timeout_crash_and_import_errors_apart():
    base = runner.parse_record([])
    assert report.status_of({**base, "timed_out": True}, None, 5)[0] == "timeout"
    assert report.status_of({**base, "returncode": -9}, None, 5) == (
        "crashed",
        "the test process ended (killed by signal 9) after 0 tests",
    )
    # Which test it died or hung in: the first collected that never reported; pytest's
    # progress characters are not "last output".
    died = {
        **base,
        "returncode": 3,
        "collected": ["t::a", "t::b", "t::c"],
        "tests": {"t::a": {"outcome": "passed"}},
        "output_tail": "boom: the student's last words\nTT.F  [ 40%]\n",
    }
    assert report.status_of(died, None, 5) == (
        "crashed",
        "the test process ended (exit code 3) during t::b after 1 test; last output: "
        "boom: the student's last words",
    )
    aborted = {
        **died,
        "returncode": -6,
        "output_tail": "Fatal Python error: Aborted\n\nExtension modules: numpy\n",
    }
    assert report.status_of(aborted, None, 5)[1].endswith("last output: Fatal Python error: Aborted")
    assert report.status_of({**died, "timed_out": True}, None, 5) == (
        "timeout",
        "no result after 5 s during t::b (1 test had reported)",
    )
    failed = {"t": {"outcome": "failed", "message": "ModuleNotFoundError: No module named 'numpyy'"}}
    assert report.status_of({**base, "finished": True, "tests": failed}, None, 5)[0] == "import error"
    # Any exception at a student module's top level is an import error too (it was "ok").
    failed = {
        "t": {
            "outcome": "failed",
            "message": "RuntimeError: boom",
            "detail": "RuntimeError raised in <module>: boom",
        }
    }
    assert report.status_of({**base, "finished": True, "tests": failed}, None, 5) == (
        "import error",
        "RuntimeError raised in <module>: boom",
    )
    assert report.status_of(None, "bad zip", 5) == ("refused", "bad zip")


def test_record_lines_that_do_not_parse_are_skipped():
    lines = ['{"test": "a", "outcome": "passed"}', "garbage", "[1]", '{"finished": true, "exitstatus": 1}']
    record = runner.parse_record(lines)
    assert list(record["tests"]) == ["a"] and record["finished"] is True


def test_git_repository_submission_reads_committed_files(tmp_path):
    repo = write_folder(tmp_path / "alice", {SIMILARITY: reference("ex03_similarity"), "notes.txt": b"x"})
    for args in (
        ["init", "-q"],
        ["add", "-A"],
        ["-c", "user.name=a", "-c", "user.email=a@b", "commit", "-qm", "w"],
    ):
        subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)
    assert sources.read(repo, KIT, ROOT).warnings == [], "a clean working tree: nothing to say"
    (repo / SIMILARITY).write_text("uncommitted")
    sub = sources.read(repo, KIT, ROOT)
    assert sub.files == {SIMILARITY: reference("ex03_similarity")} and sub.ignored == ["notes.txt"]
    assert sub.id == "alice" and len(sub.meta["git_commit"]) == 40
    # Work left uncommitted is not graded, and the grade says so (it was a silent 0 before).
    assert len(sub.warnings) == 1 and SIMILARITY in sub.warnings[0] and "not graded" in sub.warnings[0], (
        sub.warnings
    )


def test_roster_maps_submissions_to_ids(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text("submission,id,email\nalice-hw1.zip,s1234,a@x\n")
    assert grade.read_roster(path) == {"alice-hw1.zip": "s1234", "alice-hw1": "s1234"}
    path.write_text("name,student\n")
    with pytest.raises(grade.GradeError, match="submission,id"):
        grade.read_roster(path)
    # A spreadsheet's CSV: a byte-order mark, semicolons.
    path.write_bytes("submission;id\r\nbob.zip;s2\r\n".encode("utf-8-sig"))
    assert grade.read_roster(path) == {"bob.zip": "s2", "bob": "s2"}
    for text, words in (
        ("submission,id\nbob.zip,\n", "line 2"),
        ("submission,id\nb.zip,s1\nb.zip,s2\n", "twice"),
    ):
        path.write_text(text)
        with pytest.raises(grade.GradeError, match=words):
            grade.read_roster(path)


def test_a_folder_of_archives_skips_macos_and_hidden_folders(tmp_path):
    for name in ("a.zip", "__MACOSX/._a.zip", ".hidden/x.zip"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "b").mkdir()
    assert grade._expand([tmp_path]) == [tmp_path / "a.zip", tmp_path / "b"]


def test_out_may_be_relative_and_must_be_a_folder(tmp_path, monkeypatch, capsys):
    write_zip(tmp_path / "carol.zip", {EX["ex03_similarity"].stub: reference("ex03_similarity")})
    monkeypatch.chdir(tmp_path)
    assert cli.main(["grade", "carol.zip", "--out", "grades", "--timeout", str(TIMEOUT)]) == 0, (
        capsys.readouterr()
    )
    assert "carol," in (tmp_path / "grades" / "grades.csv").read_text()
    printed = capsys.readouterr().out
    assert (tmp_path / "grades" / "report.html").is_file() and "report.html" in printed, printed
    assert cli.main(["grade", "carol.zip", "--out", "carol.zip"]) == 2
    assert "--out must be a folder" in capsys.readouterr().err


def test_feedback_says_all_or_nothing_and_what_did_not_run_and_gives_first_hints_only(graded, hung, tmp_path):
    out, data, _, _ = graded
    buggy = json.loads(json.dumps(by_id(data)["buggy"]))
    buggy["exercises"]["ex03_similarity"]["all_or_nothing"] = True
    typed = SubmissionResult.from_json
    text = report.feedback_text(typed(buggy), KIT, "standin")
    assert "except ex03_similarity: all its points when every test passes, else 0" in text
    assert "(all or nothing: " in text and "stand-in weights (seeded random, NOT pretrained)" in text
    hints = KIT.get("ex03_similarity").hints["is_match"]
    assert (
        hints[0].removeprefix("is_match:").strip() in text
        and hints[-1].removeprefix("is_match:").strip() not in text
    ), "feedback gives each function's first hint, not the near-answer of the last"
    assert "`facekit hint ex03_similarity` gives the next ones" in text
    # An extra test that names no function still counts, so the feedback shows it.
    buggy["tests"]["tests/instructor/test_ex03_similarity_x.py::test_hidden"] = {
        "outcome": "failed",
        "message": "AssertionError",
        "exercise": "ex03_similarity",
        "function": None,
    }
    assert "- tests that name no function: 0/1 pass" in report.feedback_text(typed(buggy), KIT, "standin")
    hangs = by_id(hung[1])["blocks"]
    text = report.feedback_text(typed(hangs), KIT, "standin")
    assert "tests did not run (timeout: no result after" in text, text[:2000]
    assert "Hints" not in text, "nothing ran: no hint can help"
    # A note (uncommitted work, say) reaches the feedback, the CSV's reason and the summary.
    noted = {**by_id(data)["complete"], "warnings": ["uncommitted changes to x.py were not graded"]}
    assert "Note: uncommitted changes to x.py were not graded" in report.feedback_text(
        typed(noted), KIT, "standin"
    )
    assert "uncommitted changes to x.py were not graded" in report.csv_text([typed(noted)], KIT)
    assert any(
        "complete: ok (uncommitted changes" in line
        for line in report.summary([typed(noted)], KIT, tmp_path, 1.0)
    )
    # Feedback of an earlier run with other ids does not stay beside this run's.
    report.write(tmp_path, [typed(buggy)], KIT, {**data, "weights": "standin"})
    report.write(tmp_path, [typed(hangs)], KIT, {**data, "weights": "standin"})
    assert sorted(p.name for p in (tmp_path / "feedback").iterdir()) == ["blocks.md"]


def make_student_kit(tmp_path: Path) -> Path:
    kit = tmp_path / "kit"
    (kit / "exercises").mkdir(parents=True)
    (kit / "exercises" / "course.toml").write_bytes((ROOT / "exercises" / "course.toml").read_bytes())
    write_folder(kit, {e.stub: (ROOT / e.stub).read_bytes() for e in KIT.exercises})
    (kit / "README.md").write_text("not the student's")
    for args in (
        ["init", "-q"],
        ["add", "-A"],
        ["-c", "user.name=a", "-c", "user.email=a@b", "commit", "-qm", "kit"],
    ):
        subprocess.run(["git", "-C", str(kit), *args], check=True, capture_output=True)
    return kit


def test_submit_refuses_untouched_stubs_and_outside_a_kit(tmp_path, capsys):
    kit = make_student_kit(tmp_path)
    assert cli.main(["--root", str(kit), "submit"]) == 1
    err = capsys.readouterr().err.strip()
    assert "nothing to submit" in err and "--force" in err and len(err.splitlines()) == 1
    assert not (kit / "submission.zip").exists()
    assert cli.main(["--root", str(tmp_path), "submit"]) == 1
    assert "not inside a copy of the kit" in capsys.readouterr().err
    assert cli.main(["--root", str(kit), "submit", "--force"]) == 0


def test_submit_zips_exactly_the_student_files_with_hashes(tmp_path, capsys, monkeypatch):
    kit = make_student_kit(tmp_path)
    monkeypatch.setenv(state_file.STATE_ENV, str(tmp_path / "state" / "state.json"))
    monkeypatch.delenv("KIT_WEIGHTS", raising=False)
    (kit / SIMILARITY).write_bytes(reference("ex03_similarity"))
    # What `facekit check ex03_similarity` leaves behind when every test passes: a cached run,
    # keyed by the files it ran on (ex04's run failed, so it is not done).
    cache = state_file.ResultCache(kit, "exercises", "standin")
    for exercise_id, outcome in (("ex03_similarity", Outcome.PASSED), ("ex04_storage", Outcome.FAILED)):
        exercise = KIT.get(exercise_id)
        run = RunRecord(
            tests={f"{exercise.tests}::test_{f}": TestResult(outcome, function=f) for f in exercise.functions}
        )
        cache.put(exercise, run, state_file.fingerprint(kit, exercise, "exercises", "standin"))
    (kit / "tests").mkdir()
    (kit / "tests" / "conftest.py").write_text("")
    assert cli.main(["--root", str(kit), "submit"]) == 0
    printed = capsys.readouterr().out
    path = kit / "submission.zip"
    assert str(path) in printed and "KiB" in printed
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask, (
        f"submission.zip has mode {path.stat().st_mode & 0o777:o}: a file to hand in is readable as any other"
    )
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        meta = json.loads(archive.read("submission.json"))
        assert names == {e.stub for e in KIT.exercises} | {"submission.json"}
        import hashlib

        assert meta["files"][SIMILARITY] == hashlib.sha256(reference("ex03_similarity")).hexdigest()
    assert meta["course"] == KIT.title and meta["done"] == ["ex03_similarity"] and meta["timestamp"]
    sub = sources.read(path, KIT, ROOT)
    assert sub.files[SIMILARITY] == reference("ex03_similarity") and sub.ignored == []


def test_gradescope_bundle_grades_a_simulated_autograder_tree(graded, tmp_path):
    bundle = tmp_path / "autograder.zip"
    assert cli.main(["gradescope", "--out", str(bundle), "--timeout", "120"]) == 0
    root = tmp_path / "autograder"
    with zipfile.ZipFile(bundle) as archive:
        names = archive.namelist()
        assert not [n for n in names if n.startswith("solutions/")]
        assert {"setup.sh", "run_autograder", "facekit/grading/grade.py", EX["ex03_similarity"].tests} <= set(
            names
        )
        archive.extractall(root / "source")
    for script in ("setup.sh", "run_autograder"):
        os.chmod(root / "source" / script, 0o755)
    # What setup.sh's `prepare` leaves (the compiled kit, its tests, the weights), from the class
    # graded above: the same kit, so the same hash; run_autograder would build it otherwise.
    shutil.copytree(
        graded[0] / ".cache",
        root / "source" / gradescope.STATE_DIR / ".cache",
        symlinks=True,
        ignore=shutil.ignore_patterns("runs"),
    )
    write_folder(root / "submission", {"similarity.py": reference("ex03_similarity")})  # a flat upload
    env = {**os.environ, gradescope.ROOT_ENV: str(root), "FACEKIT_AUTOGRADER_PYTHON": sys.executable}
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [str(root / "source" / "run_autograder")], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == 10 and results["execution_time"] > 0
    assert [t["name"].split(":")[0] for t in results["tests"]] == [e.id for e in KIT.exercises]
    for test in results["tests"]:
        assert set(test) >= {"name", "score", "max_score", "output", "visibility"}
        assert test["max_score"] == EX[test["name"].split(":")[0]].points and test["visibility"] == "visible"
    assert sum(t["score"] for t in results["tests"]) == results["score"]
    assert {t["name"].split(":")[0]: t["score"] for t in results["tests"]}["ex03_similarity"] == 10


def test_readme_states_the_grading_defaults_the_command_has():  # docs/instructors/grading.md now
    args = cli_parser.build().parse_args(["grade", "x"])
    readme = (ROOT / "docs" / "instructors" / "grading.md").read_text(encoding="utf-8")
    assert f"`--timeout`, default {args.timeout:g} s" in readme
    assert f"`--memory-mb`, RLIMIT_AS, default {args.memory_mb} MiB" in readme
    assert "`points` (default 10)" in readme and course.Exercise.__dataclass_fields__["points"].default == 10
    assert "`points × passed / total`" in readme and "points * passed / total" in report.__doc__.replace(
        "×", "*"
    )


def test_github_classroom_workflow_runs_the_one_submission_entry_point():
    yaml = pytest.importorskip("yaml")  # huggingface_hub's dependency
    workflow = yaml.safe_load((ROOT / "docs" / "github-classroom.yml").read_text(encoding="utf-8"))
    steps = workflow["jobs"]["grade"]["steps"]
    checkouts = {
        s["with"]["path"]: s["with"] for s in steps if s.get("uses", "").startswith("actions/checkout")
    }
    assert set(checkouts) == {"autograder/submission", "autograder/source"}, checkouts
    assert "repository" in checkouts["autograder/source"], "the tests must come from the instructor's kit"
    (grading,) = [s for s in steps if s.get("name") == "Grade"]
    assert "python -m facekit.grading.gradescope run" in grading["run"]
    assert grading["env"][gradescope.ROOT_ENV].endswith("/autograder")
    assert grading["working-directory"] == "autograder/source"  # gradescope.main grades with the kit in cwd


# -- the gradebook in --out -----------------------------------------------------------------------


def _copy_out(graded, tmp_path) -> Path:
    out = tmp_path / "out"
    shutil.copytree(graded[0], out, symlinks=True)
    return out


def test_grading_into_an_existing_out_merges_keeps_overrides_and_penalises_late(graded, tmp_path, capsys):
    out = _copy_out(graded, tmp_path)
    before = [r["id"] for r in graded[1]["submissions"]]
    (out / "overrides.csv").write_text(
        "id,exercise,points,comment\nbuggy,ex03_similarity,9,"
        '"regrade: the threshold was ambiguous, 2026-01-12"\n'
    )
    # One late hand-in (the complete work under another name: its results come from the cache),
    # 30 hours after the due time by its file's time: two started days, 20% off.
    late = shutil.copy(graded[3] / "subs" / "complete.zip", tmp_path / "late.zip")
    due = gradebook.parse_due("2026-01-10T12:00+00:00")
    stamp = due.timestamp() + 30 * 3600
    os.utime(late, (stamp, stamp))
    assert (
        cli.main(
            [
                "grade",
                str(late),
                "--out",
                str(out),
                "--due",
                "2026-01-10T12:00+00:00",
                "--late-penalty",
                "10",
                "--timeout",
                str(TIMEOUT),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert f"Gradebook: 1 added (late), 0 replaced, {len(before)} kept from earlier runs." in printed, printed
    data, rows = _read_out(out)
    assert [r["id"] for r in data["submissions"]] == before + ["late"], "the class's rows must stay"
    assert sorted(p.stem for p in (out / "feedback").iterdir()) == sorted(before + ["late"])
    assert not (out / gradebook.PARTIAL_CSV).exists() and "in_progress" not in data
    assert by_id(data)["late"]["cached"], (
        "the late hand-in is the complete one: its results come from the cache"
    )
    full = by_id(graded[1])["complete"]["total"]
    assert float(rows["late"]["total"]) == full * 0.8 and rows["late"]["late_penalty"] == "20", rows["late"]
    assert "2 days late, 20% taken off the total" in (out / "feedback" / "late.md").read_text()
    # The override: ex03's score is the instructor's, the total follows, the feedback says why.
    buggy = by_id(data)["buggy"]
    assert buggy["exercises"]["ex03_similarity"]["score"] == 9 and rows["buggy"]["ex03_similarity"] == "9"
    assert (
        buggy["total"]
        == round(sum(e["score"] for e in buggy["exercises"].values()), 2)
        == float(rows["buggy"]["total"])
    )
    text = (out / "feedback" / "buggy.md").read_text()
    assert (
        "Score: 9 / 10, set by your instructor: regrade: the threshold was ambiguous, 2026-01-12 (the tests gave"
        in text
    )
    # Re-grading the student keeps the override and replaces only that row.
    assert (
        cli.main(
            ["grade", str(graded[3] / "subs" / "buggy.zip"), "--out", str(out), "--timeout", str(TIMEOUT)]
        )
        == 0
    )
    assert f"Gradebook: 0 added, 1 replaced (buggy), {len(before)} kept" in capsys.readouterr().out
    data, rows = _read_out(out)
    assert len(data["submissions"]) == len(before) + 1 and rows["buggy"]["ex03_similarity"] == "9"
    # The LMS files hold every row; the identical hand-ins are reported.
    canvas = list(csv.DictReader((out / "canvas.csv").read_text().splitlines()))
    assert canvas[0]["Student"] == "Points Possible" and canvas[0][KIT.title] == str(data["max_total"])
    assert {r["SIS User ID"]: float(r[KIT.title]) for r in canvas[1:]} == {
        i: float(rows[i]["total"]) for i in rows
    }
    moodle = list(csv.DictReader((out / "moodle.csv").read_text().splitlines()))
    assert {r["ID number"]: float(r[KIT.title]) for r in moodle} == {i: float(rows[i]["total"]) for i in rows}
    similar = list(csv.DictReader((out / "similar.csv").read_text().splitlines()))
    pairs = {(p["exercise"], p["id_a"], p["id_b"], p["kind"]) for p in similar}
    assert {(e.id, "complete", "late", "identical") for e in KIT.exercises} <= pairs, similar
    assert not [p for p in similar if "untouched" in (p["id_a"], p["id_b"])], (
        "stubs as shipped are no one's work"
    )
    # --replace starts over.
    assert cli.main(["grade", str(late), "--out", str(out), "--replace", "--timeout", str(TIMEOUT)]) == 0
    data, rows = _read_out(out)
    assert list(rows) == ["late"] and [p.name for p in (out / "feedback").iterdir()] == ["late.md"]


def test_a_run_that_dies_leaves_the_gradebook_as_it_was_and_marked(graded, tmp_path, monkeypatch, capsys):
    out = _copy_out(graded, tmp_path)
    csv_before = (out / "grades.csv").read_bytes()

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # the grader stopped before the gradebook was written

    monkeypatch.setattr(report, "write", killed)
    with pytest.raises(KeyboardInterrupt):
        grade.grade([graded[3] / "subs" / "half.zip"], grade.Options(out=out, timeout=TIMEOUT))
    monkeypatch.undo()
    assert (out / "grades.csv").read_bytes() == csv_before
    data = json.loads((out / "grades.json").read_text())
    assert data["in_progress"]["partial"] == gradebook.PARTIAL_CSV and len(data["submissions"]) == len(
        graded[1]["submissions"]
    )
    partial = list(csv.DictReader((out / gradebook.PARTIAL_CSV).read_text().splitlines()))
    assert [r["id"] for r in partial] == ["half"]
    assert (
        cli.main(
            ["grade", str(graded[3] / "subs" / "half.zip"), "--out", str(out), "--timeout", str(TIMEOUT)]
        )
        == 0
    )
    assert "Note: an earlier run did not finish" in capsys.readouterr().out
    assert not (out / gradebook.PARTIAL_CSV).exists()
    assert "in_progress" not in json.loads((out / "grades.json").read_text())


def test_an_unreadable_gradebook_or_bad_overrides_stop_the_run_before_any_work(tmp_path, capsys):
    (tmp_path / "grades.json").write_text("{not json")
    assert cli.main(["grade", str(tmp_path / "nothing"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "grades.json cannot be read" in err and "--replace" in err, err
    (tmp_path / "grades.json").unlink()
    for text, words in (
        ("id,exercise,points,comment\ns1,ex99,3,x\n", "line 2: exercise 'ex99' is not one of"),
        (
            "id,exercise,points,comment\ns1,ex03_similarity,11,x\n",
            "from 0 to 10 for ex03_similarity; got '11'",
        ),
        ("student,points\n", "needs the header id,exercise,points,comment"),
    ):
        (tmp_path / "overrides.csv").write_text(text)
        with pytest.raises(gradebook.GradebookError, match=re.escape(words)):
            gradebook.read_overrides(tmp_path / "overrides.csv", KIT)


def test_totals_add_unrounded_exercise_scores():
    # Three exercises at 1/3 of their tests: 3.333... each; rounded first they would add to 9.99.
    row = SubmissionResult(
        id="s",
        status="ok",
        reason="",
        total=0.0,
        exercises={e.id: ExerciseScore(3.33, 10, 1, 3, exact=10 / 3) for e in KIT.exercises[:3]},
    )
    row = gradebook.total(row)
    assert row.total == 10.0 and [e.score for e in row.exercises.values()] == [3.33] * 3


def test_late_penalty_counts_each_started_day_up_to_everything():
    due = gradebook.parse_due("2026-01-10")  # the end of that day, local time
    assert due.hour == 23 and due.minute == 59 and due.tzinfo is not None
    at = due.astimezone()
    assert gradebook.late(at, due, 10, "x") is None
    second, day, month = (
        gradebook.late(at + after, due, percent, "x")
        for after, percent in (
            (timedelta(seconds=1), 10),
            (timedelta(days=1, seconds=1), 15),
            (timedelta(days=30), 10),
        )
    )
    assert second is not None and second.penalty_percent == 10
    assert day is not None and day.days_late == 2
    assert month is not None and month.penalty_percent == 100
    with pytest.raises(ValueError, match="--due must be a date"):
        gradebook.parse_due("next friday")


EXTRA_GOOD = b"""import pytest


@pytest.mark.function("is_match")
def test_a_score_at_the_threshold_is_a_match(load_exercise):
    assert load_exercise("ex03_similarity").is_match(0.5, 0.5) is True
"""
EXTRA_BAD = (
    EXTRA_GOOD
    + b"""

def test_passes_on_anything():
    assert True


def test_wrong_on_the_reference(load_exercise):
    assert load_exercise("ex03_similarity").is_match(0.4, 0.5)
"""
)


def test_extra_tests_must_pass_on_the_reference_and_fail_on_the_stubs(tmp_path, monkeypatch):
    for name, text in (("bad", EXTRA_BAD), ("good", EXTRA_GOOD)):
        write_folder(tmp_path / name, {"test_ex03_similarity_hidden.py": text})
    template = workspace.build_template(ROOT, tmp_path / "bad-kit" / "kit", tmp_path / "bad")
    with pytest.raises(grade.GradeError) as info:
        grade.check_extra_tests(template, KIT, ROOT, tmp_path / "work", "standin", None)
    message = str(info.value)
    assert (
        "2 do not" in message
        and "test_ex03_similarity_hidden.py::test_passes_on_anything passes on the stubs" in message
    )
    assert (
        "test_ex03_similarity_hidden.py::test_wrong_on_the_reference fails on the reference (AssertionError"
        in message
    )
    assert "test_a_score_at_the_threshold_is_a_match" not in message, message
    # A set that behaves (its runs stood in for: the real ones are above) is checked once per kit.
    template = workspace.build_template(ROOT, tmp_path / "good-kit" / "kit", tmp_path / "good")
    nodeid = "tests/instructor/test_ex03_similarity_hidden.py::test_a_score_at_the_threshold_is_a_match"
    runs = []

    def run_job(job, mode):
        runs.append(job["workspace"])
        outcome = "failed" if len(runs) == 2 else "passed"  # the reference first, then the stubs
        return {**runner.parse_record([]), "collected": [nodeid], "tests": {nodeid: {"outcome": outcome}}}

    monkeypatch.setattr(runner, "run_job", run_job)
    for _ in range(2):
        grade.check_extra_tests(template, KIT, ROOT, tmp_path / "work", "standin", None)
    assert len(runs) == 2 and (template.parent / "extra-tests-checked.json").is_file(), runs


def test_points_per_function_weigh_each_function_by_its_own_tests(tmp_path):
    manifest = (ROOT / "exercises" / "course.toml").read_text(encoding="utf-8")
    weighted = manifest.replace(
        'points = 10\nfunctions = ["load_image", "preprocess"]',
        'functions = ["load_image", "preprocess"]\nfunction_points = { load_image = 5, preprocess = 5 }',
        1,
    )
    assert weighted != manifest, "the manifest's ex01 entry changed: update this test"
    (tmp_path / "course.toml").write_text(weighted, encoding="utf-8")
    kit = course.load(tmp_path / "course.toml")
    ex01 = kit.get("ex01_images")
    assert ex01.points == 10 and ex01.function_points == {"load_image": 5, "preprocess": 5}
    # load_image: 1 test of 2 passes; preprocess: all 6 pass. By the share of tests: 10 * 7/8;
    # by function: 5 * 1/2 + 5 * 6/6.
    tests = {"t::l1": "load_image", "t::l2": "load_image", **{f"t::p{i}": "preprocess" for i in range(6)}}
    expected: dict[str, list[str]] = {e.id: [] for e in kit.exercises}
    expected["ex01_images"] = list(tests)
    run = {"tests": {n: {"outcome": "failed" if n == "t::l2" else "passed"} for n in tests}}
    ran = records.outcomes_of(run)
    assert report.score(ran, expected, KIT, functions=tests)[0]["ex01_images"].score == 8.75
    assert report.score(ran, expected, kit, functions=tests)[0]["ex01_images"].score == 7.5
    grade.check_function_points(kit, expected, Declared(functions=tests))
    with pytest.raises(grade.GradeError, match="t::x declares none of its functions"):
        grade.check_function_points(
            kit, {**expected, "ex01_images": [*tests, "t::x"]}, Declared(functions=tests)
        )
    with pytest.raises(grade.GradeError, match="gives preprocess 5 points, and no test declares it"):
        grade.check_function_points(kit, {**expected, "ex01_images": ["t::l1"]}, Declared(functions=tests))
    (tmp_path / "course.toml").write_text(
        weighted.replace(
            "function_points = { load_image = 5, preprocess = 5 }",
            "points = 9\nfunction_points = { load_image = 5, preprocess = 5 }",
        )
    )
    with pytest.raises(course.ManifestError, match="is not the sum of function_points"):
        course.load(tmp_path / "course.toml")


def test_similar_hand_ins_are_paired_by_kind():
    stub = EX["ex03_similarity"].stub
    shipped = {stub: (ROOT / stub).read_bytes()}
    ref = reference("ex03_similarity")
    renamed = ref.replace(b"threshold", b"limit")  # every use renamed: near-identical tokens
    commented = b"# my own work\n\n" + ref + b"\n\n# the end\n"
    files = {
        "a": {stub: ref},
        "b": {stub: ref},
        "c": {stub: commented},
        "d": {stub: renamed},
        "e": {stub: b"def is_match(score, threshold):\n    return True\n"},
        "f": shipped,
        "g": shipped,
    }
    rows = [
        SubmissionResult(i, "ok", "", 0.0, {}, fingerprints=gradebook.fingerprints(f))
        for i, f in files.items()
    ]
    pairs = {(p["a"], p["b"]): p for p in gradebook.similar(rows, files, shipped, {stub: "ex03_similarity"})}
    assert pairs[("a", "b")]["kind"] == "identical"
    assert pairs[("a", "c")]["kind"] == pairs[("b", "c")]["kind"] == "identical but for comments and layout"
    assert pairs[("a", "d")]["kind"] == "near-identical" and gradebook.NEAR <= pairs[("a", "d")]["ratio"] < 1
    assert not [k for k in pairs if "e" in k or "f" in k or "g" in k], pairs.keys()
    docs = " ".join((ROOT / "docs" / "instructors" / "grading.md").read_text(encoding="utf-8").split())
    assert f"difflib ratio of their tokens at least {gradebook.NEAR:g}" in docs


def test_readme_states_the_limits_and_penalties_the_kit_has():
    args = cli_parser.build().parse_args(["grade", "x"])
    readme = " ".join((ROOT / "docs" / "instructors" / "grading.md").read_text(encoding="utf-8").split())
    assert f"`timeout` in `exercises/course.toml`, default {course.DEFAULT_TEST_TIMEOUT:g} s" in readme
    assert f"takes `--late-penalty` percent (default {args.late_penalty:g})" in readme
    assert args.test_timeout is None and args.replace is False and args.due is None
