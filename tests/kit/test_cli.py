"""The ``facekit`` command: every subcommand, its exit codes, and verify catching planted defects.

Most tests call ``cli.main([...])`` in this process. Test runs are real (a pytest subprocess)
where the point is the real harness: a check of Exercise 02 against the stubs and the
solutions, and verify on a copy of the kit with one planted defect. The rest use a tiny
synthetic kit and canned test outcomes, so each state is reached on purpose and fast.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import synthetic

import facekit.cli.list as list_command
from facekit import cli, course, mistakes, progress, settings, term
from facekit import state_file as kit_state
from facekit.cli import watch as watch_command
from facekit.cli.testing import (  # noqa: F401 (state_file: an autouse fixture)
    assert_one_line_error,
    assert_plain_80_columns,
    flat,
    recorded_run,
    run_cli,
    standin_dir,
    state_file,
)
from facekit.harness import run as harness_run
from facekit.harness import warm
from facekit.harness.record import RunRecord

ROOT = course.repo_root()
EX02 = course.load().get("ex02_embeddings")


def copy_kit(tmp_path: Path) -> Path:
    kit = tmp_path / "kit"
    shutil.copytree(
        ROOT,
        kit,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "__pycache__", "*.pyc", ".pytest_cache", ".facekit", ".fragments", "*.egg-info"
        ),
    )
    return kit


# -- a tiny synthetic kit with canned outcomes --------------------------------------------------


FUNCTIONS = {"ex_a": ["first", "second"], "ex_b": ["third"], "ex_c": ["fourth"], "ex_d": ["fifth"]}


def make_kit(root: Path, functions: dict[str, list[str]] = FUNCTIONS, drop: str | None = None) -> Path:
    """exercises/, solutions/, tests/ and a manifest; ``drop`` leaves that key out of each entry."""
    entries = []
    for exercise_id, names in functions.items():
        for tree in ("exercises", "solutions"):
            folder = root / tree / exercise_id
            folder.mkdir(parents=True)
            (folder / "__init__.py").write_text("")
            (folder / "code.py").write_text(
                "".join(f"def {n}():\n    raise NotImplementedError('{n}')\n" for n in names)
            )
        (root / "tests").mkdir(exist_ok=True)
        (root / "tests" / f"test_{exercise_id}.py").write_text(
            "".join(f"def test_{n}_works(ex):\n    ex.{n}()\n" for n in names)
        )
        fields = {"id": exercise_id, "title": f"Exercise {exercise_id}", "module": "code", "functions": names}
        lines = [f"{k} = {v!r}".replace("'", '"') for k, v in fields.items() if k != drop]
        if drop != "hints":
            lines.append("[exercise.hints]")
            lines += [f'{n} = ["{n} hint one", "{n} hint two"]' for n in names]
        entries.append("[[exercise]]\n" + "\n".join(lines) + "\n")
    (root / "exercises" / "course.toml").write_text(
        '[course]\ntitle = "Test course"\n\n' + "\n".join(entries)
    )
    return root


class Canned:
    """Stands in for facekit.harness.run.run_tests: outcomes per (exercise, function), changeable between runs.

    An outcome is "pass", "todo" (stops at the function's NotImplementedError), "needs:<other>"
    (stops at another function's) or "fail: <error>".
    """

    def __init__(self, outcomes: dict[str, dict[str, str]]):
        self.outcomes = outcomes
        self.calls: list[list[str]] = []

    def __call__(self, root, target, test_files, weights="standin", timeout=900):
        self.calls.append(list(test_files))
        tests = {}
        for exercise_id, by_function in self.outcomes.items():
            test_file = f"tests/test_{exercise_id}.py"
            if test_file not in test_files:
                continue
            for function, outcome in by_function.items():
                result: dict[str, str | list[str] | None] = {"outcome": "passed", "error": None, "todo": None}
                if outcome == "todo":
                    result = {
                        "outcome": "failed",
                        "todo": [function, f"exercises/{exercise_id}/code.py"],
                        "error": f"NotImplementedError: {function}",
                    }
                elif outcome.startswith("needs:"):  # stops at another function's NotImplementedError
                    other = outcome[6:]
                    result = {
                        "outcome": "failed",
                        "todo": [other, f"exercises/{exercise_id}/code.py"],
                        "error": f"NotImplementedError: {other}",
                    }
                elif outcome.startswith("fail:"):
                    result = {"outcome": "failed", "todo": None, "error": outcome[5:].strip()}
                tests[f"{test_file}::test_{function}_works"] = {**result, "function": function}
        return RunRecord.from_json({"tests": tests, "collect_errors": [], "exitstatus": 0})


@pytest.fixture
def kit(tmp_path):
    return make_kit(tmp_path / "kit")


def canned(monkeypatch, outcomes) -> Canned:
    fake = Canned(outcomes)
    monkeypatch.setattr(harness_run, "run_tests", fake)
    return fake


# -- python -m facekit, bad usage ---------------------------------------------------------------


def test_python_m_facekit_is_the_command():
    def run(*argv):
        return subprocess.run(
            [sys.executable, "-m", "facekit", *argv], cwd=ROOT, capture_output=True, text=True, timeout=120
        )

    helped = run("--help")
    assert helped.returncode == 0
    for command in ("list", "check", "hint", "watch", "verify", "download", "reset"):
        assert command in helped.stdout
    unknown = run("check", "no_such_exercise")
    assert unknown.returncode == 2
    assert_one_line_error(unknown.stderr, "no_such_exercise", EX02.id)


def test_unknown_exercise_is_one_line_and_exit_2(capsys):
    for argv in (["check", "ex99"], ["hint", "ex99"], ["reset", "ex99", "--yes"], ["verify", "ex99"]):
        code, out, err = run_cli(capsys, *argv)
        assert code == 2, argv
        assert_one_line_error(err, "no exercise 'ex99'")


def test_manifest_pointing_at_a_missing_file_is_one_line(kit, capsys, monkeypatch):
    canned(monkeypatch, {})
    (kit / "tests" / "test_ex_b.py").unlink()
    for argv in (["check", "ex_b"], ["list"], ["watch"]):
        code, out, err = run_cli(capsys, "--root", str(kit), *argv)
        assert code == 2, argv
        assert_one_line_error(err, "ex_b", "tests/test_ex_b.py", "does not exist")


@pytest.mark.parametrize("case", ["entry lacks a key", "no manifest", "bad TOML"])
def test_broken_manifest_is_one_line(tmp_path, capsys, case):
    kit = make_kit(tmp_path / "kit", drop="functions" if case == "entry lacks a key" else None)
    manifest = kit / "exercises" / "course.toml"
    if case == "no manifest":
        manifest.unlink()
    elif case == "bad TOML":
        manifest.write_text("[[exercise]\nid = ")
    code, out, err = run_cli(capsys, "--root", str(kit), "check", "ex_a")
    assert code == 2
    assert_one_line_error(
        err,
        {"entry lacks a key": "lacks functions", "no manifest": "not found", "bad TOML": "not valid TOML"}[
            case
        ],
    )


def test_bad_environment_value_is_one_line(capsys, monkeypatch):
    monkeypatch.setenv("KIT_TARGET", "mine")
    code, out, err = run_cli(capsys, "check", EX02.id)
    assert code == 2
    assert_one_line_error(err, "KIT_TARGET", "'mine'")


def test_unexpected_errors_are_one_line_unless_verbose(kit, capsys, monkeypatch):
    def broken(ctx, args):
        raise RuntimeError("the disk caught fire")

    monkeypatch.setattr(list_command, "run", broken)
    code, out, err = run_cli(capsys, "--root", str(kit), "list")
    assert code == 1
    assert_one_line_error(err, "RuntimeError: the disk caught fire", "-v")
    code, out, err = run_cli(capsys, "--root", str(kit), "-v", "list")
    assert code == 1 and "Traceback" in err


# -- check ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ex02_stub_run(stub_run):
    """The harness on Exercise 02's untouched stub, as `facekit check` runs it: cut from the
    session's run of every stub (tests/kit/conftest.py), not a second subprocess."""
    return stub_run.only(EX02.tests)


def test_check_on_the_stubs_says_what_to_implement(
    capsys, state_file, monkeypatch, ex02_stub_run, pytestconfig, tmp_path_factory
):
    asked = []

    def run_tests(*args):
        asked.append(args)
        return ex02_stub_run

    monkeypatch.setattr(harness_run, "run_tests", run_tests)
    code, out, err = run_cli(capsys, "check", EX02.id, "--target", "exercises")
    standin = settings.Weights("standin", standin_dir(pytestconfig, tmp_path_factory), offline=True)
    assert asked == [(ROOT, "exercises", [EX02.tests], standin)]
    assert code == 1
    assert "stand-in weights (seeded random, NOT pretrained)" in out
    for function in EX02.functions:
        assert re.search(rf"{function}\(\)\s+not implemented yet", out), out
    assert f"Next: implement {EX02.functions[0]}()" in out and f"facekit hint {EX02.id}" in out
    assert_plain_80_columns(out)
    cached = kit_state.ResultCache(ROOT, "exercises", "standin").get(EX02)
    assert cached is not None and not progress.exercise_result(cached, EX02).done


def test_check_on_the_solutions_passes_and_is_remembered(capsys, state_file):
    code, out, err = run_cli(capsys, "--target", "solutions", "check", EX02.id)
    assert code == 0, out + err
    for function in EX02.functions:
        assert re.search(rf"{function}\(\)\s+done", out), out
    assert_plain_80_columns(out)
    cached = kit_state.ResultCache(ROOT, "solutions", "standin").get(EX02)
    assert cached is not None and progress.exercise_result(cached, EX02).done
    assert kit_state.ResultCache(ROOT, "exercises", "standin").get(EX02) is None, (
        "a solutions run must not stand for the student's work"
    )


def test_check_names_the_failing_function_and_its_first_assertion(kit, capsys, monkeypatch):
    canned(monkeypatch, {"ex_a": {"first": "pass", "second": "fail: AssertionError: expected 3, got 4"}})
    code, out, err = run_cli(capsys, "--root", str(kit), "check", "ex_a")
    assert code == 1
    assert re.search(r"first\(\)\s+done", out)
    assert re.search(r"second\(\)\s+failing \(1 of 1 test\)", out)
    assert "test_second_works: AssertionError: expected 3, got 4" in out
    assert "Next: fix second() in exercises/ex_a/code.py" in out


def test_check_says_which_function_a_test_waits_for(kit, capsys, monkeypatch):
    canned(monkeypatch, {"ex_a": {"first": "todo", "second": "needs:first"}})
    code, out, err = run_cli(capsys, "--root", str(kit), "check", "ex_a")
    assert code == 1
    # Each test counts once, for the function it declares; second()'s waits for first().
    assert re.search(r"first\(\)\s+not implemented yet \(1 test stops there\)", out), out
    assert re.search(r"second\(\)\s+0/1 pass; the others need first\(\)", out), out
    assert "Next: implement first() in exercises/ex_a/code.py" in out


def test_tests_that_do_not_run_are_reported_not_hidden(kit, capsys, monkeypatch):
    broken = RunRecord({}, ("tests/test_ex_a.py: SyntaxError: invalid syntax",), 2)
    monkeypatch.setattr(harness_run, "run_tests", lambda *args: broken)
    code, out, err = run_cli(capsys, "--root", str(kit), "check", "ex_a")
    assert code == 1
    assert "the tests of ex_a do not run" in out and "SyntaxError: invalid syntax" in out
    code, out, err = run_cli(capsys, "--root", str(kit), "list")
    assert re.search(r"ex_a .* failing \(tests do not run\)", out), out


def test_check_without_exercise_takes_the_first_not_done(kit, capsys, monkeypatch):
    fake = canned(monkeypatch, {"ex_a": {"first": "pass", "second": "pass"}, "ex_b": {"third": "todo"}})
    code, out, err = run_cli(capsys, "--root", str(kit), "check")
    assert code == 0 and fake.calls == [["tests/test_ex_a.py"]]
    assert "All tests pass. Next: `facekit check ex_b`" in out
    code, out, err = run_cli(capsys, "--root", str(kit), "check")
    assert code == 1 and fake.calls[-1] == ["tests/test_ex_b.py"], "ex_a passed and is unchanged"
    # Editing a passed exercise makes it the current one again.
    (kit / "exercises" / "ex_a" / "code.py").write_text("def first(): ...\n")
    run_cli(capsys, "--root", str(kit), "check")
    assert fake.calls[-1] == ["tests/test_ex_a.py"]


# -- check: which failure it shows ----------------------------------------------------------------


def _failing(name: str, error: str, broad: bool = False, message: str | None = None) -> tuple:
    return (
        f"tests/test_store.py::{name}",
        RunRecord.from_json(
            {
                "tests": {
                    "t": {
                        "outcome": "failed",
                        "error": error,
                        "broad": broad,
                        "message": message,
                        "function": "validate_entry",
                    }
                }
            }
        ).tests["t"],
    )


def _mistake(test: str, words: list[str], says: str = "I checked the wrong thing") -> mistakes.Mistake:
    return mistakes.Mistake(id="m", says=says, find="x", replace="y", test=test, words=tuple(words))


def test_shown_failure_prefers_a_catalogued_mistake_then_a_narrow_test_then_the_first():
    generic = _failing("test_matches_the_reference", "AssertionError: differs by 0.5", broad=True)
    narrow = _failing("test_rejects_nan[inf]", "AssertionError: validate_entry(inf) did not raise")
    known = _failing(
        "test_names_the_row",
        "AssertionError: validate_entry: row 2",
        message="validate_entry: row 2 is zero\n(rows counted from 0)",
    )
    failing = [generic, narrow, known]  # file order
    tests = "tests/test_store.py"
    assert progress.shown_failure([generic], tests) == (*generic, None), "only a broad one: that one"
    assert progress.shown_failure(failing, tests)[0] == narrow[0], "a narrow test before a broad one"
    # The signature is the test (every parameter, or the one named) and every word, in the
    # whole message (the recorded one-line error is cut).
    catalogue = [_mistake("test_names_the_row", ["validate_entry", "counted from 0"])]
    assert progress.shown_failure(failing, tests, catalogue) == (*known, catalogue[0])
    any_case = _mistake("test_rejects_nan", ["INF"])  # every parameter; words in any case
    assert progress.shown_failure([generic, narrow], tests, [any_case]) == (*narrow, any_case)
    for other in (
        _mistake("test_names_the_row", ["validate_entry", "row 3"]),  # a word missing
        _mistake("test_names", ["validate_entry"]),  # another test
        _mistake(f"{tests}::test_rejects_nan[nan]", ["validate_entry"]),
    ):  # another case
        assert progress.shown_failure(failing, tests, [other]) == (*narrow, None), other


def test_check_shows_the_catalogued_mistake_a_failure_looks_like(kit, capsys, monkeypatch):
    canned(
        monkeypatch,
        {
            "ex_a": {
                "first": "fail: AssertionError: first() gave 4, expected 3",
                "second": "fail: AssertionError: second() gave 5",
            }
        },
    )
    catalogue = mistakes.catalogue_path(kit, "ex_a")
    catalogue.parent.mkdir(parents=True, exist_ok=True)
    catalogue.write_text(
        textwrap.dedent("""\
        [[mistake]]
        id = "off-by-one"
        says = "I counted from 1"
        find = "x"
        replace = "y"
        test = "test_first_works"
        words = ["first()", "expected 3"]

        [[mistake]]
        id = "unrelated"
        says = "I returned None"
        find = "x"
        replace = "y"
        test = "test_second_works"
        words = ["second()", "None"]
        """)
    )
    code, out, err = run_cli(capsys, "--root", str(kit), "check", "ex_a")
    assert code == 1
    assert 'This looks like a mistake others made: "I counted from 1"' in flat(out), out
    assert "I returned None" not in out, "a hint only where every word of the mistake is there"
    assert_plain_80_columns(out)
    catalogue.write_text("not toml [")  # verify reports a broken catalogue; check just gives no hint
    code, out, err = run_cli(capsys, "--root", str(kit), "check", "ex_a")
    assert code == 1 and "looks like" not in out and "test_first_works: AssertionError" in out and not err


def test_check_on_a_planted_mistake_shows_the_specific_test_not_the_first_failing(kit_copy, capsys):
    """Image.open without load(): 19 tests of load_image fail, the first in file order only with
    "seek of closed file"; the one that names the cause is test_image_is_loaded_and_file_closed."""
    ex01 = course.load(kit_copy / "exercises" / "course.toml").get("ex01_images")
    mistake = next(m for m in mistakes.load(kit_copy, ex01) if m.id == "lazy-image")
    reference = kit_copy / mistake.file
    reference.write_text(mistakes.patched(reference.read_text(), mistake))
    code, out, err = run_cli(capsys, "--root", str(kit_copy), "--target", "solutions", "check", ex01.id)
    assert code == 1
    run = kit_state.ResultCache(kit_copy, "solutions", "standin").get(ex01)
    assert run is not None, "check saved no result in the cache"
    failing = [n for n, r in run.tests.items() if r.failed and r.function == "load_image"]
    first = progress.test_name(failing[0])
    assert len(failing) > 1 and first != mistake.test, f"the planted mistake no longer hides {mistake.test}"
    text = flat(out)
    assert f"{mistake.test}: Failed: load_image(rgb.png) returned an image that is not loaded" in text, out
    assert f"{first}:" not in text
    assert f'This looks like a mistake others made: "{mistake.says}"' in text, out
    assert_plain_80_columns(out)


def test_the_record_keeps_whether_a_test_is_broad_and_its_whole_message(tmp_path):
    (tmp_path / "test_it.py").write_text(
        textwrap.dedent("""\
        import pytest

        @pytest.mark.function("f", broad=True)
        def test_whole():
            assert 1 == 2, "f(3) differs from the reference\\nby up to 0.5"

        @pytest.mark.function("f")
        def test_narrow():
            assert 1 == 2
        """)
    )
    tests = {progress.test_name(n): r for n, r in recorded_run(tmp_path).tests.items()}
    assert tests["test_whole"].broad and not tests["test_narrow"].broad
    assert tests["test_whole"].error == "AssertionError: f(3) differs from the reference"
    # The whole message, as the catalogue's words are checked: without pytest's "assert ..." part.
    assert flat(tests["test_whole"].message or "") == "f(3) differs from the reference by up to 0.5"
    assert tests["test_narrow"].message == ""


def test_next_step_skips_a_function_whose_only_failure_is_a_broad_test(kit, capsys, monkeypatch):
    # first()'s end-to-end test calls second(): when second() has its own failure, fix that first.
    run = RunRecord.from_json(
        {
            "tests": {
                "tests/test_ex_a.py::test_first_end_to_end": {
                    "outcome": "failed",
                    "function": "first",
                    "broad": True,
                    "error": "AssertionError: first() differs",
                },
                "tests/test_ex_a.py::test_second_works": {
                    "outcome": "failed",
                    "function": "second",
                    "error": "AssertionError: second() gave 5",
                },
            }
        }
    )
    monkeypatch.setattr(harness_run, "run_tests", lambda *args: run)
    code, out, err = run_cli(capsys, "--root", str(kit), "check", "ex_a")
    assert "test_first_end_to_end: AssertionError: first() differs" in out, "still shown in its row"
    assert "Next: fix second() in exercises/ex_a/code.py" in out, out


def test_a_mistyped_broad_in_the_function_marker_is_a_usage_error(kit_copy):
    ex03 = course.load(kit_copy / "exercises" / "course.toml").get("ex03_similarity")
    tests = kit_copy / ex03.tests
    source = tests.read_text()
    marker = '@pytest.mark.function("l2_normalize")'
    assert marker in source
    tests.write_text(source.replace(marker, '@pytest.mark.function("l2_normalize", brod=True)', 1))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", ex03.tests],
        cwd=kit_copy,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(kit_copy)},
    )
    assert (
        proc.returncode != 0
        and "@pytest.mark.function takes broad=True, not brod" in proc.stdout + proc.stderr
    ), proc.stdout + proc.stderr


# -- list -----------------------------------------------------------------------------------------


def test_list_shows_every_state_and_the_progress_in_one_run(kit, capsys, monkeypatch):
    fake = canned(
        monkeypatch,
        {
            "ex_a": {"first": "pass", "second": "pass"},
            "ex_b": {"third": "todo"},
            "ex_c": {"fourth": "fail: AssertionError: nope"},
            "ex_d": {"fifth": "todo", "sixth": "pass"},  # half done
        },
    )
    code, out, err = run_cli(capsys, "--root", str(kit))  # no command: list
    assert code == 0
    assert len(fake.calls) == 1 and len(fake.calls[0]) == 4, "one pytest run for every exercise"
    rows = {line.split()[1]: line for line in out.splitlines() if re.match(r"^\S ex_", line)}
    assert rows["ex_a"].rstrip().endswith("done")
    assert rows["ex_b"].rstrip().endswith("not started")
    assert rows["ex_c"].rstrip().endswith("failing (1 test)")
    assert rows["ex_d"].rstrip().endswith("in progress (1/2 pass)")
    assert "1/4 done" in out and "Next: `facekit check ex_b`" in out
    assert "stand-in weights (seeded random, NOT pretrained)" in out
    assert_plain_80_columns(out)


def test_list_answers_from_the_cache_and_reruns_only_what_changed(kit, capsys, monkeypatch):
    fake = canned(
        monkeypatch,
        {
            "ex_a": {"first": "pass", "second": "pass"},
            "ex_b": {"third": "todo"},
            "ex_c": {"fourth": "todo"},
            "ex_d": {"fifth": "todo"},
        },
    )
    first = run_cli(capsys, "--root", str(kit))[1]
    assert len(fake.calls) == 1 and "(cached" not in first
    code, out, err = run_cli(capsys, "--root", str(kit))
    assert code == 0 and len(fake.calls) == 1, "nothing changed: no test process"
    assert "(cached: no file changed since the last run)" in out
    assert out.replace("(cached: no file changed since the last run)", "") == re.sub(
        r"\(\d+ tests, [\d.]+ s\)", "", first
    ), "the cached answer is the same table"
    (kit / "exercises" / "ex_c" / "code.py").write_text("def fourth(): return 4\n")
    fake.outcomes["ex_c"] = {"fourth": "pass"}
    code, out, err = run_cli(capsys, "--root", str(kit))
    assert fake.calls[-1] == ["tests/test_ex_c.py"], "only the changed exercise runs again"
    assert re.search(r"ex_c .* done", out) and "3 cached" in out
    code, out, err = run_cli(capsys, "--root", str(kit), "check", "ex_a")
    assert fake.calls[-1] == ["tests/test_ex_a.py"], "check runs the exercise asked, cached or not"


def test_list_from_the_cache_does_not_import_torch(tmp_path):
    script = textwrap.dedent(f"""
        import os, sys
        os.environ["FACEKIT_STATE"] = {str(tmp_path / "state.json")!r}
        from facekit import cli
        from facekit.harness import run
        from facekit.harness.record import RunRecord
        run.run_tests = lambda *a, **k: RunRecord.from_json({{"tests": {{}}, "collect_errors": []}})
        cli.main(["--target", "solutions"])
        run.run_tests = lambda *a, **k: sys.exit("a test process was started")
        for name in [n for n in sys.modules if n.startswith(("torch", "timm"))]:
            del sys.modules[name]
        sys.stdout.flush()
        print("SECOND")
        code = cli.main(["--target", "solutions"])
        print("torch imported:", "torch" in sys.modules, "code:", code)
    """)
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    second = proc.stdout.split("SECOND", 1)[-1]
    assert "torch imported: False code: 0" in second, proc.stdout + proc.stderr
    assert "(cached" in second


# -- hint -----------------------------------------------------------------------------------------


def test_hint_gives_one_more_each_time_per_function_and_forgets_when_the_file_goes(capsys, state_file):
    function = EX02.functions[0]
    hints = EX02.hints[function]
    assert len(hints) >= 2, "Exercise 02's first function has hints in the manifest"
    for number, hint in enumerate(hints, 1):
        code, out, err = run_cli(capsys, "hint", EX02.id)  # no function: the first not done
        assert code == 0
        assert f"Hint {number} of {len(hints)} for {function}()" in out
        assert " ".join(out.split()).find(" ".join(hint.split()[:8])) >= 0, out
        assert_plain_80_columns(out)
    other = EX02.functions[1]
    code, out, err = run_cli(capsys, "hint", EX02.id)
    assert code == 0 and f"for {other}()" in out, "the first function's hints are used up: the next one"
    code, out, err = run_cli(capsys, "hint", EX02.id, function)
    assert code == 0 and f"All {len(hints)} hints" in out
    state_file.unlink()
    code, out, err = run_cli(capsys, "hint", EX02.id, function)
    assert f"Hint 1 of {len(hints)}" in out
    code, out, err = run_cli(capsys, "hint", EX02.id, "no_such_function")
    assert code == 2
    assert_one_line_error(err, "no_such_function", function)


def test_multi_line_hints_keep_their_paragraphs(kit, capsys):
    manifest = kit / "exercises" / "course.toml"
    manifest.write_text(
        manifest.read_text().replace(
            'first = ["first hint one", "first hint two"]', 'first = ["""A nudge.\n\nSecond paragraph."""]'
        )
    )
    code, out, err = run_cli(capsys, "--root", str(kit), "hint", "ex_a", "first")
    assert code == 0 and "  A nudge.\n\n  Second paragraph." not in out
    assert re.search(r"^  A nudge\.\n  Second paragraph\.$", out, re.M), out


# -- watch ----------------------------------------------------------------------------------------


def test_watch_rechecks_on_save_moves_on_and_stops_cleanly_on_ctrl_c(kit, capsys, monkeypatch):
    fake = canned(monkeypatch, {"ex_a": {"first": "todo", "second": "todo"}, "ex_b": {"third": "todo"}})
    stub = kit / "exercises" / "ex_a" / "code.py"
    naps = []

    def sleep(seconds):
        naps.append(seconds)
        if len(naps) == 2:  # the student saves a finished ex_a
            stub.write_text(stub.read_text() + "# solved\n")
            fake.outcomes["ex_a"] = {"first": "pass", "second": "pass"}
        if len(naps) == 4:
            raise KeyboardInterrupt

    kit_ctx = cli.Context(
        root=kit,
        course=course.load(kit / "exercises" / "course.toml"),
        choice=settings.read_choice("exercises", "standin"),
        verbose=False,
        term=term.Term(),
    )
    code = watch_command.run(kit_ctx, interval=0.5, sleep=sleep)
    out = capsys.readouterr().out
    assert code == 0 and out.rstrip().endswith("Stopped watching.")
    assert naps == [0.5] * 4, "it waits between looks: no busy loop"
    assert fake.calls == [
        ["tests/test_ex_a.py"],  # the start: only the current exercise, no full run first
        ["tests/test_ex_a.py"],  # the save: the current exercise, now green
        ["tests/test_ex_b.py"],  # then the next one
    ]
    assert "Moving on to ex_b." in out
    assert out.count("Next: implement first()") == 1 and "Next: implement third()" in out


@pytest.mark.skipif(not warm.available(ROOT), reason="quick runs fork: Linux only")
def test_watch_quick_runs_give_what_the_harness_gives(ex02_stub_run, tmp_path, kit_choice):
    # This process has run torch code (a fork of it could hang), so a fresh one forks.
    assert not warm.warm_up(), "a process that imported torch before must not fork"
    script = textwrap.dedent(f"""
        import json, sys
        from facekit import settings
        from facekit.harness import warm
        assert warm.warm_up()
        weights = settings.read_choice().weights
        json.dump(warm.run_tests({str(ROOT)!r}, "exercises", [{EX02.tests!r}], weights).to_json(),
                  sys.stdout)
    """)
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=settings.child_env(ROOT, kit_choice),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    quick = json.loads(proc.stdout)
    assert ex02_stub_run.tests and quick["tests"] == ex02_stub_run.to_json()["tests"]
    assert quick["collect_errors"] == list(ex02_stub_run.collect_errors) == []


def test_watch_ignores_bytecode_caches(kit):
    before = watch_command.snapshot(kit)
    cache = kit / "exercises" / "ex_a" / "__pycache__"
    cache.mkdir()
    (cache / "code.cpython-311.pyc").write_bytes(b"\0")
    assert watch_command.snapshot(kit) == before, "the test run's own .pyc files would re-trigger it forever"


# -- verify ---------------------------------------------------------------------------------------


@pytest.fixture
def kit_copy(tmp_path):
    return copy_kit(tmp_path)


def test_verify_on_a_clean_copy_passes(kit_copy, capsys):
    code, out, err = run_cli(capsys, "--root", str(kit_copy), "verify", EX02.id, "--only", "files,mirror")
    assert code == 0, out + err
    assert re.search(rf"^{EX02.id}\s+ok\s+ok$", out, re.M), out
    assert "No defects" in out
    assert_plain_80_columns(out)


def test_verify_catches_a_stub_raising_the_wrong_error(kit_copy, capsys):
    stub = kit_copy / EX02.stub
    source = stub.read_text()
    assert "    raise NotImplementedError(" in source
    stub.write_text(source.replace("    raise NotImplementedError(", "    raise RuntimeError(", 1))
    code, out, err = run_cli(capsys, "--root", str(kit_copy), "verify", EX02.id, "--only", "stub")
    assert code == 1
    assert re.search(rf"^{EX02.id}\s+FAIL$", out, re.M), out
    assert "RuntimeError" in out and "not the stub's NotImplementedError" in flat(out)
    assert "1 defect" in out


def test_verify_catches_a_signature_that_drifted(kit_copy, capsys):
    stub = kit_copy / EX02.stub
    function = EX02.functions[-1]
    source = stub.read_text()
    assert f"def {function}(" in source
    stub.write_text(source.replace(f"def {function}(", f"def {function}(device, ", 1))
    code, out, err = run_cli(capsys, "--root", str(kit_copy), "verify", EX02.id, "--only", "mirror")
    assert code == 1
    assert f"{function}: signature differs" in out


def test_verify_catches_a_broken_notebook(kit_copy, capsys):
    notebook = kit_copy / EX02.notebook
    notebook.parent.mkdir(parents=True, exist_ok=True)
    notebook.write_text('{"cells": [')  # cut off mid-save
    code, out, err = run_cli(capsys, "--root", str(kit_copy), "verify", EX02.id, "--only", "notebook")
    assert code == 1
    assert re.search(rf"^{EX02.id}\s+FAIL$", out, re.M), out
    assert "not a readable notebook" in flat(out)


def test_verify_rejects_an_unknown_check(capsys):
    code, out, err = run_cli(capsys, "verify", "--only", "stubs")
    assert code == 2
    assert_one_line_error(err, "--only", "files,todo,reference,stub,mirror,notebook")


# -- new ------------------------------------------------------------------------------------------


def test_new_scaffolds_an_exercise_and_verify_says_what_is_left_until_it_passes(kit_copy, capsys):
    from facekit import scaffold

    new = ("--root", str(kit_copy), "new", "ex07_tracking", "Following a face", "--functions", "track")
    code, out, err = run_cli(capsys, *new)
    assert code == 0, err
    exercise = course.load(kit_copy / "exercises" / "course.toml").get("ex07_tracking")
    assert exercise.stub == "exercises/ex07_tracking/tracking.py" and exercise.functions == ("track",)
    readme = (kit_copy / "README.md").read_text()
    rows = re.findall(r"^\| \d+ \| \[([^\]]+)\]\(([^)]+)\) \|", readme, re.M)
    assert rows[-1] == ("Following a face", exercise.readme), "the README's table gets the row"
    code, out, err = run_cli(capsys, *new)
    assert code == 2 and "already" in err

    code, out, err = run_cli(capsys, "--root", str(kit_copy), "verify", "ex07_tracking")
    assert code == 1
    # files todo reference stub mirror notebook mistakes policy (one template mistake, 15 asked)
    assert re.search(r"^ex07_tracking\s+ok\s+FAIL\s+FAIL\s+ok\s+ok\s+ok\s+FAIL\s+FAIL$", out, re.M), out
    # Only the todo finding's own text: up to the next defect (or the count of defects).
    todo = re.search(r"ex07_tracking todo: (.*?)(?= ex07_tracking \w+:| \d+ defects)", flat(out))
    assert todo, f"no todo finding in: {out}"
    for left in ("readme", "stub", "reference", "tests", "notebook", "mistakes", "hints"):
        assert re.search(rf"\b{left}\b", todo.group(1)), (
            f"{left} missing from the todo finding: {todo.group(1)}"
        )
    assert "NotImplementedError: FACEKIT-NEW: write the reference track()" in flat(out)

    # The instructor writes each placeholder (tests/kit/synthetic.py: a reference, its head
    # copied into the stub by `facekit new --sync`, tests, as many mistakes as the policy asks,
    # README, notebook, hints); no other file is touched by hand.
    synthetic.fill(kit_copy, exercise)
    manifest = kit_copy / "exercises" / "course.toml"
    assert not scaffold.placeholders(kit_copy, course.load(manifest).get("ex07_tracking"))
    code, out, err = run_cli(capsys, "--root", str(kit_copy), "verify", "ex07_tracking")
    assert code == 0, out + err
    assert "No defects" in out


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["new", "exercise7", "T"], "exNN_name"),
        (["new", "ex07_x", "T", "--functions", "a b"], "--functions"),
    ],
)
def test_new_rejects_a_bad_id_or_function_in_one_line(kit, capsys, argv, needle):
    code, out, err = run_cli(capsys, "--root", str(kit), *argv)
    assert code == 2
    assert_one_line_error(err, needle)
    assert not (kit / "exercises" / "ex07_x").exists()


def test_new_writes_the_readme_table_between_its_markers_rows_together(kit, capsys):
    """The new row joins the table's rows (a row after the table's blank line would be a
    paragraph of its own), and the whole table is the manifest's, as scaffold.readme_table makes it."""
    from facekit import scaffold

    intro = "# Kit\n\nSome words.\n\n"
    (kit / "README.md").write_text(
        f"{intro}{scaffold.TABLE_BEGIN}\n| old table |\n{scaffold.TABLE_END}\n\nAfter.\n"
    )
    code, out, err = run_cli(capsys, "--root", str(kit), "new", "ex07_tracking", "Following a face")
    assert code == 0, err
    text = (kit / "README.md").read_text()
    exercises = course.load(kit / "exercises" / "course.toml").exercises
    assert text.startswith(intro) and text.endswith(f"{scaffold.TABLE_END}\n\nAfter.\n"), text
    lines = text.splitlines()
    header = lines.index("| # | exercise | you write |")
    rows = []
    for line in lines[header + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(line)
    assert len(rows) == len(exercises), f"the table's rows run together up to a blank line: {rows}"
    assert rows[-1] == "| 07 | [Following a face](exercises/ex07_tracking/README.md) | `solve` |", rows


def test_new_refuses_a_readme_without_the_table_markers_and_writes_nothing(kit, capsys):
    (kit / "README.md").write_text("# Kit\n\n| # | exercise | you write |\n|---|---|---|\n")
    before = (kit / "exercises" / "course.toml").read_text()
    code, out, err = run_cli(capsys, "--root", str(kit), "new", "ex07_tracking", "Following a face")
    assert code == 2
    assert_one_line_error(err, "<!-- exercises:begin -->", "<!-- exercises:end -->")
    assert (kit / "exercises" / "course.toml").read_text() == before
    assert not (kit / "exercises" / "ex07_tracking").exists()


STUB = '''"""Exercise 07 (your code)."""


def track(frames):
    """Old words."""
    # TODO 1: count them.
    raise NotImplementedError("track() is not written yet")


class Tracker:
    def step(self):
        raise NotImplementedError("Tracker.step() is not written yet")
'''
REFERENCE = '''"""Exercise 07 (reference)."""


def _helper():
    return 1


def track(frames: list[str], *, min_count: int = 1) -> int:
    """track(frames, min_count=1) -> int: the frames seen.

    Raises ValueError for an empty list.
    """
    return len(frames)


class Tracker:
    """Follows one face."""

    def step(self, frame: str) -> None:
        """One frame more."""
        self.last = frame
'''


def test_new_sync_writes_the_stubs_heads_from_the_reference_and_keeps_its_bodies(kit, capsys):
    from facekit import scaffold

    exercise = course.load(kit / "exercises" / "course.toml").exercises[0]
    (kit / exercise.stub).write_text(STUB)
    (kit / exercise.reference).write_text(REFERENCE)
    assert scaffold.stub_differences(REFERENCE, STUB) == ["track", "Tracker", "Tracker.step"]
    code, out, err = run_cli(capsys, "--root", str(kit), "new", exercise.id, "--sync")
    assert code == 0, err
    assert "track, Tracker, Tracker.step" in flat(out), out
    synced = (kit / exercise.stub).read_text()
    assert synced == (
        '"""Exercise 07 (your code)."""\n\n\n'
        "def track(frames: list[str], *, min_count: int = 1) -> int:\n"
        '    """track(frames, min_count=1) -> int: the frames seen.\n\n'
        "    Raises ValueError for an empty list.\n"
        '    """\n'
        "    # TODO 1: count them.\n"
        '    raise NotImplementedError("track() is not written yet")\n\n\n'
        "class Tracker:\n"
        '    """Follows one face."""\n'  # the stub's lines after the head stay
        "    def step(self, frame: str) -> None:\n"
        '        """One frame more."""\n'
        '        raise NotImplementedError("Tracker.step() is not written yet")\n'
    ), synced
    assert scaffold.stub_differences(REFERENCE, synced) == []
    code, out, err = run_cli(capsys, "--root", str(kit), "new", exercise.id, "--sync")
    assert code == 0 and "already the reference's" in flat(out), out


def test_new_without_a_title_asks_for_one(kit, capsys):
    code, out, err = run_cli(capsys, "--root", str(kit), "new", "ex07_tracking")
    assert code == 2
    assert_one_line_error(err, "needs a title", "--sync")


@pytest.mark.parametrize("left", ["FACEKIT-NEW", "facekit-new", "Facekit-New", "facekit_new"])
def test_placeholders_are_found_whatever_their_case(kit, left):
    from facekit import scaffold

    exercise = course.load(kit / "exercises" / "course.toml").exercises[0]
    stub = kit / exercise.stub
    stub.write_text(stub.read_text() + f"# {left}: what first() does\n")
    found = scaffold.placeholders(kit, exercise)
    assert found == [f"stub {exercise.stub}"], (
        f"scaffold.placeholders: a placeholder written {left!r} in {exercise.stub} was not found: {found}"
    )


# -- the manifest ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line, needles",
    [
        ('notebok = "notebooks/ex_a.ipynb"', ["unknown key 'notebok'", "ex_a"]),
        ('points = "ten"', ["'points'", "ex_a", "whole number"]),
        ('functions = "first"', ["'functions'", "ex_a", "list"]),
    ],
)
def test_a_manifest_typo_is_an_error_naming_the_key_and_the_entry(tmp_path, capsys, line, needles):
    kit = make_kit(tmp_path / "kit")
    manifest = kit / "exercises" / "course.toml"
    key = line.split(" =")[0]
    text = manifest.read_text()
    if key == "functions":
        text = text.replace('functions = ["first", "second"]', line, 1)
    else:
        text = text.replace('module = "code"', f'module = "code"\n{line}', 1)
    manifest.write_text(text)
    code, out, err = run_cli(capsys, "--root", str(kit), "list")
    assert code == 2
    assert_one_line_error(err, *needles)


def test_manifest_paths_are_derived_from_the_id():
    ex01 = course.load().get("ex01_images")
    assert (ex01.readme, ex01.stub, ex01.reference, ex01.tests, ex01.notebook, ex01.points) == (
        "exercises/ex01_images/README.md",
        "exercises/ex01_images/images.py",
        "solutions/ex01_images/images.py",
        "tests/test_ex01_images.py",
        "notebooks/ex01_images.ipynb",
        10,
    )
    assert course.load().get("ex04_storage").stub == "exercises/ex04_storage/stores.py", "module overrides"


# -- download -------------------------------------------------------------------------------------


def test_download_fetches_every_course_weight_and_says_how_to_go_offline(capsys, monkeypatch, tmp_path):
    from facekit import hub

    fetched = []
    blob = tmp_path / "model.safetensors"
    blob.write_bytes(b"\0" * 1000)

    def fake_download(repo_id, filename, *, force=False, **kwargs):
        fetched.append((repo_id, filename, force))
        return blob

    monkeypatch.setattr(hub, "download", fake_download)
    monkeypatch.setattr(hub, "cache_dir", lambda: tmp_path / "hub")
    wanted = course.load().weights()
    code, out, err = run_cli(capsys, "download")
    assert code == 0
    assert fetched == [(r, f, False) for r, f in wanted]
    assert str(tmp_path / "hub") in out and "HF_HUB_OFFLINE=1" in out and "whole folder" in out
    assert_plain_80_columns(out.replace(str(tmp_path / "hub"), "CACHE"))
    run_cli(capsys, "download", "--force")
    assert fetched[len(wanted) :] == [(r, f, True) for r, f in wanted]


def test_download_offline_fails_in_one_line(capsys, monkeypatch, tmp_path):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    code, out, err = run_cli(capsys, "download")
    assert code == 1
    assert_one_line_error(err, "not in the Hugging Face cache", "facekit download")


# -- reset ----------------------------------------------------------------------------------------


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        [
            "git",
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.org",
            "-c",
            "init.defaultBranch=main",
            *args,
        ],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def test_reset_outside_git_says_so(kit, capsys):
    stub = kit / "exercises" / "ex_a" / "code.py"
    stub.write_text("my work\n")
    code, out, err = run_cli(capsys, "--root", str(kit), "reset", "ex_a", "--yes")
    assert code == 1
    assert_one_line_error(err, "not a git checkout")
    assert stub.read_text() == "my work\n"


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_reset_restores_the_shipped_stub_and_keeps_the_student_file(kit, capsys, monkeypatch):
    stub = kit / "exercises" / "ex_a" / "code.py"
    shipped = stub.read_text()
    git(kit, "init", "-q")
    git(kit, "add", ".")
    git(kit, "commit", "-q", "-m", "shipped")
    stub.write_text("my work\n")

    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    code, out, err = run_cli(capsys, "--root", str(kit), "reset", "ex_a")
    assert code == 1 and "Nothing changed" in out and stub.read_text() == "my work\n"

    monkeypatch.setattr("builtins.input", lambda prompt: "y")
    code, out, err = run_cli(capsys, "--root", str(kit), "reset", "ex_a")
    assert code == 0 and stub.read_text() == shipped
    assert (kit / "exercises" / "ex_a" / "code.py.bak").read_text() == "my work\n"
    assert "exercises/ex_a/code.py.bak" in out

    stub.write_text("second try\n")
    code, out, err = run_cli(capsys, "--root", str(kit), "reset", "ex_a", "--yes")
    assert code == 0 and stub.read_text() == shipped
    assert (kit / "exercises" / "ex_a" / "code.py.bak").read_text() == "my work\n", "earlier backup kept"
    assert (kit / "exercises" / "ex_a" / "code.py.bak.2").read_text() == "second try\n"


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_reset_prefers_the_upstream_branch_to_the_students_commits(kit, tmp_path, capsys):
    git(kit, "init", "-q")
    git(kit, "add", ".")
    git(kit, "commit", "-q", "-m", "shipped")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(kit), str(clone))
    stub = clone / "exercises" / "ex_a" / "code.py"
    shipped = stub.read_text()
    stub.write_text("committed work\n")
    git(clone, "commit", "-q", "-am", "my work")
    code, out, err = run_cli(capsys, "--root", str(clone), "reset", "ex_a", "--yes")
    assert code == 0 and stub.read_text() == shipped
    assert "origin/" in out


# -- small pieces ---------------------------------------------------------------------------------


class FakeTTY(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_colour_only_on_a_terminal_and_never_with_no_color(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    assert "\x1b[" in term.Term(out=FakeTTY()).style("done", "green")
    monkeypatch.setenv("NO_COLOR", "1")
    assert term.Term(out=FakeTTY()).style("done", "green") == "done"
    monkeypatch.delenv("NO_COLOR")
    assert term.Term(out=open(__file__)).style("done", "green") == "done", "not a terminal"


def _run(*tests) -> RunRecord:
    return RunRecord.from_json(
        {
            "collect_errors": [],
            "tests": {
                f"tests/test_store.py::{name}": {
                    "outcome": outcome,
                    "error": error,
                    "todo": todo,
                    "function": fn,
                }
                for name, outcome, error, todo, fn in tests
            },
        }
    )


STORE = course.Exercise(
    id="ex_s",
    title="Store",
    functions=("validate_entry", "JsonFileStore"),
    stub="exercises/ex_s/stores.py",
    tests="tests/test_store.py",
)


def test_tests_count_for_the_function_they_declare_and_unmarked_ones_are_other():
    stub = "exercises/ex_s/stores.py"
    run = _run(
        ("test_validate_entry_rejects_nan", "passed", None, None, "validate_entry"),
        (
            "test_add_then_get",
            "failed",
            "NotImplementedError: add",
            ["JsonFileStore.add", stub],
            "JsonFileStore",
        ),
        (
            "test_persists",
            "failed",
            "NotImplementedError: __init__",
            ["JsonFileStore.__init__", stub],
            "JsonFileStore",
        ),
        ("test_not_declared", "failed", "AssertionError: nope", None, None),
        ("test_declares_a_typo", "passed", None, None, "JsonFileStor"),
    )
    result = progress.exercise_result(run, STORE)
    rows = {f.name: f for f in result.functions}
    assert list(rows) == ["validate_entry", "JsonFileStore", progress.OTHER], "no row per method"
    assert rows["validate_entry"].state is progress.FunctionState.DONE
    assert rows["JsonFileStore"].state is progress.FunctionState.TODO and rows["JsonFileStore"].bad == 2
    assert rows[progress.OTHER].state is progress.FunctionState.FAILING
    assert rows[progress.OTHER].total == 2, "undeclared and unknown names land in the visible other row"
    assert sum(f.total for f in result.functions) == result.total == 5
    assert result.state is progress.ExerciseState.FAILING
    assert progress.display("JsonFileStore") == "JsonFileStore"
    assert progress.display("JsonFileStore.add") == "JsonFileStore.add()"


def _ex_a_run(tests: dict) -> RunRecord:
    return RunRecord.from_json(
        {"tests": {f"tests/test_ex_a.py::{n}": {"outcome": "failed", **t} for n, t in tests.items()}}
    )


def test_check_shows_the_tests_diagnosis_whole_and_every_mistake_it_may_be(kit, capsys, monkeypatch):
    # The decisive words come last, after three lines' worth of numbers: they were cut with "…".
    numbers = " ".join(f"{i / 7:.4f}" for i in range(40))
    message = f"second() gave {numbers}: the order is reversed"
    run = _ex_a_run(
        {
            "test_second_works": {
                "function": "second",
                "error": f"AssertionError: {message}"[:300],
                "message": message,
            }
        }
    )
    monkeypatch.setattr(harness_run, "run_tests", lambda *args: run)
    catalogue = mistakes.catalogue_path(kit, "ex_a")
    catalogue.parent.mkdir(parents=True, exist_ok=True)
    entry = 'id = "{id}"\nsays = "{says}"\nfind = "x"\nreplace = "y"\ntest = "test_second_works"\nwords = {words}\n'
    catalogue.write_text(
        "[[mistake]]\n"
        + entry.format(id="reversed", says="I reversed the list", words='["second()", "reversed"]')
        + 'shares = ["sorted-down"]\n\n[[mistake]]\n'
        + entry.format(
            id="sorted-down", says="I sorted from the largest", words='["second()", "order is reversed"]'
        )
    )
    code, out, err = run_cli(capsys, "--root", str(kit), "check", "ex_a")
    text = flat(out)
    assert "…" not in out and "..." not in out, out
    assert f"test_second_works: AssertionError: {message}" in text, out
    assert (
        'This looks like one of these mistakes others made: "I reversed the list"; or '
        '"I sorted from the largest"'
    ) in text, out
    assert_plain_80_columns(out)


def test_a_failing_pipeline_test_alone_does_not_blame_its_function(kit, capsys, monkeypatch):
    # compute_embedding pooled forward_features itself: only the whole-pipeline test (declared
    # build_model's, broad) fails; build_model's own tests pass. "fix first()" would send the
    # student to code that is right.
    run = RunRecord.from_json(
        {
            "tests": {
                "tests/test_ex_a.py::test_first_works": {"outcome": "passed", "function": "first"},
                "tests/test_ex_a.py::test_second_works": {"outcome": "passed", "function": "second"},
                "tests/test_ex_a.py::test_end_to_end": {
                    "outcome": "failed",
                    "function": "first",
                    "broad": True,
                    "error": "AssertionError: second(first()) differs",
                },
            }
        }
    )
    monkeypatch.setattr(harness_run, "run_tests", lambda *args: run)
    code, out, err = run_cli(capsys, "--root", str(kit), "check", "ex_a")
    text = flat(out)
    assert code == 1 and "Next: fix first()" not in text, out
    assert "only a test of the whole pipeline fails" in text and "first(), second()" in text, out
    assert "the fault can be in any function it calls" in text, out
    assert_plain_80_columns(out)
    # When the failure has the signature of a catalogued mistake that names another function,
    # that function is the one to fix.
    catalogue = mistakes.catalogue_path(kit, "ex_a")
    catalogue.parent.mkdir(parents=True, exist_ok=True)
    catalogue.write_text(
        '[[mistake]]\nid = "m"\nsays = "I skipped a step in second"\nfind = "x"\n'
        'replace = "y"\ntest = "test_end_to_end"\nwords = ["second", "differs"]\n'
    )
    code, out, err = run_cli(capsys, "--root", str(kit), "check", "ex_a")
    text = flat(out)
    assert "Next: fix second() in exercises/ex_a/code.py" in text, out
    assert "This test runs the whole pipeline: the fault looks like second()'s." in text, out
    assert_plain_80_columns(out)
