"""The class report (report.html): its figures agree with grades.json, and it loads in a browser.

A synthetic class of the real kit is written as the grader writes it (``report.score`` on
per-test outcomes, the test's exercise and declared function added as ``grade.score`` adds
them), with planted catalogued mistakes, a failure no catalogue entry matches, an untouched
stub, a timeout, a crash and a refusal. No test runs: the class costs milliseconds. Every figure
the page shows is read back from its ``data-*`` cells and recomputed here from grades.json alone.
"""

from __future__ import annotations

import ast
import json
import statistics
from html import escape
from html.parser import HTMLParser
from pathlib import Path

from browser import headless_chromium

from facekit import course, mistakes
from facekit.grading import classreport, records, report

ROOT = course.repo_root()
KIT = course.load()
EX = {e.id: e for e in KIT.exercises}
TIMEOUT = 300.0


def declared_function(exercise: course.Exercise, test_name: str) -> str | None:
    """The function ``@pytest.mark.function("...")`` declares on the test ``test_name``."""
    tree = ast.parse((ROOT / exercise.tests).read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == test_name:
            for deco in node.decorator_list:
                if (
                    isinstance(deco, ast.Call)
                    and ast.unparse(deco.func).endswith("mark.function")
                    and isinstance(deco.args[0], ast.Constant)
                    and isinstance(deco.args[0].value, str)
                ):
                    return deco.args[0].value
    return None


def planted(exercise_id: str) -> tuple[mistakes.Mistake, str, str]:
    """A catalogued mistake of the exercise whose test declares a function, and a message with its
    words that no other entry of the catalogue matches: (mistake, node id, message)."""
    exercise = EX[exercise_id]
    catalogue = mistakes.load(ROOT, exercise)
    for mistake in catalogue:
        if "::" in mistake.test or declared_function(exercise, mistake.test) is None:
            continue
        nodeid = mistakes.node_id(mistake, exercise.tests)
        message = f"{' '.join(mistake.words)}: what the test saw differs"
        others = [
            m for m in catalogue if m is not mistake and mistakes.matches(m, exercise.tests, nodeid, message)
        ]
        if not others:
            return mistake, nodeid, message
    raise AssertionError(f"no catalogued mistake of {exercise_id} can be planted")


MISTAKE_A = planted("ex03_similarity")
MISTAKE_B = planted("ex05_retrieval")


def kit_tests() -> tuple[dict[str, list[str]], dict[str, str]]:
    """Per exercise its node ids (three per function, and each planted mistake's test), and the
    function each declares."""
    expected: dict[str, list[str]] = {}
    functions: dict[str, str] = {}
    for exercise in KIT.exercises:
        expected[exercise.id] = []
        for function in exercise.functions:
            for k in range(3):
                nodeid = f"{exercise.tests}::test_synthetic_{function}_{k}"
                expected[exercise.id].append(nodeid)
                functions[nodeid] = function
        for mistake, nodeid, _ in (MISTAKE_A, MISTAKE_B):
            if nodeid.startswith(exercise.tests + "::"):
                expected[exercise.id].append(nodeid)
                declared = declared_function(exercise, mistake.test)
                assert declared, f"{exercise.tests}: {mistake.test} has no @pytest.mark.function(NAME)"
                functions[nodeid] = declared
    return expected, functions


EXPECTED, FUNCTIONS = kit_tests()


def submission(sub_id: str, outcome, status: str = "ok", reason: str = "", seconds: float = 3.0) -> dict:
    """One row of grades.json; ``outcome(exercise, function, nodeid)`` gives a test's record
    ({outcome, message, todo}) or None for a test that did not run."""
    ran = {}
    for exercise in KIT.exercises:
        for nodeid in EXPECTED[exercise.id]:
            record = outcome(exercise, FUNCTIONS[nodeid], nodeid)
            if record is not None:
                ran[nodeid] = {"message": None, "todo": None, "detail": None, **record}
    scores, outcomes = report.score(records.outcomes_of({"tests": ran}), EXPECTED, KIT)
    exercises = {k: e.to_json() for k, e in scores.items()}
    tests = {
        nodeid: {
            **test.to_json(),
            "exercise": next(e for e, ids in EXPECTED.items() if nodeid in ids),
            "function": FUNCTIONS[nodeid],
            "broad": False,
        }
        for nodeid, test in outcomes.items()
    }
    return {
        "id": sub_id,
        "source": f"{sub_id}.zip",
        "status": status,
        "reason": reason,
        "seconds": seconds,
        "cached": False,
        "total": report.round_score(sum(e["score"] for e in exercises.values())),
        "max_total": report.max_total(KIT),
        "exercises": exercises,
        "files": [],
        "ignored": [],
        "warnings": [],
        "submitted": {},
        "tests": tests,
    }


PASSED = {"outcome": "passed"}


def passes(exercise, function, nodeid):
    return PASSED


def with_failure(planted_mistake, message=None):
    """Every test passes but the planted mistake's, which fails with its message (or ``message``)."""
    _, wrong, said = planted_mistake

    def outcome(exercise, function, nodeid):
        if nodeid == wrong:
            return {"outcome": "failed", "message": message or said, "detail": message or said}
        return PASSED

    return outcome


def both_mistakes(exercise, function, nodeid):
    for planted_mistake in (MISTAKE_A, MISTAKE_B):
        if nodeid == planted_mistake[1]:
            return {"outcome": "failed", "message": planted_mistake[2], "detail": planted_mistake[2]}
    return PASSED


def untouched(exercise, function, nodeid):
    # Exercise 06's second function stops at its first function's stub: it waits for it.
    raised_in = exercise.functions[0] if exercise.id == "ex06_app" else function
    return {
        "outcome": "failed",
        "message": f"NotImplementedError: {raised_in}",
        "todo": [raised_in, exercise.stub],
    }


def first_three_then_nothing(exercise, function, nodeid):
    return PASSED if exercise.id in ("ex01_images", "ex02_embeddings", "ex03_similarity") else None


def nothing(exercise, function, nodeid):
    return None


def two_of_three(exercise, function, nodeid):
    return PASSED if not nodeid.endswith("_2") else {"outcome": "failed", "message": f"{function}: wrong"}


CLASS = [
    submission("ada", passes, seconds=3.0),
    submission("bo", passes, seconds=4.5),
    submission("cy", passes, seconds=2.0),
    submission("dee", with_failure(MISTAKE_A), seconds=3.5),
    submission("eli", both_mistakes, seconds=3.1),
    submission("fay", untouched, seconds=1.2),
    submission(
        "gus",
        first_three_then_nothing,
        "timeout",
        "no result after 300 s during tests/x.py::t",
        seconds=TIMEOUT,
    ),
    submission("hal", nothing, "crashed", "the test process ended (killed by signal 9)", seconds=7.0),
    submission("ivy", nothing, "refused", "a zip entry outside itself: ../x", seconds=0.0),
    submission("jo", with_failure(MISTAKE_A, "the result had a wrong value"), seconds=2.8),
    submission("kim", two_of_three, seconds=3.3),  # a total inside a histogram bin, not at its edge
]
UNMATCHED = ["jo", "kim"]  # l2_normalize failing like no catalogued mistake


VOID = ("meta", "br", "img", "input", "link")  # no end tag


class Cells(HTMLParser):
    """Every element with a data-* attribute: (attributes, its text), in document order."""

    def __init__(self):
        super().__init__()
        self.cells: list[tuple[dict[str, str | None], list[str]]] = []
        self.open: list[tuple[dict[str, str | None], list[str]] | None] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag in VOID:
            return
        entry: tuple[dict[str, str | None], list[str]] | None = (
            (attributes, []) if any(k.startswith("data-") for k in attributes) else None
        )
        if entry:
            self.cells.append(entry)
        self.open.append(entry)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        self.open.pop()

    def handle_data(self, data):
        for entry in self.open:
            if entry:
                entry[1].append(data)

    def find(self, **attrs) -> list[str]:
        """The texts of the elements with these data-* attributes (underscores for dashes)."""
        want = {f"data-{k.replace('_', '-')}": v for k, v in attrs.items()}
        return [
            "".join(text).strip() for a, text in self.cells if all(a.get(k) == v for k, v in want.items())
        ]

    def rows(self, key: str) -> list[str]:
        """The values of ``data-key``, in document order."""
        return [attrs[f"data-{key}"] or "" for attrs, _ in self.cells if f"data-{key}" in attrs]


def rendered(tmp_path: Path, class_=CLASS) -> tuple[dict, str]:
    out = tmp_path / "grades"
    out.mkdir()
    data = {
        "course": KIT.title,
        "weights": "standin",
        "max_total": report.max_total(KIT),
        "submissions": class_,
    }
    (out / "grades.json").write_text(json.dumps(data))
    path = classreport.write(out, KIT, ROOT)
    assert path == out / "report.html"
    return json.loads((out / "grades.json").read_text()), path.read_text(encoding="utf-8")


def row_cells(html: str, key: str, value: str) -> Cells:
    """The data cells inside the table row ``data-key="value"``."""
    start = html.index(f'data-{key}="{value}"')
    end = html.index("</tr>", start)
    cells = Cells()
    cells.feed("<table><tr " + html[start:end] + "</tr></table>")
    return cells


def assert_agrees_with_grades_json(out: Path) -> str:
    """Every figure of ``out/report.html`` recomputed from ``out/grades.json``; the page's text.
    test_grading calls it on a class graded for real."""
    data = json.loads((out / "grades.json").read_text(encoding="utf-8"))
    html = (out / classreport.NAME).read_text(encoding="utf-8")
    subs = data["submissions"]
    cells = Cells()
    cells.feed(html)
    top = data["max_total"]
    totals = [s["total"] for s in subs]

    assert cells.find(value=str(len(subs))) == [str(len(subs))]
    for label, value in (
        ("mean", sum(totals) / len(totals)),
        ("median", statistics.median(totals)),
        ("lowest", min(totals)),
        ("highest", max(totals)),
    ):
        assert cells.find(total=label) == [f"{value:.2f}"], f"report.html's {label} of the totals {totals}"
    # Each histogram row's range, as printed, holds exactly the totals it counts.
    bins = len(classreport.histogram([], top))
    for i in range(bins):
        low, high = top * i / bins, top * (i + 1) / bins
        inside = [t for t in totals if low <= t < high or (i == bins - 1 and t == high)]
        assert cells.find(bin=str(i)) == [str(len(inside))], (
            f"histogram bin {i} [{low:g}, {high:g}): {totals}"
        )

    for exercise in KIT.exercises:
        row = row_cells(html, "exercise", exercise.id)
        full = sum(
            s["exercises"][exercise.id]["passed"] == s["exercises"][exercise.id]["total"] for s in subs
        )
        mean = sum(s["exercises"][exercise.id]["score"] for s in subs) / len(subs)
        assert row.find(figure="full") == [str(full)], f"{exercise.id}: full marks"
        assert row.find(figure="mean") == [f"{mean:.2f}"], f"{exercise.id}: mean score"
        assert row.find(figure="rate") == [f"{round(100 * full / len(subs))}%"], (
            f"{exercise.id}: full marks rate"
        )
        for function in exercise.functions:
            row = row_cells(html, "function", f"{exercise.id}.{function}")
            own = [
                [
                    t
                    for t in s["tests"].values()
                    if t.get("function") == function and t.get("exercise") == exercise.id
                ]
                for s in subs
            ]
            own = [tests for tests in own if tests]  # a submission with no test of it is not counted
            passing = sum(all(t["outcome"] == "passed" for t in tests) for tests in own)
            never_ran = sum(all(t["outcome"] == report.NOT_RUN for t in tests) for tests in own)
            assert row.find(state="passes") == [str(passing)], f"{exercise.id}.{function}: passes"
            assert row.find(state="did not run") == [str(never_ran)], f"{exercise.id}.{function}: did not run"
            shown = sum(int(row.find(state=s)[0]) for s in classreport.FUNCTION_STATES)
            assert shown == len(own), (
                f"{exercise.id}.{function}: the states add up to {shown}, not {len(own)}"
            )
            assert row.find(figure="rate") == [f"{round(100 * passing / len(own))}%"], (
                f"{exercise.id}.{function}: rate"
            )

    assert sorted(cells.rows("problem")) == sorted(s["id"] for s in subs if s["status"] != "ok")
    for status in report.STATUSES:
        count = sum(s["status"] == status for s in subs)
        assert cells.find(status=status) == ([str(count)] if count else []), f"status {status}"
    slowest = sorted(subs, key=lambda s: -s["seconds"])[: classreport.SLOWEST]
    assert cells.rows("slow") == [s["id"] for s in slowest]
    return html


def test_the_figures_agree_with_grades_json(tmp_path):
    rendered(tmp_path)
    assert_agrees_with_grades_json(tmp_path / "grades")


def test_the_planted_mistakes_are_counted_with_their_students(tmp_path):
    _, html = rendered(tmp_path)
    for exercise_id, (mistake, _, _), students in (
        ("ex03_similarity", MISTAKE_A, ["dee", "eli"]),
        ("ex05_retrieval", MISTAKE_B, ["eli"]),
    ):
        row = row_cells(html, "mistake", f"{exercise_id}.{mistake.id}")
        assert row.find(figure="count") == [str(len(students))], f"mistake {mistake.id}: count"
        assert row.find(figure="students") == [", ".join(students)], f"mistake {mistake.id}: who"
    assert html.count("data-mistake=") == 2, "only the planted mistakes are matched"
    function = declared_function(EX["ex03_similarity"], MISTAKE_A[0].test)
    row = row_cells(html, "unmatched", f"ex03_similarity.{function}")
    assert row.find(figure="count") == [str(len(UNMATCHED))], "failures like no catalogued mistake"
    assert row.find(figure="students") == [", ".join(UNMATCHED)], "failures like no catalogued mistake: who"
    # The untouched submission: each function not implemented, Exercise 06's later ones waiting.
    ex06 = EX["ex06_app"]
    assert row_cells(html, "function", f"ex06_app.{ex06.functions[0]}").find(state="not implemented") == ["1"]
    assert row_cells(html, "function", f"ex06_app.{ex06.functions[1]}").find(state="waiting") == ["1"]


def test_a_failure_like_several_mistakes_is_listed_as_all_of_them_never_one(tmp_path, monkeypatch):
    """A failure whose signature several catalogued mistakes share (report.function_rows'
    ``looks_like_also``): its row names every one of them, and no row claims one alone."""
    first = MISTAKE_A[0]
    other = next(m for m in mistakes.load(ROOT, EX["ex03_similarity"]) if m.id != first.id)
    real = report.function_rows

    def function_rows(exercise, tests, catalogue=()):
        rows = real(exercise, tests, catalogue)
        for row in rows:
            if row.looks_like == first.says:
                row.looks_like_also = [other.says]
        return rows

    monkeypatch.setattr(report, "function_rows", function_rows)
    _, html = rendered(tmp_path)
    row = row_cells(html, "mistake", f"ex03_similarity.{first.id}+{other.id}")
    assert row.find(figure="students") == ["dee, eli"] and row.find(figure="count") == ["2"]
    assert f"“{escape(first.says)}” or “{escape(other.says)}”" in html
    assert f'data-mistake="ex03_similarity.{first.id}"' not in html, "a possible mistake shown as the one"


def test_the_page_is_self_contained_and_escapes_what_students_named(tmp_path):
    evil = submission("<script>alert(1)</script>", nothing, "refused", "<img src=x onerror=alert(1)>")
    _, html = rendered(tmp_path, [*CLASS, evil])
    assert "<script" not in html and "<img" not in html, "a submission's id or reason is not escaped"
    assert "&lt;script&gt;" in html
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html, (
        "the report must not load anything from the network"
    )
    assert "default-src 'none'" in html


def test_an_empty_class_still_renders(tmp_path):
    _, html = rendered(tmp_path, [])
    assert 'data-value="0"' in html and "Every submission ran to the end" in html


def test_the_report_loads_from_disk_in_chromium_without_console_errors(tmp_path):
    rendered(tmp_path)
    driver = headless_chromium(tmp_path / "profile", "1100,900", console_log=True)
    try:
        driver.get((tmp_path / "grades" / "report.html").as_uri())
        assert driver.title.startswith("Class report"), driver.title
        sizes = driver.execute_script(
            "return [...document.querySelectorAll('svg')].map(s => s.getBoundingClientRect().width)"
        )
        assert sizes and min(sizes) > 0, f"an SVG chart is not shown: widths {sizes}"
        bars = driver.execute_script("return document.querySelectorAll('#totals ~ svg rect.bar').length")
        assert bars == classreport.HISTOGRAM_BINS, f"the histogram has {bars} bars"
        for width in (1100, 390):  # a laptop, a phone: wide tables scroll by themselves, not the page
            driver.set_window_size(width, 900)
            overflow = driver.execute_script(
                "return document.documentElement.scrollWidth - window.innerWidth"
            )
            assert overflow <= 0, f"at {width} px the page is {overflow} px wider than the window"
        errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
        assert not errors, f"console messages while loading report.html: {errors}"
    finally:
        driver.quit()


def test_the_docs_state_the_reports_bins_and_slowest_as_the_code_has_them():
    text = " ".join((ROOT / "docs" / "instructors" / "class-report.md").read_text(encoding="utf-8").split())
    words = {10: "ten", 5: "five", 20: "twenty"}
    assert f"in {words[classreport.HISTOGRAM_BINS]} equal ranges of the maximum" in text
    assert f"The {words[classreport.SLOWEST]} slowest" in text
    assert f"{classreport.NAME}" in text
