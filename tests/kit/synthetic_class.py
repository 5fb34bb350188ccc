"""A small synthetic class, graded with ``facekit grade``, and its outputs made comparable.

Nine hand-ins: full marks, the stubs as shipped, half done, a planted bug (with an instructor's
override), an exit at import, a syntax error, a late one, a forged record and one with no
exercise module. ``normalised(out)`` keeps what a grading writes that does not depend on the
machine or the clock (seconds, paths, the isolation this machine has); tests/kit/golden/ holds
it as the grader wrote it, and test_grading_golden.py checks that a grading gives it again.

After a deliberate change to the kit's tests or to what grading writes:

    python tests/kit/synthetic_class.py --write    # grades the class, rewrites tests/kit/golden/
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sys
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

if __name__ == "__main__":  # run as a script: the kit of this checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from facekit import course  # noqa: E402

ROOT = course.repo_root()
KIT = course.load()
EX = {e.id: e for e in KIT.exercises}
GOLDEN = Path(__file__).parent / "golden"
DUE = "2026-01-10T12:00+00:00"
TIMEOUT = 240  # per exercise: far above what an honest one needs on a loaded machine
# An in-process forgery: each test reported passed on the record's fd (test_grading_jail's "fd-lines" too).
FORGE = b"""
import gc, json, os
_fd = int(os.environ.get("FACEKIT_RECORD_FD") or -1)
for _o in gc.get_objects():
    if type(_o).__name__ == "Session" and hasattr(_o, "items"):
        for _item in _o.items:
            try:
                os.write(_fd, (json.dumps({"test": _item.nodeid, "outcome": "passed"}) + "\\n").encode())
            except OSError:
                pass
"""
OVERRIDES = "id,exercise,points,comment\nbuggy,ex03_similarity,9,regrade: the threshold was ambiguous\n"


def _reference(exercise_id: str) -> bytes:
    return (ROOT / EX[exercise_id].reference).read_bytes()


def _stubs() -> dict[str, bytes]:
    return {e.stub: (ROOT / e.stub).read_bytes() for e in KIT.exercises}


def handins() -> dict[str, tuple[str, dict[str, bytes]]]:
    """name -> ("zip" or "folder", files)."""
    stubs = _stubs()
    complete = {e.stub: _reference(e.id) for e in KIT.exercises}
    similarity = EX["ex03_similarity"].stub
    first = EX["ex01_images"].stub
    return {
        "complete": ("zip", complete),
        "untouched": ("zip", stubs),
        "half": ("zip", {**stubs, **{e.stub: _reference(e.id) for e in KIT.exercises[:3]}}),
        "buggy": (
            "zip",
            {
                **stubs,
                EX["ex02_embeddings"].stub: _reference("ex02_embeddings"),
                similarity: _reference("ex03_similarity").replace(
                    b"return score >= threshold", b"return score > threshold"
                ),
            },
        ),
        "exits": (
            "folder",
            {**stubs, first: _reference("ex01_images"), similarity: b"import os\nos._exit(0)\n"},
        ),
        "syntax": (
            "folder",
            {**stubs, similarity: _reference("ex03_similarity"), EX["ex05_retrieval"].stub: b"def top_k(:\n"},
        ),
        "late": ("zip", complete),
        "forged": (
            "zip",
            {**stubs, first: FORGE + stubs[first].replace(b"from __future__ import annotations\n", b"")},
        ),
        "nothing": ("folder", {"notes.txt": b"I ran out of time\n"}),
    }


def make(folder: Path) -> list[Path]:
    """The hand-ins under ``folder``, each with a fixed time: on time, but for ``late``, 30 hours
    after DUE (two started days)."""
    due = datetime.fromisoformat(DUE)
    paths = []
    for name, (kind, files) in handins().items():
        stamp = (due + (timedelta(hours=30) if name == "late" else -timedelta(days=1))).timestamp()
        if kind == "zip":
            path = folder / f"{name}.zip"
            path.parent.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(path, "w") as archive:
                for relpath, content in files.items():
                    archive.writestr(relpath, content)
            os.utime(path, (stamp, stamp))
        else:
            path = folder / name
            for relpath, content in files.items():
                (path / relpath).parent.mkdir(parents=True, exist_ok=True)
                (path / relpath).write_bytes(content)
                os.utime(path / relpath, (stamp, stamp))
            os.utime(path, (stamp, stamp))  # a folder without a module is as old as itself
        paths.append(path)
    return paths


def grade_args(paths: list[Path], out: Path) -> list[str]:
    """``facekit grade``'s arguments for the class."""
    return ["grade", *map(str, paths), "--out", str(out), "-j", "2", "--timeout", str(TIMEOUT), "--due", DUE]


def grade_class(folder: Path) -> tuple[Path, str]:
    """Grade the class made under ``folder``: (its --out, what the command printed)."""
    from facekit import cli

    paths = make(folder / "subs")
    out = folder / "out"
    out.mkdir(parents=True)
    (out / "overrides.csv").write_text(OVERRIDES, encoding="utf-8")
    printed = io.StringIO()
    stdout, sys.stdout = sys.stdout, printed
    try:
        code = cli.main(grade_args(paths, out))
    finally:
        sys.stdout = stdout
    assert code == 0, f"facekit grade exited with {code}: {printed.getvalue()[-3000:]}"
    return out, printed.getvalue()


# -- what does not depend on the machine or the clock ----------------------------------------------

MACHINE = ("isolation", "limits")  # the jail this machine has, or why not
SECONDS = re.compile(r"\b\d+\.\d s\b")
SENTINEL = re.compile(r"\btest_[0-9a-f]{12}\b")  # facekit.grading.integrity.plan's names: random each run


def _csv(text: str) -> str:
    rows = list(csv.reader(io.StringIO(text)))
    header = rows[0]
    varies = {header.index(c) for c in ("seconds", *MACHINE) if c in header}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for number, row in enumerate(rows):
        writer.writerow([v if number == 0 or i not in varies else "*" for i, v in enumerate(row)])
    return out.getvalue()


def _submission(sub: dict) -> dict:
    sub = {**sub, "seconds": "*", "source": Path(sub["source"]).name}
    for key in MACHINE:
        if key in sub:
            sub[key] = "*"
    return sub


def _grades_json(text: str) -> str:
    data = json.loads(text)
    for key in ("kit_version", "run", *MACHINE):
        data[key] = "*"
    data["submissions"] = [_submission(s) for s in data["submissions"]]
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"  # key order as written


def _feedback(text: str) -> str:
    return re.sub(r"^Graded with isolation: .*$", "Graded with isolation: *", text, flags=re.M)


def _printed(text: str, out: Path) -> str:
    """What `facekit grade` printed: the progress lines sorted (-j 2 finishes them in any order),
    the seconds and this machine's isolation starred."""
    lines = SECONDS.sub("* s", text.replace(str(out), "OUT")).splitlines()
    lines = [re.sub(r"^Isolation: .*$", "Isolation: *", line) for line in lines]
    lines = [re.sub(r"^Slowest: .*$", "Slowest: *", line) for line in lines]
    progress = sorted(line for line in lines if line.startswith("  ") and not line.startswith("  ..."))
    rest = [line for line in lines if not (line.startswith("  ") and not line.startswith("  ..."))]
    return "\n".join(progress + rest) + "\n"


def normalised(out: Path, printed: str) -> dict[str, str]:
    """File name -> text, for each output of the grading in ``out`` (and the printed summary)."""
    from facekit.grading import gradescope

    files = {
        "grades.csv": _csv((out / "grades.csv").read_text(encoding="utf-8")),
        "grades.json": _grades_json((out / "grades.json").read_text(encoding="utf-8")),
        "summary.txt": _printed(printed, out),
    }
    for name in ("canvas.csv", "moodle.csv", "similar.csv"):
        files[name] = (out / name).read_text(encoding="utf-8")
    for path in sorted((out / "feedback").iterdir()):
        files[f"feedback/{path.name}"] = _feedback(path.read_text(encoding="utf-8"))
    # Gradescope's results.json, from each submission as grades.json keeps it.
    data = json.loads((out / "grades.json").read_text(encoding="utf-8"))
    results = {
        s["id"]: gradescope.results_json(gradescope_result(s), KIT, 0.0, ROOT) for s in data["submissions"]
    }
    files["results.json"] = json.dumps(results, indent=1, ensure_ascii=False) + "\n"
    return {name: SENTINEL.sub("test_SENTINEL", text) for name, text in files.items()}


def gradescope_result(submission: dict):
    """A submission of grades.json as gradescope.results_json takes it."""
    from facekit.grading.records import SubmissionResult

    return SubmissionResult.from_json(submission)


def read_golden() -> dict[str, str]:
    return {
        p.relative_to(GOLDEN).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(GOLDEN.rglob("*"))
        if p.is_file()
    }


def write_golden(files: dict[str, str]) -> None:
    import shutil

    shutil.rmtree(GOLDEN, ignore_errors=True)
    for name, text in files.items():
        (GOLDEN / name).parent.mkdir(parents=True, exist_ok=True)
        (GOLDEN / name).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    import tempfile

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory(prefix="facekit-synthetic-") as tmp:
        out, printed = grade_class(Path(tmp))
        files = normalised(out, printed)
        if sys.argv[1:] == ["--write"]:
            write_golden(files)
            print(f"wrote {len(files)} files into {GOLDEN}")
        else:
            golden = read_golden()
            differ = sorted(n for n in set(files) | set(golden) if files.get(n) != golden.get(n))
            print("differ: " + ", ".join(differ) if differ else f"identical: {len(files)} files")
            sys.exit(1 if differ else 0)
