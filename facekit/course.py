"""The course manifest (exercises/course.toml): the one list of exercises.

An entry needs only ``id``, ``title``, ``functions`` and ``hints``; every path is derived
from the id (and ``module``, the stub's file name, by default the id without its ``exNN_``):

    readme    exercises/<id>/README.md          stub       exercises/<id>/<module>.py
    tests     tests/test_<id>.py                reference  solutions/<id>/<module>.py
    notebook  notebooks/<id>.ipynb

Any of them may be given to override it. What the kit keeps of an exercise for itself lives in
its meta folder, ``course/<id>/`` (``Exercise.meta``): the catalogue of typical mistakes
(``mistakes.toml``), the recorded equivalent mutants (``mutation.toml``), the literal student
(``literal/``) and the calls each function's recipe must name (``key_calls.toml``). Those quote or solve the reference, so they sit outside ``exercises/`` (which
students get and pip packages) and outside every grading workspace (built from facekit/,
tests/ and exercises/ only): a submission never sees them. The ``[course.policy]`` table holds
the rules every exercise meets (``Policy``), read by ``facekit verify`` and the kit's tests.

``hints`` is a table: function -> list of hints, from a nudge to a near-answer (multi-line
strings allowed; they stay in the manifest, which students get, as rustlings' info.toml does).
``weights`` lists the hub files the exercise needs ("repo/filename"); ``points`` is its weight
in grading (default 10),
``timeout`` the seconds each of its tests may run when graded (default 20), ``function_points``
(optional) a table giving each function its points (``points`` is then their sum).
An unknown key or a value of the wrong type is a ManifestError naming the key and the entry.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from facekit.errors import ManifestError
from facekit.settings import TARGETS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = [
    "TARGETS",
    "Course",
    "Exercise",
    "Meta",
    "Policy",
    "ManifestError",
    "load",
    "repo_root",
    "MANIFEST",
    "META_DIR",
]

DEFAULT_POINTS = 10
DEFAULT_TEST_TIMEOUT = (
    20.0  # seconds one test may run when graded (the slowest takes ~1.7 s on 2 quiet cores)
)


def repo_root() -> Path:
    """The kit's root folder: where exercises/, solutions/ and tests/ live."""
    return Path(__file__).resolve().parent.parent


MANIFEST = repo_root() / "exercises" / "course.toml"
# Each exercise's meta folder is META_DIR/<id>: top level, never under exercises/ (see above).
META_DIR = "course"


@dataclass(frozen=True)
class Meta:
    """An exercise's own files that only the kit reads, relative to the root (``meta_of``)."""

    folder: str  # course/<id>
    mistakes: str  # the catalogue of typical mistakes (facekit/mistakes.py)
    mutation: str  # the recorded equivalent mutants (facekit/mutation.py)
    literal: str  # the literal student: modules solved from the teaching text word for word
    key_calls: str  # per function, the calls its recipe needs in the README, TODO steps, last hint


def meta_of(exercise_id: str) -> Meta:
    """Where an exercise's meta files are: the one place their paths are derived from the id."""
    folder = f"{META_DIR}/{exercise_id}"
    return Meta(
        folder,
        mistakes=f"{folder}/mistakes.toml",
        mutation=f"{folder}/mutation.toml",
        literal=f"{folder}/literal",
        key_calls=f"{folder}/key_calls.toml",
    )


@dataclass(frozen=True)
class Policy:
    """The course-wide rules of the manifest's ``[course.policy]`` table."""

    # Without a table, no rule: the numbers live in the manifest only.
    min_mistakes: int = 0  # catalogued mistakes each exercise has at least
    min_mistakes_total: int = 0  # and the whole course, all exercises together


POLICY_KEYS = tuple(Policy.__dataclass_fields__)


@dataclass(frozen=True)
class Exercise:
    id: str
    title: str
    functions: tuple[str, ...]
    hints: dict[str, tuple[str, ...]] = field(default_factory=dict)  # function -> hints, in order
    source_module: str = ""  # the stub's module: "images" for exercises/ex01_images/images.py
    readme: str = ""
    stub: str = ""
    reference: str = ""
    tests: str = ""
    notebook: str | None = None
    weights: tuple[str, ...] = ()
    points: int = DEFAULT_POINTS
    timeout: float = DEFAULT_TEST_TIMEOUT  # grading: seconds each of its tests may run
    # grading: points per function (then ``points`` is their sum); empty: by the share of tests passed
    function_points: dict[str, int] = field(default_factory=dict)

    def module(self, target: str) -> str:
        """The import name of this exercise in a tree: ``exercises.ex02_embeddings``."""
        if target not in TARGETS:
            raise ValueError(f"target must be one of {', '.join(TARGETS)}; got {target!r}")
        return f"{target}.{self.id}"

    def source(self, target: str) -> str:
        """The file a person edits (stub) or reads (reference), relative to the root."""
        return self.stub if target == "exercises" else self.reference

    def folder(self, target: str) -> str:
        return f"{target}/{self.id}"

    def function_for(self, raised_in: str) -> str | None:
        """The manifest function a stub's NotImplementedError raised in ``raised_in`` belongs to.

        ``raised_in`` is the raising function's qualified name ("compute_embedding",
        "JsonFileStore.__init__"); a manifest entry naming a class stands for its methods.
        """
        for function in self.functions:
            if raised_in == function or raised_in.startswith(function + "."):
                return function
        return None

    def all_hints(self) -> list[tuple[str, str]]:
        """Every (function, hint), in manifest order of the functions."""
        return [(f, h) for f in self.functions for h in self.hints.get(f, ())]

    @property
    def meta(self) -> Meta:
        return meta_of(self.id)

    def paths(self) -> dict[str, str]:
        named = {"readme": self.readme, "stub": self.stub, "reference": self.reference, "tests": self.tests}
        if self.notebook:
            named["notebook"] = self.notebook
        return named


@dataclass(frozen=True)
class Course:
    title: str
    exercises: tuple[Exercise, ...]
    policy: Policy = field(default_factory=Policy)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(e.id for e in self.exercises)

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


REQUIRED = ("id", "title", "functions", "hints")
PATH_KEYS = ("readme", "stub", "reference", "tests", "notebook")
ALLOWED = (*REQUIRED, "module", "weights", "points", "timeout", "function_points", *PATH_KEYS)


def derived_paths(exercise_id: str, module: str) -> dict[str, str]:
    return {
        "readme": f"exercises/{exercise_id}/README.md",
        "stub": f"exercises/{exercise_id}/{module}.py",
        "reference": f"solutions/{exercise_id}/{module}.py",
        "tests": f"tests/test_{exercise_id}.py",
        "notebook": f"notebooks/{exercise_id}.ipynb",
    }


def default_module(exercise_id: str) -> str:
    """``ex01_images`` -> ``images``."""
    head, _, rest = exercise_id.partition("_")
    return rest if head[:2] == "ex" and head[2:].isdigit() and rest else exercise_id


def _string_list(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value)


def _exercise(path: Path, number: int, entry: dict) -> Exercise:
    name = f"{path.name}: [[exercise]] #{number}"
    if isinstance(entry.get("id"), str):
        name += f" ({entry['id']})"
    unknown = [key for key in entry if key not in ALLOWED]
    if unknown:
        raise ManifestError(f"{name}: unknown key {unknown[0]!r} (allowed: {', '.join(ALLOWED)})")
    missing = [key for key in REQUIRED if key not in entry]
    if missing:
        raise ManifestError(f"{name} lacks {', '.join(missing)}")

    def wrong(key, expected):
        value = entry[key]
        raise ManifestError(f"{name}: {key!r} must be {expected}; got {type(value).__name__} {value!r:.60}")

    for key in ("id", "title", "module", *PATH_KEYS):
        if key in entry and not (isinstance(entry[key], str) and entry[key].strip()):
            wrong(key, "a non-empty string")
    for key in ("functions", "weights"):
        if key in entry and not _string_list(entry[key]):
            wrong(key, "a list of non-empty strings")
    if not entry["functions"]:
        wrong("functions", "a non-empty list of the names a student writes")
    if "points" in entry and (
        isinstance(entry["points"], bool) or not isinstance(entry["points"], int) or entry["points"] < 0
    ):
        wrong("points", "a whole number >= 0")
    if "timeout" in entry and (
        isinstance(entry["timeout"], bool)
        or not isinstance(entry["timeout"], (int, float))
        or not entry["timeout"] > 0
    ):
        wrong("timeout", "a number of seconds > 0")
    function_points = entry.get("function_points", {})
    if function_points:
        if not isinstance(function_points, dict) or any(
            isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in function_points.values()
        ):
            wrong("function_points", "a table: function = whole number of points >= 0")
        named = set(function_points)
        if named != set(entry["functions"]):
            raise ManifestError(
                f"{name}: function_points must name each of its functions "
                f"({', '.join(entry['functions'])}); got {', '.join(function_points)}"
            )
        if "points" in entry and entry["points"] != sum(function_points.values()):
            raise ManifestError(
                f"{name}: points ({entry['points']}) is not the sum of function_points "
                f"({sum(function_points.values())}): give one of them"
            )
    hints = entry["hints"]
    if not isinstance(hints, dict):
        wrong("hints", "a table: function = [hint, ...]")
    for function, texts in hints.items():
        if function not in entry["functions"]:
            raise ManifestError(
                f"{name}: hints.{function}: {function!r} is not one of its functions "
                f"({', '.join(entry['functions'])})"
            )
        if isinstance(texts, str):
            texts = [texts]
        if not _string_list(texts):
            raise ManifestError(f"{name}: hints.{function} must be a list of non-empty strings")
        hints[function] = texts
    module = entry.get("module") or default_module(entry["id"])
    paths = {**derived_paths(entry["id"], module), **{k: entry[k] for k in PATH_KEYS if k in entry}}
    return Exercise(
        id=entry["id"],
        title=entry["title"],
        functions=tuple(entry["functions"]),
        hints={f: tuple(hints[f]) for f in entry["functions"] if f in hints},
        source_module=module,
        weights=tuple(entry.get("weights", ())),
        points=sum(function_points.values()) if function_points else entry.get("points", DEFAULT_POINTS),
        timeout=float(entry.get("timeout", DEFAULT_TEST_TIMEOUT)),
        function_points={f: function_points[f] for f in entry["functions"]} if function_points else {},
        **paths,
    )


def load(path: Path | None = None) -> Course:
    path = Path(path or MANIFEST)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"course manifest not found: {path}") from None
    except tomllib.TOMLDecodeError as err:
        raise ManifestError(f"{path} is not valid TOML: {err}") from None
    unknown = [key for key in data if key not in ("course", "exercise")]
    if unknown:
        raise ManifestError(f"{path}: unknown table {unknown[0]!r} (allowed: course, exercise)")
    entries = data.get("exercise", [])
    if not entries:
        raise ManifestError(f"{path} lists no [[exercise]]")
    exercises = [_exercise(path, number, entry) for number, entry in enumerate(entries, 1)]
    ids = [e.id for e in exercises]
    if len(set(ids)) != len(ids):
        raise ManifestError(f"{path}: an exercise id is listed twice: {ids}")
    head = data.get("course", {})
    unknown = [key for key in head if key not in ("title", "policy")]
    if unknown:
        raise ManifestError(f"{path}: [course] has an unknown key {unknown[0]!r} (allowed: title, policy)")
    return Course(
        title=head.get("title", "Course"),
        exercises=tuple(exercises),
        policy=_policy(path, head.get("policy", {})),
    )


def _policy(path: Path, table: object) -> Policy:
    if not isinstance(table, dict):
        raise ManifestError(f"{path}: [course.policy] must be a table; got {table!r:.60}")
    for key, value in table.items():
        if key not in POLICY_KEYS:
            raise ManifestError(
                f"{path}: [course.policy] has an unknown key {key!r} (allowed: {', '.join(POLICY_KEYS)})"
            )
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ManifestError(
                f"{path}: [course.policy] {key} must be a whole number >= 0; got {value!r:.60}"
            )
    return Policy(**table)
