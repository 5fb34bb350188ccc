"""What every command gets (Context) and the pieces they share: the header, file checks, plurals."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from facekit import settings
from facekit.course import Course, Exercise
from facekit.errors import UsageError
from facekit.state_file import State, state_path
from facekit.term import Term


@dataclass
class Context:
    root: Path
    course: Course
    target: str
    weights: str
    verbose: bool
    term: Term

    @property
    def manifest(self) -> Path:
        return self.root / "exercises" / "course.toml"

    def state(self) -> State:
        return State(state_path(self.root))

    def exercise(self, exercise_id: str) -> Exercise:
        return self.course.get(exercise_id)  # ManifestError names the known ids

    def rel(self, path: str | Path) -> str:
        try:
            return Path(path).resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return str(path)


def header(ctx: Context, title: bool = True, **extra: str) -> None:
    """The course title, then ``code: ... / weights: ...`` (settings.header), then ``extra`` lines."""
    t = ctx.term
    if title:
        t.line(t.style(ctx.course.title, "bold"))
    lines = settings.header(ctx.target, settings.weights_in_use(ctx.weights)) + list(extra.items())
    for label, text in lines:
        t.wrap(text, first=f"{label + ':':<9}", indent=" " * 9)
    t.line()


def require_files(ctx: Context, exercise: Exercise) -> None:
    """The files a test run needs, or a one-line error naming the manifest entry."""
    needed = {
        "tests": exercise.tests,
        "reference" if ctx.target == "solutions" else "stub": exercise.source(ctx.target),
    }
    for what, path in needed.items():
        if not (ctx.root / path).is_file():
            raise UsageError(
                f"{ctx.rel(ctx.manifest)}: {exercise.id} names {what} {path}, which does not exist"
            )


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else many or word + 's'}"
