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

``mistake_findings(root, exercise)`` (``facekit verify --only mistakes``) runs the catalogue:
one subprocess per exercise imports torch, timm and pytest once, then forks a child per
mistake. The child copies the kit to a scratch folder, applies the patch to the copy's
reference, and runs the named test there, in-process, against ``solutions``. A mistake
fails the check when the test passes (it survives), when no failure message holds the
promised words, or when the patch no longer applies (the reference moved on: update the
catalogue; nothing is skipped).

The child runs every test that some entry's signature names, not only the mistake's own: a
failure with another entry's signature (its test and all its words) would make `facekit
check` name a mistake the student did not make, and fails the check too (``confusions``),
unless the two entries declare that they share the signature (``shares``: then both are
shown, as possibilities) or the patch makes the other mistake as well (``includes``).

The message checked is what a student reads first: an assertion's own message (pytest's
"assert ..." explanation after it is left out, since it quotes the test's source), or the
exception's text.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from facekit import course, forking, settings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_REQUIRED = ("id", "says", "find", "replace", "test", "words")
# Copied into each child's scratch kit: what the tests import. Not notebooks, not git.
_COPIED = ("conftest.py", "pyproject.toml", "facekit", "exercises", "solutions", "tests")
_PER_MISTAKE_TIMEOUT_S = 180


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


@dataclass
class Outcome:
    mistake: str
    ok: bool
    detail: str
    seconds: float = 0.0
    messages: list[str] = field(default_factory=list)
    # Failures, with this mistake planted, whose message has another mistake's signature:
    # `facekit check` would name the wrong mistake (see ``confusions``).
    confusions: list[str] = field(default_factory=list)


# -- the catalogue -------------------------------------------------------------------------------


def catalogue_path(root: Path, exercise_id: str) -> Path:
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
                file=entry.get("file", exercise.reference),
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


def first_message(text: str) -> str:
    """What a student reads first: an assertion's own message, without pytest's 'assert ...' part."""
    text = text.strip()
    if text.startswith("assert "):  # a bare assert: only pytest's explanation, no message
        return ""
    cut = text.find("\nassert ")
    return text[:cut].strip() if cut >= 0 else text


def student_message(excinfo, tree: Path) -> str:
    """A test failure's message as the catalogue's ``words`` are checked against (and
    `facekit check` matches a student's failure with): an assertion's own message, a
    ``pytest.fail``'s text, or an error raised in the code under test (``tree``) with the
    functions it went through, as a student reads them in the traceback."""
    import pytest

    if excinfo.errisinstance(AssertionError):
        return first_message(str(excinfo.value))
    if excinfo.errisinstance(pytest.fail.Exception):
        return str(excinfo.value)
    frames = [
        getattr(entry.frame.code.raw, "co_qualname", entry.frame.code.name)
        for entry in excinfo.traceback
        if Path(str(entry.path)).resolve().is_relative_to(tree)
    ]
    where = f" raised in {' -> '.join(frames)}" if frames else ""
    return f"{excinfo.typename}{where}: {excinfo.value}"


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


def confusions(mistake: Mistake, results: dict, catalogue: Sequence[Mistake], tests: str) -> list[str]:
    """With ``mistake`` planted, the failures (of any test of the exercise) that another entry's
    signature matches, unless the failure matches ``mistake``'s own signature too and the two
    declare that they share it, or ``mistake``'s patch makes that other mistake as well
    (``includes``). Each would make `facekit check` (or a grader's feedback) name a
    mistake the student did not make; a wrong diagnosis is worse than none."""
    found = []
    for nodeid, result in results.get("tests", {}).items():
        if result["outcome"] != "failed":
            continue
        others = [
            m
            for m in matching(catalogue, tests, nodeid, result["message"])
            if m.id != mistake.id and m.id not in mistake.includes
        ]
        if not others:
            continue
        if matches(mistake, tests, nodeid, result["message"]) and shared(mistake, others):
            continue
        found.append(
            f"{nodeid.split('::', 1)[-1]} fails with the signature of "
            f"{', '.join(o.id for o in others)}: {result['message'][:160]!r}"
        )
    return found


def judge(mistake: Mistake, results: dict) -> tuple[bool, str, list[str]]:
    """(caught with the promised words?, why not, the messages) from the child's per-test
    results (of the mistake's test; the child runs every test of the exercise)."""
    if results.get("collect_errors"):
        return False, f"the tests did not collect: {results['collect_errors'][0]}", []
    want = node_id(mistake, results.get("module", ""))
    tests = {
        n: r
        for n, r in results.get("tests", {}).items()
        if not results.get("module") or n == want or n.startswith(want + "[")
    }
    if not tests:
        return False, f"no test matched {mistake.test!r}", []
    failed = {n: r for n, r in tests.items() if r["outcome"] == "failed"}
    if not failed:
        return False, f"survives: {len(tests)} run(s) of {mistake.test} pass", []
    messages = [r["message"] for r in failed.values()]
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


# -- the child: one mistake, in a fork of the warmed-up parent -------------------------------------


class _Collector:
    """A pytest plugin object: each test's outcome and the first message of its failure."""

    def __init__(self, tree: Path):
        self.tree = tree.resolve()
        self.results: dict = {"tests": {}, "collect_errors": []}

    def pytest_runtest_makereport(self, item, call):
        import pytest

        from facekit import pytest_plugin

        function, broad = pytest_plugin.declared(item)
        entry = self.results["tests"].setdefault(
            item.nodeid, {"outcome": "passed", "message": "", "function": function, "broad": broad}
        )
        if (
            call.excinfo is not None
            and entry["outcome"] == "passed"
            and not call.excinfo.errisinstance(pytest.skip.Exception)
        ):
            entry["outcome"] = "failed"
            entry["message"] = student_message(call.excinfo, self.tree)[:20000]

    def pytest_collectreport(self, report):
        if report.failed:
            self.results["collect_errors"].append(
                f"{report.nodeid}: {str(report.longrepr).strip().splitlines()[-1]}"
            )


def scratch_copy(root: Path, into: Path, skip: Sequence[str] = ("mistakes",)) -> None:
    """The kit's parts a planted change runs against, copied from ``root`` into ``into``."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", *skip)
    for name in _COPIED:
        source = root / name
        if source.is_dir():
            shutil.copytree(source, into / name, ignore=ignore)
        elif source.is_file():
            shutil.copy2(source, into / name)


def _child(
    root: Path,
    exercise: course.Exercise,
    mistake: Mistake,
    weights: str,
    out: Path,
    catalogue: Sequence[Mistake] = (),
) -> None:
    scratch = Path(tempfile.mkdtemp(prefix="facekit-mistake-"))
    try:
        scratch_copy(root, scratch)
        reference = scratch / mistake.file
        reference.write_text(patched(reference.read_text(encoding="utf-8"), mistake), encoding="utf-8")
        devnull = open(os.devnull, "w")  # noqa: SIM115 - the child ends with os._exit
        os.dup2(devnull.fileno(), 1)
        os.dup2(devnull.fileno(), 2)
        sys.stdout = sys.stderr = devnull
        os.chdir(scratch)
        env = settings.child_env(scratch, "solutions", weights)
        os.environ.clear()
        os.environ.update(env)
        forking.drop_modules()
        sys.path.insert(0, str(scratch))
        import pytest

        collector = _Collector(scratch / "solutions")
        collector.results["module"] = exercise.tests
        # Not only the mistake's test: every test a catalogued signature names (only those can
        # show a "looks like" line), so the confusion check sees each failure that could
        # name a mistake for a student who made this one.
        ids = {node_id(m, exercise.tests) for m in (catalogue or [mistake])}
        # A parameter's id when its whole test is there too would run it twice.
        tests = sorted(n for n in ids if not ("[" in n and n.split("[")[0] in ids))
        pytest.main(
            [
                "-q",
                "-p",
                "no:cacheprovider",
                "-p",
                "no:randomly",
                "--target=solutions",
                f"--weights={weights}",
                *tests,
            ],
            plugins=[collector],
        )
        out.write_text(json.dumps(collector.results))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _run_one(
    root: Path, exercise: course.Exercise, mistake: Mistake, weights: str, catalogue: Sequence[Mistake] = ()
) -> Outcome:
    started = time.perf_counter()
    try:
        patched((root / mistake.file).read_text(encoding="utf-8"), mistake)
    except (CatalogueError, FileNotFoundError) as err:
        return Outcome(mistake.id, False, str(err))
    with tempfile.TemporaryDirectory(prefix="facekit-mistakes-") as tmp:
        out = Path(tmp) / "result.json"

        def child() -> int:
            _child(root, exercise, mistake, weights, out, catalogue)
            return 0

        _, timed_out = forking.run_forked(child, _PER_MISTAKE_TIMEOUT_S)
        if timed_out:
            return Outcome(
                mistake.id,
                False,
                f"the tests ran over {_PER_MISTAKE_TIMEOUT_S} s",
                time.perf_counter() - started,
            )
        if not out.exists():
            return Outcome(
                mistake.id,
                False,
                "the test run ended before writing its results",
                time.perf_counter() - started,
            )
        results = json.loads(out.read_text())
    ok, detail, messages = judge(mistake, results)
    return Outcome(
        mistake.id,
        ok,
        detail,
        time.perf_counter() - started,
        messages,
        confusions(mistake, results, catalogue, exercise.tests),
    )


def run_catalogue(
    root: Path, exercise_id: str, weights: str = "standin", only: list[str] | None = None
) -> dict:
    """Every mistake of the exercise, in this (not yet warmed-up) process: the main of the subprocess."""
    root = Path(root).resolve()
    exercise = course.load(root / "exercises" / "course.toml").get(exercise_id)
    started = time.perf_counter()
    try:
        mistakes = load(root, exercise)
    except CatalogueError as err:
        return {"error": str(err), "outcomes": [], "seconds": 0.0}
    catalogue = mistakes
    if only:
        mistakes = [m for m in mistakes if m.id in only]
    if weights == "standin":
        # One checked stand-in cache for every child (the one `facekit` keeps), built here
        # in a subprocess: this process must run no torch code before it forks.
        os.environ.setdefault(settings.STANDIN_CACHE_ENV, str(settings.standin_cache_dir()))
        _prepare_standin(root, settings.child_env(root, "solutions", weights))
    # The slow imports, once: every child starts with them done.
    forking.import_warm()

    outcomes = [_run_one(root, exercise, m, weights, catalogue) for m in mistakes]
    return {
        "error": None,
        "seconds": time.perf_counter() - started,
        "outcomes": [o.__dict__ for o in outcomes],
    }


# -- what verify calls ---------------------------------------------------------------------------


def _prepare_standin(root: Path, env: dict) -> None:
    """Build (or check) the stand-in cache in a subprocess, so the children share it."""
    subprocess.run(
        [sys.executable, "-c", "from facekit import hub_switch; hub_switch.activate_weights('standin')"],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )


def run(
    root: Path,
    exercise_id: str,
    weights: str = "standin",
    only: list[str] | None = None,
    timeout: float = 1800,
) -> dict:
    """``run_catalogue`` in a subprocess rooted at ``root`` (so a copy of the kit is checked as itself)."""
    root = Path(root)
    env = settings.child_env(root, "solutions", weights)
    env.setdefault("OMP_NUM_THREADS", "1")
    with tempfile.TemporaryDirectory(prefix="facekit-mistakes-") as tmp:
        out = Path(tmp) / "outcomes.json"
        command = [
            sys.executable,
            "-m",
            "facekit.mistakes",
            exercise_id,
            "--weights",
            weights,
            "--json",
            str(out),
            *(f"--only={m}" for m in only or []),
        ]
        proc = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=timeout)
        if not out.exists():
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
            return {
                "error": " / ".join(tail) or "the catalogue run did not finish",
                "outcomes": [],
                "seconds": 0.0,
            }
        return json.loads(out.read_text())


def mistake_findings(root: Path, exercise: course.Exercise | str, weights: str = "standin"):
    """One verify.Finding for the exercise: ok when every catalogued mistake is caught, with its words."""
    from facekit.verify import Finding

    exercise_id = exercise if isinstance(exercise, str) else exercise.id
    result = run(Path(root), exercise_id, weights)
    if result["error"]:
        return Finding(exercise_id, "mistakes", False, result["error"][:300])
    outcomes = result["outcomes"]
    bad = [o for o in outcomes if not o["ok"]]
    if bad:
        first = bad[0]
        return Finding(
            exercise_id,
            "mistakes",
            False,
            f"{len(bad)}/{len(outcomes)} mistakes not caught as promised, e.g. "
            f"{first['mistake']}: {first['detail']}"[:400],
        )
    confused = [o for o in outcomes if o.get("confusions")]
    if confused:
        first = confused[0]
        return Finding(
            exercise_id,
            "mistakes",
            False,
            f"{len(confused)}/{len(outcomes)} mistakes would be named wrongly by `facekit "
            f"check`, e.g. with {first['mistake']} planted, {first['confusions'][0]}"[:600],
        )
    return Finding(
        exercise_id,
        "mistakes",
        True,
        f"all {len(outcomes)} mistakes caught with their words, none taken for another "
        f"({result['seconds']:.0f} s)",
    )


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m facekit.mistakes", description="Run one exercise's catalogue of mistakes."
    )
    parser.add_argument("exercise")
    parser.add_argument("--weights", default="standin", choices=settings.WEIGHTS)
    parser.add_argument("--json", type=Path, help="write the outcomes here")
    parser.add_argument("--only", action="append", help="only this mistake id (repeatable)")
    args = parser.parse_args(argv)
    result = run_catalogue(course.repo_root(), args.exercise, args.weights, args.only)
    if args.json:
        args.json.write_text(json.dumps(result))
    if result["error"]:
        print(result["error"], file=sys.stderr)
        return 1
    for o in result["outcomes"]:
        print(f"{'ok  ' if o['ok'] else 'FAIL'} {o['mistake']} ({o['seconds']:.1f} s): {o['detail']}")
        for confusion in o.get("confusions", []):
            print(f"MISLABEL {o['mistake']}: {confusion}")
    mislabelled = sum(bool(o.get("confusions")) for o in result["outcomes"])
    print(
        f"{sum(o['ok'] for o in result['outcomes'])}/{len(result['outcomes'])} caught, "
        f"{mislabelled} would be named wrongly, in {result['seconds']:.0f} s"
    )
    return 0 if all(o["ok"] and not o.get("confusions") for o in result["outcomes"]) else 1


if __name__ == "__main__":
    sys.exit(main())
