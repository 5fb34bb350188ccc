"""``facekit submit``: one zip of your work to hand in.

The zip holds exactly the files the course manifest names as yours (each exercise's module,
e.g. exercises/ex02_embeddings/embeddings.py) and ``submission.json``: the course title, the
kit version, each file's sha256, the exercises facekit last saw as done, and the time.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import facekit
from facekit import course, shipped
from facekit.grading import sources


def find_kit(start: Path) -> Path | None:
    """The kit folder holding ``start``: the nearest one with exercises/course.toml."""
    for folder in [start, *start.parents]:
        if (folder / "exercises" / "course.toml").is_file():
            return folder
    return None


def shipped_version(root: Path, relpath: str) -> bytes | None:
    """The file as shipped (facekit.shipped); None when git does not know it."""
    try:
        return shipped.version(root, relpath)[1]
    except shipped.NotShipped:
        return None


def done_exercises(root: Path, kit: course.Course, weights: str) -> list[str]:
    """The exercises facekit last saw as done on ``weights``, files unchanged since (its result cache)."""
    from facekit import progress
    from facekit.state_file import ResultCache

    cache = ResultCache(root, "exercises", weights)
    done = []
    for exercise in kit.exercises:
        run = cache.get(exercise)
        if run is not None and progress.exercise_result(run, exercise, cached=True).done:
            done.append(exercise.id)
    return done


def warnings(root: Path, kit: course.Course) -> list[str]:
    """What the grader will give 0 for, one line each: an exercise module that is missing, or
    one that does not compile (file and line). ``facekit submit`` hands in the rest anyway."""
    lines = []
    missing = [e.stub for e in kit.exercises if not (root / e.stub).is_file()]
    if missing:
        lines.append(
            f"not submitted, missing: {', '.join(missing)} "
            f"(`facekit reset EXERCISE` puts a module back as shipped)"
        )
    for exercise in kit.exercises:
        path = root / exercise.stub
        if not path.is_file():
            continue
        problem = sources.compile_problem(path.read_bytes(), exercise.stub)
        if problem:
            lines.append(f"{exercise.stub}, {problem}: it does not compile, so {exercise.id} scores 0")
    return lines


def build(root: Path, out: Path, force: bool, weights: str) -> tuple[Path, int, list[str]]:
    """Write the zip; (path, size in bytes, files). ValueError (one line) when there is nothing new."""
    kit = course.load(root / "exercises" / "course.toml")
    files = [e.stub for e in kit.exercises if (root / e.stub).is_file()]
    if not files:
        raise ValueError(f"none of the exercise files of {root} exist; nothing to submit")
    contents = {path: (root / path).read_bytes() for path in files}
    if not force:
        originals = {path: shipped_version(root, path) for path in files}
        if all(originals[p] is not None and originals[p] == contents[p] for p in files):
            raise ValueError(
                "nothing to submit: every exercise file is as shipped "
                "(compared with git); `facekit submit --force` submits anyway"
            )
    meta = {
        "format": 1,
        "course": kit.title,
        "kit_version": facekit.__version__,
        "files": {p: hashlib.sha256(c).hexdigest() for p, c in contents.items()},
        "done": done_exercises(root, kit, weights),
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=out.name, suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # as any file the student saves, not mkstemp's owner-only 0600
    try:
        with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
            for path, content in contents.items():
                archive.writestr(path, content)
            archive.writestr("submission.json", json.dumps(meta, indent=1) + "\n")
        os.replace(tmp, out)
    except BaseException:
        os.remove(tmp)
        raise
    return out, out.stat().st_size, files
