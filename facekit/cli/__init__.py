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

facekit/cli/parser.py declares the arguments; facekit/cli/<command>.py runs each command;
errors are facekit.errors classes, each with its exit code. Tests run exactly as ``pytest``
runs them (facekit.verify.run_tests, in a subprocess).
"""

from __future__ import annotations

import importlib
import sys
import traceback
from pathlib import Path

from facekit import course, errors, settings
from facekit.cli import parser as cli_parser
from facekit.cli.context import Context
from facekit.term import Term

__all__ = ["main", "Context"]


def main(argv: list[str] | None = None) -> int:
    args = cli_parser.build().parse_args(argv)
    verbose = getattr(args, "verbose", False)
    term = Term()
    try:
        return _dispatch(args, term)
    except errors.FacekitError as err:
        term.error(f"{err.prefix}{err}")
        return err.exit_code
    except BrokenPipeError:
        return _closed_pipe()
    except KeyboardInterrupt:
        err = errors.Interrupted("interrupted")
        term.error(f"{err.prefix}{err}")
        return err.exit_code
    except Exception as err:  # noqa: BLE001 - one line unless -v
        if verbose:
            traceback.print_exc()
        else:
            lines = str(err).strip().splitlines()
            term.error(f"facekit: unexpected error: {type(err).__name__}: {lines[0] if lines else ''} "
                       f"(`facekit -v ...` shows the traceback)")
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


def _dispatch(args, term: Term) -> int:
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
    ctx = Context(root=root, course=course.load(root / "exercises" / "course.toml"), target=target,
                  weights=weights, verbose=getattr(args, "verbose", False), term=term)
    return command.run(ctx, args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
