"""The stages of ``facekit grade`` on their own (plan -> run -> score -> write), with no jail and no
test run: made-up records and outcomes, the typed records and their one JSON form."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from facekit import course
from facekit.grading import grade, gradebook, integrity, records, report, runner, sources
from facekit.grading.records import NOT_RUN, ExerciseScore, SubmissionResult, TestOutcome

ROOT = course.repo_root()
KIT = course.load()
EX = {e.id: e for e in KIT.exercises}
SIM = EX["ex03_similarity"]


def expected_tests(per_exercise: int = 4) -> dict[str, list[str]]:
    return {e.id: [f"{e.tests}::test_{i}" for i in range(per_exercise)] for e in KIT.exercises}


def declared(expected: dict[str, list[str]], hidden: dict[str, str] | None = None) -> records.Declared:
    """What prepared_kit says of the kit's tests: each ex03 test declares is_match, test_0 is broad."""
    return records.Declared(
        functions={n: "is_match" for n in expected[SIM.id]},
        broad=[expected[SIM.id][0]],
        hidden=hidden or {},
        secrets=["the secret threshold 0.4242"] if hidden else [],
    )


def a_run(tests: dict[str, dict]) -> dict:
    """A finished run's record (runner.parse_record's shape) reporting ``tests``."""
    return {"tests": tests, "finished": True, "collected": list(tests), "seconds": 2.5, "collect_errors": []}


def handed_in() -> sources.Submission:
    return sources.Submission(id="ann", source="ann.zip", files={e.stub: b"x = 1\n" for e in KIT.exercises})


# -- score: a record in, a typed result out ---------------------------------------------------------


def test_score_makes_a_typed_result_from_a_made_up_record():
    expected = expected_tests()
    ids = expected[SIM.id]
    run = a_run(
        {
            ids[0]: {"outcome": "passed", "message": None, "detail": None, "todo": None},
            ids[1]: {"outcome": "passed"},
            ids[2]: {
                "outcome": "failed",
                "message": "AssertionError: 0.5 >= 0.5",
                "detail": "AssertionError: x",
            },
            # ids[3] never reported: it did not run
        }
    )
    result = grade.score(
        handed_in(), run, KIT, expected, declared(expected), grade.Options(out=Path("x")), False
    )
    assert isinstance(result, SubmissionResult) and result.status == "ok", result.status
    ex03 = result.exercises[SIM.id]
    assert (ex03.passed, ex03.total, ex03.score, ex03.exact) == (2, 4, 5.0, 5.0), ex03
    assert result.total == 5.0 and result.max_total == report.max_total(KIT), (result.total, result.max_total)
    assert result.tests[ids[3]].outcome == NOT_RUN, result.tests[ids[3]]
    assert result.tests[ids[0]] == TestOutcome(
        "passed", exercise=SIM.id, function="is_match", broad=True, visibility="visible"
    ), result.tests[ids[0]]
    assert result.tests[ids[2]].message == "AssertionError: 0.5 >= 0.5" and not result.tests[ids[2]].broad
    assert result.seconds == 2.5 and result.files == sorted(handed_in().files)


def test_score_of_a_forged_record_counts_nothing_and_withholds_hidden_tests():
    expected = expected_tests()
    ids = expected[SIM.id]
    run = a_run({n: {"outcome": "passed"} for n in ids})
    opts = grade.Options(out=Path("x"))
    forged = grade.score(
        handed_in(),
        {**run, "tampered": "the record reports x twice"},
        KIT,
        expected,
        declared(expected),
        opts,
        False,
    )
    assert (forged.status, forged.total) == ("tampered", 0.0), (forged.status, forged.total)
    assert forged.reason == "the record reports x twice: review this hand-in", forged.reason
    assert all(t.outcome == NOT_RUN for t in forged.tests.values()), "a forged record's outcomes were kept"
    # A message that quotes a hidden test's source is withheld; its id is never named.
    hidden = {ids[1]: "hidden"}
    run = a_run(
        {ids[1]: {"outcome": "failed", "message": f"AssertionError: the secret threshold 0.4242 in {ids[1]}"}}
    )
    shown = grade.score(handed_in(), run, KIT, expected, declared(expected, hidden), opts, False)
    assert shown.tests[ids[1]].message == report.WITHHELD, shown.tests[ids[1]]
    assert shown.tests[ids[1]].visibility == "hidden"


def test_report_score_takes_outcomes_and_ignores_tests_the_kit_does_not_expect():
    expected: dict[str, list[str]] = {e.id: [] for e in KIT.exercises}
    expected[SIM.id] = ["t::a", "t::b", "t::c"]
    outcomes = {"t::a": TestOutcome("passed"), "t::b": TestOutcome("failed"), "t::x": TestOutcome("passed")}
    scores, tests = report.score(outcomes, expected, KIT)
    assert scores[SIM.id] == ExerciseScore(score=3.33, points=10, passed=1, total=3, exact=10 / 3), scores[
        SIM.id
    ]
    assert set(tests) == {"t::a", "t::b", "t::c"} and tests["t::c"] == TestOutcome(NOT_RUN), tests
    whole, _ = report.score(outcomes, expected, KIT, all_or_nothing={SIM.id})
    assert whole[SIM.id].score == 0 and whole[SIM.id].all_or_nothing


# -- the records and their one JSON form --------------------------------------------------------------


def test_the_runners_record_becomes_an_outcome_in_one_place():
    entry = {
        "outcome": "failed",
        "message": "NotImplementedError: x",
        "detail": "d",
        "todo": ["is_match", SIM.stub],
    }
    assert records.outcome_from_record(entry) == TestOutcome(
        "failed", message="NotImplementedError: x", todo=("is_match", SIM.stub), detail="d"
    )
    assert records.outcome_from_record(None) == TestOutcome(NOT_RUN)
    assert records.outcomes_of(None) == {} and list(records.outcomes_of(a_run({"t::a": entry}))) == ["t::a"]


def test_a_result_read_back_from_grades_json_is_the_one_written():
    expected = expected_tests()
    ids = expected[SIM.id]
    run = a_run(
        {
            ids[0]: {
                "outcome": "failed",
                "message": "NotImplementedError: is_match",
                "todo": ["is_match", SIM.stub],
            },
            ids[1]: {"outcome": "failed", "message": "AssertionError: a", "detail": "AssertionError: a"},
            ids[2]: {"outcome": "passed"},
        }
    )
    opts = grade.Options(out=Path("x"), due=gradebook.parse_due("2020-01-01T00:00+00:00"))
    sub = handed_in()
    sub.meta["timestamp"] = "2020-01-02T12:00:00Z"  # submission.json's: two started days late
    result = grade.score(sub, run, KIT, expected, declared(expected), opts, False)
    assert result.late is not None and result.late.penalty_percent == 20, result.late
    written = report.json_text([result], {"course": KIT.title})
    (row,) = json.loads(written)["submissions"]
    back = SubmissionResult.from_json(row)
    assert report.json_text([back], {"course": KIT.title}) == written, "grades.json changed on a round trip"
    assert report.csv_text([back], KIT) == report.csv_text([result], KIT)
    assert report.feedback_text(back, KIT, "standin") == report.feedback_text(result, KIT, "standin")
    assert "message" not in row["tests"][ids[0]] and "detail" not in row["tests"][ids[1]], row["tests"]


def test_overrides_and_the_late_penalty_make_a_new_total_and_leave_the_result_as_it_was():
    expected = expected_tests()
    run = a_run({n: {"outcome": "passed"} for n in expected[SIM.id][:1]})
    result = grade.score(
        handed_in(), run, KIT, expected, declared(expected), grade.Options(out=Path("x")), False
    )
    (changed,), unmatched = gradebook.apply(
        [result],
        [gradebook.OverrideRow("ann", SIM.id, 9.0, "regraded"), gradebook.OverrideRow("bob", SIM.id, 1.0)],
    )
    assert unmatched == ["bob"]
    assert (changed.exercises[SIM.id].score, changed.total) == (9.0, 9.0), changed.exercises[SIM.id]
    assert (result.exercises[SIM.id].score, result.total) == (2.5, 2.5), (
        "apply changed the result it was given"
    )
    (again,), _ = gradebook.apply([changed], [])
    assert (again.exercises[SIM.id].override, again.total) == (None, 2.5), "an earlier run's override stayed"


# -- plan: every check before anything is written ------------------------------------------------------


def test_plan_checks_everything_before_writing_anything(tmp_path):
    out = tmp_path / "out"
    planned = grade.plan([], grade.Options(out=out, runner="subprocess"))
    assert (planned.mode, planned.subs, planned.kit.title) == ("subprocess", [], KIT.title)
    assert planned.isolation.startswith("none (") and planned.limits == grade.NO_PROCESS_LIMIT
    assert not out.exists(), "plan wrote into --out"
    with pytest.raises(grade.GradeError, match="--all-or-nothing names unknown exercises: ex99"):
        grade.plan([], grade.Options(out=out, all_or_nothing={"ex99"}))
    (tmp_path / "file").write_text("")
    with pytest.raises(grade.GradeError, match="--out must be a folder"):
        grade.plan([], grade.Options(out=tmp_path / "file"))


def test_points_are_checked_once_when_the_manifest_is_read(tmp_path):
    kit = tmp_path / "kit"
    (kit / "exercises").mkdir(parents=True)
    manifest = (ROOT / "exercises" / "course.toml").read_text(encoding="utf-8")
    bad = manifest.replace("points = 10", "points = -1", 1)
    assert bad != manifest, "the manifest has no `points = 10` line: update this test"
    (kit / "exercises" / "course.toml").write_text(bad, encoding="utf-8")
    with pytest.raises(course.ManifestError, match="points"):
        grade.plan([], grade.Options(out=tmp_path / "out", kit_root=kit))
    assert not (tmp_path / "out").exists()
    # Past the manifest, the points are taken as read: report.score and max_total check nothing again.
    assert not hasattr(report, "exercise_points")


# -- write: the gradebook merged and every file written from it ----------------------------------------


def test_write_merges_into_the_gradebook_applies_overrides_and_writes_every_file(tmp_path):
    out = tmp_path / "out"
    expected = expected_tests()
    opts = grade.Options(out=out)
    make = grade.score
    earlier = make(handed_in(), a_run({}), KIT, expected, declared(expected), opts, False)
    earlier = SubmissionResult.from_json({**earlier.to_json(), "id": "old"})
    out.mkdir()
    (out / "grades.json").write_text(report.json_text([earlier], {"course": KIT.title}), encoding="utf-8")
    (out / gradebook.OVERRIDES_CSV).write_text(f"id,exercise,points,comment\nold,{SIM.id},7,by hand\n")
    planned = grade.plan([], opts)
    prepared = prepared_kit(tmp_path, expected)
    new = make(
        handed_in(),
        a_run({expected[SIM.id][0]: {"outcome": "passed"}}),
        KIT,
        expected,
        declared(expected),
        opts,
        False,
    )
    rows, meta = grade.write(planned, prepared, opts, [new], [], "run-1")
    assert [r.id for r in rows] == ["old", "ann"], [r.id for r in rows]
    assert rows[0].exercises[SIM.id].override is not None and rows[0].total == 7.0, rows[0]
    assert (meta["gradebook"]["added"], meta["gradebook"]["kept"], meta["rows"]) == (["ann"], 1, 2), meta
    assert meta["exercises"][SIM.id] == {"points": 10, "tests": 4}, meta["exercises"]
    assert (out / "grades.csv").read_text(encoding="utf-8") == report.csv_text(rows, KIT)
    assert sorted(p.name for p in (out / "feedback").iterdir()) == ["ann.md", "old.md"]
    for name in ("canvas.csv", "moodle.csv", "similar.csv", "report.html"):
        assert (out / name).is_file(), f"grade.write wrote no {name}"
    back = gradebook.rows_of(gradebook.read(out))
    assert back == rows, "grades.json read back differs from the rows written"


def test_a_gradebook_whose_rows_cannot_be_read_stops_the_plan_before_any_work(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "grades.json").write_text(json.dumps({"submissions": [{"id": "x", "status": "ok"}]}))
    with pytest.raises(gradebook.GradebookError, match="its submission 1 is not one a grading writes"):
        grade.plan([], grade.Options(out=out))
    assert grade.plan([], grade.Options(out=out, replace=True)).out == out.resolve()  # --replace: not read


# -- run: what runs, and what comes from the signed cache ----------------------------------------------


def prepared_kit(tmp_path: Path, expected: dict[str, list[str]]) -> grade.PreparedKit:
    return grade.PreparedKit(
        template=tmp_path,
        kit_hash="0" * 64,
        expected=expected,
        declared=declared(expected),
        order=[],
        manifest={},
        test_files=[],
        standin=None,
        hub_cache=None,
        jail_spec=None,
        test_limits="{}",
    )


def test_run_takes_a_signed_cached_record_and_runs_nothing_for_a_refused_hand_in(tmp_path, monkeypatch):
    opts = grade.Options(out=tmp_path / "out", runner="subprocess")
    refused = sources.Submission(id="bad", source="bad.zip", refused="bad CRC-32 in images.py")
    planned = replace(grade.plan([], opts), subs=[refused, handed_in(), handed_in()])
    prepared = prepared_kit(tmp_path, expected_tests())
    key = grade._run_key(prepared.kit_hash, handed_in(), opts, planned.isolation)
    record = a_run({"t::a": {"outcome": "passed"}})
    cached = planned.cache_dir / "runs" / f"{key}.json"
    cached.parent.mkdir(parents=True)
    cached.write_text(integrity.sign(f"run:{key}", record))
    given: list[list] = []
    monkeypatch.setattr(runner, "run_all", lambda jobs, **_: given.append(jobs))
    finished: list[tuple] = []
    grade.run(planned, prepared, opts, tmp_path, lambda sub, run, hit: finished.append((sub.id, run, hit)))
    assert finished == [("bad", None, False), ("ann", record, True), ("ann", record, True)], finished
    assert given == [[]], f"the runner was given {given}: nothing was left to run"
    # --force: the cache is not read; a record signed for another key is not trusted either.
    grade.run(planned, prepared, replace(opts, force=True), tmp_path, lambda *_: None)
    cached.write_text(integrity.sign("run:" + "1" * 64, record))
    grade.run(planned, prepared, opts, tmp_path, lambda *_: None)
    assert [len(jobs) for jobs in given[1:]] == [2, 2], given
