"""Grading a class that cheats: every attack of issue 17 in one batch beside honest students.

The class is graded twice with ``facekit grade``: in the jail (bubblewrap, where it runs) and
with the jail forced off (``FACEKIT_JAIL=off``). Honest students must get the same grades both
ways; an attack must gain no point, and with the jail none of them may touch anything outside
it. Attacks that would harm this machine without a jail (writing into the kit, killing the
grader, filling the disk) are only in the jailed batch. Each attack scored full marks, or
escaped, on the code before the jail and the sentinels (see the issue).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import zipfile
from pathlib import Path

import pytest
from synthetic_class import FORGE

from facekit import cli, course
from facekit.grading import grade, gradescope, integrity, jail, report, runner
from facekit.grading.records import SubmissionResult

ROOT = course.repo_root()
KIT = course.load()
EX = {e.id: e for e in KIT.exercises}
TIMEOUT = 240
MEMORY_MB = 1024
MARK = "4711.0815"  # the argument of the sleep a double-forked grandchild becomes: found by it
FIRST = EX["ex01_images"].stub  # imported by the first tests: an attack there runs early

needs_jail = pytest.mark.skipif(jail.unavailable() is not None, reason=f"no jail here: {jail.unavailable()}")


def stubs() -> dict[str, bytes]:
    return {e.stub: (ROOT / e.stub).read_bytes() for e in KIT.exercises}


def reference(exercise_id: str) -> bytes:
    return (ROOT / EX[exercise_id].reference).read_bytes()


FUTURE = b"from __future__ import annotations\n"


def attack(code: str, stub: str = FIRST) -> dict[str, bytes]:
    """Untouched stubs, and ``code`` run when ``stub`` (Exercise 01's) is imported."""
    return {**stubs(), stub: FUTURE + code.encode() + b"\n" + (ROOT / stub).read_bytes().replace(FUTURE, b"")}


# Every test's report marked passed, from inside the test process, four ways.
PLUGIN_HOOK = """
import gc, pytest
class _Pass:
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        outcome.get_result().outcome = "passed"
for _o in gc.get_objects():
    if type(_o).__name__ == "Config" and hasattr(_o, "pluginmanager"):
        _o.pluginmanager.register(_Pass(), "pass-all")
"""
REPORT_PATCH = """
from _pytest import reports
_orig = reports.TestReport.from_item_and_call.__func__
def _passed(cls, item, call):
    report = _orig(cls, item, call)
    report.outcome, report.longrepr = "passed", None
    return report
reports.TestReport.from_item_and_call = classmethod(_passed)
"""
FD_LINES = FORGE.decode()  # each test reported passed on the record's fd, from inside the tests' process
RECORDER_WRAP = """
import sys
import tempfile
_recorder = sys.modules["facekit.harness.plugin"].Recorder
_write = _recorder.write
_recorder.write = lambda self, entry: _write(
    self, {**entry, "outcome": "passed", "message": None} if "test" in entry else entry
)
"""
EXIT_REWRITE = """
import gc, json, os
_names = [i.nodeid for o in gc.get_objects() if type(o).__name__ == "Session" for i in getattr(o, "items", ())]
_fd = int(os.environ.get("FACEKIT_RECORD_FD") or -1)
_exit = os._exit
def _rewrite(code):
    try:
        os.ftruncate(_fd, 0)  # a file can be rewritten; a pipe cannot
        os.lseek(_fd, 0, os.SEEK_SET)
    except OSError:
        pass
    lines = [{"test": n, "outcome": "passed"} for n in _names] + [{"finished": True, "exitstatus": 0}]
    try:
        os.write(_fd, "".join(json.dumps(line) + "\\n" for line in lines).encode())
    except OSError:
        pass
    _exit(0)
os._exit = _rewrite
"""
IN_PROCESS = {
    "plugin-hook": PLUGIN_HOOK,
    "report-patch": REPORT_PATCH,
    "fd-lines": FD_LINES,
    "recorder-wrap": RECORDER_WRAP,
    "exit-rewrite": EXIT_REWRITE,
}


def reference_by_path(paths: list[str]) -> dict[str, bytes]:
    """Each module: the stub, then the reference read by absolute path (given, and the cwd of
    every process in /proc) exec'd over it."""
    files = {}
    for exercise in KIT.exercises:
        files[exercise.stub] = (
            (ROOT / exercise.stub).read_bytes()
            + f"""
import os as _os
_places = {paths!r} + [_os.path.join("/proc", p, "cwd") for p in _os.listdir("/proc") if p.isdigit()]
for _place in _places:
    try:
        exec(open(_os.path.join(_place, {exercise.reference!r})).read().replace({FUTURE.decode()!r}, ""))
        break
    except OSError:
        pass
""".encode()
        )
    return files


def outside_attacks(out: Path, port: int, marker_files: list[Path]) -> dict[str, dict[str, bytes]]:
    """The attacks that reach outside the test process (run only in the jail)."""
    return {
        # The prepared kit and the cached runs, found by --out (given here; /proc otherwise).
        "poison": attack(f"""
import glob, json, os
_hook = "\\nimport pytest\\n@pytest.hookimpl(hookwrapper=True)\\ndef pytest_runtest_makereport(item, call):\\n    outcome = yield\\n    outcome.get_result().outcome = 'passed'\\n"
def _cwd(pid):
    try:
        return os.readlink(f"/proc/{{pid}}/cwd")
    except OSError:
        return "/nonexistent"
for _out in [{str(out)!r}] + [_cwd(p) for p in os.listdir("/proc") if p.isdigit()]:
    for _conftest in glob.glob(os.path.join(_out, ".cache", "kit-*", "kit", "conftest.py")):
        try:
            open(_conftest, "a").write(_hook)
        except OSError:
            pass
    for _run in glob.glob(os.path.join(_out, ".cache", "runs", "*.json")):
        try:
            _data = json.load(open(_run))
            for _t in (_data.get("data", _data).get("tests") or {{}}).values():
                _t["outcome"] = "passed"
            json.dump(_data, open(_run, "w"))
        except (OSError, ValueError):
            pass
"""),
        "writes-outside": attack(
            "\n".join(
                f"try:\n    open({str(p)!r}, 'w').write('written by a hand-in')\nexcept OSError:\n    pass"
                for p in marker_files
            )
        ),
        "loopback": attack(f"""
import socket
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=2).sendall(b"hand-in was here")
except OSError:
    pass
"""),
        "kills": attack("""
import os, signal
for _pid in [int(p) for p in os.listdir("/proc") if p.isdigit()]:
    if _pid != os.getpid():
        try:
            os.kill(_pid, signal.SIGKILL)
        except OSError:
            pass
"""),
        "double-fork": attack(f"""
import os
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv("/bin/sleep", ["sleep", "{MARK}"])
    os._exit(0)
"""),
        "shared-memory": attack("""
import mmap
_m = mmap.mmap(-1, 3 * 1024 ** 3)
for _i in range(0, len(_m), 4096):
    _m[_i] = 1
"""),
        "fills-scratch": attack("""
import os, tempfile
_block = b"x" * (16 * 1024 * 1024)
try:
    for _n in range(200):
        with open(os.path.join(tempfile.gettempdir(), f"fill{_n}"), "wb") as _f:
            _f.write(_block)
except OSError:
    pass
"""),
    }


SECRET = "the hidden threshold check says 0.7071 is not a match"
HIDDEN_NAME = "test_hidden_secret_threshold"
HIDDEN_TESTS = f"""
import pytest


@pytest.mark.function("is_match")
def {HIDDEN_NAME}(load_exercise):
    assert load_exercise("ex03_similarity").is_match(0.4242, 0.3) is True, "{SECRET}"


@pytest.mark.visibility("visible")
@pytest.mark.function("is_match")
def test_visible_extra_check(load_exercise):
    assert load_exercise("ex03_similarity").is_match(0.9, 0.5) is True
"""
# Exercise 03's module reads the hidden tests (file, or the module in memory) and raises them.
LEAK = """
import os, sys
_found = []
for _root, _dirs, _files in os.walk(os.getcwd()):
    _found += [open(os.path.join(_root, f)).read() for f in _files if "instructor" in _root and f.endswith(".py")]
for _name, _module in list(sys.modules.items()):
    if "hidden" in _name:
        _found.append(repr({k: getattr(getattr(v, "__code__", None), "co_consts", None) for k, v in vars(_module).items()}))
        _found.append(" ".join(vars(_module)))
raise RuntimeError(" | ".join(_found) or "found nothing")
"""


def write_zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for relpath, content in files.items():
            archive.writestr(relpath, content)
    return path


def honest() -> dict[str, dict[str, bytes]]:
    return {
        "complete": {e.stub: reference(e.id) for e in KIT.exercises},
        "untouched": stubs(),
        "half": {**stubs(), **{e.stub: reference(e.id) for e in KIT.exercises[:3]}},
        "syntax": {
            **stubs(),
            EX["ex03_similarity"].stub: reference("ex03_similarity"),
            EX["ex05_retrieval"].stub: b"def top_k(:\n",
        },
    }


def by_id(out: Path) -> dict[str, dict]:
    return {s["id"]: s for s in json.loads((out / "grades.json").read_text())["submissions"]}


def survivors() -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if MARK.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(int(pid))
        except OSError:
            pass
    return found


@pytest.fixture(scope="module")
def classes(tmp_path_factory):
    """The class graded in the jail (where it runs) and with the jail off; the jailed batch has
    the outside attacks too. {"jail": out, "none": out, "base": folder, "accepted": [...]}."""
    base = tmp_path_factory.mktemp("cheats")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    accepted: list[bytes] = []
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
                accepted.append(conn.recv(100))
                conn.close()
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    markers = [ROOT / "hand-in-was-here.txt", base / "out-jail" / "hand-in-was-here.txt"]
    common = {
        **honest(),
        **{name: attack(code) for name, code in IN_PROCESS.items()},
        "imports-solutions": {
            e.stub: f"from {e.module('solutions')} import *\n".encode() for e in KIT.exercises
        },
        "reads-reference": reference_by_path([str(ROOT)]),
        "leaks-hidden": attack(LEAK, EX["ex03_similarity"].stub),
        # is_match right but for one score, which only the hidden test tries.
        "fails-hidden": {
            **stubs(),
            EX["ex03_similarity"].stub: reference("ex03_similarity").replace(
                b"return score >= threshold", b"return score >= threshold and score != 0.4242"
            ),
        },
    }
    extra = base / "extra"
    extra.mkdir()
    (extra / "test_ex03_similarity_hidden.py").write_text(HIDDEN_TESTS)
    outs: dict[str, Path] = {}
    try:
        for mode in ("jail", "none") if jail.unavailable() is None else ("none",):
            subs = base / f"subs-{mode}"
            subs.mkdir()
            cheats = dict(common)
            if mode == "jail":
                cheats.update(outside_attacks(base / "out-jail", listener.getsockname()[1], markers))
            for name, files in cheats.items():
                write_zip(subs / f"{name}.zip", files)
            out = base / f"out-{mode}"
            if outs:  # the prepared kit and weights of the first batch
                shutil.copytree(
                    next(iter(outs.values())) / ".cache",
                    out / ".cache",
                    symlinks=True,
                    ignore=shutil.ignore_patterns("runs"),
                )
            with pytest.MonkeyPatch.context() as mp:
                mp.setattr(jail, "SCRATCH_MB", 256)
                if mode == "none":
                    mp.setenv(jail.OFF_ENV, "off")
                code = cli.main(
                    [
                        "grade",
                        str(subs),
                        "--out",
                        str(out),
                        "-j",
                        "2",
                        "--timeout",
                        str(TIMEOUT),
                        "--memory-mb",
                        str(MEMORY_MB),
                        "--extra-tests",
                        str(extra),
                    ]
                )
            assert code == 0
            outs[mode] = out
    finally:
        stop.set()
        thread.join()
        listener.close()
        leaked = [m for m in markers if m.exists()]
        for m in leaked:
            m.unlink()
        left = survivors()
        for pid in left:
            os.kill(pid, signal.SIGKILL)
    return {**outs, "base": base, "accepted": accepted, "leaked": leaked, "survivors": left}


def test_honest_students_get_the_same_grades_with_and_without_the_jail(classes):
    modes = [m for m in ("jail", "none") if m in classes]
    grades = {m: by_id(classes[m]) for m in modes}
    # The hidden tests pass for the reference: 60, 0 and 30 points with the six exercises.
    points = [e.points for e in KIT.exercises]
    expected = {"complete": sum(points), "untouched": 0, "half": sum(points[:3])}
    for mode in modes:
        got = {name: grades[mode][name]["total"] for name in expected}
        assert got == expected, f"{mode}: {got}"
        assert grades[mode]["syntax"]["status"] == "syntax error", grades[mode]["syntax"]
    if len(modes) == 2:
        for name in honest():
            assert grades["jail"][name]["exercises"] == grades["none"][name]["exercises"], name


@pytest.mark.parametrize("name", sorted(IN_PROCESS))
def test_a_forged_record_is_tampered_and_scores_nothing(classes, name):
    for mode in [m for m in ("jail", "none") if m in classes]:
        result = by_id(classes[mode])[name]
        assert (result["status"], result["total"]) == ("tampered", 0), (
            f"{name} ({mode}): {result['status']}, {result['total']}: {result['reason']}"
        )
        assert "review this hand-in" in result["reason"]


@pytest.mark.parametrize("name", ["imports-solutions", pytest.param("reads-reference", marks=needs_jail)])
def test_the_reference_is_out_of_reach(classes, name):
    # Without a jail the reference can be read by path (the README says so): only in the jail.
    result = by_id(classes["jail" if "jail" in classes else "none"])[name]
    assert result["total"] == 0, f"{name}: {result['total']} ({result['status']}: {result['reason']})"
    if name == "imports-solutions":
        # Refused by the grading child's import hook even where the instructor's Python has it.
        assert result["status"] == "import error" and "reference solution" in result["reason"], result[
            "reason"
        ]


def test_hidden_tests_never_reach_the_student(classes):
    for mode in [m for m in ("jail", "none") if m in classes]:
        out = classes[mode]
        grades = by_id(out)
        for name in ("leaks-hidden", "fails-hidden", "untouched"):
            feedback = (out / "feedback" / f"{name}.md").read_text()
            shown = json.dumps({k: v for k, v in grades[name].items() if k != "tests"}) + feedback
            assert HIDDEN_NAME not in shown and SECRET not in shown and "0.4242, 0.3" not in shown, (
                f"{name} ({mode}) sees the hidden test: {feedback[:3000]}"
            )
        fails = (out / "feedback" / "fails-hidden.md").read_text()
        assert "a hidden test of `is_match` failed" in fails, fails
        # What Gradescope shows the student: the same, from the same result.
        shown = json.dumps(
            gradescope.results_json(SubmissionResult.from_json(grades["fails-hidden"]), KIT, 1.0, ROOT)
        )
        assert (
            "a hidden test of `is_match` failed" in shown and HIDDEN_NAME not in shown and SECRET not in shown
        )
        # The visible extra test is an ordinary one; the hidden one counts like any other.
        ex03 = grades["fails-hidden"]["exercises"]["ex03_similarity"]
        assert ex03["passed"] == ex03["total"] - 1, ex03


def test_isolation_is_stated_in_the_csv_the_summary_and_each_feedback(classes):
    for mode in [m for m in ("jail", "none") if m in classes]:
        out = classes[mode]
        data = json.loads((out / "grades.json").read_text())
        expected = "bubblewrap" if mode == "jail" else "none (turned off (FACEKIT_JAIL=off))"
        assert data["isolation"] == expected
        assert data["limits"] == (grade.JAIL_LIMITS if mode == "jail" else grade.NO_PROCESS_LIMIT)
        assert data["limits"].startswith("partial") == (mode == "none")
        rows = (out / "grades.csv").read_text().splitlines()
        assert rows[0].endswith(",isolation,limits") and all(expected in row for row in rows[1:]), rows[:2]
        for result in data["submissions"]:
            feedback = (out / "feedback" / f"{result['id']}.md").read_text()
            assert f"Graded with isolation: {expected}" in feedback, feedback[:400]
        summary = report.summary(
            [SubmissionResult.from_json(s) for s in data["submissions"]], KIT, out, 1.0, data
        )
        assert f"Isolation: {expected}; limits: {data['limits']}" in summary, summary


@needs_jail
def test_in_the_jail_nothing_outside_is_touched(classes):
    grades = by_id(classes["jail"])
    for name in (
        "poison",
        "writes-outside",
        "loopback",
        "kills",
        "double-fork",
        "shared-memory",
        "fills-scratch",
    ):
        assert grades[name]["total"] == 0, f"{name}: {grades[name]['total']} ({grades[name]['status']})"
    assert classes["leaked"] == [], f"a hand-in wrote {classes['leaked']}"
    assert classes["accepted"] == [], f"a hand-in reached a loopback port: {classes['accepted']}"
    assert classes["survivors"] == [], "a double-forked process of a hand-in outlived its grading"
    # The 3 GiB shared mapping was refused (RLIMIT_AS), not resident.
    assert (
        "memory" in grades["shared-memory"]["reason"].lower()
        or "MemoryError" in grades["shared-memory"]["reason"]
    ), grades["shared-memory"]["reason"]


@needs_jail
def test_poisoned_kit_and_cache_change_no_later_or_cached_grade(classes, tmp_path):
    out = classes["jail"]
    first = by_id(out)
    conftests = list((out / ".cache").glob("kit-*/kit/conftest.py"))
    assert conftests and all("outcome" not in c.read_text() for c in conftests), (
        "the prepared kit was written"
    )
    subs = sorted((classes["base"] / "subs-jail").glob("*.zip"))
    assert (
        cli.main(
            [
                "grade",
                *map(str, subs),
                "--out",
                str(out),
                "--timeout",
                str(TIMEOUT),
                "-j",
                "2",
                "--memory-mb",
                str(MEMORY_MB),
                "--extra-tests",
                str(classes["base"] / "extra"),
            ]
        )
        == 0
    )
    again = by_id(out)
    assert {k: v["total"] for k, v in again.items()} == {k: v["total"] for k, v in first.items()}
    assert all(r["cached"] for r in again.values() if r["status"] not in ("refused", "no files"))


def test_a_changed_cache_entry_or_prepared_kit_is_not_trusted(classes, tmp_path):
    out = classes["jail" if "jail" in classes else "none"]
    # A cached run with a failed test (an untouched student's), that failure made a pass.
    run = next(
        p
        for p in sorted((out / ".cache" / "runs").glob("*.json"))
        if any(t["outcome"] == "failed" for t in json.loads(p.read_text())["data"]["tests"].values())
    )
    text = run.read_text()
    wrapped = json.loads(text)
    for t in wrapped["data"]["tests"].values():
        t["outcome"] = "passed"
    assert integrity.verified(f"run:{run.stem}", text) is not None
    assert integrity.verified(f"run:{run.stem}", json.dumps(wrapped)) is None, "a rewritten run verified"
    assert integrity.verified(f"run:{'0' * 64}", text) is None, "a run moved to another key verified"
    # A copy of the prepared kit that differs from its manifest is refused before a run.
    (tmp_path / "kit").mkdir()
    (tmp_path / "kit" / "conftest.py").write_text("pristine")
    manifest = integrity.manifest(tmp_path / "kit")
    (tmp_path / "kit" / "conftest.py").write_text("poisoned")
    job = {"dir": str(tmp_path / "job"), "template": str(tmp_path / "kit"), "files": {}, "manifest": manifest}
    assert "conftest.py" in (runner.build_workspace(job) or ""), "a poisoned copy of the kit was trusted"


def test_the_record_check_catches_forgery_and_passes_honest_runs():
    order = ["a.py::t1", "a.py::t2", "b.py::t1"]
    plan: list[dict] = [
        {"name": "test_s1", "file": "a.py", "fail": False},
        {"name": "test_s2", "file": "a.py", "fail": True},
        {"name": "test_s3", "file": "b.py", "fail": False},
        {"name": "test_s4", "file": None, "fail": True},
    ]
    honest_run = [
        ("a.py::test_s1", "passed"),
        ("a.py::test_s2", "failed"),
        ("a.py::t1", "failed"),
        ("a.py::t2", "passed"),
        ("b.py::test_s3", "passed"),
        ("b.py::t1", "passed"),
        ("b.py::test_s4", "failed"),
    ]
    finished = {"collected_lines": 1, "finished_lines": 1, "exitstatus": 1}
    assert integrity.check(honest_run, finished, plan, order) is None
    # Cut by a crash, or a file that did not collect: not forgery.
    assert integrity.check(honest_run[:3], {"collected_lines": 1}, plan, order) is None
    assert (
        integrity.check([r for r in honest_run if not r[0].startswith("a.py")], finished, plan, order) is None
    )
    forged = {
        "a must-fail sentinel passed": [*honest_run[:1], ("a.py::test_s2", "passed"), *honest_run[2:]],
        "a test reported twice": [*honest_run, ("a.py::t1", "passed")],
        "lines ahead of their tests": [("b.py::t1", "passed"), *honest_run],
        "a sentinel dropped": [r for r in honest_run if r[0] != "b.py::test_s3"],
        "the end sentinel dropped": honest_run[:-1],
        "an unknown test": [*honest_run[:2], ("a.py::t9", "passed")],
    }
    for what, sequence in forged.items():
        assert integrity.check(sequence, finished, plan, order) is not None, f"not caught: {what}"
    assert integrity.check(honest_run, {**finished, "finished_lines": 2}, plan, order) is not None


def test_the_installed_kit_ships_no_solutions():
    import tomllib
    from setuptools import find_packages

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    packages = find_packages(where=str(ROOT), include=config["include"])
    assert "exercises" in packages and "facekit" in packages
    assert not [p for p in packages if p.split(".")[0] == "solutions"], (
        f"pip install . would install the reference: {[p for p in packages if p.startswith('solutions')]}"
    )
    # Nor is it importable from outside the checkout with the kit installed as it is here.
    proc = subprocess.run(
        [sys.executable, "-c", "import solutions"],
        cwd="/",
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    assert proc.returncode != 0 and "No module named 'solutions'" in proc.stderr, proc.stderr[-500:]


def test_require_jail_refuses_to_grade_without_one(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(jail.OFF_ENV, "off")
    write_zip(tmp_path / "a.zip", stubs())
    assert cli.main(["grade", str(tmp_path / "a.zip"), "--out", str(tmp_path / "out"), "--require-jail"]) == 2
    err = capsys.readouterr().err
    assert "--require-jail" in err and "FACEKIT_JAIL=off" in err, err
    assert not (tmp_path / "out" / "grades.csv").exists()


def test_gradescope_bundle_finds_in_process_forgery(classes, tmp_path):
    bundle = tmp_path / "autograder.zip"
    assert cli.main(["gradescope", "--out", str(bundle), "--timeout", str(TIMEOUT)]) == 0
    root = tmp_path / "autograder"
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(root / "source")
    os.chmod(root / "source" / "run_autograder", 0o755)
    out = classes["jail" if "jail" in classes else "none"]
    shutil.copytree(
        out / ".cache",
        root / "source" / gradescope.STATE_DIR / ".cache",
        symlinks=True,
        ignore=shutil.ignore_patterns("runs"),
    )
    # As in Gradescope's container, where bubblewrap cannot run: the record check alone.
    env = {
        **os.environ,
        gradescope.ROOT_ENV: str(root),
        "FACEKIT_AUTOGRADER_PYTHON": sys.executable,
        jail.OFF_ENV: "off",
    }
    env.pop("PYTHONPATH", None)
    for name in ("plugin-hook", "exit-rewrite"):
        shutil.rmtree(root / "submission", ignore_errors=True)
        (root / "submission").mkdir()
        for relpath, content in attack(IN_PROCESS[name]).items():
            (root / "submission" / Path(relpath).name).write_bytes(content)
        proc = subprocess.run(
            [str(root / "source" / "run_autograder")], env=env, capture_output=True, text=True, timeout=600
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        results = json.loads((root / "results" / "results.json").read_text())
        assert results["score"] == 0 and "Status: tampered" in results["output"], (name, results["output"])


def test_grading_docs_state_the_jail_as_it_is():
    readme = " ".join((ROOT / "docs" / "instructors" / "grading.md").read_text(encoding="utf-8").split())
    assert f"a {jail.SCRATCH_MB // 1024} GiB tmpfs" in readme
    assert f"`~/.cache/facekit/{integrity.KEY_FILE}`" in readme
    assert f"`{jail.OFF_ENV}=off`" in readme and "`--require-jail`" in readme
    assert "`isolation: none (why)` and `limits: partial`" in readme
    assert '@pytest.mark.visibility("visible")' in readme


def test_a_python_under_tmp_stays_visible_in_the_jail(tmp_path, monkeypatch):
    # A CI clone (its venv) under /tmp: /tmp cannot be the link into /job then, and a tmpfs
    # mounted over it after the binds would hide the venv.
    why = jail.unavailable()
    if why:
        pytest.skip(f"no jail here: {why}")
    under_tmp = Path(tempfile.mkdtemp(dir="/tmp", prefix="facekit-venv-"))
    try:
        (under_tmp / "seen").write_text("yes")
        real = jail.python_paths
        monkeypatch.setattr(jail, "python_paths", lambda exclude: [*real(exclude), str(under_tmp)])
        code = f"print(open({str(under_tmp / 'seen')!r}).read()); open('/tmp/scratch', 'w').write('ok')"
        argv = jail.command(
            [sys.executable, "-c", code], kit=tmp_path, env={"PATH": "/usr/bin:/bin"}, exclude=[]
        )
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert (done.returncode, done.stdout.strip()) == (0, "yes"), (
            f"jail.command with a Python path under /tmp ({under_tmp}): exit {done.returncode}, "
            f"stdout {done.stdout!r}, stderr {done.stderr[-400:]!r}"
        )
    finally:
        shutil.rmtree(under_tmp, ignore_errors=True)


def test_the_kit_parts_of_exercise_06_are_refused_to_a_submission_but_not_to_its_tests(tmp_path):
    # A hand-in whose ex05 is `from facekit.app_parts import top_k` passed 16 of ex05's 32 tests.
    (tmp_path / "exercises").mkdir()
    (tmp_path / "tests").mkdir()
    asks = "import facekit.app_parts\nprint('imported')\n"
    (tmp_path / "exercises" / "retrieval.py").write_text(asks)
    (tmp_path / "tests" / "test_ex06_app.py").write_text(asks)
    code = (
        "import runpy, sys\nimport facekit.grading.plugin\n"
        "for path in sys.argv[1:]:\n"
        "    try:\n        runpy.run_path(path)\n"
        "    except ImportError as err:\n        print('refused:', err)\n"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            str(tmp_path / "exercises" / "retrieval.py"),
            str(tmp_path / "tests" / "test_ex06_app.py"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = done.stdout.splitlines()
    assert len(lines) == 2 and lines[0].startswith("refused: facekit.app_parts") and lines[1] == "imported", (
        f"importing facekit.app_parts under the grading plugin, from a submission's module and then "
        f"from a test module: expected refused, then imported; got {lines} (stderr {done.stderr[-300:]!r})"
    )


def test_no_module_of_the_kit_imports_the_grading_plugin():
    # Importing the plugin puts its refusing import hook in front of the importer's imports: in
    # the grader (or a kit test that grades in-process) `solutions` then stops importing.
    import ast

    importers = []
    for path in sorted((Path(course.repo_root()) / "facekit").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [f"{node.module}.{a.name}" for a in node.names]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if "facekit.grading.plugin" in names:
                importers.append(f"{path.name}:{node.lineno}")
    assert not importers, (
        f"facekit.grading.plugin is loaded only by pytest's -p in a grading child; imported by {importers}"
    )
