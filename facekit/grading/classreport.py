"""The class report: ``report.html`` in ``facekit grade --out``, a picture of the whole class.

It is built from what ``grades.json`` holds (read back from the folder after every grade, so a
merged gradebook is reported whole) and the kit's manifest and catalogue of typical mistakes:

- the distribution of totals (a histogram), with mean, median, lowest and highest;
- per exercise: how many submissions got full marks, and the mean score;
- per function: how many pass every test that declares it, fail, are not implemented yet, or
  did not run;
- the catalogued mistakes matched across the class (the one `facekit check` and the feedback
  would name for each failing function: facekit.grading.report.function_rows), with counts and
  the submissions that made each, and the failures that match no catalogued mistake;
- timeouts, crashes, refusals and the other statuses that are not ``ok``, with their reasons;
- the slowest submissions.

One self-contained file: inline CSS and inline SVG, no script, no font, no network (a Content
Security Policy forbids any fetch), so it opens from disk anywhere. The charts are a few bars,
written here with the standard library (html.escape and string formatting): a plotting library
would be a new dependency of every instructor's install for rectangles and text, and its SVG
(embedded fonts, clip paths) is far larger than the figures. Every chart sits beside a table
with the same numbers, which is what a screen reader reads and what the kit's test checks.
"""

from __future__ import annotations

import json
import os
import statistics
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from facekit import course, mistakes
from facekit.grading import report
from facekit.grading.records import SubmissionResult, TestOutcome

NAME = "report.html"
HISTOGRAM_BINS = 10
SLOWEST = 10
FUNCTION_STATES = ("passes", "failing", "not implemented", "waiting", "did not run")


# -- the figures, from grades.json -------------------------------------------------------------


def histogram(totals: Sequence[float], top: float, bins: int = HISTOGRAM_BINS) -> list[int]:
    """Counts of ``totals`` in ``bins`` equal ranges of [0, top]; the last range includes ``top``."""
    counts = [0] * bins
    for total in totals:
        index = int(bins * total / top) if top > 0 else 0
        counts[max(0, min(bins - 1, index))] += 1
    return counts


def function_state(tests: Sequence[TestOutcome], function: str, exercise: course.Exercise) -> str:
    """One submission's state for one function, from the tests that declare it: passes (every
    one passed), failing (one failed in the student's code), not implemented (stopped at its
    own stub), waiting (stopped at another function's stub) or did not run."""
    if tests and all(t.passed for t in tests):
        return "passes"
    if any(t.outcome == "failed" and not t.todo for t in tests):
        return "failing"
    todos = [t.todo for t in tests if t.todo]
    if any(exercise.function_for(todo[0]) == function for todo in todos):
        return "not implemented"
    if todos:
        return "waiting"
    return "did not run"


def figures(
    data: Mapping[str, Any], kit: course.Course, catalogues: Mapping[str, Sequence[mistakes.Mistake]]
) -> dict[str, Any]:
    """Everything the report shows, as plain numbers and names (the page only formats them), from
    grades.json as read."""
    subs = [SubmissionResult.from_json(s) for s in data.get("submissions") or []]
    top = data.get("max_total") or report.max_total(kit)
    totals = [s.total for s in subs]
    result: dict[str, Any] = {
        "course": data.get("course") or kit.title,
        "weights": data.get("weights", ""),
        "count": len(subs),
        "max_total": top,
        "totals": {
            "mean": statistics.fmean(totals) if totals else 0.0,
            "median": statistics.median(totals) if totals else 0.0,
            "min": min(totals, default=0.0),
            "max": max(totals, default=0.0),
            "histogram": histogram(totals, top),
        },
        "statuses": {s: sum(r.status == s for r in subs) for s in report.STATUSES},
        "exercises": [],
        "functions": [],
        "mistakes": [],
        "unmatched": [],
        "problems": [{"id": s.id, "status": s.status, "reason": s.reason} for s in subs if s.status != "ok"],
        "slowest": [
            {"id": s.id, "seconds": s.seconds, "status": s.status}
            for s in sorted(subs, key=lambda s: -s.seconds)[:SLOWEST]
        ],
    }
    for exercise in kit.exercises:
        scores = [s.exercises[exercise.id] for s in subs if exercise.id in s.exercises]
        points = scores[0].points if scores else exercise.points
        result["exercises"].append(
            {
                "id": exercise.id,
                "title": exercise.title,
                "points": points,
                "full": sum(e.total > 0 and e.passed == e.total for e in scores),
                "mean": statistics.fmean(e.score for e in scores) if scores else 0.0,
            }
        )
        catalogue = catalogues.get(exercise.id, ())
        says = {m.says: m for m in catalogue}
        states = {f: dict.fromkeys(FUNCTION_STATES, 0) for f in exercise.functions}
        # (function, the ids of the mistakes its failure looks like) -> submissions. One failure
        # may look like several mistakes: then all are possible and the row names them all.
        made: dict[tuple[str, tuple[str, ...]], list[str]] = {}
        unmatched: dict[str, list[str]] = {f: [] for f in exercise.functions}
        for sub in subs:
            tests = {n: t for n, t in sub.tests.items() if t.exercise == exercise.id}
            for function in exercise.functions:
                own = [t for t in tests.values() if t.function == function]
                if own:
                    states[function][function_state(own, function, exercise)] += 1
            # The failure the feedback shows for each function, and the mistake it looks like.
            for row in report.function_rows(exercise, tests, catalogue):
                own = [t for t in tests.values() if t.function == row.function]
                if not own or function_state(own, row.function, exercise) != "failing":
                    continue
                candidates = [row.looks_like, *row.looks_like_also] if row.looks_like else []
                ids = tuple(says[c].id for c in candidates if c in says)
                if ids:
                    made.setdefault((row.function, ids), []).append(sub.id)
                else:
                    unmatched[row.function].append(sub.id)
        for function in exercise.functions:
            result["functions"].append({"exercise": exercise.id, "function": function, **states[function]})
            if unmatched[function]:
                result["unmatched"].append(
                    {"exercise": exercise.id, "function": function, "students": unmatched[function]}
                )
        order = {m.id: i for i, m in enumerate(catalogue)}
        by_id = {m.id: m for m in catalogue}
        for (function, ids), students in sorted(
            made.items(), key=lambda item: [order[i] for i in item[0][1]]
        ):
            result["mistakes"].append(
                {
                    "exercise": exercise.id,
                    "function": function,
                    "mistake": "+".join(ids),
                    "says": [by_id[i].says for i in ids],
                    "count": len(students),
                    "students": students,
                }
            )
    result["mistakes"].sort(key=lambda m: -m["count"])  # stable: catalogue order among equals
    return result


# -- the page ------------------------------------------------------------------------------------

_STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto;
       max-width: 980px; padding: 1.2em; color: #1d1d1f; background: #fff; }
h1 { font-size: 1.5em; margin-bottom: .2em; } h2 { font-size: 1.2em; margin-top: 1.8em;
     border-bottom: 1px solid #ddd; padding-bottom: .2em; }
.note { color: #555; } .warn { background: #fff4e5; border-left: 4px solid #e8a33d; padding: .4em .8em; }
table { border-collapse: collapse; width: 100%; margin: .6em 0; }
.scroll { overflow-x: auto; }  /* a wide table scrolls on a phone, not the page */
th, td { text-align: left; padding: .25em .5em; border-bottom: 1px solid #eee; vertical-align: top; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
svg { display: block; max-width: 100%; height: auto; } svg text { font: 12px system-ui, sans-serif; fill: #333; }
.ok { fill: #2e7d32; } .fail { fill: #c62828; } .todo { fill: #9e9e9e; } .wait { fill: #bdbdbd; }
.norun { fill: #6a1b9a; } .bar { fill: #1565c0; }
.legend span { display: inline-block; margin-right: 1em; } .legend i { display: inline-block; width: .8em;
  height: .8em; margin-right: .3em; vertical-align: -.05em; }
code { font-size: .92em; }
"""
_STATE_CLASS = {
    "passes": "ok",
    "failing": "fail",
    "not implemented": "todo",
    "waiting": "wait",
    "did not run": "norun",
}
_STATE_COLOUR = {"ok": "#2e7d32", "fail": "#c62828", "todo": "#9e9e9e", "wait": "#bdbdbd", "norun": "#6a1b9a"}


def _num(value: float) -> str:
    return f"{value:.1f}" if isinstance(value, float) and value != int(value) else f"{value:g}"


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "-"


def _histogram_svg(counts: list[int], top: float) -> str:
    width, height, left, bottom = 640, 220, 36, 34
    plot_w, plot_h = width - left - 10, height - bottom - 16
    peak = max(counts) or 1
    step = plot_w / len(counts)
    parts = [
        (
            f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
            f'aria-labelledby="histogram-title"><title id="histogram-title">Totals: how many '
            f"submissions in each range of {top / len(counts):g} points</title>"
        ),
        f'<line x1="{left}" y1="{16 + plot_h}" x2="{left + plot_w}" y2="{16 + plot_h}" stroke="#999"/>',
    ]
    for i, n in enumerate(counts):
        h = plot_h * n / peak
        x = left + i * step
        parts.append(
            f'<rect class="bar" x="{x + 2:.1f}" y="{16 + plot_h - h:.1f}" width="{step - 4:.1f}" '
            f'height="{h:.1f}"><title>{n}</title></rect>'
        )
        if n:
            parts.append(
                f'<text x="{x + step / 2:.1f}" y="{16 + plot_h - h - 3:.1f}" text-anchor="middle">{n}</text>'
            )
        parts.append(
            f'<text x="{x + step / 2:.1f}" y="{16 + plot_h + 14}" text-anchor="middle">'
            f"{_num(top * i / len(counts))}</text>"
        )
    parts.append(
        f'<text x="{left + plot_w}" y="{16 + plot_h + 28}" text-anchor="end">total (of {top:g})</text>'
    )
    return "".join(parts) + "</svg>"


def _stacked_bar(counts: dict[str, int], whole: int, width: int = 180) -> str:
    """One row's states as a horizontal stacked bar."""
    parts = [
        f'<svg viewBox="0 0 {width} 14" width="{width}" height="14" role="img" aria-label="'
        + escape(", ".join(f"{k} {v}" for k, v in counts.items() if v))
        + '">'
    ]
    x = 0.0
    for state, n in counts.items():
        if not n or not whole:
            continue
        w = width * n / whole
        parts.append(
            f'<rect class="{_STATE_CLASS[state]}" x="{x:.1f}" y="0" width="{w:.1f}" height="14">'
            f"<title>{escape(state)}: {n}</title></rect>"
        )
        x += w
    return "".join(parts) + "</svg>"


def _hbar(value: float, peak: float, width: int = 180) -> str:
    w = width * value / peak if peak else 0
    return (
        f'<svg viewBox="0 0 {width} 14" width="{width}" height="14" aria-hidden="true">'
        f'<rect class="bar" x="0" y="0" width="{w:.1f}" height="14"/></svg>'
    )


def render(fig: dict[str, Any]) -> str:
    """The page, from ``figures(...)``."""
    n = fig["count"]
    t = fig["totals"]
    esc = escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        # Nothing may be fetched: the report works from disk and tells no server who opened it.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Class report: {esc(fig['course'])}</title><style>{_STYLE}</style></head><body>",
        f"<h1>Class report: {esc(fig['course'])}</h1>",
        (
            f'<p class="note"><span id="count" data-value="{n}">{n}</span> submission{"s" * (n != 1)}, '
            f"graded on {esc(fig['weights'] or '?')} weights. Written by <code>facekit grade</code> from "
            f"<code>grades.json</code> beside it; each student's details are in <code>feedback/</code>.</p>"
        ),
        '<p class="warn">For the instructor only: this page names students.</p>',
    ]

    # Totals.
    stats = (("mean", t["mean"]), ("median", t["median"]), ("lowest", t["min"]), ("highest", t["max"]))
    out += [
        '<h2 id="totals">Totals</h2>',
        "<p>"
        + ", ".join(f'{label} <b data-total="{label}">{v:.2f}</b>' for label, v in stats)
        + f" (of {fig['max_total']:g} points).</p>",
        _histogram_svg(t["histogram"], fig["max_total"]),
        '<div class="scroll"><table id="histogram"><tr><th>total from</th><th>to</th><th class="n">submissions</th></tr>',
    ]
    bins = len(t["histogram"])
    for i, count in enumerate(t["histogram"]):
        low, high = fig["max_total"] * i / bins, fig["max_total"] * (i + 1) / bins
        out.append(
            f"<tr><td>{_num(low)}</td><td>{'up to and including' if i == bins - 1 else 'below'} "
            f'{_num(high)}</td><td class="n" data-bin="{i}">{count}</td></tr>'
        )
    out.append("</table></div>")

    # Exercises.
    out += [
        '<h2 id="exercises">Exercises</h2>',
        "<p>Full marks: every test of the exercise passes. Mean: its mean score over the class.</p>",
        (
            '<div class="scroll"><table><tr><th>exercise</th><th class="n">full marks</th><th class="n">rate</th><th></th>'
            '<th class="n">mean score</th></tr>'
        ),
    ]
    for e in fig["exercises"]:
        out.append(
            f'<tr data-exercise="{esc(e["id"])}"><td><code>{esc(e["id"])}</code> {esc(e["title"])}</td>'
            f'<td class="n" data-figure="full">{e["full"]}</td><td class="n" data-figure="rate">'
            f"{_pct(e['full'], n)}</td><td>{_hbar(e['full'], n)}</td>"
            f'<td class="n"><span data-figure="mean">{e["mean"]:.2f}</span> / {e["points"]}</td></tr>'
        )
    out.append("</table></div>")

    # Functions.
    legend = "".join(
        f'<span><i style="background:{_STATE_COLOUR[_STATE_CLASS[s]]}"></i>{s}</span>'
        for s in FUNCTION_STATES
    )
    out += [
        '<h2 id="functions">Functions</h2>',
        (
            "<p>Per function, the submissions in which every test that declares it passes, one fails "
            "(the student's code is wrong), it is not implemented yet (its own stub), it waits for another "
            "function's stub, or its tests did not run (a timeout, a crash, a refusal).</p>"
        ),
        f'<p class="legend">{legend}</p>',
        '<div class="scroll"><table><tr><th>function</th><th class="n">pass rate</th>'
        + "".join(f'<th class="n">{s}</th>' for s in FUNCTION_STATES)
        + "<th></th></tr>",
    ]
    for f in fig["functions"]:
        counts = {s: f[s] for s in FUNCTION_STATES}
        out.append(
            f'<tr data-function="{esc(f["exercise"])}.{esc(f["function"])}">'
            f'<td><code>{esc(f["function"])}</code> <span class="note">{esc(f["exercise"])}</span></td>'
            f'<td class="n" data-figure="rate">{_pct(f["passes"], sum(counts.values()))}</td>'
            + "".join(f'<td class="n" data-state="{s}">{counts[s]}</td>' for s in FUNCTION_STATES)
            + f"<td>{_stacked_bar(counts, n)}</td></tr>"
        )
    out.append("</table></div>")

    # Mistakes.
    out += [
        '<h2 id="mistakes">Typical mistakes</h2>',
        (
            "<p>Each failing function's failure, as the feedback shows it, matched against the catalogue "
            "of typical mistakes (<code>course/</code>).</p>"
        ),
    ]
    if fig["mistakes"]:
        out.append(
            '<div class="scroll"><table><tr><th>mistake</th><th>function</th><th class="n">submissions</th><th>who</th></tr>'
        )
        for m in fig["mistakes"]:
            said = " or ".join(f"“{esc(line)}”" for line in m["says"])  # several: each is possible
            out.append(
                f'<tr data-mistake="{esc(m["exercise"])}.{esc(m["mistake"])}"><td>{said} '
                f'<span class="note">({esc(m["mistake"].replace("+", ", "))})</span></td><td><code>{esc(m["function"])}</code> '
                f'<span class="note">{esc(m["exercise"])}</span></td><td class="n" data-figure="count">'
                f'{m["count"]}</td><td data-figure="students">{esc(", ".join(m["students"]))}</td></tr>'
            )
        out.append("</table></div>")
    else:
        out.append("<p>No failure matched a catalogued mistake.</p>")
    if fig["unmatched"]:
        out += [
            "<p>Failing, like no catalogued mistake (read their feedback; a new catalogue entry?):</p>",
            '<div class="scroll"><table><tr><th>function</th><th class="n">submissions</th><th>who</th></tr>',
        ]
        for u in fig["unmatched"]:
            out.append(
                f'<tr data-unmatched="{esc(u["exercise"])}.{esc(u["function"])}"><td><code>'
                f'{esc(u["function"])}</code> <span class="note">{esc(u["exercise"])}</span></td>'
                f'<td class="n" data-figure="count">{len(u["students"])}</td>'
                f'<td data-figure="students">{esc(", ".join(u["students"]))}</td></tr>'
            )
        out.append("</table></div>")

    # Problems.
    statuses = ", ".join(f'{s} <b data-status="{s}">{c}</b>' for s, c in fig["statuses"].items() if c)
    out += ['<h2 id="problems">Timeouts, crashes, refusals</h2>', f"<p>Status: {statuses or 'none'}.</p>"]
    if fig["problems"]:
        out.append('<div class="scroll"><table><tr><th>submission</th><th>status</th><th>reason</th></tr>')
        for p in fig["problems"]:
            out.append(
                f'<tr data-problem="{esc(p["id"])}"><td>{esc(p["id"])}</td><td>{esc(p["status"])}</td>'
                f"<td>{esc(p['reason'])}</td></tr>"
            )
        out.append("</table></div>")
    else:
        out.append("<p>Every submission ran to the end.</p>")

    # Slowest.
    peak = max((s["seconds"] for s in fig["slowest"]), default=0.0)
    out += [
        '<h2 id="slowest">Slowest submissions</h2>',
        '<div class="scroll"><table><tr><th>submission</th><th class="n">seconds</th><th></th><th>status</th></tr>',
    ]
    for s in fig["slowest"]:
        out.append(
            f'<tr data-slow="{esc(s["id"])}"><td>{esc(s["id"])}</td><td class="n">{s["seconds"]:.1f}</td>'
            f"<td>{_hbar(s['seconds'], peak)}</td><td>{esc(s['status'])}</td></tr>"
        )
    out += ["</table></div>", "</body></html>", ""]
    return "\n".join(out)


def write(out: Path, kit: course.Course, kit_root: Path) -> Path:
    """``out/report.html`` from ``out/grades.json`` as it is now on disk (merged gradebooks
    included), with the kit's catalogue of mistakes."""
    out = Path(out)
    data = json.loads((out / "grades.json").read_text(encoding="utf-8"))
    catalogues = {e.id: mistakes.known(kit_root, e) for e in kit.exercises}
    path = out / NAME
    tmp = path.with_name(NAME + ".tmp")
    tmp.write_text(render(figures(data, kit, catalogues)), encoding="utf-8")
    os.replace(tmp, path)
    return path
