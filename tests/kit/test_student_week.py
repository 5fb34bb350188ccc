"""The student's week without friction (issue 9): each test guards one thing a newcomer tripped on.

Pointers across exercises, one message for missing hub weights, a closed pipe, a syntax error
reported once, pytest from an exercise folder, where the app's store is, watch, solution, try,
and the notebooks' first cell.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from facekit import cli, course, settings, term
from facekit import state_file as kit_state
from facekit.cli.testing import assert_one_line_error, flat, recorded_run, run_cli, state_file  # noqa: F401 (an autouse fixture)
from facekit.harness import run as harness_run
from facekit.harness.record import RunRecord

ROOT = course.repo_root()


def make_kit(root: Path, functions: dict[str, list[str]]) -> Path:
    """A tiny kit: a stub per exercise whose functions raise NotImplementedError, tests, manifest."""
    entries = []
    for exercise_id, names in functions.items():
        for tree in ("exercises", "solutions"):
            folder = root / tree / exercise_id
            folder.mkdir(parents=True)
            (folder / "__init__.py").write_text("")
            body = "NotImplementedError" if tree == "exercises" else "None"
            (folder / "code.py").write_text("".join(f"def {n}():\n    return {body}\n" for n in names))
        (root / "tests").mkdir(exist_ok=True)
        (root / "tests" / f"test_{exercise_id}.py").write_text("")
        hints = "\n".join(f'{n} = ["{n} hint one", "{n} hint two"]' for n in names)
        entries.append(
            f'[[exercise]]\nid = "{exercise_id}"\ntitle = "Exercise {exercise_id}"\n'
            f'module = "code"\nfunctions = {json.dumps(names)}\n[exercise.hints]\n{hints}\n'
        )
    (root / "exercises" / "course.toml").write_text(
        '[course]\ntitle = "Test course"\n\n' + "\n".join(entries)
    )
    return root


@pytest.fixture
def kit(tmp_path):
    return make_kit(tmp_path / "kit", {"ex_a": ["first", "second"], "ex_b": ["third"]})


def ctx_for(root: Path, target: str = "exercises") -> cli.Context:
    return cli.Context(
        root=root,
        course=course.load(root / "exercises" / "course.toml"),
        choice=settings.read_choice(target, "standin"),
        verbose=False,
        term=term.Term(),
    )


def result(outcome="passed", error=None, todo=None, function=None) -> dict:
    return {"outcome": outcome, "error": error, "todo": todo, "function": function}


class Runs:
    """Stands in for facekit.harness.run.run_tests: a RunRecord per test file, changeable between runs."""

    def __init__(self, by_file: dict[str, dict]):
        self.by_file = by_file
        self.calls: list[list[str]] = []

    def __call__(self, root, target, test_files, weights="standin", timeout=900):
        self.calls.append(list(test_files))
        tests = {}
        for test_file in test_files:
            tests.update({f"{test_file}::{name}": r for name, r in self.by_file.get(test_file, {}).items()})
        return RunRecord.from_json({"tests": tests, "collect_errors": [], "exitstatus": 0})


def all_pass(kit_root: Path, exercise_id: str) -> dict:
    ex = course.load(kit_root / "exercises" / "course.toml").get(exercise_id)
    return {f"test_{f}": result(function=f) for f in ex.functions}


# -- 3. a closed pipe ---------------------------------------------------------------------------


def test_hint_into_a_closed_pipe_is_quiet_and_still_recorded(kit, state_file):
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line: every write gets EPIPE
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "facekit", "--root", str(kit), "hint", "ex_a", "first"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            env={**os.environ, "PYTHONPATH": str(ROOT), kit_state.STATE_ENV: str(state_file)},
        )
    finally:
        os.close(write_end)
    assert proc.stderr == "", f"a closed pipe must end quietly, got: {proc.stderr}"
    assert proc.returncode == 141, f"exit as a tool ended by SIGPIPE (141); got {proc.returncode}"
    assert json.loads(state_file.read_text())["hints"] == {"ex_a/first": 1}, "the hint was shown: record it"


# -- 6. where the app's store is ------------------------------------------------------------------


def test_app_messages_say_where_the_default_store_is(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    image = tmp_path / "face.png"
    image.write_bytes(b"not used: the store is missing first")
    code, out, err = run_cli(capsys, "app", "login", "alice", image, "--target", "solutions")
    assert code == 3, "app login with no store: no answer, exit 3 (exit 1 is a no)"
    assert_one_line_error(err, f"no store at {tmp_path / 'facekit-faces.sqlite'}")


# -- 1. pointers across exercises -----------------------------------------------------------------


def test_check_points_at_the_exercise_that_owns_a_stub(kit, capsys, monkeypatch):
    # ex_b's test stops at ex_a's stub, as Exercise 06's stop at Exercise 03's cosine_similarity.
    monkeypatch.setattr(
        harness_run,
        "run_tests",
        Runs(
            {
                "tests/test_ex_b.py": {
                    "test_third": result(
                        "failed", "NotImplementedError: first", ["first", "exercises/ex_a/code.py"], "third"
                    ),
                }
            }
        ),
    )
    code, out, _ = run_cli(capsys, "--root", kit, "check", "ex_b")
    text = flat(out)
    assert code == 1
    assert "exercises/ex_a/code.py" in text and "exercises/ex_a/README.md" in text, text
    assert "`facekit hint ex_a first`" in text, text
    assert "exercises/ex_b/README.md" not in text and "facekit hint ex_b" not in text, text


# -- 7. watch -------------------------------------------------------------------------------------


def watch(
    kit_root: Path,
    runs: Runs,
    saves: dict[int, tuple[str, dict]],
    pinned: str | None = None,
    stop_after: int = 6,
):
    """Run watch with a fake clock: at nap N, ``saves[N]`` = (exercise, its new results) is saved."""
    from argparse import Namespace

    from facekit.cli import watch as watch_command

    naps = []

    def sleep(seconds):
        naps.append(seconds)
        if len(naps) in saves:
            exercise_id, results = saves[len(naps)]
            stub = kit_root / "exercises" / exercise_id / "code.py"
            stub.write_text(stub.read_text() + "# saved\n")
            runs.by_file[f"tests/test_{exercise_id}.py"] = results
        if len(naps) >= stop_after:
            raise KeyboardInterrupt

    args = Namespace(interval=0.5, exercise=pinned)
    return watch_command.run(ctx_for(kit_root), args, sleep=sleep), naps


def test_watch_checks_the_current_exercise_first_and_exits_when_the_course_is_done(kit, capsys, monkeypatch):
    todo = {
        "test_first": result(
            "failed", "NotImplementedError: first", ["first", "exercises/ex_a/code.py"], "first"
        )
    }
    runs = Runs({"tests/test_ex_a.py": todo, "tests/test_ex_b.py": all_pass(kit, "ex_b")})
    monkeypatch.setattr(harness_run, "run_tests", runs)
    code, naps = watch(kit, runs, {2: ("ex_a", all_pass(kit, "ex_a"))})
    out = capsys.readouterr().out
    assert runs.calls[0] == ["tests/test_ex_a.py"], "no full run before watching: the current exercise first"
    assert code == 0 and len(naps) == 2, f"it stops by itself when the course is done; naps: {naps}"
    assert runs.calls == [["tests/test_ex_a.py"], ["tests/test_ex_a.py"], ["tests/test_ex_b.py"]]
    assert out.rstrip().endswith("the course is done. Well done!"), out


def test_watch_exercise_pins_it_and_stops_when_it_passes(kit, capsys, monkeypatch):
    todo = {
        "test_third": result(
            "failed", "NotImplementedError: third", ["third", "exercises/ex_b/code.py"], "third"
        )
    }
    runs = Runs({"tests/test_ex_b.py": todo})
    monkeypatch.setattr(harness_run, "run_tests", runs)
    code, naps = watch(kit, runs, {1: ("ex_b", all_pass(kit, "ex_b"))}, pinned="ex_b")
    out = capsys.readouterr().out
    assert runs.calls == [["tests/test_ex_b.py"]] * 2, "ex_a is not done, but ex_b is the one watched"
    assert code == 0 and len(naps) == 1 and "ex_b passes" in flat(out), out


# -- 8. solution ----------------------------------------------------------------------------------


def test_solution_only_once_the_exercise_passes_then_a_unified_diff(kit, capsys, monkeypatch):
    monkeypatch.setattr(
        harness_run,
        "run_tests",
        Runs(
            {
                "tests/test_ex_a.py": {
                    "test_first": result(
                        "failed", "NotImplementedError: first", ["first", "exercises/ex_a/code.py"], "first"
                    ),
                    "test_second": result(function="second"),
                }
            }
        ),
    )
    code, out, err = run_cli(capsys, "--root", kit, "solution", "ex_a")
    assert code == 1 and out == ""
    assert_one_line_error(err, "ex_a has not passed yet", "facekit check ex_a")
    run_cli(capsys, "--root", kit, "check", "ex_a")  # still failing: still refused
    assert run_cli(capsys, "--root", kit, "solution", "ex_a")[0] == 1

    monkeypatch.setattr(harness_run, "run_tests", Runs({"tests/test_ex_a.py": all_pass(kit, "ex_a")}))
    assert run_cli(capsys, "--root", kit, "check", "ex_a")[0] == 0
    code, out, err = run_cli(capsys, "--root", kit, "solution", "ex_a")
    assert (code, err) == (0, "")
    assert "--- exercises/ex_a/code.py (yours)" in out and "+++ solutions/ex_a/code.py (reference)" in out
    assert "\n-    return NotImplementedError\n" in out and "\n+    return None\n" in out, out


def test_solution_code_leaves_out_comments_and_docstrings_on_both_sides(kit, capsys, monkeypatch):
    (kit / "exercises" / "ex_a" / "code.py").write_text(
        '"""The stub."""\n\n\ndef first():\n    """Shared docstring."""\n    # TODO 1. return None\n'
        '    return None  # noqa: mine\n\n\ndef second():\n    """Shared."""\n    return "# not a comment"\n'
    )
    (kit / "solutions" / "ex_a" / "code.py").write_text(
        '"""The reference."""\n\n\ndef first():\n    """Shared docstring,\n    on two lines."""\n'
        '    # 1. The reference says why.\n    return None\n\n\ndef second():\n    """Shared."""\n'
        '    return "# a comment?"\n'
    )
    monkeypatch.setattr(harness_run, "run_tests", Runs({"tests/test_ex_a.py": all_pass(kit, "ex_a")}))
    assert run_cli(capsys, "--root", kit, "check", "ex_a")[0] == 0
    code, out, err = run_cli(capsys, "--root", kit, "solution", "ex_a")
    assert code == 0 and "-    # TODO 1. return None" in out and "--code" in out, out
    code, out, err = run_cli(capsys, "--root", kit, "solution", "ex_a", "--code")
    assert (code, err) == (0, ""), err
    changed = [line for line in out.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    # Only the one line of code that differs: docstrings, whole-line and trailing comments are out;
    # a "#" inside a string is code.
    assert changed == ['-    return "# not a comment"', '+    return "# a comment?"'], out


# -- 9. try ---------------------------------------------------------------------------------------


def test_try_prints_shapes_norms_and_a_similarity_and_one_line_on_a_stub(capsys):
    code, out, err = run_cli(capsys, "try", "ex02_embeddings", "--target", "solutions")
    assert (code, err) == (0, ""), err
    text = flat(out)
    assert "compute_embedding(model, face [3, 224, 224]): [1, 320], norm" in text, out
    assert "their cosine similarity" in text and "NOT pretrained" in text, out
    code, out, err = run_cli(capsys, "try", "ex02_embeddings")  # the stubs
    assert code == 1
    assert_one_line_error(
        err,
        "build_model() is not implemented yet (exercises/ex02_embeddings/embeddings.py)",
        "`facekit hint ex02_embeddings build_model`",
    )
    code, out, err = run_cli(capsys, "try", "ex03_similarity", "--target", "solutions")
    assert code == 0 and "face vs mirrored face" in out and "row norms 1.0000, 1.0000" in out, out


# -- 2. --weights hub offline, without the weights ----------------------------------------------


def test_hub_weights_missing_offline_stop_the_run_once_with_the_kits_message(tmp_path):
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_HUB_CACHE": str(tmp_path / "empty-hub"),
        "PYTHONPATH": str(ROOT),
        "KIT_TARGET": "solutions",
    }
    env.pop("KIT_WEIGHTS", None)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/test_ex02_embeddings.py",
            "--weights",
            "hub",
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == pytest.ExitCode.USAGE_ERROR, out[-2000:]
    assert out.count("timm/convnext_atto.d2_in1k/model.safetensors") == 1, out[-2000:]
    assert "`facekit download`" in out and "HF_HUB_CACHE" in out and str(tmp_path / "empty-hub") in out
    assert "An error happened" not in out and " passed" not in out and " failed" not in out, out[-2000:]


# -- 5. pytest inside an exercise's folder ---------------------------------------------------------


@pytest.mark.parametrize("tree", ["exercises", "solutions"])
def test_pytest_inside_an_exercise_folder_runs_that_exercises_tests_on_that_tree(tree):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("KIT_TARGET", None)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT / tree / "ex03_similarity",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-2000:]
    collected = [line for line in proc.stdout.splitlines() if "::" in line]
    assert collected and all(line.startswith("tests/test_ex03_similarity.py::") for line in collected), (
        proc.stdout[-2000:]
    )


def test_a_stubs_not_implemented_failure_builds_no_traceback(tmp_path):
    # pytest formats a failure's traceback by parsing each file in it (~15 ms a test); the
    # one-line "not implemented" report throws it away, so it is never built (a first run on
    # untouched stubs took twice as long).
    (tmp_path / "spy_getrepr.py").write_text(
        "import _pytest._code.code as code\n"
        "calls = []\n"
        "real = code.ExceptionInfo.getrepr\n"
        "def getrepr(self, *args, **kwargs):\n"
        "    calls.append(self.typename)\n"
        "    return real(self, *args, **kwargs)\n"
        "code.ExceptionInfo.getrepr = getrepr\n"
        "def pytest_sessionfinish(session):\n"
        "    print('getrepr calls:', calls)\n"
    )
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{tmp_path}"}
    env.pop("KIT_TARGET", None)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-s",
            "-p",
            "spy_getrepr",
            "-p",
            "no:cacheprovider",
            "tests/test_ex03_similarity.py",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert " not implemented in " in proc.stdout, proc.stdout[-2000:]
    assert "getrepr calls: []" in proc.stdout, (
        "pytest built a traceback for a stub's NotImplementedError: " + proc.stdout[-1500:]
    )


# -- 4. a syntax error, once ------------------------------------------------------------------------


def test_a_syntax_error_is_recorded_with_its_file_and_line(tmp_path):
    (tmp_path / "broken.py").write_text("def f(:\n    pass\n")
    (tmp_path / "test_it.py").write_text(
        "def test_one():\n    import broken\n\ndef test_two():\n    import broken\n"
    )
    errors = {r.error for r in recorded_run(tmp_path).tests.values()}
    assert errors == {f"SyntaxError: invalid syntax ({tmp_path / 'broken.py'}, line 1)"}, errors


def test_check_reports_a_syntax_error_once_not_once_per_function(kit, capsys, monkeypatch):
    error = "SyntaxError: invalid syntax (exercises/ex_a/code.py, line 3)"
    monkeypatch.setattr(
        harness_run,
        "run_tests",
        Runs(
            {
                "tests/test_ex_a.py": {
                    "test_first": result("failed", error, None, "first"),
                    "test_second": result("failed", error, None, "second"),
                }
            }
        ),
    )
    code, out, _ = run_cli(capsys, "--root", kit, "check", "ex_a")
    assert code == 1
    assert out.count("invalid syntax") == 2, out  # the line above the functions, and the next step
    assert "Next: fix the SyntaxError: invalid syntax (exercises/ex_a/code.py, line 3)" in flat(out), out


# -- 10. the notebooks' first cell from any folder of the kit -------------------------------------


@pytest.mark.parametrize("exercise", [e for e in course.load().exercises if e.notebook], ids=lambda e: e.id)
def test_notebook_setup_cell_finds_the_kit_from_any_folder_inside_it(exercise):
    cells = json.loads((ROOT / exercise.notebook).read_text(encoding="utf-8"))["cells"]
    first = "".join(next(c for c in cells if c["cell_type"] == "code")["source"])
    assert first.rstrip().endswith(f'ex = notebooks.setup("{exercise.id}")')
    finding = first.rstrip().rsplit("\n", 1)[0] + "\nprint(notebooks.__file__)\n"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    for folder in (ROOT / "notebooks", ROOT / "exercises" / exercise.id, ROOT / "tests" / "kit"):
        # -S: no site-packages, so an installed facekit cannot answer; the cell must find this one.
        proc = subprocess.run(
            [sys.executable, "-S", "-c", finding],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, f"{exercise.notebook}'s first cell from {folder}: {proc.stderr[-1000:]}"
        assert proc.stdout.strip() == str(ROOT / "facekit" / "notebooks.py"), proc.stdout


# -- 11, 12. what the README tells a student ------------------------------------------------------

README = (ROOT / "README.md").read_text(encoding="utf-8")
# What the README told a student is now the Students pages of the site (docs/students/); the
# README keeps the first command.
STUDENT_PAGES = {
    name: (ROOT / "docs" / "students" / f"{name}.md").read_text(encoding="utf-8")
    for name in ("setup", "loop", "capstone", "weights")
}
STUDENT_PART = "\n".join([README.split("## For instructors", 1)[0], *STUDENT_PAGES.values()])


def test_readme_install_gives_the_cpu_route_and_keeps_the_default():
    assert (
        "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/pytest" in README.split("## ", 1)[0]
    )
    top = STUDENT_PAGES["setup"]
    assert "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/pytest" in top
    assert "pip install torch torchvision --index-url https://download.pytorch.org/whl/cpu" in top
    assert top.index("download.pytorch.org/whl/cpu") < top.index(
        ".venv/bin/pip install -e . && .venv/bin/pytest\n```\n\nThe CPU"
    )


def test_readme_notebooks_extra_exists_in_pyproject():
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert "pip install -e '.[notebooks]'" in STUDENT_PART
    assert any(d.startswith("jupyterlab") for d in extras["notebooks"]) and any(
        d.startswith("ipykernel") for d in extras["notebooks"]
    )


def test_readme_states_where_the_standin_cache_is_and_drops_unchecked_timings():
    from facekit import settings

    text = flat(STUDENT_PART)
    default = settings.default_standin_cache()
    if not os.environ.get("XDG_CACHE_HOME"):
        assert f"`~/{default.relative_to(Path.home()).as_posix()}`" in text
    assert "`rm -rf ~/.cache/facekit`" in text and "temporary Hugging Face cache" not in text
    assert "about 2 s" not in text and "about 10 s" not in text
    for command in (
        "facekit watch ex03_similarity",
        "facekit try ex02_embeddings",
        "facekit solution ex02_embeddings",
        "facekit reset EXERCISE -y",
    ):
        assert command in text, command


def test_reset_without_an_answer_changes_nothing_and_yes_skips_the_question(kit):
    def git(*args):
        subprocess.run(
            ["git", "-C", str(kit), "-c", "user.name=t", "-c", "user.email=t@t", *args],
            check=True,
            capture_output=True,
        )

    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "shipped")
    stub = kit / "exercises" / "ex_a" / "code.py"
    stub.write_text("mine\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "facekit", "--root", str(kit), "reset", "ex_a"]
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and stub.read_text() == "mine\n", proc.stdout + proc.stderr
    proc = subprocess.run(
        [*argv, "-y"], stdin=subprocess.DEVNULL, env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0 and stub.read_text() != "mine\n", proc.stdout + proc.stderr


@pytest.mark.parametrize(
    "exercise_id, needles, stub",
    [
        (
            "ex04_storage",
            [
                "JsonFileStore(faces.json): add ada, bob; reopened: ['ada', 'bob'], bit for bit: True",
                "SqliteStore(faces.db): add ada, bob; reopened: ['ada', 'bob'], bit for bit: True",
                "remove(ada's id); reopened: ['bob']",
            ],
            "JsonFileStore.__init__",
        ),
        (
            "ex05_retrieval",
            [
                "a gallery of 4: face, mirror, darker, noise",
                "top_k(the face's embedding, gallery, k=3): face 1.0000,",
                "NOT pretrained",
            ],
            "top_k",
        ),
        (
            "ex06_app",
            [
                "register 'sample' from face.png, 'noise' from noise: 2 records",
                "login(store, model, 'sample', face.png): accepted True, score 1.0000, threshold 0.5",
                "identify(store, model, face.png, k=2): sample 1.0000, noise",
                "NOT pretrained",
            ],
            "open_store",
        ),
    ],
)
def test_try_covers_the_store_the_search_and_the_app(capsys, exercise_id, needles, stub):
    code, out, err = run_cli(capsys, "try", exercise_id, "--target", "solutions")
    assert (code, err) == (0, ""), err
    for needle in needles:
        assert needle in flat(out), f"facekit try {exercise_id} printed:\n{out}"
    assert ("similarities mean nothing" in flat(out)) == (exercise_id != "ex04_storage"), (
        "the note where weights matter"
    )
    code, out, err = run_cli(capsys, "try", exercise_id)  # the stubs
    function = stub.split(".")[0]
    assert code == 1
    assert_one_line_error(err, f"{stub}() is not implemented yet", f"`facekit hint {exercise_id} {function}`")


def test_try_on_an_exercise_without_a_demo_names_those_with_one(capsys, monkeypatch):
    """The demos register themselves (facekit/cli/tryout.py's @demo); an exercise of the
    manifest without one (a new one, say) is answered in one line, before torch is imported."""
    from facekit.cli import tryout

    kit = course.load()
    assert set(tryout.DEMOS) <= set(kit.ids), f"demos of no exercise: {set(tryout.DEMOS) - set(kit.ids)}"
    without = kit.exercises[2].id
    monkeypatch.delitem(tryout.DEMOS, without)
    code, out, err = run_cli(capsys, "try", without)
    assert code == 2, (code, out, err)
    others = ", ".join(e.id for e in kit.exercises if e.id in tryout.DEMOS)
    assert_one_line_error(err, f"{without}: facekit try runs {others} on the sample face")
