"""Mutation testing of the references (facekit/mutation.py): cosmic-ray's mutants, the kit's runner."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from facekit import course, mutation, settings
from facekit.cli.testing import standin_dir

pytestmark = pytest.mark.kit

ROOT = course.repo_root()
# Every exercise's full run has each survivor killed or recorded as equivalent
# (docs/instructors/checks.md): CI runs a seeded sample of each exercise's mutants, which must
# all be killed or recorded.
SAMPLE, SEED = 6, 1


def test_mutants_are_cosmic_rays_and_say_where(tmp_path):
    source = tmp_path / "m.py"
    source.write_text(
        textwrap.dedent("""\
        def f(x):
            if x < 1:
                return 0
            return x
        """)
    )
    found = mutation.mutants(source)
    assert found and all(m.operator.startswith("core/") for m in found), found
    lt = [m for m in found if m.operator == "core/ReplaceComparisonOperator_Lt_LtE"]
    assert len(lt) == 1 and lt[0].function == "f" and lt[0].line == 2, lt
    assert lt[0].code == "if x < 1:" and lt[0].into == "if x <= 1:", lt[0].where


def test_no_mutant_in_an_annotation_that_never_runs(tmp_path):
    source = tmp_path / "m.py"
    code = "def f(x: int | None) -> int | str:\n    return x | 1\n"
    source.write_text("from __future__ import annotations\n\n" + code)
    lazy = [m for m in mutation.mutants(source) if "BitOr" in m.operator]
    assert lazy and {m.line for m in lazy} == {4}, [m.where for m in lazy]
    source.write_text(code)  # evaluated annotations: mutants there change what runs
    assert {m.line for m in mutation.mutants(source) if "BitOr" in m.operator} == {1, 2}


def test_an_equivalent_matches_one_mutant_and_needs_a_reason(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("def f(x):\n    return x[0] + x[1]\n")
    found = mutation.mutants(source)
    entry = {
        "operator": "core/NumberReplacer",
        "function": "f",
        "code": "return x[0] + x[1]",
        "mutated": "return x[ -1] + x[1]",
        "why": "a pair",
    }
    assert [m.into for m in found if mutation._recorded(m, [entry])] == ["return x[ -1] + x[1]"]
    path = tmp_path / course.meta_of("ex99").mutation
    path.parent.mkdir(parents=True)
    path.write_text(
        '[[equivalent]]\noperator = "core/NumberReplacer"\nfunction = "f"\ncode = "x"\nmutated = "y"\n'
    )
    with pytest.raises(ValueError, match="lacks why"):
        mutation.load_equivalents(tmp_path, "ex99")


def test_list_shows_every_mutant_marks_the_recorded_ones_and_runs_none():
    """Where an instructor reads the places to record (``--list``): no torch, no test run."""
    recorded = [e for e in course.load().exercises if mutation.load_equivalents(ROOT, e.id)]
    exercise = min(recorded, key=lambda e: (ROOT / e.reference).stat().st_size)  # the quickest to list
    proc = subprocess.run(
        [sys.executable, "-m", "facekit.mutation", exercise.id, "--list"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    found = mutation.mutants(ROOT / exercise.reference)
    assert lines == [
        f"{exercise.id}: {'equivalent ' if mutation._recorded(m, mutation.load_equivalents(ROOT, exercise.id)) else ''}"
        f"{m.where}"
        for m in found
    ], proc.stdout
    marked = sum(line.startswith(f"{exercise.id}: equivalent ") for line in lines)
    assert marked == len(mutation.load_equivalents(ROOT, exercise.id)), proc.stdout


def test_a_seeded_sample_of_each_exercises_mutants_is_killed_or_recorded(pytestconfig, tmp_path_factory):
    """CI's budget: SAMPLE mutants of each exercise, in one process that imports torch once
    (the whole run: `python -m facekit.mutation`). It fails on a recorded equivalent that
    matches no mutant any more, too (stale), which every exercise's run checks, sample or not."""
    exercises = [e.id for e in course.load().exercises]
    weights = settings.Weights("standin", standin_dir(pytestconfig, tmp_path_factory), offline=True)
    env = settings.child_env(ROOT, settings.Choice("solutions", weights))
    env.setdefault("OMP_NUM_THREADS", "1")
    proc = subprocess.run(
        [sys.executable, "-m", "facekit.mutation", *exercises, "--sample", str(SAMPLE), "--seed", str(SEED)],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "cosmic-ray 8." in proc.stdout, proc.stdout
    missing = [e for e in exercises if not any(line.startswith(e) for line in proc.stdout.splitlines())]
    assert not missing, f"python -m facekit.mutation --sample {SAMPLE}: no line for {missing}:\n{proc.stdout}"


def test_the_docs_say_how_to_run_it_all_and_what_ci_runs():
    text = " ".join((ROOT / "docs" / "instructors" / "checks.md").read_text(encoding="utf-8").split())
    for fact in (
        "The whole run, every mutant of every exercise, is `python -m facekit.mutation`",
        f"a seeded sample of {SAMPLE} mutants of each exercise (`--sample {SAMPLE} --seed {SEED}`",
    ):
        assert fact in text, f"docs/instructors/checks.md should say {fact!r} (tests/kit/test_mutation.py)"
