"""The catalogue of typical mistakes, and the check that the harness catches each one.

``course/<id>/mistakes.toml`` (``course.Exercise.meta``) lists, per exercise, mistakes students really make. Each
one is a find/replace patch against the reference solution, a line in the student's words,
the test that must fail, and words its failure message must contain (the function's name and
what differs)::

    [[mistake]]
    id = "bilinear"
    says = "I resized with bilinear filtering; it looks the same to me"
    find = "Image.Resampling.BICUBIC"          # must occur exactly once in the reference
    replace = "Image.Resampling.BILINEAR"
    test = "test_sample_face_matches_timm"     # a test function (all its parameters) or a node id tail
    words = ["preprocess", "timm"]             # case-insensitive, in the failure's message

This module is the catalogue's data and its matcher: loading and checking the files,
applying a patch, telling whether a failure has a mistake's signature (``matches``), and
judging a run with a mistake planted (``judge``, ``confusions``). Planting each mistake and
running the tests is facekit.harness.catalogue_run's (``facekit verify --only mistakes``).
A mistake fails that check when its test passes (it survives), when no failure message
holds the promised words, or when the patch no longer applies (the reference moved on:
update the catalogue; nothing is skipped).

The run with a mistake planted covers every test that some entry's signature names, not only
the mistake's own: a failure with another entry's signature (its test and all its words)
would make `facekit check` name a mistake the student did not make, and fails the check too
(``confusions``), unless the two entries declare that they share the signature (``shares``:
then both are shown, as possibilities) or the patch makes the other mistake as well
(``includes``).

The message checked is what a student reads first (facekit.harness.failure.student_message):
an assertion's own message (pytest's "assert ..." explanation after it is left out, since it
quotes the test's source), or the exception's text.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from facekit import course
from facekit.harness.record import RunRecord, TestResult

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_REQUIRED = ("id", "says", "find", "replace", "test", "words")


class CatalogueError(ValueError):
    """A catalogue file that is malformed or names something that does not exist."""


@dataclass(frozen=True)
class Mistake:
    id: str
    says: str
    find: str
    replace: str
    test: str
    words: tuple[str, ...]
    file: str = ""  # the reference file patched; the exercise's reference unless given
    # Ids of mistakes whose signature this one truly shares (the same test fails with the same
    # words for both): a failure matching both is shown with both, as possibilities.
    shares: tuple[str, ...] = ()
    # Ids of mistakes this one's patch makes as well (removing two steps at once, say): a
    # failure with their signature names a mistake the code really has.
    includes: tuple[str, ...] = ()


# -- the catalogue -------------------------------------------------------------------------------


def catalogue_path(root: Path, exercise_id: str) -> Path:
    """Where the exercise's catalogue lives (course.Exercise.meta: the one place that says so)."""
    return Path(root) / course.meta_of(exercise_id).mistakes


def load(root: Path, exercise: course.Exercise) -> list[Mistake]:
    """The exercise's mistakes; CatalogueError for a missing or malformed file."""
    path = catalogue_path(root, exercise.id)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CatalogueError(f"no catalogue of mistakes for {exercise.id}: {path} is missing") from None
    except tomllib.TOMLDecodeError as err:
        raise CatalogueError(f"{path} is not valid TOML: {err}") from None
    mistakes, seen = [], set()
    for number, entry in enumerate(data.get("mistake", []), 1):
        missing = [k for k in _REQUIRED if k not in entry]
        if missing:
            raise CatalogueError(f"{path}: mistake #{number} lacks {', '.join(missing)}")
        if entry["id"] in seen:
            raise CatalogueError(f"{path}: mistake id {entry['id']!r} is listed twice")
        seen.add(entry["id"])
        words = entry["words"]
        if isinstance(words, str) or not words:
            raise CatalogueError(f"{path}: mistake {entry['id']!r}: words must be a non-empty list")
        file = entry.get("file", exercise.reference)
        parts = PurePosixPath(file).parts if isinstance(file, str) else ("..",)
        if not parts or parts[0] == "/" or ".." in parts or "\\" in file:
            # The file is read from the kit and written over a scratch copy of it: never outside.
            raise CatalogueError(
                f"{path}: mistake {entry['id']!r}: file must be a path inside the kit, like "
                f"{exercise.reference!r}; got {file!r}"
            )
        shares, includes = entry.get("shares", []), entry.get("includes", [])
        if isinstance(shares, str) or isinstance(includes, str):
            raise CatalogueError(f"{path}: mistake {entry['id']!r}: shares and includes must be lists of ids")
        mistakes.append(
            Mistake(
                id=entry["id"],
                says=entry["says"],
                find=entry["find"],
                replace=entry["replace"],
                test=entry["test"],
                words=tuple(words),
                file=file,
                shares=tuple(shares),
                includes=tuple(includes),
            )
        )
    if not mistakes:
        raise CatalogueError(f"{path} lists no [[mistake]]")
    ids = {m.id for m in mistakes}
    for m in mistakes:
        unknown = [other for other in (*m.shares, *m.includes) if other not in ids or other == m.id]
        if unknown:
            raise CatalogueError(
                f"{path}: mistake {m.id!r} names {unknown} in shares or includes, "
                f"which are not other mistakes of this catalogue"
            )
    return mistakes


def known(root: Path, exercise: course.Exercise) -> list[Mistake]:
    """The exercise's catalogued mistakes, to tell a student which one a failure looks like;
    [] when the catalogue is missing or malformed: the hint is optional, and the kit's own
    check (`facekit verify --only mistakes`, run in CI) is where a broken catalogue is reported."""
    try:
        return load(root, exercise)
    except (CatalogueError, OSError):
        return []


def patched(source: str, mistake: Mistake) -> str:
    """``source`` with the mistake applied; CatalogueError unless ``find`` occurs exactly once."""
    count = source.count(mistake.find)
    if count != 1:
        where = "does not occur" if count == 0 else f"occurs {count} times"
        raise CatalogueError(
            f"patch does not apply: its find text {where} in {mistake.file} "
            f"(the reference moved on: update the catalogue): {mistake.find[:80]!r}"
        )
    result = source.replace(mistake.find, mistake.replace)
    if result == source:
        raise CatalogueError("patch changes nothing: find and replace are the same")
    return result


def node_id(mistake: Mistake, tests: str) -> str:
    """The pytest node id (or its prefix, for every parameter) of the mistake's test."""
    return mistake.test if "::" in mistake.test else f"{tests}::{mistake.test}"


def matches(mistake: Mistake, tests: str, nodeid: str, message: str) -> bool:
    """Whether a failure of test ``nodeid`` (in the module ``tests``) with ``message`` has the
    mistake's signature: its test, and every one of its words (case-insensitive), as ``judge``
    asks of the catalogue run."""
    want = node_id(mistake, tests)
    if nodeid != want and not nodeid.startswith(want + "["):
        return False
    return all(w.lower() in message.lower() for w in mistake.words)


def matching(catalogue: Sequence[Mistake], tests: str, nodeid: str, message: str) -> list[Mistake]:
    """Every catalogued mistake whose signature the failure has (``matches``), catalogue order."""
    return [m for m in catalogue if matches(m, tests, nodeid, message)]


def shared(first: Mistake, others: Sequence[Mistake]) -> bool:
    """Whether ``first`` and every one of ``others`` declare (either way) that they share a
    signature: then a failure matching them all is shown with all, as possibilities."""
    return all(o.id in first.shares or first.id in o.shares for o in others)


def _said(result: TestResult) -> str:
    """A failure's whole message, as a mistake's words are matched against."""
    return result.message or result.error or ""


def confusions(mistake: Mistake, run: RunRecord, catalogue: Sequence[Mistake], tests: str) -> list[str]:
    """With ``mistake`` planted, the failures (of any test of the exercise) that another entry's
    signature matches, unless the failure matches ``mistake``'s own signature too and the two
    declare that they share it, or ``mistake``'s patch makes that other mistake as well
    (``includes``). Each would make `facekit check` (or a grader's feedback) name a
    mistake the student did not make; a wrong diagnosis is worse than none."""
    found = []
    for nodeid, result in run.tests.items():
        if not result.failed:
            continue
        message = _said(result)
        others = [
            m
            for m in matching(catalogue, tests, nodeid, message)
            if m.id != mistake.id and m.id not in mistake.includes
        ]
        if not others:
            continue
        if matches(mistake, tests, nodeid, message) and shared(mistake, others):
            continue
        found.append(
            f"{nodeid.split('::', 1)[-1]} fails with the signature of "
            f"{', '.join(o.id for o in others)}: {message[:160]!r}"
        )
    return found


def judge(mistake: Mistake, run: RunRecord, tests: str = "") -> tuple[bool, str, list[str]]:
    """(caught with the promised words?, why not, the messages) from a run with the mistake
    planted: of the mistake's test in the test module ``tests`` (every test of the run when
    ``tests`` is empty; the run covers other tests too)."""
    if not run.finished:
        return False, f"the test run did not finish: {(run.collect_errors or ('',))[-1]}", []
    if run.collect_errors:
        return False, f"the tests did not collect: {run.collect_errors[0]}", []
    want = node_id(mistake, tests)
    ran = {n: r for n, r in run.tests.items() if not tests or n == want or n.startswith(want + "[")}
    if not ran:
        return False, f"no test matched {mistake.test!r}", []
    failed = {n: r for n, r in ran.items() if r.failed}
    if not failed:
        return False, f"survives: {len(ran)} run(s) of {mistake.test} pass", []
    messages = [_said(r) for r in failed.values()]
    wanted = [w.lower() for w in mistake.words]
    for message in messages:
        if all(w in message.lower() for w in wanted):
            return True, f"caught by {mistake.test}: {message[:160]}", messages
    missing = [w for w in mistake.words if w.lower() not in messages[0].lower()]
    return (
        False,
        (f"caught by {mistake.test}, but its message lacks {missing}: {messages[0][:200]!r}"),
        messages,
    )
