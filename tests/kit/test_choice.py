"""The run's choice of tree and weights (facekit.settings.Choice): read once where a run starts,
passed on as an argument, and written into an environment only for a child process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from facekit import course, settings, standin

ROOT = course.repo_root()

# Two harness runs in one process, stand-in weights then hub weights; what each saw while it
# ran, and what was left after both.
TWO_RUNS = """
import json, os, sys
import pytest
from huggingface_hub import constants

seen = []


class Probe:
    def pytest_collection_finish(self, session):
        seen.append({
            "hub": [constants.HF_HUB_CACHE, bool(constants.HF_HUB_OFFLINE)],
            "standin_dir": str(session.config.facekit["standin_dir"]),
        })


env_before = dict(os.environ)
hub_before = [constants.HF_HUB_CACHE, bool(constants.HF_HUB_OFFLINE)]
for weights in ("standin", "hub"):
    code = pytest.main(
        ["-q", "--collect-only", "-p", "no:cacheprovider", "--target", "solutions", "--weights", weights,
         sys.argv[1]],
        plugins=[Probe()],
    )
    assert code == 0, f"pytest --weights {weights}: exit {code}"
left = {k: v for k, v in os.environ.items() if env_before.get(k) != v}
gone = sorted(k for k in env_before if k not in os.environ)
print(json.dumps({"seen": seen, "hub_before": hub_before,
                  "hub_after": [constants.HF_HUB_CACHE, bool(constants.HF_HUB_OFFLINE)],
                  "env_left": left, "env_gone": gone}))
"""


def test_two_harness_runs_in_one_process_each_use_their_weights_and_leave_nothing_behind(tmp_path):
    import torch

    # The "real" hub cache holds a file under the model's id, so --weights hub can start offline.
    real = tmp_path / "real-hub"
    standin.write_hub_cache(real, {"weight": torch.zeros(2)})
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "KIT_"))}
    env.update(HF_HUB_CACHE=str(real), HF_HUB_OFFLINE="1")
    tests = course.load().get("ex05_retrieval").tests  # no test of it reads the weights: nothing is built
    proc = subprocess.run(
        [sys.executable, "-c", TWO_RUNS, tests],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    first, second = got["seen"]
    assert first["hub"] == [first["standin_dir"], True], (
        f"pytest --weights standin: huggingface_hub used {first['hub']}, not its stand-in cache "
        f"{first['standin_dir']} offline"
    )
    assert second["hub"] == [str(real), True], (
        f"pytest --weights hub after a stand-in run: huggingface_hub used {second['hub']}, not the "
        f"real cache {real} offline"
    )
    assert got["env_left"] == {} and got["env_gone"] == [], (
        f"two harness runs changed the process's environment: set {got['env_left']}, removed {got['env_gone']}"
    )
    assert got["hub_after"] == got["hub_before"], (
        f"huggingface_hub's settings after two runs: {got['hub_after']}, before: {got['hub_before']}"
    )


def test_a_child_environment_carries_the_whole_choice(tmp_path):
    """settings.child_env: what a child's huggingface_hub and the kit read when they start."""
    base = {"PATH": "/usr/bin", "HF_HUB_OFFLINE": "1", "PYTHONPATH": "/elsewhere"}
    cache = tmp_path / "standin"
    env = settings.child_env(
        tmp_path, settings.Choice("solutions", settings.Weights("standin", cache, True)), base
    )
    expected = {
        "PATH": "/usr/bin",
        "KIT_TARGET": "solutions",
        "KIT_WEIGHTS": "standin",
        "KIT_STANDIN_CACHE": str(cache),
        "HF_HUB_CACHE": str(cache),
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": f"{tmp_path}{os.pathsep}/elsewhere",
    }
    assert env == expected, f"child_env(stand-in): {env}, expected {expected}"
    hub = settings.Weights("hub", tmp_path / "hub", offline=False)
    env = settings.child_env(tmp_path, settings.Choice("exercises", hub), base)
    assert env["HF_HUB_CACHE"] == str(tmp_path / "hub") and "HF_HUB_OFFLINE" not in env, (
        f"child_env(hub, online): HF_HUB_CACHE={env.get('HF_HUB_CACHE')}, HF_HUB_OFFLINE={env.get('HF_HUB_OFFLINE')}"
    )
    assert base == {"PATH": "/usr/bin", "HF_HUB_OFFLINE": "1", "PYTHONPATH": "/elsewhere"}, (
        "the base was changed"
    )


def test_the_choice_is_read_from_options_first_then_the_environment(tmp_path):
    environ = {"KIT_TARGET": "solutions", "KIT_WEIGHTS": "standin", "KIT_STANDIN_CACHE": str(tmp_path)}
    assert settings.read_choice(environ=environ) == settings.Choice(
        "solutions", settings.Weights("standin", tmp_path, True)
    )
    chosen = settings.read_choice("exercises", None, tmp_path / "given", environ)
    assert chosen == settings.Choice("exercises", settings.Weights("standin", tmp_path / "given", True))
    fresh = settings.read_choice(environ={}, new_standin_cache=lambda: tmp_path / "fresh")
    assert fresh.weights.cache == tmp_path / "fresh" and fresh.target == "exercises", fresh
    assert settings.read_choice(environ={"XDG_CACHE_HOME": str(tmp_path)}).weights.cache == (
        Path(tmp_path) / "facekit" / "standin-hub"
    )
