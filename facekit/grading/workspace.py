"""Workspaces: the instructor's pristine kit, copied once per submission, with only the student's files.

A template holds what a test run needs and nothing more: ``facekit/``, ``tests/`` (not the
kit's own checks in tests/kit), ``exercises/`` as shipped, ``conftest.py`` and
``pyproject.toml`` (pytest's settings), and the instructor's extra tests under
``tests/instructor/``. Never ``solutions/``. Each submission gets a copy of it, its own scratch
HOME and TMPDIR, and its own copy of the stand-in weights, so nothing it does reaches the
next one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from facekit import course, settings
from facekit.errors import UsageError
from facekit.grading import sources

KIT_PARTS = ("facekit", "tests", "exercises", "conftest.py", "pyproject.toml")
EXTRA_DIR = "tests/instructor"
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "*.egg-info", "*.bak*")


class KitError(UsageError, ValueError):
    """The instructor's kit (or extra tests) cannot be used for grading; the message says why."""


def build_template(kit_root: Path, dest: Path, extra_tests: Path | None = None) -> Path:
    kit_root, dest = Path(kit_root), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for part in KIT_PARTS:
        source = kit_root / part
        if source.is_dir():
            shutil.copytree(source, dest / part, ignore=_IGNORE)
        elif source.is_file():
            shutil.copy2(source, dest / part)
        elif part != "pyproject.toml":
            raise KitError(f"the kit at {kit_root} has no {part}: grade from a complete kit")
    shutil.rmtree(dest / "tests" / "kit", ignore_errors=True)  # checks of the kit as shipped
    if extra_tests is not None:
        extra_tests = Path(extra_tests)
        if not extra_tests.is_dir():
            raise KitError(f"--extra-tests must be a folder of test files; {extra_tests} is not a folder")
        check_compiles(extra_tests)
        shutil.copytree(extra_tests, dest / EXTRA_DIR, ignore=_IGNORE)
    return dest


def check_compiles(folder: Path) -> None:
    """KitError naming the first Python file under ``folder`` (as the instructor named it) that
    does not compile: a Gradescope bundle would otherwise fail for every student."""
    for path in sorted(Path(folder).rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        problem = sources.compile_problem(path.read_bytes(), str(path))
        if problem:
            raise KitError(f"extra test file {path} does not compile: {problem}")


def extra_test_files(template: Path) -> list[str]:
    folder = Path(template) / EXTRA_DIR
    if not folder.is_dir():
        return []
    return sorted(p.relative_to(template).as_posix() for p in folder.rglob("test_*.py"))


def exercise_of_file(test_file: str, kit: course.Course) -> course.Exercise | None:
    """The exercise a test file counts for: its manifest tests file, or an extra test file
    whose name contains the exercise id (``tests/instructor/test_ex03_similarity_hidden.py``)."""
    for exercise in kit.exercises:
        if test_file == exercise.tests:
            return exercise
    if test_file.startswith(EXTRA_DIR + "/"):
        named = [e for e in kit.exercises if e.id in Path(test_file).name]
        if named:
            return max(named, key=lambda e: len(e.id))
    return None


def check_extra_tests(template: Path, kit: course.Course) -> list[str]:
    files = extra_test_files(template)
    orphans = [f for f in files if exercise_of_file(f, kit) is None]
    if orphans:
        ids = ", ".join(e.id for e in kit.exercises)
        raise KitError(
            f"extra test file {orphans[0]} names no exercise: put an exercise id "
            f"({ids}) in its file name, e.g. test_{kit.exercises[0].id}_hidden.py"
        )
    return files


def kit_hash(template: Path) -> str:
    """A hash of every file of the template: a cached result holds while it matches."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(template).rglob("*") if p.is_file()):
        digest.update(path.relative_to(template).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def make(template: Path, job_dir: Path, files: dict[str, bytes], standin_cache: Path | None) -> Path:
    """A submission's workspace under ``job_dir``: ``kit/`` (cwd), ``home/``, ``tmp/``, ``standin/``."""
    job_dir = Path(job_dir)
    kit = job_dir / "kit"
    shutil.copytree(template, kit)
    for relpath, content in files.items():  # only manifest stub paths ever reach here
        target = kit / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    for name in ("home", "tmp"):
        (job_dir / name).mkdir()
    if standin_cache is not None:
        shutil.copytree(standin_cache, job_dir / "standin", symlinks=True)
    return kit


def env(job_dir: Path, weights: str, hub_cache: str | None = None, standin_cache: Path | None = None) -> dict:
    """The environment a submission's tests run in: scratch HOME/TMPDIR, offline, one thread;
    stand-in weights in ``standin_cache`` (default: the job's own copy)."""
    job_dir = Path(job_dir)
    home, tmp = str(job_dir / "home"), str(job_dir / "tmp")
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTHON", "KIT_", "FACEKIT_", "HF_", "PYTEST_", "XDG_"))
    }
    base.update(
        HOME=home,
        TMPDIR=tmp,
        TMP=tmp,
        TEMP=tmp,
        XDG_CACHE_HOME=str(job_dir / "home" / ".cache"),
        HF_HUB_OFFLINE="1",
        HF_HUB_DISABLE_TELEMETRY="1",
        OMP_NUM_THREADS="1",
        PYTHONDONTWRITEBYTECODE="1",
        FACEKIT_STATE=str(job_dir / "home" / "state.json"),
        # Only the plugins the kit names (conftest.py, -p): none of whatever else is
        # installed, and no scan of every installed package's entry points.
        PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
    )
    if weights == "standin":
        chosen = settings.Weights("standin", standin_cache or job_dir / "standin", offline=True)
    elif hub_cache:
        chosen = settings.Weights("hub", Path(hub_cache), offline=True)
    else:
        raise ValueError(f"workspace.env: hub weights need the hub cache's folder; got {hub_cache!r}")
    return settings.child_env(job_dir / "kit", settings.Choice("exercises", chosen), base=base)
