"""What a cold test run imports: Exercise 04's and 05's tests alone need torch, not timm.

The harness builds the stand-in weights (which imports timm and makes a model) only for a run
with a test that reads them (facekit.pytest_plugin.needs_weights).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from facekit import course, settings

ROOT = course.repo_root()
PROBE = (
    "import sys, pytest; code = pytest.main(['-q', '--collect-only', '-p', 'no:cacheprovider', "
    "'--target', 'solutions', {test!r}]); print('timm imported:', 'timm' in sys.modules, 'exit', code)"
)


@pytest.mark.parametrize("exercise, needs", [("ex05_retrieval", False), ("ex03_similarity", True)])
def test_a_run_builds_the_standin_weights_and_imports_timm_only_when_a_test_reads_them(
    tmp_path, exercise, needs
):
    tests = course.load().get(exercise).tests
    cache = tmp_path / "standin"
    env = {**os.environ, settings.STANDIN_CACHE_ENV: str(cache), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(test=tests)],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr
    assert last == f"timm imported: {needs} exit 0", f"pytest --collect-only {tests}: {last}"
    built = sorted(p.name for p in cache.rglob("*.safetensors"))
    assert bool(built) is needs, f"pytest --collect-only {tests}: stand-in weights built: {built or 'none'}"
