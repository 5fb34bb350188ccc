"""The ``facekit`` command (also ``python -m facekit``): the student's loop and the instructor's check.

    facekit [list]                  every exercise, its state, and your progress (cached results)
    facekit check [EXERCISE]        run one exercise's tests: what is done, what to do next
    facekit hint [EXERCISE [FUNCTION]]  the next hint for a function (one more each time)
    facekit watch                   check again on every save; move on when an exercise passes
    facekit verify [EXERCISE ...]   the instructor's check of the kit as shipped
    facekit download [--force]      fetch the real pretrained weights into the Hugging Face cache
    facekit reset EXERCISE [--yes]  put a stub back as shipped (your file is kept as a .bak)
    facekit new exNN_name "Title"   scaffold a new exercise (instructors)
    facekit app ... / embed ...     Exercise 06's app on the command line (app serve: in a browser)
    facekit submit                  pack your exercise modules into submission.zip (students)
    facekit grade SUBMISSION...     grade a class: grades.csv, grades.json, feedback/ (facekit/grading)
    facekit gradescope              a Gradescope autograder bundle of this kit
    facekit release --out DIR       the repository students clone: no solutions/, one commit
    facekit worker stop|status      the background worker that answers check/try/hint quickly

facekit/cli/parser.py declares the arguments; facekit/cli/<command>.py runs each command;
errors are facekit.errors classes, each with its exit code. Tests run exactly as ``pytest``
runs them (facekit.harness.run.run_tests, in a subprocess). The student's loop (list, check, try,
hint) goes through the checkout's warm worker when one runs (facekit.worker): the same
command, in a fork of a process that imported torch once.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from pathlib import Path

from facekit import course, errors, settings
from facekit.cli import parser as cli_parser
from facekit.cli.context import Context
from facekit.term import Term
from facekit.worker import COMMANDS as WORKER_COMMANDS
from facekit.worker import supported as worker_supported

__all__ = ["main", "Context"]


def main(argv: list[str] | None = None) -> int:
    args = cli_parser.build().parse_args(argv)
    verbose = getattr(args, "verbose", False)
    term = Term()
    try:
        warm = _warm_answer(args, argv)
        if warm is not None:
            return warm
        environ = dict(os.environ)  # as it was before the command ran, for the worker
        code = _dispatch(args, term)
        _start_worker(args, environ)
        return code
    except errors.FacekitError as err:
        term.error(f"{err.prefix}{err}")
        return err.exit_code
    except BrokenPipeError:
        return _closed_pipe()
    except KeyboardInterrupt:
        interrupted = errors.Interrupted("interrupted")
        term.error(f"{interrupted.prefix}{interrupted}")
        return interrupted.exit_code
    except Exception as err:  # noqa: BLE001 - one line unless -v
        if verbose:
            traceback.print_exc()
        else:
            lines = str(err).strip().splitlines()
            term.error(
                f"facekit: unexpected error: {type(err).__name__}: {lines[0] if lines else ''} "
                f"(`facekit -v ...` shows the traceback)"
            )
        return 1


def _closed_pipe() -> int:
    """The reader went away (`facekit hint | head -1`): stop quietly, as Unix tools do.

    stdout is pointed at /dev/null so the flush at exit cannot raise again (the recipe of
    Python's signal documentation); 141 is what a shell reports for a tool ended by SIGPIPE.
    """
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (a test's capture)
        pass
    return 141


def _worker_root(args: argparse.Namespace) -> Path | None:
    """The kit whose warm worker may answer this command (facekit.worker), or None: run cold."""
    if args.command not in WORKER_COMMANDS or getattr(args, "no_worker", False) or not worker_supported():
        return None  # and on macOS and Windows, never a word about it
    from facekit.worker import client

    root = Path(getattr(args, "root", None) or course.repo_root())
    return root if client.usable(root) else None


def _warm_answer(args: argparse.Namespace, argv: list[str] | None) -> int | None:
    """The exit code of the command answered by the warm worker; None: run it here."""
    root = _worker_root(args)
    if root is None:
        return None
    from facekit.worker import client

    return client.run(root, sys.argv[1:] if argv is None else list(argv))


def _start_worker(args: argparse.Namespace, environ: dict[str, str]) -> None:
    """After a cold run that imported torch (tests, `facekit try`): a worker for the next one."""
    from facekit.cli import runs

    root = _worker_root(args)
    if root is not None and (runs.tests_ran or "torch" in sys.modules):
        from facekit.worker import client

        client.start(root, environ)


def _dispatch(args: argparse.Namespace, term: Term) -> int:
    try:
        target = settings.resolve_target(getattr(args, "target", None))
        weights = settings.resolve_weights(getattr(args, "weights", None))
    except ValueError as err:
        raise errors.UsageError(err) from None
    command = importlib.import_module(f"facekit.cli.{args.module}")
    check_args = getattr(command, "check_args", None)
    if check_args:  # usage errors answer before the manifest is read or torch imported
        check_args(args)  # it may set args.root (submit: the kit around the current folder)
    root = Path(getattr(args, "root", None) or course.repo_root()).resolve()
    ctx = Context(
        root=root,
        course=course.load(root / "exercises" / "course.toml"),
        target=target,
        weights=weights,
        verbose=getattr(args, "verbose", False),
        term=term,
    )
    return command.run(ctx, args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
