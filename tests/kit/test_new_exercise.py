"""A new exercise needs nothing but its own files: `facekit new` in a copy of the kit, every
placeholder written (tests/kit/synthetic.py), and the kit's checks that go through the manifest
pass for it, with no other file of the kit touched.

The whole kit suite on such a copy takes ~10 minutes: this runs the modules that check each
exercise of the manifest, with ``-k`` selecting the new one's tests (and test_docs's and the
policy's, which read every exercise at once), in one pytest process rooted at the copy. Run by
hand, the whole `pytest --target solutions --kit -n auto --dist loadfile` on such a copy passes too.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import synthetic

from facekit import course, mistakes

pytestmark = pytest.mark.kit

ROOT = course.repo_root()
# The kit's modules that go through the manifest exercise by exercise, and what each checks.
PER_EXERCISE = {
    "tests/kit/test_kit.py": "files, placeholders, stub, mirror, stub from reference, markers, hints",
    "tests/kit/test_mistakes.py": "the policy, each patch applies, each mistake is caught",
    "tests/kit/test_messages.py": "every assertion names the function, input and what differs",
    "tests/kit/test_notebooks.py": "the notebook is valid, clean and runs",
    "tests/kit/test_teaching.py": "tasks in order; README steps, TODO steps and last hint name the key calls",
    "tests/kit/test_docs.py": "the README's table and links are the manifest's",
}


def _copy(tmp_path: Path) -> Path:
    kit = tmp_path / "kit"
    skip = (".git", ".venv", "__pycache__", "*.pyc", ".pytest_cache", ".facekit", ".fragments", "*.egg-info")
    shutil.copytree(ROOT, kit, ignore=shutil.ignore_patterns(*skip, "site", "benchmarks"))
    return kit


def _digests(kit: Path) -> dict[str, str]:
    return {
        p.relative_to(kit).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in kit.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_a_new_exercise_filled_in_passes_the_kits_checks(tmp_path):
    kit = _copy(tmp_path)
    before = _digests(kit)
    exercise = synthetic.new(kit)
    synthetic.fill(kit, exercise)

    own = {
        *exercise.paths().values(),
        exercise.stub.rsplit("/", 1)[0] + "/__init__.py",
        exercise.reference.rsplit("/", 1)[0] + "/__init__.py",
        mistakes.catalogue_path(kit, exercise.id).relative_to(kit).as_posix(),
        exercise.meta.key_calls,
    }
    after = _digests(kit)
    touched = sorted(name for name in after if before.get(name) != after[name])
    shared = sorted(set(touched) - own)
    assert shared == ["README.md", "exercises/course.toml"], (
        f"adding {exercise.id} touched files of the kit beyond its own, the manifest and the README's "
        f"table: {shared}"
    )
    assert not set(before) - set(after), f"files removed: {sorted(set(before) - set(after))}"

    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIT_", "PYTEST_", "FACEKIT_"))}
    env.update(HF_HUB_OFFLINE="1", FACEKIT_NO_WORKER="1", PYTHONDONTWRITEBYTECODE="1")
    command = [
        sys.executable,
        "-m",
        "pytest",
        "--target",
        "solutions",
        "--kit",
        "-p",
        "no:cacheprovider",
        "-q",
        "-rA",
        "-k",
        f"{exercise.id} or test_docs or policy or key_calls",
        exercise.tests,
        *PER_EXERCISE,
    ]
    done = subprocess.run(command, cwd=kit, env=env, capture_output=True, text=True, timeout=600)
    out = done.stdout + done.stderr
    assert done.returncode == 0, f"the kit's checks fail for {exercise.id}:\n{out[-4000:]}"
    passed = re.findall(r"^PASSED (\S+?)::(\S+)", out, re.M)
    for module in (exercise.tests, *PER_EXERCISE):
        assert any(path == module for path, _ in passed), (
            f"{module} ran no test of {exercise.id} ({PER_EXERCISE.get(module, 'its tests')}):\n{out[-3000:]}"
        )
    for wanted in (
        f"test_every_catalogued_mistake_is_caught_with_its_words[{exercise.id}]",
        f"test_readme_todo_and_last_hint_give_the_same_recipe[{exercise.id}-{exercise.functions[0]}]",
        "test_every_function_has_its_key_calls_listed",
        "test_every_exercise_meets_the_courses_policy_on_mistakes",
    ):
        assert any(name == wanted for _, name in passed), f"{wanted} did not pass:\n{out[-3000:]}"
