"""What a cold test run imports: Exercise 03's, 04's and 05's tests alone need torch, not timm.

The harness builds the stand-in weights (which imports timm and makes a model) only for a run
with a test that reads them (facekit.pytest_plugin.needs_weights). Exercise 03's tests read
model embeddings from a file of the kit's data instead (facekit.data.model_embeddings).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from facekit import course, settings

ROOT = course.repo_root()
PROBE = (
    "import sys, pytest; code = pytest.main(['-q', {mode}'-p', 'no:cacheprovider', "
    "'--target', 'solutions', {test!r}]); print('timm imported:', 'timm' in sys.modules, 'exit', code)"
)


# Those that need no weights run all their tests (a fixture could import timm at run time);
# Exercise 02's, which read them, are only collected: the check that the probe sees it.
@pytest.mark.parametrize(
    "exercise, needs", [("ex05_retrieval", False), ("ex03_similarity", False), ("ex02_embeddings", True)]
)
def test_a_run_builds_the_standin_weights_and_imports_timm_only_when_a_test_reads_them(
    tmp_path, exercise, needs
):
    tests = course.load().get(exercise).tests
    cache = tmp_path / "standin"
    env = {**os.environ, settings.STANDIN_CACHE_ENV: str(cache), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(mode="'--collect-only', " if needs else "", test=tests)],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr
    run = f"pytest {'--collect-only ' if needs else ''}{tests}"
    assert last == f"timm imported: {needs} exit 0", f"{run}: {last}"
    built = sorted(p.name for p in cache.rglob("*.safetensors"))
    assert bool(built) is needs, f"{run}: stand-in weights built: {built or 'none'}"


def test_the_model_embeddings_file_is_what_the_standin_model_computes():
    from facekit import data

    stored, computed = data.model_embeddings(), data.compute_model_embeddings()
    assert stored.shape == computed.shape == (5, 320) and stored.dtype == torch.float32, (
        f"facekit.data.model_embeddings(): {tuple(stored.shape)} {stored.dtype}, computed "
        f"{tuple(computed.shape)} {computed.dtype}; expected (5, 320) float32"
    )
    difference = (stored - computed).abs().max().item()
    assert difference <= 1e-4 * computed.abs().max().item(), (
        f"{data.MODEL_EMBEDDINGS.name} differs from the stand-in model's embeddings by up to "
        f"{difference:.3g} (stand-in weights or preprocessing changed?): rewrite it with "
        f'python -c "from facekit import data; data.write_model_embeddings()"'
    )
