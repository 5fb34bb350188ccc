"""Helpers for tests of the ``facekit`` command: run it in-process, check its output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from facekit import course
from facekit.harness.record import RECORD_ENV, RunRecord


@pytest.fixture(autouse=True)
def state_file(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    pytestconfig: pytest.Config,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """Progress, hints and results go to files of this test, never to the checkout's .facekit/;
    stand-in weights to this test run's cache, never the user's ~/.cache.

    Import it into a test module (``from facekit.cli.testing import state_file``) to use it."""
    from facekit import settings
    from facekit import state_file as kit_state

    path = tmp_path / "state" / "state.json"
    monkeypatch.setenv(kit_state.STATE_ENV, str(path))
    monkeypatch.delenv(settings.TARGET_ENV, raising=False)
    monkeypatch.delenv(settings.WEIGHTS_ENV, raising=False)
    monkeypatch.setenv(settings.STANDIN_CACHE_ENV, str(standin_dir(pytestconfig, tmp_path_factory)))
    return path


_standin_dirs: list[Path] = []


def standin_dir(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run's stand-in cache when it has one, else one shared by the tests of this process:
    never the user's ~/.cache."""
    # facekit.pytest_plugin's pytest_configure sets config.facekit, an attribute pytest does not know.
    given = pytestconfig.facekit["standin_dir"]  # type: ignore[attr-defined]
    if given:
        return Path(given)
    if not _standin_dirs:
        _standin_dirs.append(tmp_path_factory.mktemp("standin-hub"))
    return _standin_dirs[0]


@pytest.fixture(autouse=True)
def hermetic(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    pytestconfig: pytest.Config,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Run in a temporary folder, with no KIT_TARGET/KIT_WEIGHTS of the caller's, and the stand-in
    cache of this test run: what a command reads when it starts (settings.read_choice). The
    commands leave the environment and huggingface_hub's settings as they found them, so there
    is nothing to undo here.

    Import it into a test module (``from facekit.cli.testing import hermetic``) to use it."""
    from facekit import settings

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(settings.TARGET_ENV, raising=False)
    monkeypatch.delenv(settings.WEIGHTS_ENV, raising=False)
    monkeypatch.setenv(settings.STANDIN_CACHE_ENV, str(standin_dir(pytestconfig, tmp_path_factory)))


def run_cli(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    """``facekit ARGV...`` in this process: (exit code, stdout, stderr)."""
    from facekit.cli import main

    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def flat(text: str) -> str:
    """Text with its line wrapping undone."""
    return " ".join(text.split())


def assert_one_line_error(err: str, *needles: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, f"expected one line, got:\n{err}"
    for needle in needles:
        assert needle in lines[0], f"{needle!r} missing from {lines[0]!r}"


def assert_plain_80_columns(out: str) -> None:
    """Piped output: no colour codes, nothing wider than an 80-column terminal."""
    assert "\x1b[" not in out, "escape codes in piped output"
    # A single word longer than a line (a deep temporary path) cannot be wrapped; the wrapper
    # gives it a line of its own.
    too_long = [line for line in out.splitlines() if len(line) > 80 and " " in line.strip()]
    assert not too_long, f"lines over 80 columns: {too_long}"


def recorded_run(folder: Path, test_file: str = "test_it.py") -> RunRecord:
    """Run one throwaway test file in ``folder`` under the kit's recorder, in a subprocess, and
    read back its record (the kit on PYTHONPATH ahead of ``folder``)."""
    record = folder / "record.json"
    kit = course.repo_root()
    env = {**os.environ, "PYTHONPATH": f"{kit}{os.pathsep}{folder}", RECORD_ENV: str(record)}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "facekit.harness.plugin", "-p", "no:cacheprovider"]
    subprocess.run([*command, test_file], cwd=folder, env=env, capture_output=True, timeout=120)
    return RunRecord.read(record)
