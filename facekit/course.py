"""The course manifest (exercises/course.toml): the one list of exercises."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

TARGETS = ("exercises", "solutions")


def repo_root() -> Path:
    """The kit's root folder: where exercises/, solutions/ and tests/ live."""
    return Path(__file__).resolve().parent.parent


MANIFEST = repo_root() / "exercises" / "course.toml"


class ManifestError(ValueError):
    """The manifest is missing, malformed, or points at something that is not there."""


@dataclass(frozen=True)
class Exercise:
    id: str
    title: str
    readme: str
    stub: str
    reference: str
    tests: str
    notebook: str | None
    functions: tuple[str, ...]
    hints: tuple[str, ...]
    weights: tuple[str, ...] = field(default=())
    points: int = 10  # what the exercise is worth when graded (facekit grade)

    def module(self, target: str) -> str:
        """The import name of this exercise in a tree: ``exercises.ex02_embeddings``."""
        if target not in TARGETS:
            raise ValueError(f"target must be one of {', '.join(TARGETS)}; got {target!r}")
        return f"{target}.{self.id}"

    def source(self, target: str) -> str:
        """The file a person edits (stub) or reads (reference), relative to the root."""
        return self.stub if target == "exercises" else self.reference

    def function_for(self, raised_in: str) -> str | None:
        """The manifest function a stub's NotImplementedError raised in ``raised_in`` belongs to.

        ``raised_in`` is the raising function's qualified name ("compute_embedding",
        "JsonFileStore.__init__"); a manifest entry naming a class stands for its methods.
        """
        for function in self.functions:
            if raised_in == function or raised_in.startswith(function + "."):
                return function
        return None

    def paths(self) -> dict[str, str]:
        named = {"readme": self.readme, "stub": self.stub, "reference": self.reference,
                 "tests": self.tests}
        if self.notebook:
            named["notebook"] = self.notebook
        return named


@dataclass(frozen=True)
class Course:
    title: str
    exercises: tuple[Exercise, ...]

    def get(self, exercise_id: str) -> Exercise:
        for exercise in self.exercises:
            if exercise.id == exercise_id:
                return exercise
        known = ", ".join(e.id for e in self.exercises)
        raise ManifestError(f"no exercise {exercise_id!r} in {MANIFEST.name}; known: {known}")

    def weights(self) -> list[tuple[str, str]]:
        """Every (repo_id, filename) the course downloads, once each, in course order."""
        seen: dict[tuple[str, str], None] = {}
        for exercise in self.exercises:
            for spec in exercise.weights:
                repo_id, _, filename = spec.rpartition("/")
                seen[(repo_id, filename)] = None
        return list(seen)


_REQUIRED = ("id", "title", "readme", "stub", "reference", "tests", "functions", "hints")


def load(path: Path | None = None) -> Course:
    path = Path(path or MANIFEST)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"course manifest not found: {path}") from None
    except tomllib.TOMLDecodeError as err:
        raise ManifestError(f"{path} is not valid TOML: {err}") from None
    entries = data.get("exercise", [])
    if not entries:
        raise ManifestError(f"{path} lists no [[exercise]]")
    exercises = []
    for number, entry in enumerate(entries, 1):
        missing = [key for key in _REQUIRED if key not in entry]
        if missing:
            raise ManifestError(f"{path}: exercise #{number} lacks {', '.join(missing)}")
        exercises.append(Exercise(
            id=entry["id"], title=entry["title"], readme=entry["readme"], stub=entry["stub"],
            reference=entry["reference"], tests=entry["tests"], notebook=entry.get("notebook"),
            functions=tuple(entry["functions"]), hints=tuple(entry["hints"]),
            weights=tuple(entry.get("weights", ())), points=entry.get("points", 10),
        ))
    ids = [e.id for e in exercises]
    if len(set(ids)) != len(ids):
        raise ManifestError(f"{path}: an exercise id is listed twice: {ids}")
    return Course(title=data.get("course", {}).get("title", "Course"), exercises=tuple(exercises))
