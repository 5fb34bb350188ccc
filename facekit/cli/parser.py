"""The ``facekit`` command line: every command and its arguments, and nothing else.

Each command is one row of COMMANDS: its name, the module under facekit/cli/ that runs it
(a ``run(ctx, args) -> exit code``), its help, and a function that declares its arguments.
Adding a command: write its module, add its row. A sub-action may have a module of its own
(``app serve``: ``set_defaults(module=...)``). Nothing here imports a command's module or
torch: ``facekit.cli.main`` imports the chosen command's module after parsing.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from facekit import settings, worker
from facekit.camera import config as app_config  # the value checks --frames etc. share with the config file
from facekit.camera.inputs import DEFAULT_STORE, MAX_FRAMES
from facekit.harness import forking


def _exercise(p, required=False):
    help_ = "an exercise id" + ("" if required else " (default: the first one not done)")
    p.add_argument("exercise", nargs=None if required else "?", help=help_)


def _nothing(p):
    pass


def _solution(p):
    _exercise(p, required=True)
    p.add_argument(
        "--code",
        action="store_true",
        help="compare the code only: leave out comments and docstrings (the TODO steps, "
        "and the texts both files share)",
    )


def _hint(p):
    _exercise(p)
    p.add_argument(
        "function", nargs="?", help="one of the exercise's functions (default: the first one not done)"
    )


def _watch(p):
    p.add_argument(
        "exercise",
        nargs="?",
        help="watch only this one; stop when it passes (default: the first not done, then the next)",
    )
    p.add_argument("--interval", type=float, default=1.0, help="seconds between looks (default 1)")


def _verify(p):
    p.add_argument("exercises", nargs="*", metavar="EXERCISE", help="only these (default: all)")
    p.add_argument(
        "--only",
        type=lambda s: [c.strip() for c in s.split(",") if c.strip()],
        metavar="CHECKS",
        help="comma-separated subset of the checks (default: all)",
    )


def _download(p):
    p.add_argument("--force", action="store_true", help="download again even when cached")


def _reset(p):
    _exercise(p, required=True)
    p.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")


def _new(p):
    p.add_argument("exercise", metavar="exNN_name", help="the new exercise's id, e.g. ex07_tracking")
    p.add_argument("title", nargs="?", help="its title, in quotes")
    p.add_argument(
        "--functions",
        default="solve",
        metavar="NAMES",
        help="comma-separated names of the functions to write (default: solve)",
    )
    p.add_argument(
        "--sync",
        action="store_true",
        help="for an exercise of the manifest: copy each signature and docstring of its "
        "reference into its stub (the stub's bodies stay)",
    )


def _store(p):
    p.add_argument(
        "--store",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help=f"the embedding store: .sqlite, .sqlite3 or .db for SQLite, .json for "
        f"a JSON file (default: the config's store, else {DEFAULT_STORE} in the "
        f"current folder)",
    )
    p.add_argument(
        "--config",
        metavar="FILE",
        default=argparse.SUPPRESS,
        help=f"the app's TOML config (default: ./{app_config.CONFIG_NAME} if present)",
    )


def _stream(p):
    """--stream [URL] (IMAGE... or --stream: checked in facekit.cli.app) and --stream-timeout."""
    p.add_argument(
        "--stream",
        nargs="?",
        const=app_config.USE_CONFIG,
        default=None,
        metavar="URL",
        help="take the frames from this MJPEG stream (multipart/x-mixed-replace) "
        "instead of image files; without URL: the config's stream_url",
    )
    p.add_argument(
        "--stream-timeout",
        type=app_config.argtype(app_config.timeout_seconds),
        default=None,
        metavar="S",
        help="all N frames must come within this many seconds, plus the intervals between them (default 5)",
    )


def _frames(p):
    p.add_argument(
        "--frames",
        type=app_config.argtype(app_config.frames_count),
        default=None,
        metavar="N",
        help=f"frames per capture, 1 to {MAX_FRAMES} (default 5)",
    )
    p.add_argument(
        "--interval",
        type=app_config.argtype(app_config.interval_millis),
        default=None,
        metavar="MS",
        help="milliseconds between frames (default 200)",
    )


def _app(p, parents):
    store = argparse.ArgumentParser(add_help=False)
    _store(store)
    p.add_argument("--store", metavar="PATH", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    p.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = actions.add_parser(
        "register", parents=[*parents, store], help="enrol NAME from one or more images, or a stream's frames"
    )
    a.add_argument("name", metavar="NAME")
    a.add_argument("images", metavar="IMAGE", nargs="*", help="image files (or --stream)")
    _stream(a)
    _frames(a)
    a = actions.add_parser(
        "login",
        parents=[*parents, store],
        help="yes (exit 0) or no (exit 1): are the images the registered NAME? "
        "(several are averaged into one embedding)",
        description="Exit status: 0 yes, 1 no, 2 a usage error, 3 no answer "
        "(a missing file or store, an unknown NAME, a stub not "
        "implemented yet, a stream that fails).",
    )
    a.add_argument("name", metavar="NAME")
    a.add_argument("images", metavar="IMAGE", nargs="*", help="image files (or --stream)")
    _stream(a)
    _frames(a)
    a.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="accept when the best cosine similarity is at least this, in [-1, 1] "
        "(default: the config's threshold, else the exercise's DEFAULT_THRESHOLD, "
        "0.5; not calibrated)",
    )
    a = actions.add_parser(
        "identify", parents=[*parents, store], help="the K registered people most like IMAGE"
    )
    a.add_argument("image", metavar="IMAGE")
    a.add_argument("-k", type=int, default=None, help="how many people (default 3)")
    a = actions.add_parser(
        "serve",
        parents=[*parents, store],
        help="a local web page: register and log in with the browser's camera",
        description="Serves one page on 127.0.0.1 (this computer only, unless --host says otherwise): "
        "the live camera, register, log in, identify, the people registered. Needs the "
        "[app] extra (Flask).",
    )
    a.set_defaults(module="serve")  # facekit/cli/serve.py, not app.py
    _frames(a)
    a.add_argument(
        "--threshold",
        type=app_config.argtype(app_config.threshold_value),
        default=None,
        help="login accepts a score >= this, in [-1, 1] (default: the config's "
        "threshold, else the exercise's DEFAULT_THRESHOLD, 0.5)",
    )
    a.add_argument("--host", default=None, help="where to listen (default 127.0.0.1: this computer only)")
    a.add_argument(
        "--port",
        type=app_config.argtype(app_config.port_number),
        default=None,
        help="the port (default 8765; 0 picks a free one)",
    )


def _embed(p):
    p.add_argument("folder", metavar="DIR")
    p.add_argument("--out", metavar="FILE", required=True, help="the output: .safetensors or .npy")
    p.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="images per forward pass (default: the exercise's DEFAULT_BATCH_SIZE, 8)",
    )


def _submit(p):
    p.add_argument("--out", help="where the zip goes (default: submission.zip in the kit)")
    p.add_argument("--force", action="store_true", help="submit even when nothing changed")


def _grading_limits(p, timeout):
    p.add_argument(
        "--timeout",
        type=float,
        default=timeout,
        help=f"seconds for the tests of one exercise together (default {timeout:g})",
    )
    p.add_argument(
        "--test-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="seconds each test may run (default: its exercise's `timeout` in the manifest, "
        "20 unless it says otherwise)",
    )
    p.add_argument(
        "--memory-mb",
        type=int,
        default=4096,
        help="memory a submission may map beyond what its process starts with (RLIMIT_AS, MiB; default 4096)",
    )
    p.add_argument(
        "--extra-tests",
        metavar="DIR",
        help="instructor-only test files (an exercise id in each file name); they count like the others",
    )
    p.add_argument(
        "--all-or-nothing",
        default="",
        metavar="IDS",
        help="comma-separated exercise ids (or 'all') that score only when every test passes",
    )


def _grade(p):
    p.add_argument(
        "submissions",
        nargs="+",
        metavar="SUBMISSION",
        help="zips from `facekit submit`, folders, git repositories, or a folder of zips",
    )
    p.add_argument(
        "--out",
        default="grades",
        help="where grades.csv, grades.json, report.html and feedback/ go (default grades)",
    )
    p.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=forking.cores(),
        help="submissions graded at once (default: the number of cores)",
    )
    _grading_limits(p, 300.0)
    p.add_argument("--roster", help="CSV with columns submission,id: the id of each submission")
    p.add_argument("--force", action="store_true", help="grade again even when nothing changed")
    p.add_argument(
        "--replace",
        action="store_true",
        help="start a new gradebook in --out (default: merge, these rows replacing theirs)",
    )
    p.add_argument(
        "--due",
        metavar="WHEN",
        help="due date (2026-12-01: the end of that day; or 2026-12-01T23:59): late hand-ins lose "
        "--late-penalty percent of their total per started day",
    )
    p.add_argument(
        "--late-penalty",
        type=float,
        default=10.0,
        metavar="PCT",
        help="percent of the total taken per day late (default 10; with --due)",
    )
    p.add_argument(
        "--runner",
        choices=("auto", "fork", "subprocess"),
        default="auto",
        help="fork: pre-imported workers, one fork per submission (Linux, default); "
        "subprocess: a fresh pytest per submission",
    )
    p.add_argument(
        "--require-jail",
        action="store_true",
        help="refuse to grade without the bubblewrap jail (otherwise: graded, and "
        "'isolation: none' and why in the CSV, the summary and each feedback)",
    )


def _release(p):
    p.add_argument(
        "--out", required=True, metavar="DIR", help="where the repository goes (a new or empty folder)"
    )
    p.add_argument(
        "--with-solutions",
        action="store_true",
        help="include solutions/ (a self-study course); default: without them",
    )


def _worker(p):
    p.add_argument(
        "action",
        choices=("stop", "status"),
        help="stop: end this checkout's worker; status: whether one runs, and where",
    )


def _gradescope(p):
    p.add_argument("--out", default="autograder.zip", help="the bundle to write (default autograder.zip)")
    _grading_limits(p, 600.0)


@dataclass(frozen=True)
class Command:
    name: str
    module: str  # facekit.cli.<module>.run(ctx, args)
    help: str
    arguments: Callable = _nothing  # declares the command's own arguments on its parser
    options: str = "vtw"  # shared options it takes: v(erbose), t(arget), w(eights), n(o-worker)
    description: str | None = None
    nested: bool = False  # arguments() takes (parser, shared option parsers): sub-actions


COMMANDS = (
    Command("list", "list", "every exercise with its state, and your progress", options="vtwn"),
    Command("check", "check", "run one exercise's tests and say what to do next", _exercise, options="vtwn"),
    Command("hint", "hint", "the next hint for an exercise's function", _hint, options="vn"),
    Command("watch", "watch", "check again on every save under exercises/; move on when it passes", _watch),
    Command("verify", "verify", "the instructor's check of the kit as shipped", _verify, options="vw"),
    Command(
        "download",
        "download",
        "fetch the real pretrained weights of every model into the HF cache",
        _download,
        options="v",
    ),
    Command("reset", "reset", "put a stub back as shipped (keeps a .bak)", _reset, options="v"),
    Command(
        "solution",
        "solution",
        "your file against the reference, once the exercise passes",
        _solution,
        options="vw",
    ),
    Command(
        "try",
        "tryout",
        "run your functions on the sample face: shapes, norms, a similarity; a store, a search, a login",
        _exercise,
        options="vtwn",
    ),
    Command(
        "new",
        "new",
        "scaffold a new exercise: both trees, tests, notebook, manifest, README row; --sync: stub from reference",
        _new,
        options="v",
    ),
    Command(
        "app",
        "app",
        "the face login app of Exercise 06: register, login, identify, serve",
        _app,
        description="Register people from images or a camera stream, log them in, identify who "
        "is in an image, or serve a page that does it with the browser's camera: "
        "Exercise 06 of the selected tree, on the selected weights. On the stand-in "
        "weights (the default) the answers mean nothing about faces.",
        nested=True,
    ),
    Command(
        "embed",
        "embed",
        "embed every image under a folder into one file",
        _embed,
        description="Embeds every image under DIR (recursively, sorted; names starting with '.' "
        "left out) in batches, and writes the embeddings with their file names to "
        "FILE: .safetensors (names in the metadata) or .npy (names in "
        "FILE-without-.npy.names.json). Files that are not images are skipped and listed.",
    ),
    Command("submit", "submit", "pack your exercise modules into one zip to hand in", _submit, options="v"),
    Command(
        "grade",
        "grade",
        "grade students' submissions (zips, folders, git repositories) into CSV, JSON and feedback",
        _grade,
        options="vw",
    ),
    Command(
        "release",
        "release",
        "write the repository students clone: no solutions/, no instructor "
        "checks, a README for students, one git commit",
        _release,
        options="v",
    ),
    Command(
        "gradescope",
        "gradescope",
        "write a Gradescope autograder bundle (setup.sh, run_autograder, "
        "the kit without solutions; stand-in weights)",
        _gradescope,
        options="v",
    ),
    Command(
        "worker",
        "worker",
        "the background worker that makes check, try and hint quick: stop it, or see if it runs",
        _worker,
        options="v",
    ),
)


def build() -> argparse.ArgumentParser:
    # Options are accepted before or after the command: `facekit --target solutions check`
    # and `facekit check --target solutions`. SUPPRESS keeps a command's copy from erasing
    # the value given before it.
    verbose = argparse.ArgumentParser(add_help=False)
    verbose.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="full details, and a traceback on unexpected errors",
    )
    target = argparse.ArgumentParser(add_help=False)
    target.add_argument(
        "--target",
        choices=settings.TARGETS,
        default=argparse.SUPPRESS,
        help=f"the tree to test: exercises (your code, default) or solutions; env {settings.TARGET_ENV}",
    )
    weights = argparse.ArgumentParser(add_help=False)
    weights.add_argument(
        "--weights",
        choices=settings.WEIGHTS,
        default=argparse.SUPPRESS,
        help=f"standin: seeded random weights, offline (default); hub: the real "
        f"pretrained weights; env {settings.WEIGHTS_ENV}",
    )
    no_worker = argparse.ArgumentParser(add_help=False)
    no_worker.add_argument(
        "--no-worker",
        action="store_true",
        default=argparse.SUPPRESS,
        help=f"run here, without the background worker (env {worker.NO_WORKER_ENV}=1)",
    )
    shared = {"v": verbose, "t": target, "w": weights, "n": no_worker}

    parser = argparse.ArgumentParser(
        prog="facekit",
        parents=[verbose, target, weights, no_worker],
        description="The course's companion: your progress, checks, hints; the instructor's verify.",
        epilog="Without a command: `facekit list`.",
    )
    parser.add_argument("--root", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    parser.set_defaults(command="list", module="list")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        parents = [shared[o] for o in command.options]
        p = sub.add_parser(
            command.name, parents=parents, help=command.help, description=command.description or command.help
        )
        p.set_defaults(module=command.module)
        if command.nested:
            command.arguments(p, parents)
        else:
            command.arguments(p)
    return parser
