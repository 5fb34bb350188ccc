"""The ``facekit`` command (also ``python -m facekit``): the student's loop and the instructor's check.

    facekit [list]                  every exercise, its state, and your progress
    facekit check [EXERCISE]        run one exercise's tests: what is done, what to do next
    facekit hint [EXERCISE]         the next hint for an exercise (one more each time)
    facekit watch                   check again on every save; move on when an exercise passes
    facekit verify [EXERCISE ...]   the instructor's check of the kit as shipped (CI)
    facekit download [--force]      fetch the real pretrained weights into the Hugging Face cache
    facekit reset EXERCISE [--yes]  put a stub back as shipped (your file is kept as a .bak)

Tests run exactly as ``pytest`` runs them (facekit.verify.run_tests, in a subprocess), with the
same ``--target``/``KIT_TARGET`` and ``--weights``/``KIT_WEIGHTS`` (facekit.settings).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from facekit import course, progress, settings, warm
from facekit.term import Term


class UsageError(Exception):
    """Bad usage: an unknown exercise, a broken manifest, an option out of range (exit 2)."""


class CommandError(Exception):
    """The command could not do its job (exit 1)."""


@dataclass
class Context:
    root: Path
    course: course.Course
    target: str
    weights: str
    verbose: bool
    term: Term

    @property
    def manifest(self) -> Path:
        return self.root / "exercises" / "course.toml"

    def state(self) -> progress.State:
        return progress.State(progress.state_path(self.root))

    def exercise(self, exercise_id: str) -> course.Exercise:
        return self.course.get(exercise_id)  # ManifestError names the known ids

    def rel(self, path: Path) -> str:
        try:
            return Path(path).resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return str(path)


# -- shared pieces ------------------------------------------------------------------------------


def _require_files(ctx: Context, exercise: course.Exercise) -> None:
    """The files a test run needs, or a one-line error naming the manifest entry."""
    needed = {"tests": exercise.tests,
              "reference" if ctx.target == "solutions" else "stub": exercise.source(ctx.target)}
    for what, path in needed.items():
        if not (ctx.root / path).is_file():
            raise UsageError(f"{ctx.rel(ctx.manifest)}: {exercise.id} names {what} {path}, "
                             f"which does not exist")


def _weights_text(mode: str) -> str:
    if mode == "standin":
        return settings.WeightsInUse("standin", settings.default_standin_cache(), True).describe()
    from facekit import hub

    return settings.WeightsInUse("hub", hub.cache_dir(), hub.is_offline()).describe()


def _header(ctx: Context) -> None:
    t = ctx.term
    t.line(t.style(ctx.course.title, "bold"))
    who = "your code" if ctx.target == "exercises" else "the reference solutions"
    t.line(f"code:    {ctx.target}/ ({who})")
    t.wrap(_weights_text(ctx.weights), first="weights: ", indent=" " * 9)
    t.line()


def _prepare_weights(ctx: Context) -> None:
    """Stand-in weights: one cache kept across runs (built once), checked and rebuilt if damaged."""
    if ctx.weights != "standin":
        from facekit import hub

        missing = [f"{r}/{f}" for r, f in ctx.course.weights() if hub.cached_file(r, f) is None]
        if missing:
            ctx.term.wrap(f"Note: {', '.join(missing)} not in the Hugging Face cache yet; the tests "
                          f"will try to download it (`facekit download` fetches everything once).")
        return
    cache = settings.standin_cache_dir()
    os.environ[settings.STANDIN_CACHE_ENV] = str(cache)  # the harness in the subprocess reuses it
    if settings.standin_ready(cache):  # a damaged cache is removed, and rebuilt by the harness
        return
    ctx.term.wrap(ctx.term.style(f"Building the stand-in weights once, in {cache} ...", "dim"))


def _run(ctx: Context, exercises: list[course.Exercise], runner=None) -> tuple[dict, float]:
    """Run the harness on ``exercises``: verify.run_tests (a subprocess) unless ``runner`` is given."""
    from facekit import verify

    _prepare_weights(ctx)
    names = exercises[0].id if len(exercises) == 1 else f"{len(exercises)} exercises"
    ctx.term.status(f"checking {names} ...")
    started = time.perf_counter()
    run = (runner or verify.run_tests)(ctx.root, ctx.target, [e.tests for e in exercises], ctx.weights)
    seconds = time.perf_counter() - started
    ctx.term.clear_status()
    return run, seconds


def _record(ctx: Context, results: list[progress.ExerciseResult]) -> None:
    state = ctx.state()
    for result in results:
        fp = progress.fingerprint(ctx.root, result.exercise, ctx.target)
        state.record(ctx.target, result.exercise.id, fp, result.state == progress.DONE)
    try:
        state.save()
    except OSError as err:  # a read-only checkout still gets its report
        ctx.term.error(f"facekit: could not save progress to {state.path}: {err}")


def _done_ids(ctx: Context) -> set[str]:
    state = ctx.state()
    return {e.id for e in ctx.course.exercises
            if state.is_done(ctx.target, e.id, progress.fingerprint(ctx.root, e, ctx.target))}


def _current(ctx: Context) -> course.Exercise | None:
    """The first exercise that has not passed (as last checked, code unchanged since)."""
    done = _done_ids(ctx)
    return next((e for e in ctx.course.exercises if e.id not in done), None)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


# -- check ---------------------------------------------------------------------------------------


_FUNCTION_LOOK = {
    progress.F_DONE: ("done", "green"),
    progress.F_TODO: ("todo", "yellow"),
    progress.F_FAILING: ("failing", "red"),
    progress.F_WAITING: ("waiting", "dim"),
    progress.F_UNTESTED: ("waiting", "dim"),
}


def _report(ctx: Context, result: progress.ExerciseResult, seconds: float, next_step: bool = True) -> None:
    t = ctx.term
    e = result.exercise
    t.line(t.style(f"{e.id}: {e.title}", "bold"))
    t.line(t.style(f"{result.passed}/{result.total} tests pass ({seconds:.1f} s)", "dim"))
    long = None if ctx.verbose else 2
    if result.collect_errors or not result.tests:
        t.line(f"{t.style(t.mark('failing'), 'red')} the tests of {e.id} do not run:")
        t.wrap(result.collect_errors[0] if result.collect_errors else "no test ran", indent="    ",
               max_lines=None if ctx.verbose else 3)
    width = max([len(progress.display(f.name)) for f in result.functions] + [0])
    for f in result.functions:
        mark, colour = _FUNCTION_LOOK[f.state]
        if f.state == progress.F_DONE:
            text = f"done ({_plural(f.total, 'test')})"
        elif f.state == progress.F_TODO:
            text = f"not implemented yet ({_plural(f.bad, 'test')} stop there)"
        elif f.state == progress.F_FAILING:
            text = f"failing ({f.bad} of {_plural(f.total, 'test')})"
        elif f.state == progress.F_WAITING:
            text = f"{f.passed}/{f.total} pass; the others need {progress.display(f.message)}"
        else:
            text = "no test reaches it"
        t.line(f"  {t.style(t.mark(mark), colour)} {progress.display(f.name).ljust(width)}  "
               f"{t.style(text, colour)}")
        if f.state == progress.F_FAILING:
            t.wrap(f.message, indent="      ", max_lines=long)
    if result.other_failures:
        name, error = result.other_failures[0]
        t.line(f"  {t.style(t.mark('failing'), 'red')} other tests: "
               f"{t.style(f'{len(result.other_failures)} failing', 'red')}")
        t.wrap(f"{name}: {error}", indent="      ", max_lines=long)
    if ctx.verbose:
        failed = {n: r for n, r in result.tests.items() if r["outcome"] == "failed"}
        if failed:
            t.line()
            t.line("Every failing test:")
            for nodeid, r in failed.items():
                t.wrap(f"{nodeid.split('::', 1)[-1]}: {r['error']}", first="  ", indent="      ")
    if next_step:
        t.line()
        t.wrap(_next_step(ctx, result))


def _next_step(ctx: Context, result: progress.ExerciseResult) -> str:
    e = result.exercise
    source = e.source(ctx.target)
    full = f"`pytest {e.tests}` shows the full report."
    if result.collect_errors or not result.tests:
        return f"Next: fix what stops the tests from running; {full}"
    by_state = {}
    for f in result.functions:
        by_state.setdefault(f.state, []).append(f)
    if progress.F_FAILING in by_state:
        return f"Next: fix {progress.display(by_state[progress.F_FAILING][0].name)} in {source}; {full}"
    if result.other_failures:
        return f"Next: make the failing tests above pass; {full}"
    if progress.F_TODO in by_state:
        f = by_state[progress.F_TODO][0]
        return (f"Next: implement {progress.display(f.message or f.name)} in {f.where or source}: "
                f"follow its TODO steps "
                f"({e.readme} explains them). Stuck? `facekit hint {e.id}`")
    if progress.F_WAITING in by_state:
        f = by_state[progress.F_WAITING][0]
        return f"Next: implement {progress.display(f.message)} in {f.where}; these tests need it."
    if result.state != progress.DONE:  # a NotImplementedError outside the listed functions
        return f"Next: {full}"
    following = _current(ctx)
    if following is None:
        return "Every exercise passes: the course is done. Well done!"
    return f"All tests pass. Next: `facekit check {following.id}` ({following.title})."


def cmd_check(ctx: Context, exercise_id: str | None) -> int:
    if exercise_id:
        exercise = ctx.exercise(exercise_id)
    else:
        exercise = _current(ctx)
        if exercise is None:
            ctx.term.wrap(f"Every exercise passed when last checked ({ctx.target}/, unchanged since). "
                          f"`facekit list` checks them all again.")
            return 0
    _require_files(ctx, exercise)
    _header(ctx)
    run, seconds = _run(ctx, [exercise])
    result = progress.exercise_result(run, exercise, ctx.root)
    _record(ctx, [result])
    _report(ctx, result, seconds)
    return 0 if result.state == progress.DONE else 1


# -- list ----------------------------------------------------------------------------------------


_STATE_LOOK = {
    progress.DONE: ("done", "green"),
    progress.NOT_STARTED: ("todo", "dim"),
    progress.IN_PROGRESS: ("progress", "yellow"),
    progress.FAILING: ("failing", "red"),
}


def _state_text(result: progress.ExerciseResult) -> str:
    if result.state == progress.IN_PROGRESS:
        return f"in progress ({result.passed}/{result.total} pass)"
    if result.state == progress.FAILING:
        if result.collect_errors or not result.tests:
            return "failing (tests do not run)"
        bad = sum(r["outcome"] == "failed" and not r["todo"] for r in result.tests.values())
        return f"failing ({_plural(bad, 'test')})"
    return result.state


def _table(ctx: Context, results: list[progress.ExerciseResult]) -> None:
    t = ctx.term
    states = [_state_text(r) for r in results]
    id_w = max(len(r.exercise.id) for r in results)
    state_w = max(len(s) for s in states)
    title_w = max(10, t.width - 2 - id_w - 2 - 2 - state_w - 1)
    for result, text in zip(results, states):
        mark, colour = _STATE_LOOK[result.state]
        title = t.ellipsis(result.exercise.title, title_w).ljust(title_w)
        t.line(f"{t.style(t.mark(mark), colour)} {result.exercise.id.ljust(id_w)}  {title}  "
               f"{t.style(text.rjust(state_w), colour)}")


def cmd_list(ctx: Context) -> int:
    exercises = list(ctx.course.exercises)
    for exercise in exercises:
        _require_files(ctx, exercise)
    _header(ctx)
    run, seconds = _run(ctx, exercises)
    results = [progress.exercise_result(run, e, ctx.root) for e in exercises]
    _record(ctx, results)
    _table(ctx, results)
    done = sum(r.state == progress.DONE for r in results)
    t = ctx.term
    t.line()
    summary = f"{done}/{len(results)} done"
    t.line(t.style(summary, "bold") + t.style(f"  ({_plural(len(run['tests']), 'test')}, {seconds:.1f} s)", "dim"))
    following = next((r.exercise for r in results if r.state != progress.DONE), None)
    if following is None:
        t.wrap("Every exercise passes: the course is done. Well done!")
    else:
        prefix = f"Next: `facekit check {following.id}` ("
        t.line(f"{prefix}{t.ellipsis(following.title, t.width - len(prefix) - 1)})")
    return 0


# -- hint ----------------------------------------------------------------------------------------


def cmd_hint(ctx: Context, exercise_id: str | None) -> int:
    t = ctx.term
    exercise = ctx.exercise(exercise_id) if exercise_id else _current(ctx)
    if exercise is None:
        raise UsageError("every exercise has passed; name one: facekit hint EXERCISE")
    hints = exercise.hints
    if not hints:
        t.wrap(f"{exercise.id} has no hints. Its README walks through each step: {exercise.readme}")
        return 0
    state = ctx.state()
    shown = min(state.hints.get(exercise.id, 0), len(hints))
    if shown >= len(hints):
        t.line(t.style(f"All {len(hints)} hints for {exercise.id} were shown; here they are again.", "bold"))
        for number, hint in enumerate(hints, 1):
            t.line()
            t.wrap(hint, first=f"{number}. ", indent="   ")
        t.line()
        t.wrap(f"The README explains every step: {exercise.readme}.")
        return 0
    t.line(t.style(f"Hint {shown + 1} of {len(hints)} for {exercise.id} ({exercise.title}):", "bold"))
    t.line()
    t.wrap(hints[shown], indent="  ")
    t.line()
    state.hints[exercise.id] = shown + 1
    try:
        state.save()
    except OSError as err:
        t.error(f"facekit: could not save which hints were shown to {state.path}: {err}")
    left = len(hints) - shown - 1
    more = f"Another one: `facekit hint {exercise.id}`" if left else "That was the last hint"
    t.wrap(t.style(f"{more} ({left} left). Shown hints are remembered in {ctx.rel(state.path)}; "
                   f"delete it to start over.", "dim"))
    return 0


# -- watch ---------------------------------------------------------------------------------------


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Modification time and size of every file under exercises/ (bytecode caches left out)."""
    found = {}
    for path in (root / "exercises").rglob("*"):
        if "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        try:
            stat = path.stat()
        except OSError:  # deleted while we looked
            continue
        if path.is_file():
            found[str(path)] = (stat.st_mtime_ns, stat.st_size)
    return found


def _watch_footer(ctx: Context) -> None:
    t = ctx.term
    done = len(_done_ids(ctx))
    t.line()
    t.line(t.style(f"{done}/{len(ctx.course.exercises)} done", "bold") +
           t.style("  Watching exercises/ for saved files. Ctrl-C to stop.", "dim"))


def cmd_watch(ctx: Context, interval: float = 1.0, sleep=time.sleep) -> int:
    """Poll exercises/ every ``interval`` seconds (no dependency, no busy loop); ``sleep`` is for tests."""
    t = ctx.term
    exercises = list(ctx.course.exercises)
    for exercise in exercises:
        _require_files(ctx, exercise)
    try:
        _header(ctx)
        runner = None
        if warm.available(ctx.root):  # import torch once; each run is then a fork
            t.status("loading torch and timm once ...")
            if warm.warm_up():
                runner = warm.run_tests
        snapshot = _snapshot(ctx.root)
        run, seconds = _run(ctx, exercises, runner)
        results = [progress.exercise_result(run, e, ctx.root) for e in exercises]
        _record(ctx, results)
        current = next((r for r in results if r.state != progress.DONE), None)
        if current is None:
            t.wrap("Every exercise passes: the course is done. Well done!")
            return 0
        _report(ctx, current, seconds)
        current = current.exercise
        _watch_footer(ctx)
        while True:
            sleep(interval)
            latest = _snapshot(ctx.root)
            if latest == snapshot:
                continue
            snapshot = latest  # taken before the run: a save during the run triggers another
            t.clear_screen()
            _header(ctx)
            while True:
                run, seconds = _run(ctx, [current], runner)
                result = progress.exercise_result(run, current, ctx.root)
                _record(ctx, [result])
                _report(ctx, result, seconds, next_step=result.state != progress.DONE)
                if result.state != progress.DONE:
                    break
                current = _current(ctx)
                if current is None:
                    t.line()
                    t.wrap("Every exercise passes: the course is done. Well done!")
                    return 0
                t.line()
                t.line(t.style(f"Moving on to {current.id}.", "bold"))
                t.line()
            _watch_footer(ctx)
    except KeyboardInterrupt:
        t.line()
        t.line("Stopped watching.")
        return 0


# -- verify --------------------------------------------------------------------------------------


_CHECK_TEXT = {
    "files": "README, stub, reference, tests, notebook and CHEATSHEET exist",
    "reference": "the reference solutions pass their tests",
    "stub": "every stub fails its tests only with NotImplementedError",
    "mirror": "stub and reference have the same names, signatures, docstrings",
    "notebook": "the notebook is valid and runs against the reference",
    "mistakes": "every catalogued mistake fails its test, with the promised words",
}


def cmd_verify(ctx: Context, exercise_ids: list[str], only: list[str] | None) -> int:
    from facekit import verify

    t = ctx.term
    checks = tuple(c for c in verify.CHECKS if c in only) if only else verify.CHECKS
    exercises = [ctx.exercise(i) for i in exercise_ids] if exercise_ids else list(ctx.course.exercises)
    t.wrap(t.style(f"facekit verify: {_plural(len(exercises), 'exercise')} in {ctx.root}", "bold"))
    t.wrap(_weights_text(ctx.weights), first="weights: ", indent=" " * 9)
    t.line()
    if ctx.weights == "standin":
        _prepare_weights(ctx)
    findings = []
    started = time.perf_counter()
    for check in checks:  # one check at a time, so a terminal shows what is running
        t.status(f"verify: {check}: {_CHECK_TEXT[check]} ...")
        findings += verify.verify(ctx.root, [e.id for e in exercises], ctx.weights, checks=(check,))
    seconds = time.perf_counter() - started

    cell = {(f.exercise, f.check): f for f in findings}
    id_w = max(len("exercise"), *(len(e.id) for e in exercises))
    t.line(t.style("exercise".ljust(id_w) + "".join(f"  {c}" for c in checks), "bold"))
    for e in exercises:
        row = e.id.ljust(id_w)
        for check in checks:
            f = cell.get((e.id, check))
            text, colour = ("-", "dim") if f is None else ("ok", "green") if f.ok else ("FAIL", "red")
            row += "  " + t.style(text, colour) + " " * (len(check) - len(text))
        t.line(row.rstrip())
    t.line()
    defects = [f for f in findings if not f.ok]
    shown = findings if ctx.verbose else defects
    if shown:
        t.line(t.style("Defects:" if not ctx.verbose else "Details:", "bold"))
        for f in shown:
            colour = "green" if f.ok else "red"
            # In full: verify keeps details to a few hundred characters, and the end says why.
            t.wrap(f.detail, first=f"  {t.style(f'{f.exercise} {f.check}:', colour)} ", indent="      ")
        t.line()
    if defects:
        t.line(t.style(f"{_plural(len(defects), 'defect')} ({seconds:.0f} s).", "red", "bold"))
        return 1
    t.line(t.style(f"No defects: {_plural(len(findings), 'check')} passed ({seconds:.0f} s).", "green"))
    return 0


# -- download ------------------------------------------------------------------------------------


def cmd_download(ctx: Context, force: bool) -> int:
    from facekit import hub

    t = ctx.term
    weights = ctx.course.weights()
    if not weights:
        t.line("The course manifest lists no weights to download.")
        return 0
    again = " again (--force)" if force else ""
    t.line(f"Real pretrained weights of the course{again}, into the Hugging Face cache:")
    for repo_id, filename in weights:
        cached = None if force else hub.cached_file(repo_id, filename)
        t.line(f"  {repo_id}  {filename}")
        try:
            path = hub.download(repo_id, filename, force=force)
        except (hub.WeightsNotFoundError, hub.CorruptWeightsError):
            raise
        except Exception as err:  # the hub's own errors (HTTP, missing repo, disk full): one line
            lines = str(err).strip().splitlines()
            raise CommandError(f"downloading {repo_id} ({filename}) failed: {type(err).__name__}: "
                               f"{lines[0] if lines else ''}") from err
        size = Path(path).stat().st_size / 1e6
        how = "already cached, hash verified" if cached else "downloaded, hash verified"
        t.line(t.style(f"    {how}: {size:.1f} MB", "green"))
    cache = hub.cache_dir()
    t.line()
    t.wrap(f"The cache is {cache}")
    t.wrap("For a classroom machine without network: copy that whole folder to it, then set there "
           "(in the shell, or the environment of Jupyter):")
    t.line("  HF_HUB_CACHE=<the copied folder>   (or HF_HOME=<the folder above it>)")
    t.line("  HF_HUB_OFFLINE=1")
    t.wrap("and use them with `facekit --weights hub check` or `pytest --weights hub`.")
    return 0


# -- reset ---------------------------------------------------------------------------------------


def _git(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, timeout=60)


def pristine(root: Path, relpath: str) -> tuple[str, bytes]:
    """The file as shipped: its version at the upstream branch (as last fetched), else at HEAD.

    The upstream branch comes first because a student who commits their work moves HEAD.
    """
    try:
        inside = _git(root, "rev-parse", "--is-inside-work-tree")
    except FileNotFoundError:
        raise CommandError(f"facekit reset restores a stub from git, and git is not installed. "
                           f"Copy {relpath} from a fresh copy of the kit instead.") from None
    if inside.returncode != 0:
        raise CommandError(f"facekit reset restores a stub from git, and {root} is not a git "
                           f"checkout. Copy {relpath} from a fresh copy of the kit instead.")
    upstream = _git(root, "rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{upstream}")
    ref = upstream.stdout.decode().strip() if upstream.returncode == 0 else "HEAD"
    shown = _git(root, "show", f"{ref}:./{relpath}")
    if shown.returncode != 0:
        raise CommandError(f"{relpath} is not in git at {ref}: there is no shipped version to restore.")
    return ref, shown.stdout


def _backup_path(path: Path) -> Path:
    backup = path.with_name(path.name + ".bak")
    number = 2
    while backup.exists():  # never overwrite an earlier backup: it may hold real work
        backup = path.with_name(f"{path.name}.bak.{number}")
        number += 1
    return backup


def cmd_reset(ctx: Context, exercise_id: str, yes: bool, ask=None) -> int:
    t = ctx.term
    ask = ask or input
    exercise = ctx.exercise(exercise_id)
    path = ctx.root / exercise.stub
    ref, content = pristine(ctx.root, exercise.stub)
    current = path.read_bytes() if path.is_file() else None
    if current == content:
        t.wrap(f"{exercise.stub} is already as shipped ({ref}): nothing to do.")
        return 0
    backup = _backup_path(path) if current is not None else None
    if not yes:
        keep = f" and keeps your file as {ctx.rel(backup)}" if backup else ""
        t.wrap(f"This puts {exercise.stub} back as shipped (its version at {ref}){keep}.")
        try:
            answer = ask("Go ahead? [y/N] ")
        except EOFError:
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            t.line("Nothing changed.")
            return 1
    if backup:
        shutil.copy2(path, backup)
    path.write_bytes(content)
    t.wrap(f"{exercise.stub} is back as shipped (its version at {ref}).")
    if backup:
        t.wrap(f"Your previous file is in {ctx.rel(backup)}.")
    return 0


# -- the command line ----------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    # Options are accepted before or after the command: `facekit --target solutions check`
    # and `facekit check --target solutions`. SUPPRESS keeps a command's copy from erasing
    # the value given before it.
    verbose = argparse.ArgumentParser(add_help=False)
    verbose.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                         help="full details, and a traceback on unexpected errors")
    target = argparse.ArgumentParser(add_help=False)
    target.add_argument("--target", choices=course.TARGETS, default=argparse.SUPPRESS,
                        help=f"the tree to test: exercises (your code, default) or solutions; "
                             f"env {settings.TARGET_ENV}")
    weights = argparse.ArgumentParser(add_help=False)
    weights.add_argument("--weights", choices=settings.WEIGHTS, default=argparse.SUPPRESS,
                         help=f"standin: seeded random weights, offline (default); hub: the real "
                              f"pretrained weights; env {settings.WEIGHTS_ENV}")

    parser = argparse.ArgumentParser(
        prog="facekit", parents=[verbose, target, weights],
        description="The course's companion: your progress, checks, hints; the instructor's verify.",
        epilog="Without a command: `facekit list`.")
    parser.add_argument("--root", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("list", parents=[verbose, target, weights],
                   help="every exercise with its state, and your progress")
    p = sub.add_parser("check", parents=[verbose, target, weights],
                       help="run one exercise's tests and say what to do next")
    p.add_argument("exercise", nargs="?", help="an exercise id (default: the first one not done)")
    p = sub.add_parser("hint", parents=[verbose], help="the next hint for an exercise")
    p.add_argument("exercise", nargs="?", help="an exercise id (default: the first one not done)")
    p = sub.add_parser("watch", parents=[verbose, target, weights],
                       help="check again on every save under exercises/; move on when it passes")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between looks (default 1)")
    p = sub.add_parser("verify", parents=[verbose, weights],
                       help="the instructor's check of the kit as shipped (CI)",
                       description="Checks, for every exercise in the manifest: " +
                                   "; ".join(f"{k}: {v}" for k, v in _CHECK_TEXT.items()) + ".")
    p.add_argument("exercises", nargs="*", metavar="EXERCISE", help="only these (default: all)")
    p.add_argument("--only", type=lambda s: [c.strip() for c in s.split(",") if c.strip()],
                   metavar="CHECKS", help="comma-separated subset of: files,reference,stub,mirror,notebook,mistakes")
    p = sub.add_parser("download", parents=[verbose],
                       help="fetch the real pretrained weights of every model into the HF cache")
    p.add_argument("--force", action="store_true", help="download again even when cached")
    p = sub.add_parser("reset", parents=[verbose], help="put a stub back as shipped (keeps a .bak)")
    p.add_argument("exercise", help="an exercise id")
    p.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    app = _app_commands()
    if app:
        app.add_parsers(sub, [verbose, target, weights])
    return parser


def _app_commands():
    """Exercise 06's ``app`` and ``embed`` commands (facekit/app_cli.py), where the kit has them."""
    if importlib.util.find_spec("facekit.app_cli") is None:
        return None
    from facekit import app_cli

    return app_cli


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    verbose = getattr(args, "verbose", False)
    term = Term()
    try:
        return _dispatch(args, term)
    except (UsageError, course.ManifestError) as err:
        term.error(f"facekit: error: {err}")
        return 2
    except CommandError as err:
        term.error(f"facekit: {err}")
        return 1
    except KeyboardInterrupt:
        term.error("facekit: interrupted")
        return 130
    except Exception as err:  # noqa: BLE001 - one line unless -v; hub errors are written for people
        from facekit import hub

        if isinstance(err, (hub.WeightsNotFoundError, hub.CorruptWeightsError)):
            term.error(f"facekit: {err}")
            return 1
        if verbose:
            traceback.print_exc()
        else:
            lines = str(err).strip().splitlines()
            term.error(f"facekit: unexpected error: {type(err).__name__}: {lines[0] if lines else ''} "
                       f"(`facekit -v ...` shows the traceback)")
        return 1


def _dispatch(args: argparse.Namespace, term: Term) -> int:
    try:
        target = settings.resolve_target(getattr(args, "target", None))
        weights = settings.resolve_weights(getattr(args, "weights", None))
    except ValueError as err:
        raise UsageError(err) from None
    root = Path(getattr(args, "root", None) or course.repo_root()).resolve()
    ctx = Context(root=root, course=course.load(root / "exercises" / "course.toml"), target=target,
                  weights=weights, verbose=getattr(args, "verbose", False), term=term)
    command = args.command or "list"
    if command == "list":
        return cmd_list(ctx)
    if command == "check":
        return cmd_check(ctx, args.exercise)
    if command == "hint":
        return cmd_hint(ctx, args.exercise)
    if command == "watch":
        if args.interval <= 0:
            raise UsageError(f"--interval must be a positive number of seconds; got {args.interval}")
        return cmd_watch(ctx, args.interval)
    if command == "verify":
        from facekit import verify

        unknown = [c for c in (args.only or []) if c not in verify.CHECKS]
        if unknown or args.only == []:
            raise UsageError(f"--only takes some of {','.join(verify.CHECKS)}; got {','.join(args.only)!r}")
        return cmd_verify(ctx, args.exercises, args.only)
    if command == "download":
        return cmd_download(ctx, args.force)
    if command == "reset":
        return cmd_reset(ctx, args.exercise, args.yes)
    app = _app_commands()
    if app and command in app.COMMANDS:
        return app.run(ctx, args)
    raise UsageError(f"unknown command {command!r}")  # argparse rejects these first


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
