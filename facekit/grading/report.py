"""Scores and what the grader writes: grades.csv, grades.json, feedback/<id>.md, the summary.

An exercise's score is ``points × passed / total``: ``total`` is the number of its tests the
pristine kit collects (plus the instructor's extra tests for it), ``passed`` the number of
those the grader's record shows as run and passed. A test that did not report (the process
died, timed out, the tests were skipped or deselected, collection failed) counts as failed.
With all-or-nothing an exercise scores its points only when every test passes.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from facekit import course, progress
from facekit.grading.records import (
    NOT_RUN,
    ExerciseScore,
    SubmissionResult,
    TestOutcome,
    outcomes_of,
    round_score,
)
from facekit.harness import record
from facekit.mistakes import Mistake

_PROGRESS = re.compile(r"[.FEsxXT]+(\s+\[\s*\d+%\])?")  # pytest's progress line: says nothing of a crash
FORMULA = (
    "exercise score = points * passed / total tests of the exercise; with function_points, the sum "
    "over its functions of function points * passed / total tests declaring that function"
)
SUMMARY_PROBLEMS = 10  # problem submissions the summary names; "... and N more" for the rest
HIDDEN = "hidden"
VISIBILITIES = ("visible", HIDDEN, "after_due_date")
WITHHELD = "(withheld: the message quotes a hidden test)"
STATUSES = ("ok", "timeout", "crashed", "syntax error", "import error", "no files", "refused", "tampered")


def status_of(run: Mapping[str, Any] | None, refused: str | None, timeout: float) -> tuple[str, str]:
    """(status, reason) of a graded submission, from how its test process ended."""
    if refused:
        return "refused", refused
    if run is None:
        return "no files", "none of the student files named by the course manifest were found"
    outcomes = outcomes_of(run)
    reported = run.get("reported_when_stopped", len(run["tests"]))
    # The test it was in: the first of its collection that never reported.
    stops = run.get("interrupted") or ()
    running = (
        stops[0]["during"]
        if stops
        else next((n for n in run.get("collected") or () if n not in run["tests"]), None)
    )
    during = f" during {running}" if running else ""
    tests = f"{reported} test{'s' * (reported != 1)}"
    went_on = ""
    if stops:
        lost = sum(s["lost"] for s in stops)
        went_on = (
            f"; {lost} test{'s' * (lost != 1)} of {', '.join(sorted({s['file'] for s in stops}))} "
            f"did not run, and grading went on with the next exercise"
        )
    if run.get("timed_out"):
        return "timeout", f"no result after {timeout:g} s{during} ({tests} had reported){went_on}"
    if run.get("worker_died"):
        return "crashed", "the grading process running it was killed (the student's code can do that)"
    if not run.get("finished") or stops:
        code = run.get("returncode")
        how = f"killed by signal {-code}" if isinstance(code, int) and code < 0 else f"exit code {code}"
        tail = [
            line
            for line in (run.get("output_tail") or "").splitlines()
            if line.strip() and not _PROGRESS.fullmatch(line.strip())
        ]
        # Python's own last words (os.abort, a segfault) beat the module list faulthandler adds.
        fatal = [line for line in tail if line.startswith("Fatal Python error")]
        last = f"; last output: {(fatal or tail)[-1][:200]}" if tail else ""
        return "crashed", f"the test process ended ({how}){during} after {tests}{last}{went_on}"
    slow = [
        n
        for n, t in outcomes.items()
        if t.outcome == "failed" and (t.message or "").startswith("TestTimeout")
    ]
    if slow:
        return "timeout", (
            f"{len(slow)} test{'s' * (len(slow) != 1)} ran past the limit per test and "
            f"count as failed, the first {slow[0]}; the others ran"
        )
    messages = [t.message or "" for t in outcomes.values() if t.outcome == "failed"]
    messages += run.get("collect_errors") or []
    for kind, prefixes in (
        ("syntax error", ("SyntaxError", "IndentationError", "TabError")),
        ("import error", ("ImportError", "ModuleNotFoundError", "SystemExit")),
    ):
        for message in messages:
            if message.startswith(prefixes):
                return kind, message[:300]
    # Any other exception while a student module was being imported (its top level: "<module>").
    for test in outcomes.values():
        if test.outcome == "failed" and test.detail and " raised in <module>" in test.detail:
            return "import error", test.detail[:300]
    if run.get("collect_errors"):
        return "crashed", f"the tests did not collect: {run['collect_errors'][0][:300]}"
    return "ok", ""


def not_graded(kit: course.Course, files: Collection[str], skipped: Mapping[str, str]) -> str:
    """The student modules a hand-in lacks or that were not taken ("... is over 2048 KiB: not
    graded"), in course order; their exercises score 0. "" when every one was graded."""
    parts = [
        f"{e.stub} {skipped[e.stub]}" if e.stub in skipped else f"{e.stub} not handed in"
        for e in kit.exercises
        if e.stub not in files
    ]
    if not parts:
        return ""
    return "; ".join(parts) + (
        " (its exercise scores 0)" if len(parts) == 1 else " (their exercises score 0)"
    )


def score(
    outcomes: Mapping[str, TestOutcome] | None,
    expected: Mapping[str, list[str]],
    kit: course.Course,
    all_or_nothing: Collection[str] = frozenset(),
    functions: Mapping[str, str] | None = None,
) -> tuple[dict[str, ExerciseScore], dict[str, TestOutcome]]:
    """Per exercise its score (``exact`` unrounded: totals add those) and per test of ``expected``
    its outcome (``outcomes`` of a run, facekit.grading.records.outcomes_of; a test without one
    did not run). Tests ``expected`` does not name count for nothing.

    ``functions``: each test's declared function (the pristine kit's), for an exercise with
    ``function_points``: each function scores its points × (its tests passed / its tests)."""
    ran = outcomes or {}
    exercises: dict[str, ExerciseScore] = {}
    tests: dict[str, TestOutcome] = {}
    for exercise in kit.exercises:
        nodeids = expected.get(exercise.id, [])
        for nodeid in nodeids:
            tests[nodeid] = ran.get(nodeid) or TestOutcome(NOT_RUN)
        passed = sum(tests[n].passed for n in nodeids)
        points = exercise.points
        if not nodeids:
            value = 0.0
        elif exercise.id in all_or_nothing:
            value = float(points) if passed == len(nodeids) else 0.0
        elif exercise.function_points:
            value = 0.0
            for function, function_points in exercise.function_points.items():
                own = [n for n in nodeids if (functions or {}).get(n) == function]
                if own:
                    value += function_points * sum(tests[n].passed for n in own) / len(own)
        else:
            value = points * passed / len(nodeids)
        exercises[exercise.id] = ExerciseScore(
            score=round_score(value),
            points=points,
            passed=passed,
            total=len(nodeids),
            all_or_nothing=exercise.id in all_or_nothing,
            exact=value,
        )
    return exercises, tests


def max_total(kit: course.Course) -> int:
    """The most a submission can score (each exercise's points, checked when the manifest is read)."""
    return sum(e.points for e in kit.exercises)


# -- which functions a test covers -------------------------------------------------------------


def _test_name(nodeid: str) -> str:
    return nodeid.split("::")[-1].split("[")[0]


@dataclass
class FunctionRow:
    """One function of one submission's exercise, as its feedback (and the class report) shows it."""

    function: str
    passed: int = 0
    total: int = 0  # tests declaring it
    ran: bool = False  # one of them ran
    first_failure: str = ""  # set for each function with a test that does not pass
    looks_like: str = ""  # the catalogued mistake's words
    looks_like_also: list[str] = field(default_factory=list)  # other mistakes the failure matches
    not_implemented: bool = False  # stopped at its own stub
    waits_for: str = ""  # stopped at another function's stub: which


def function_rows(
    exercise: course.Exercise, tests: Mapping[str, TestOutcome], catalogue: Sequence[Mistake] = ()
) -> list[FunctionRow]:
    """Per manifest function: its tests passing, of those declaring it (``test["function"]``,
    from the pristine kit's ``@pytest.mark.function``), and the failure to show: the one
    `facekit check` shows (facekit.progress.shown_failure: a catalogued mistake's signature,
    else the first test that is not broad), with that mistake; else the first test that stopped
    at a stub or did not run."""
    rows = {f: FunctionRow(f) for f in exercise.functions}
    owned: dict[str, list[tuple[str, TestOutcome]]] = {f: [] for f in exercise.functions}
    for nodeid, test in tests.items():
        row = rows.get(test.function or "")
        if row is None:  # declares no function of the exercise (an instructor's extra test, say)
            continue
        row.total += 1
        row.ran = row.ran or test.outcome != NOT_RUN
        if test.passed:
            row.passed += 1
        else:
            owned[row.function].append((nodeid, test))
    for name, row in rows.items():
        if not owned[name]:
            continue
        # A hidden test (an instructor's extra one) is never named nor quoted: a visible
        # failure is shown first; where only hidden ones fail, that much is said.
        visible = [(n, t) for n, t in owned[name] if t.visibility == "visible"]
        if not visible:
            row.first_failure = f"a hidden test of `{name}` failed"
            continue
        owned[name] = visible
        failed = [
            (n, record.test_result(t.to_json(), t.function, t.broad))
            for n, t in owned[name]
            if t.outcome == "failed" and not t.todo
        ]
        if failed:
            nodeid, shown, mistake = progress.shown_failure(failed, exercise.tests, catalogue)
            row.first_failure = f"{_test_name(nodeid)}: {shown.error}"
            row.looks_like = mistake.says if mistake else ""
            row.looks_like_also = list(
                progress.also_matching(mistake, nodeid, shown, exercise.tests, catalogue)
            )
            continue
        nodeid, test = owned[name][0]
        todo = test.todo
        row.not_implemented = todo is not None and exercise.function_for(todo[0]) == name
        if todo and not row.not_implemented:  # stopped at another function's stub, as check says
            row.waits_for = f"`{exercise.function_for(todo[0]) or todo[0]}` ({todo[1]})"
        message = test.message or ("did not run" if test.outcome == NOT_RUN else test.outcome)
        row.first_failure = f"{_test_name(nodeid)}: {message}"
    return list(rows.values())


# -- the files ----------------------------------------------------------------------------------


def _atomic_write(path: Path, text: str) -> None:
    from facekit.grading import gradebook

    gradebook.write_atomic(path, text)


def csv_header(kit: course.Course) -> list[str]:
    return [
        "id",
        *[e.id for e in kit.exercises],
        "total",
        "status",
        "seconds",
        "reason",
        "late_penalty",
        "overrides",
        "isolation",
        "limits",
    ]


def csv_rows(results: Sequence[SubmissionResult], kit: course.Course) -> str:
    """The rows of grades.csv (no header): the late penalty in percent, overrides as ``id=points``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for r in results:
        overridden = [f"{k}={v.override.points:g}" for k, v in r.exercises.items() if v.override]
        writer.writerow(
            [
                r.id,
                *[f"{r.exercises[e.id].score:g}" for e in kit.exercises],
                f"{r.total:g}",
                r.status,
                f"{r.seconds:.1f}",
                r.reason or "; ".join(r.warnings),
                f"{r.late.penalty_percent:g}" if r.late else "",
                " ".join(overridden),
                r.isolation or "",
                r.limits or "",
            ]
        )
    return out.getvalue()


def csv_text(results: Sequence[SubmissionResult], kit: course.Course) -> str:
    return ",".join(csv_header(kit)) + "\n" + csv_rows(results, kit)


def json_text(results: Sequence[SubmissionResult], meta: Mapping[str, Any]) -> str:
    """grades.json: the run's settings indented, then one submission per line (its tests compact)."""
    lines = [json.dumps(r.to_json(compact=True), separators=(",", ":"), ensure_ascii=False) for r in results]
    marker = "\0submissions\0"
    head = json.dumps({**meta, "submissions": marker}, indent=1, ensure_ascii=False)
    listed = "[\n" + ",\n".join(lines) + "\n]" if lines else "[]"
    return head.replace(json.dumps(marker), listed, 1) + "\n"


def feedback_text(
    result: SubmissionResult,
    kit: course.Course,
    weights: str,
    catalogues: Mapping[str, Sequence[Mistake]] | None = None,
) -> str:
    from facekit import standin

    described = (
        standin.LABEL if weights == "standin" else f"the real pretrained weights of {standin.MODEL_ID}"
    )
    lines = [
        f"# {kit.title}: feedback for {result.id}",
        "",
        f"**Total: {result.total:g} / {result.max_total:g}** (status: {result.status}"
        + (f": {result.reason}" if result.reason else "")
        + ")",
        "",
    ]
    for warning in result.warnings:
        lines += [f"Note: {warning}", ""]  # a paragraph of its own, in Markdown too
    if result.isolation:  # how it was graded: in a jail, or with no isolation and why
        lines += [f"Graded with isolation: {result.isolation}; limits: {result.limits or ''}", ""]
    late = result.late
    if late:
        lines += [
            f"Late: handed in {late.submitted} ({late.source}), due {late.due}: "
            f"{late.days_late} day{'s' * (late.days_late != 1)} late, "
            f"{late.penalty_percent:g}% taken off the total.",
            "",
        ]
    whole = [e.id for e in kit.exercises if result.exercises[e.id].all_or_nothing]
    lines += [
        "An exercise scores its points × (tests passed / tests of the exercise)"
        + (f", except {', '.join(whole)}: all its points when every test passes, else 0" if whole else "")
        + f"; a test that did not run counts as failed. Weights: {described}.",
        "",
    ]
    if result.ignored:
        lines += [
            "Ignored (only the exercise modules are graded): " + ", ".join(f"`{n}`" for n in result.ignored),
            "",
        ]
    for exercise in kit.exercises:
        catalogue = (catalogues or {}).get(exercise.id, ())
        lines += [
            f"## {exercise.id}: {exercise.title}",
            "",
            *exercise_section(result, exercise, catalogue),
            "",
        ]
    return "\n".join(lines)


def code_span(text: str) -> str:
    """``text`` as a Markdown code span: a failure's message is program output, whose ``<module>``,
    ``__init__`` or ``*`` Markdown (and Gradescope's HTML sanitizer) would otherwise eat."""
    text = " ".join(text.split())
    fence = "`"
    while fence in text:
        fence += "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def exercise_section(
    result: SubmissionResult, exercise: course.Exercise, catalogue: Sequence[Mistake] = ()
) -> list[str]:
    """One exercise's feedback: score, each function passing or not (first failure), the hints
    of each function that does not pass yet."""
    lines = []
    ex = result.exercises[exercise.id]
    rule = "all or nothing: " if ex.all_or_nothing else ""
    lines += [
        f"Score: {ex.score:g} / {ex.points} ({rule}{ex.passed} of {ex.total} tests pass)",
        "",
    ]
    if ex.override:
        comment = ex.override.comment
        lines[-2] = (
            f"Score: {ex.score:g} / {ex.points}, set by your instructor"
            f"{': ' + comment if comment else ''} (the tests gave "
            f"{round_score(ex.exact):g}: {rule}{ex.passed} of {ex.total} tests pass)"
        )
    tests = {n: t for n, t in result.tests.items() if t.exercise == exercise.id}
    not_run = sum(t.outcome == NOT_RUN for t in tests.values())
    if not_run and result.status != "ok":
        lines += [f"{not_run} of its tests did not run ({result.status}: {result.reason}).", ""]
    hints = []
    undeclared = [t for t in tests.values() if not t.function]
    if undeclared:  # an instructor's extra test without @pytest.mark.function: it still counts
        passed = sum(t.passed for t in undeclared)
        lines.append(f"- tests that name no function: {passed}/{len(undeclared)} pass")
    for row in function_rows(exercise, tests, catalogue):
        name = f"`{row.function}`"
        if row.total == 0:
            lines.append(f"- {name}: no test declares it")
            continue
        if row.passed == row.total:
            lines.append(f"- {name}: passes ({row.passed}/{row.total} tests)")
            continue
        if row.not_implemented:
            lines.append(f"- {name}: not implemented yet ({row.passed}/{row.total} tests pass)")
        elif row.waits_for:
            lines.append(
                f"- {name}: waits for {row.waits_for}, not implemented yet "
                f"({row.passed}/{row.total} tests pass)"
            )
            continue  # its hints can wait too
        else:
            lines.append(
                f"- {name}: failing ({row.passed}/{row.total} tests pass); "
                f"first failure: {code_span(row.first_failure)}"
            )
            if row.looks_like:
                lines.append("  " + progress.looks_like(row.looks_like, *row.looks_like_also))
        if row.ran and exercise.hints.get(row.function):
            # The first hint only (a nudge, not the near-answer the last ones are), under its
            # function's name; one that starts "is_match: ..." does not say it twice.
            first = exercise.hints[row.function][0]
            hints.append(f"{name}: {first.removeprefix(row.function + ':').strip()}")
    if hints:
        lines += [
            "",
            "Hints (`facekit hint " + exercise.id + "` gives the next ones):",
            *[f"{i}. {hint}" for i, hint in enumerate(hints, 1)],
        ]
    return lines


def write(
    out: Path,
    results: Sequence[SubmissionResult],
    kit: course.Course,
    meta: Mapping[str, Any],
    catalogues: Mapping[str, Sequence[Mistake]] | None = None,
) -> None:
    """The three outputs; ``catalogues`` (per exercise id) name the mistake a failure looks like."""
    out = Path(out)
    # A fresh folder, then swapped in: no feedback of a row no longer in ``results`` (another
    # roster, --replace) stays. grades.json last: until it is written it says "in_progress".
    fresh, old = out / ".feedback-new", out / ".feedback-old"
    shutil.rmtree(fresh, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)
    for result in results:
        _atomic_write(fresh / f"{result.id}.md", feedback_text(result, kit, meta["weights"], catalogues))
    fresh.mkdir(exist_ok=True)
    if (out / "feedback").exists():
        os.replace(out / "feedback", old)
    os.replace(fresh, out / "feedback")
    shutil.rmtree(old, ignore_errors=True)
    _atomic_write(out / "grades.csv", csv_text(results, kit))
    _atomic_write(out / "grades.json", json_text(results, meta))


def _cut(text: str, limit: int) -> str:
    """``text`` up to ``limit`` characters, cut at a word (grades.csv has it whole)."""
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " ..."


def summary(
    results: Sequence[SubmissionResult],
    kit: course.Course,
    out: Path,
    seconds: float,
    meta: Mapping[str, Any] | None = None,
) -> list[str]:
    """A one-screen summary: count per status, mean and histogram of totals, the slowest."""
    top = max_total(kit)
    lines = [
        f"Graded {len(results)} submission{'s' * (len(results) != 1)} in {seconds:.1f} s "
        f"({sum(r.cached for r in results)} from the cache)."
    ]
    if meta and meta.get("isolation"):
        lines.append(f"Isolation: {meta['isolation']}; limits: {meta.get('limits', '')}")
    counts = {s: sum(r.status == s for r in results) for s in STATUSES}
    lines.append("Status: " + ", ".join(f"{s} {n}" for s, n in counts.items() if n))
    if results:
        totals = [r.total for r in results]
        lines.append(
            f"Total: mean {sum(totals) / len(totals):.1f} / {top}, min {min(totals):g}, max {max(totals):g}"
        )
        bins = [0] * 5
        for t in totals:
            bins[min(4, int(5 * t / top)) if top else 0] += 1
        width = max(bins)
        for i, n in enumerate(bins):
            low, high = top * i / 5, top * (i + 1) / 5
            bar = "#" * (round(30 * n / width) if width else 0)
            lines.append(f"  {low:5.1f}-{high:5.1f} {'|' if i == 4 else ')'} {n:4d} {bar}")
        slow = sorted(results, key=lambda r: -r.seconds)[:3]
        lines.append("Slowest: " + ", ".join(f"{r.id} {r.seconds:.1f} s" for r in slow))
        bad = [r for r in results if r.status != "ok" or r.reason or r.warnings]
        shown = bad if len(bad) <= SUMMARY_PROBLEMS else bad[: SUMMARY_PROBLEMS - 1]
        if bad:
            lines.append(f"Problems ({len(bad)}):")
        for r in shown:
            why = r.reason or "; ".join(r.warnings)
            lines.append(f"  {r.id}: {r.status}" + (f" ({_cut(why, 160)})" if why else ""))
        if len(shown) < len(bad):
            lines.append(f"  ... and {len(bad) - len(shown)} more: grades.csv has every one, with its reason")
    merged = (meta or {}).get("gradebook")
    if merged and not merged.get("replace"):
        from facekit.grading import gradebook

        lines.append(gradebook.merge_line(merged["added"], merged["replaced"], merged["kept"]))
    elif merged:
        lines.append(f"Gradebook: started over (--replace): {len(merged['added'])} rows.")
    lines += [f"Note: {note}" for note in (meta or {}).get("notes") or ()]
    similar = (meta or {}).get("similar")
    if similar:
        lines.append(f"Similar hand-ins: {similar} pair{'s' * (similar != 1)} in similar.csv.")
    missing = (meta or {}).get("roster_without_submission") or []
    if missing:
        lines.append(f"On the roster, no submission: {', '.join(missing)}")
    rows = (meta or {}).get("rows") or len(results)  # the whole gradebook's
    lines.append(
        f"Wrote {out / 'grades.csv'}, grades.json and feedback/ "
        f"({rows} file{'s' * (rows != 1)}), canvas.csv, moodle.csv, similar.csv."
    )
    return lines
