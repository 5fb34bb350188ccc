"""Reading hand-ins that are damaged or odd: every kind of broken zip refuses only its own
submission with a precise reason, the rest of the class is read; backslash paths, duplicate
entries, files too big or missing, an unzipped `facekit submit` zip, a repository git will not
read. No test runs a grading: these are the reads `facekit grade` does before any test runs.
"""

from __future__ import annotations

import io
import os
import struct
import subprocess
import zipfile
from pathlib import Path

import pytest

from facekit import course
from facekit.grading import grade, records, report, sources
from facekit.grading.records import SubmissionResult

ROOT = course.repo_root()
KIT = course.load()
EX = {e.id: e for e in KIT.exercises}
IMAGES = EX["ex01_images"].stub
SIMILARITY = EX["ex03_similarity"].stub
CONTENT = b"def load_image(path):\n    return path\n" * 40


def reference(exercise_id: str) -> bytes:
    return (ROOT / EX[exercise_id].reference).read_bytes()


def zip_bytes(files: dict[str, bytes], method=zipfile.ZIP_DEFLATED) -> bytearray:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return bytearray(buffer.getvalue())


def _central(data: bytearray, name: str) -> int:
    """Offset of ``name``'s central directory record."""
    offset = data.find(b"PK\x01\x02")
    while offset >= 0:
        length = struct.unpack("<H", data[offset + 28 : offset + 30])[0]
        if data[offset + 46 : offset + 46 + length] == name.encode():
            return offset
        offset = data.find(b"PK\x01\x02", offset + 4)
    raise AssertionError(f"{name} has no central record")


def _local(data: bytearray, name: str) -> int:
    return struct.unpack("<I", data[_central(data, name) + 42 : _central(data, name) + 46])[0]


def damaged(kind: str) -> bytes:
    """A `facekit submit`-like zip (images.py and similarity.py), damaged in images.py as ``kind``."""
    data = zip_bytes(
        {IMAGES: CONTENT, SIMILARITY: reference("ex03_similarity")},
        zipfile.ZIP_STORED if kind == "size-up-stored" else zipfile.ZIP_DEFLATED,
    )
    central, local = _central(data, IMAGES), _local(data, IMAGES)
    start = local + 30 + len(IMAGES)  # the entry's data (no extra field: writestr adds none)
    if kind == "crc":
        for at in (local + 14, central + 16):  # the CRC-32, in both headers
            data[at] ^= 0x01
    elif kind == "size-down":  # the uncompressed size in the central directory, edited
        size = struct.unpack("<I", data[central + 24 : central + 28])[0]
        data[central + 24 : central + 28] = struct.pack("<I", size - 10)
    elif kind in ("size-up", "size-up-stored"):
        size = struct.unpack("<I", data[central + 24 : central + 28])[0]
        data[central + 24 : central + 28] = struct.pack("<I", size + 10)
    elif kind == "encrypted":  # bit 0 of the general-purpose flags, in both headers
        data[local + 6] |= 0x01
        data[central + 8] |= 0x01
    elif kind == "method-99":  # WinZip's AES method, which zipfile cannot read
        data[local + 8 : local + 10] = struct.pack("<H", 99)
        data[central + 10 : central + 12] = struct.pack("<H", 99)
    elif kind == "deflate":  # garbage where the deflate stream starts
        data[start : start + 8] = b"\xff" * 8
    else:
        raise ValueError(kind)
    return bytes(data)


@pytest.mark.parametrize(
    "kind, words",
    [
        ("crc", f"bad CRC in {IMAGES}"),
        ("size-down", f"bad CRC in {IMAGES}"),  # zipfile reads the edited size, the checksum then differs
        ("size-up", f"{IMAGES}: the archive gives its size as"),
        ("size-up-stored", f"{IMAGES}: the archive gives its size as"),
        ("encrypted", f"encrypted: {IMAGES}"),
        ("method-99", f"unsupported compression (method 99) in {IMAGES}"),
        ("deflate", f"corrupt compressed data in {IMAGES}"),
    ],
)
def test_a_damaged_archive_is_refused_with_a_precise_reason(tmp_path, kind, words):
    path = tmp_path / f"{kind}.zip"
    path.write_bytes(damaged(kind))
    sub = sources.read(path, KIT, ROOT)  # it raised, stopping the whole batch
    assert sub.refused and words in sub.refused, f"sources.read({kind}.zip).refused: {sub.refused!r}"
    assert sub.files == {}, f"{kind}.zip: refused, yet files were taken: {sorted(sub.files)}"
    status, reason = report.status_of(None, sub.refused, 300)
    assert (status, reason) == ("refused", sub.refused)


def test_broken_archives_refuse_only_themselves_and_the_class_is_read(tmp_path):
    hand_ins = tmp_path / "hand-ins"
    hand_ins.mkdir()
    kinds = ["crc", "size-down", "size-up", "encrypted", "method-99", "deflate"]
    for kind in kinds:
        (hand_ins / f"{kind}.zip").write_bytes(damaged(kind))
    (hand_ins / "good.zip").write_bytes(zip_bytes({SIMILARITY: reference("ex03_similarity")}))
    subs = {s.id: s for s in grade.load_submissions([hand_ins], KIT, ROOT)}
    assert sorted(subs) == sorted(kinds + ["good"])
    assert [k for k in kinds if not subs[k].refused] == [], "a broken archive was not refused"
    assert subs["good"].refused is None and subs["good"].files == {SIMILARITY: reference("ex03_similarity")}


def test_backslash_paths_are_read_as_folders_and_backslash_traversal_is_refused(tmp_path):
    windows = tmp_path / "windows.zip"
    windows.write_bytes(
        zip_bytes({SIMILARITY.replace("/", "\\"): reference("ex03_similarity"), "notes\\todo.txt": b"x"})
    )
    sub = sources.read(windows, KIT, ROOT)
    assert sub.refused is None, f"a zip with Windows separators was refused: {sub.refused}"
    assert sub.files == {SIMILARITY: reference("ex03_similarity")} and sub.ignored == ["notes/todo.txt"]
    escape = tmp_path / "escape.zip"
    escape.write_bytes(zip_bytes({"..\\..\\x.py": b"x", SIMILARITY: b"x = 1\n"}))
    sub = sources.read(escape, KIT, ROOT)
    assert sub.refused and "a path outside the archive" in sub.refused and "x.py" in sub.refused, sub.refused


def test_a_student_file_listed_twice_is_refused_not_the_last_one_silently(tmp_path):
    path = tmp_path / "twice.zip"
    with zipfile.ZipFile(path, "w") as archive, pytest.warns(UserWarning, match="Duplicate name"):
        archive.writestr(SIMILARITY, reference("ex03_similarity"))
        archive.writestr(SIMILARITY, b"def cosine_similarity(a, b):\n    return 1.0\n")
    sub = sources.read(path, KIT, ROOT)
    assert sub.refused and f"{SIMILARITY} 2 times" in sub.refused and "duplicate" in sub.refused, (
        f"sources.read(twice.zip): refused={sub.refused!r}, files={sorted(sub.files)}"
    )


def test_a_file_over_the_limit_is_not_graded_and_says_so_in_every_kind_of_hand_in(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "MAX_FILE_BYTES", 1000)
    big = b"# " + b"x" * 2000 + b"\n"
    folder = tmp_path / "folder"
    (folder / SIMILARITY).parent.mkdir(parents=True)
    (folder / SIMILARITY).write_bytes(big)
    archive = tmp_path / "big.zip"
    archive.write_bytes(zip_bytes({SIMILARITY: big}))
    for path in (folder, archive):
        sub = sources.read(path, KIT)
        # The folder's copy was cut at the limit and graded as a (broken) module.
        assert SIMILARITY not in sub.files, (
            f"{path.name}: {len(sub.files[SIMILARITY])} bytes of it were graded"
        )
        assert "over" in sub.skipped.get(SIMILARITY, ""), f"{path.name}: skipped={sub.skipped}"


def test_a_missing_or_oversized_module_is_the_reason_of_an_ok_row():
    expected = {e.id: [f"{e.tests}::test_a"] for e in KIT.exercises}
    sub = sources.Submission(id="s", source="s.zip", files={e.stub: b"" for e in KIT.exercises[1:]})
    sub.skipped[EX["ex02_embeddings"].stub] = "is over 2048 KiB: not graded"
    del sub.files[EX["ex02_embeddings"].stub]
    run = {"tests": {}, "finished": True, "collected": [], "seconds": 1.0}
    result = grade.score(
        sub, run, KIT, expected, records.Declared(), grade.Options(out=Path("x")), cached=False
    )
    assert result.status == "ok"
    assert f"{IMAGES} not handed in" in result.reason, f"reason: {result.reason!r}"
    assert f"{EX['ex02_embeddings'].stub} is over 2048 KiB" in result.reason, f"reason: {result.reason!r}"


def test_an_unzipped_submit_zip_does_not_list_submission_json_as_ignored(tmp_path):
    folder = tmp_path / "submission"  # what Gradescope makes of an uploaded submission.zip
    (folder / "exercises" / "ex03_similarity").mkdir(parents=True)
    (folder / SIMILARITY).write_bytes(reference("ex03_similarity"))
    (folder / "submission.json").write_text('{"kit_version": "0.1.0", "timestamp": "2026-01-01T00:00:00Z"}')
    sub = sources.read(folder, KIT)
    assert "submission.json" not in sub.ignored, sub.ignored
    assert sub.meta.get("timestamp") == "2026-01-01T00:00:00Z", sub.meta


def test_a_repository_git_will_not_read_names_dubious_ownership_and_the_fix(tmp_path, monkeypatch):
    repo = tmp_path / "alice"
    (repo / ".git").mkdir(parents=True)
    real_run = subprocess.run

    def git_as_another_user(args, **kwargs):  # what git >= 2.35.2 says of another user's repository
        if args[0] == "git":
            return subprocess.CompletedProcess(
                args,
                128,
                b"",
                (
                    f"fatal: detected dubious ownership in repository at '{repo}'\n"
                    f"To add an exception for this directory, call:\n\n"
                    f"\tgit config --global --add safe.directory {repo}\n"
                ).encode(),
            )
        return real_run(args, **kwargs)

    monkeypatch.setattr(sources.subprocess, "run", git_as_another_user)
    sub = sources.read(repo, KIT)
    assert (
        sub.refused
        and "dubious ownership" in sub.refused
        and "owned by another user" in sub.refused
        and f"safe.directory {repo}" in sub.refused
    ), sub.refused
    assert "without a commit" not in sub.refused, sub.refused


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="giving a folder to another user needs root"
)
def test_a_repository_of_another_user_is_refused_with_gits_words_and_the_fix(tmp_path, monkeypatch):
    repo = tmp_path / "bob"
    (repo / SIMILARITY).parent.mkdir(parents=True)
    (repo / SIMILARITY).write_bytes(reference("ex03_similarity"))
    for args in (
        ["init", "-q"],
        ["add", "-A"],
        ["-c", "user.name=a", "-c", "user.email=a@b", "commit", "-qm", "w"],
    ):
        subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)
    for path in [repo, *repo.rglob("*")]:
        os.lchown(path, 1000, 1000)  # as a copied-in student repository often is
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)  # no safe.directory of this machine's
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    sub = sources.read(repo, KIT)
    assert (
        sub.refused
        and "dubious ownership" in sub.refused
        and f"safe.directory {repo.resolve()}" in sub.refused
    ), sub.refused


def test_a_roster_naming_one_zip_with_and_without_zip_says_so(tmp_path):
    path = tmp_path / "roster.csv"
    for text in ("submission,id\ns07.zip,alice\ns07,bob\n", "submission,id\ns07,alice\ns07.zip,bob\n"):
        path.write_text(text)
        with pytest.raises(grade.GradeError) as caught:  # the second order was taken, bob's id silently
            grade.read_roster(path)
        message = str(caught.value)
        assert "line 3" in message and "s07.zip" in message and "same submission" in message, message
        assert "listed twice" not in message, message


# -- what the instructor reads: the summary, the feedback, grades.json ----------------------------


def graded_like(sub_id: str, stub_message: bool = True, status: str = "ok", reason: str = "") -> dict:
    """A result as grade.score makes it (as grades.json holds it), without a test run: every test
    of the course stopped at its function's stub (an untouched hand-in), except ex03's, which fail
    an assertion."""
    expected: dict[str, list[str]] = {}
    ran: dict[str, dict[str, object]] = {}
    for exercise in KIT.exercises:
        expected[exercise.id] = []
        for i, function in enumerate(exercise.functions * 10):
            nodeid = f"{exercise.tests}::test_{function}_{i}[case-{i}]"
            expected[exercise.id].append(nodeid)
            if exercise.id == "ex03_similarity":
                ran[nodeid] = {
                    "outcome": "failed",
                    "message": f"AssertionError: {function}(x) differs",
                    "todo": None,
                    "detail": f"AssertionError: {function}(x) differs",
                }
            else:
                text = (
                    f"NotImplementedError: {exercise.id}: {function}() is not implemented yet. Open "
                    f"{exercise.stub} and follow its TODO steps (instructions: {exercise.readme})."
                )
                ran[nodeid] = {
                    "outcome": "failed",
                    "message": text,
                    "todo": [function, exercise.stub],
                    "detail": text.replace(":", f" raised in {function}:", 1),
                }
    scores, outcomes = report.score(records.outcomes_of({"tests": ran}), expected, KIT)
    exercises = {k: e.to_json() for k, e in scores.items()}
    tests = {
        nodeid: {
            **test.to_json(),
            "exercise": next(e.id for e in KIT.exercises if nodeid.startswith(e.tests)),
            "function": nodeid.split("::test_")[1].rsplit("_", 1)[0],
            "broad": False,
        }
        for nodeid, test in outcomes.items()
    }
    return {
        "id": sub_id,
        "source": f"{sub_id}.zip",
        "status": status,
        "reason": reason,
        "seconds": 1.0,
        "cached": False,
        "total": 0.0,
        "max_total": report.max_total(KIT),
        "exercises": exercises,
        "files": [],
        "ignored": [],
        "warnings": [],
        "submitted": {},
        "tests": tests,
    }


def test_the_summary_names_every_problem_submission_or_says_how_many_more(tmp_path):
    results = [
        graded_like(f"s{i:02d}", status="crashed" if i % 3 else "ok", reason=f"reason {i}" if i % 3 else "")
        for i in range(40)
    ]
    problems = [r["id"] for r in results if r["status"] != "ok"]
    lines = report.summary([SubmissionResult.from_json(r) for r in results], KIT, tmp_path, 1.0)
    named = [p for p in problems if any(line.strip().startswith(f"{p}:") for line in lines)]
    more = [line for line in lines if "more" in line and "grades.csv" in line]
    assert len(named) == len(problems) or (more and f"and {len(problems) - len(named)} more" in more[0]), (
        f"{len(problems)} problem submissions, the summary names {len(named)} and says: {more}"
    )
    few = report.summary([SubmissionResult.from_json(r) for r in results[:4]], KIT, tmp_path, 1.0)
    assert all(any(line.strip().startswith(f"{p}:") for line in few) for p in problems[:2]), few


def test_a_feedback_note_is_a_paragraph_of_its_own():
    result = {**graded_like("s1"), "warnings": ["uncommitted changes to x.py were not graded"]}
    lines = report.feedback_text(SubmissionResult.from_json(result), KIT, "standin").splitlines()
    at = lines.index("Note: uncommitted changes to x.py were not graded")
    assert lines[at + 1] == "", (
        f"the line after the note: {lines[at + 1]!r} (Markdown joins them into one paragraph)"
    )


def test_grades_json_keeps_what_feedback_needs_in_a_fraction_of_the_size():
    import json

    results = [graded_like("untouched")]
    meta = {"course": KIT.title, "weights": "standin"}
    before = len(json.dumps({**meta, "submissions": results}, indent=1))  # as it was written
    text = report.json_text([SubmissionResult.from_json(r) for r in results], meta)
    assert len(text) < before / 2, f"grades.json: {len(text)} bytes for one student, {before} before"
    back = json.loads(text)
    assert {k: v for k, v in back.items() if k != "submissions"} == meta
    (row,) = back["submissions"]
    typed = SubmissionResult.from_json
    assert report.feedback_text(typed(row), KIT, "standin") == report.feedback_text(
        typed(results[0]), KIT, "standin"
    ), "feedback from grades.json's row differs from the feedback of the graded result"
    assert {n: t["outcome"] for n, t in row["tests"].items()} == {
        n: t["outcome"] for n, t in results[0]["tests"].items()
    }
