"""The gradebook in ``--out``: merging runs, overrides, late penalties, LMS exports, similar hand-ins.

A run grades some submissions; the gradebook (grades.csv, grades.json, feedback/) holds every
student graded into that folder so far. A run's rows replace the rows with their ids and are
added after the others; ``--replace`` starts a new gradebook. The files are written only at
the end of a run, each atomically (facekit.grading.report), under a lock so that two runs into
one folder take turns; while a run is going, ``grades.partial.csv`` holds the rows it has
finished and ``grades.json`` says ``"in_progress"``, so a run that dies leaves the previous
gradebook as it was, and says so.

Scores are kept unrounded (``exact``) and rounded only for display: a total is the sum of the
unrounded exercise scores (or the instructor's override), less the late penalty, then rounded.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import io
import json
import math
import os
import time
import tokenize
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import TracebackType
from typing import Any

from facekit import course
from facekit.errors import UsageError
from facekit.grading.records import Late, Override, SubmissionResult, round_score

GRADES_JSON = "grades.json"
PARTIAL_CSV = "grades.partial.csv"
OVERRIDES_CSV = "overrides.csv"
OVERRIDE_COLUMNS = ("id", "exercise", "points", "comment")
LOCK = ".gradebook.lock"
NEAR = 0.9  # difflib ratio of two modules' tokens (comments and layout left out) called near-identical


class GradebookError(UsageError):
    """The gradebook in --out cannot be read, or overrides.csv is malformed (exit 2)."""


# -- reading and merging --------------------------------------------------------------------------


def read(out: Path) -> dict[str, Any] | None:
    """``grades.json`` of ``out``, or None when there is none. GradebookError when it cannot be
    read: nothing is written over a gradebook that could not be merged."""
    path = Path(out) / GRADES_JSON
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not isinstance(data.get("submissions"), list):
            raise ValueError("no list of submissions")
        for number, row in enumerate(data["submissions"], 1):
            try:
                SubmissionResult.from_json(row)
            except (KeyError, TypeError, AttributeError, ValueError) as err:
                raise ValueError(f"its submission {number} is not one a grading writes: {err!r}") from None
    except (OSError, ValueError) as err:
        raise GradebookError(
            f"{path} cannot be read ({err}): grade into another --out, or give "
            f"--replace to start a new gradebook there"
        ) from None
    return data


def rows_of(data: Mapping[str, Any] | None) -> list[SubmissionResult]:
    """The submissions of a gradebook ``read`` returned (none for None)."""
    return [SubmissionResult.from_json(row) for row in (data or {}).get("submissions", [])]


def merge(
    previous: Sequence[SubmissionResult], new: Sequence[SubmissionResult]
) -> tuple[list[SubmissionResult], list[str], list[str], int]:
    """(rows, added ids, replaced ids, rows kept): ``new`` replaces the rows of its ids, in place;
    the other new rows come after the previous ones."""
    fresh = {r.id: r for r in new}
    rows, replaced = [], []
    for row in previous:
        if row.id in fresh:
            rows.append(fresh.pop(row.id))
            replaced.append(row.id)
        else:
            rows.append(row)
    added = list(fresh)
    rows += fresh.values()
    return rows, added, replaced, len(previous) - len(replaced)


def merge_line(added: list[str], replaced: list[str], kept: int) -> str:
    def ids(names: list[str]) -> str:
        shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
        return f" ({shown})" if names else ""

    return (
        f"Gradebook: {len(added)} added{ids(added)}, {len(replaced)} replaced{ids(replaced)}, "
        f"{kept} kept from earlier runs."
    )


# -- a run in progress ----------------------------------------------------------------------------


class Lock:
    """An exclusive lock on the gradebook of ``out`` (filelock: one writer at a time)."""

    def __init__(self, out: Path, timeout: float = 600):
        from filelock import FileLock

        self._lock = FileLock(str(Path(out) / LOCK), timeout=timeout)

    def __enter__(self) -> Lock:
        from filelock import Timeout

        try:
            self._lock.acquire()
        except Timeout:
            raise GradebookError(
                f"another facekit grade holds {self._lock.lock_file}; wait for it to finish"
            ) from None
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._lock.release()


def start(out: Path, run_id: str, header: list[str]) -> str | None:
    """Mark the gradebook as being updated; returns a note when an earlier run did not finish."""
    out = Path(out)
    note = None
    partial = out / PARTIAL_CSV
    if partial.exists():
        note = (
            f"an earlier run did not finish: {PARTIAL_CSV} held the rows it had graded, which "
            f"were never merged (they are graded again when handed in again)"
        )
    with Lock(out):
        data = read(out)
        if data is not None:
            if data.get("in_progress") and note is None:
                note = f"an earlier run ({data['in_progress'].get('run')}) did not finish"
            data["in_progress"] = {
                "run": run_id,
                "started": now(),
                "pid": os.getpid(),
                "partial": PARTIAL_CSV,
            }
            write_atomic(out / GRADES_JSON, json.dumps(data, indent=1) + "\n")
    write_atomic(partial, ",".join(header) + "\n")
    return note


def append_partial(out: Path, line: str) -> None:
    with open(Path(out) / PARTIAL_CSV, "a", encoding="utf-8") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())


def finish(out: Path) -> None:
    try:
        (Path(out) / PARTIAL_CSV).unlink()
    except FileNotFoundError:
        pass


def write_atomic(path: Path, text: str) -> None:
    """``text`` into ``path``: written beside it, flushed to disk, then renamed over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}"


# -- totals, overrides, late penalties ------------------------------------------------------------


@dataclass(frozen=True)
class OverrideRow:
    """A line of overrides.csv: the instructor's points for one exercise of one submission."""

    id: str
    exercise: str
    points: float
    comment: str = ""


def read_overrides(path: Path, kit: course.Course) -> list[OverrideRow]:
    """overrides.csv: ``id,exercise,points,comment``, one row per changed exercise score.

    GradebookError naming the line for an unknown exercise or points outside 0..its points."""
    path = Path(path)
    if not path.is_file():
        return []
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise GradebookError(f"cannot read {path}: {err}") from None
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in reader.fieldnames or ()]
    if header[:3] != list(OVERRIDE_COLUMNS[:3]):
        raise GradebookError(f"{path} needs the header {','.join(OVERRIDE_COLUMNS)}; its header is {header}")
    points = {e.id: e.points for e in kit.exercises}
    rows: list[OverrideRow] = []
    for number, row in enumerate(reader, 2):
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k}
        if not any(row.values()):
            continue
        where = f"{path}, line {number}"
        if row["exercise"] not in points:
            raise GradebookError(f"{where}: exercise {row['exercise']!r} is not one of {', '.join(points)}")
        try:
            value = float(row["points"])
        except ValueError:
            value = math.nan
        if not 0 <= value <= points[row["exercise"]]:
            raise GradebookError(
                f"{where}: points must be a number from 0 to {points[row['exercise']]} "
                f"for {row['exercise']}; got {row['points']!r}"
            )
        rows.append(OverrideRow(row["id"], row["exercise"], value, row.get("comment", "")))
    return rows


def apply(
    rows: Sequence[SubmissionResult], overrides: Sequence[OverrideRow]
) -> tuple[list[SubmissionResult], list[str]]:
    """``rows`` with ``overrides`` in them (an earlier run's override taken out first) and each
    total computed; and the ids of overrides that match no row."""
    given: dict[str, dict[str, Override]] = {}
    unmatched = []
    ids = {r.id for r in rows}
    for override in overrides:
        if override.id not in ids:
            unmatched.append(override.id)
            continue
        given.setdefault(override.id, {})[override.exercise] = Override(override.points, override.comment)
    changed = []
    for row in rows:
        own = given.get(row.id, {})
        exercises = {k: replace(e, override=own.get(k)) for k, e in row.exercises.items()}
        changed.append(total(replace(row, exercises=exercises)))
    return changed, sorted(set(unmatched))


def total(row: SubmissionResult) -> SubmissionResult:
    """``row`` with its exercise scores (rounded for display) and total from the unrounded values
    (the override's points, else what the tests gave), less any late penalty."""
    exercises = {k: replace(e, score=round_score(e.value())) for k, e in row.exercises.items()}
    raw = sum(e.value() for e in row.exercises.values())
    penalty = row.late.penalty_percent if row.late else 0
    return replace(row, exercises=exercises, total=round_score(max(0.0, raw * (1 - penalty / 100))))


def parse_due(text: str) -> datetime:
    """``2026-12-01`` (the end of that day) or ``2026-12-01T23:59`` (local time unless it names a
    zone) as an aware datetime; ValueError saying what was expected."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"--due must be a date or date and time like 2026-12-01 or 2026-12-01T23:59; got {text!r}"
        ) from None
    if len(text.strip()) == 10:  # a date alone: due at the end of it
        value += timedelta(days=1) - timedelta(seconds=1)
    return value if value.tzinfo else value.astimezone()


def late(
    submitted: datetime | None, due: datetime | None, percent_per_day: float, source: str
) -> Late | None:
    """The late record of a submission: days late (each started day counts) and the penalty, or
    None when it is on time or either time is unknown."""
    if due is None or submitted is None:
        return None
    seconds = (submitted - due).total_seconds()
    if seconds <= 0:
        return None
    days = math.ceil(seconds / 86400)
    return Late(
        submitted=submitted.isoformat(timespec="seconds"),
        due=due.isoformat(timespec="seconds"),
        source=source,
        days_late=days,
        penalty_percent=min(100.0, days * percent_per_day),
    )


# -- exports --------------------------------------------------------------------------------------


def canvas_csv(rows: Sequence[SubmissionResult], assignment: str, max_total: float) -> str:
    """Canvas's gradebook import: Student, ID, SIS User ID, SIS Login ID, Section, then one column
    per assignment, and the "Points Possible" row Canvas exports. Rows are matched by SIS User ID
    (the grader's id: use your roster's ids)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", assignment])
    writer.writerow(["Points Possible", "", "", "", "", f"{max_total:g}"])
    for row in rows:
        writer.writerow(["", "", row.id, "", "", f"{row.total:g}"])
    return out.getvalue()


def moodle_csv(rows: Sequence[SubmissionResult], assignment: str) -> str:
    """Moodle's grade import (Grades > Import > CSV file): map "ID number" to the user's ID number
    and the assignment's column to its grade item; the feedback column is optional."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["ID number", assignment, "Feedback"])
    for row in rows:
        writer.writerow([row.id, f"{row.total:g}", f"status: {row.status}"])
    return out.getvalue()


# -- similar hand-ins -----------------------------------------------------------------------------


def _tokens(source: bytes) -> list[str] | None:
    """The module's tokens without comments and layout (indentation, blank lines); None when it does not tokenize."""
    try:
        tokens = tokenize.tokenize(io.BytesIO(source).readline)
        kept = [
            t.string
            for t in tokens
            if t.type
            not in (
                tokenize.COMMENT,
                tokenize.NL,
                tokenize.NEWLINE,
                tokenize.INDENT,
                tokenize.DEDENT,
                tokenize.ENCODING,
                tokenize.ENDMARKER,
            )
        ]
    except (tokenize.TokenError, SyntaxError, UnicodeDecodeError, IndentationError):
        return None
    return kept


def fingerprints(files: Mapping[str, bytes]) -> dict[str, dict[str, str | None]]:
    """Per file: its sha256, and that of its tokens (so comments and layout do not count)."""
    prints: dict[str, dict[str, str | None]] = {}
    for path, content in files.items():
        tokens = _tokens(content)
        prints[path] = {
            "sha256": hashlib.sha256(content).hexdigest(),
            "tokens": hashlib.sha256("\0".join(tokens).encode()).hexdigest() if tokens else None,
        }
    return prints


def similar(
    rows: Sequence[SubmissionResult],
    contents: Mapping[str, Mapping[str, bytes]],
    shipped: Mapping[str, bytes],
    exercises: Mapping[str, str],
) -> list[dict[str, Any]]:
    """Pairs of hand-ins whose module of one exercise is identical, identical but for comments and
    layout (both across the whole gradebook, by the fingerprints each row keeps), or
    near-identical (their tokens' difflib ratio >= NEAR; among the hand-ins of this run, whose
    files are at hand). Files as shipped (stubs) are left out. ``exercises``: stub path -> id."""
    shipped_prints = fingerprints(shipped)
    found: dict[tuple[str, ...], dict[str, Any]] = {}
    by_file: dict[str, list[tuple[str, dict[str, str | None]]]] = {}
    for row in rows:
        for path, fp in row.fingerprints.items():
            stub = shipped_prints.get(path, {})
            if fp["sha256"] == stub.get("sha256") or (fp["tokens"] and fp["tokens"] == stub.get("tokens")):
                continue
            by_file.setdefault(path, []).append((row.id, fp))
    for path, entries in by_file.items():
        for i, (a, fa) in enumerate(entries):
            for b, fb in entries[i + 1 :]:
                if fa["sha256"] == fb["sha256"]:
                    kind = "identical"
                elif fa["tokens"] and fa["tokens"] == fb["tokens"]:
                    kind = "identical but for comments and layout"
                else:
                    continue
                pair = (path, min(a, b), max(a, b))
                found[pair] = {
                    "exercise": exercises.get(path, path),
                    "a": min(a, b),
                    "b": max(a, b),
                    "kind": kind,
                    "ratio": 1.0,
                }
        tokens: dict[str, list[str] | None] = {}
        for sub_id, files in contents.items():
            if path in files:
                tokens[sub_id] = _tokens(files[path])
        ids = sorted(i for i in tokens if tokens[i] and i in {e[0] for e in entries})
        for i, a in enumerate(ids):
            for b in ids[i + 1 :]:
                if (path, a, b) in found:
                    continue
                matcher = difflib.SequenceMatcher(None, tokens[a] or [], tokens[b] or [], autojunk=False)
                if matcher.real_quick_ratio() < NEAR or matcher.quick_ratio() < NEAR:
                    continue
                ratio = matcher.ratio()
                if ratio >= NEAR:
                    found[(path, a, b)] = {
                        "exercise": exercises.get(path, path),
                        "a": a,
                        "b": b,
                        "kind": "near-identical",
                        "ratio": round(ratio, 3),
                    }
    return sorted(found.values(), key=lambda p: (p["exercise"], -p["ratio"], p["a"], p["b"]))


def similar_csv(pairs: Sequence[Mapping[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["exercise", "id_a", "id_b", "kind", "ratio"])
    for p in pairs:
        writer.writerow([p["exercise"], p["a"], p["b"], p["kind"], f"{p['ratio']:.3f}"])
    return out.getvalue()
