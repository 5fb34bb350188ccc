"""Helpers for tests of the ``facekit`` command: run it in-process, check its output."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def state_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Progress, hints and results go to files of this test, never to the checkout's .facekit/.

    Import it into a test module (``from facekit.cli.testing import state_file``) to use it."""
    from facekit import state_file as kit_state

    path = tmp_path / "state" / "state.json"
    monkeypatch.setenv(kit_state.STATE_ENV, str(path))
    monkeypatch.delenv("KIT_TARGET", raising=False)
    monkeypatch.delenv("KIT_WEIGHTS", raising=False)
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
    """Run in a temporary folder; undo what the app commands do to the hub settings and the env.

    Import it into a test module (``from facekit.cli.testing import hermetic``) to use it."""
    import os

    from huggingface_hub import constants

    from facekit import hub_switch, settings

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(settings.TARGET_ENV, raising=False)
    monkeypatch.delenv(settings.WEIGHTS_ENV, raising=False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", constants.HF_HUB_CACHE)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", constants.HF_HUB_OFFLINE)
    monkeypatch.setattr(hub_switch, "_real_hub", hub_switch._real_hub)
    for key in ("HF_HUB_CACHE", "HF_HUB_OFFLINE"):
        if key in os.environ:
            monkeypatch.setenv(key, os.environ[key])
        else:
            monkeypatch.delenv(key, raising=False)
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
