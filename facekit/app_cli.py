"""``facekit app`` and ``facekit embed``: Exercise 06's app on the command line.

    facekit app register NAME IMAGE...    enrol NAME from one or more images
    facekit app login NAME IMAGE          yes or no: is the person in IMAGE the registered NAME?
    facekit app identify IMAGE [-k K]     the K registered people most like IMAGE
    facekit app register/login NAME --stream [URL]   the same from N frames of an MJPEG stream
    facekit app serve                     a local web page: log in with the browser's camera
    facekit embed DIR --out FILE          every image under DIR into FILE (.safetensors or .npy)

Every command runs the selected tree's code (``--target``/``KIT_TARGET``: your exercises by
default, or the solutions): its Exercise 06 functions, which use its Exercises 01 to 05,
and the model from its Exercise 02 ``build_model()`` on the selected weights
(``--weights``/``KIT_WEIGHTS``). On the stand-in weights every answer is printed with a
note that it means nothing about faces.

facekit/cli.py builds the parser and calls ``add_parsers`` and ``run`` from here.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from facekit import settings
from facekit.camera import commands as camera
from facekit.camera import inputs as camera_inputs

COMMANDS = ("app", "embed")
EXERCISE = "ex06_app"
DEFAULT_STORE = "facekit-faces.sqlite"  # in the current folder
_BAR_WIDTH = 24


def add_parsers(sub, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``app`` (register, login, identify) and ``embed`` to the ``facekit`` subparsers.

    ``parents`` are the shared option parsers (-v, --target, --weights); their defaults are
    argparse.SUPPRESS, so an option may come before or after the command.
    """
    store = argparse.ArgumentParser(add_help=False)
    store.add_argument("--store", metavar="PATH", default=argparse.SUPPRESS,
                       help=f"the embedding store: .sqlite, .sqlite3 or .db for SQLite, .json for "
                            f"a JSON file (default: {DEFAULT_STORE} in the current folder)")
    camera.add_config_option(store)
    shared = [*parents, store]
    app = sub.add_parser(
        "app", parents=shared, help="the face login app of Exercise 06: register, login, identify",
        description="Register people from images, log them in, identify who is in an image: "
                    "Exercise 06 of the selected tree, on the selected weights. On the stand-in "
                    "weights (the default) the answers mean nothing about faces.")
    actions = app.add_subparsers(dest="action", metavar="ACTION", required=True)
    register = p = actions.add_parser("register", parents=shared,
                                      help="enrol NAME from one or more images, or a stream's frames")
    p.add_argument("name", metavar="NAME")
    p.add_argument("images", metavar="IMAGE", nargs="*")
    login = p = actions.add_parser("login", parents=shared,
                                   help="yes (exit 0) or no (exit 1): is IMAGE the registered NAME?")
    p.add_argument("name", metavar="NAME")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("image", metavar="IMAGE", nargs="?")
    camera.add_arguments(register, login, actions.add_parser(
        "serve", parents=shared, help="a local web page: register and log in with the browser's camera",
        description="Serves one page on 127.0.0.1 (this computer only, unless --host says "
                    "otherwise): the live camera, register, log in, identify, the people "
                    "registered. Needs the [app] extra (Flask)."), exclusive={login: source})
    p.add_argument("--threshold", type=float, default=None,
                   help="accept when the best cosine similarity is at least this, in [-1, 1] "
                        "(default: the exercise's DEFAULT_THRESHOLD, 0.5; not calibrated)")
    p = actions.add_parser("identify", parents=shared, help="the K registered people most like IMAGE")
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("-k", type=int, default=None, help="how many people (default 3)")
    p = sub.add_parser(
        "embed", parents=parents, help="embed every image under a folder into one file",
        description="Embeds every image under DIR (recursively, sorted; names starting with '.' "
                    "left out) in batches, and writes the embeddings with their file names to "
                    "FILE: .safetensors (names in the metadata) or .npy (names in "
                    "FILE-without-.npy.names.json). Files that are not images are skipped and listed.")
    p.add_argument("folder", metavar="DIR")
    p.add_argument("--out", metavar="FILE", required=True, help="the output: .safetensors or .npy")
    p.add_argument("--batch-size", type=int, default=None,
                   help="images per forward pass (default: the exercise's DEFAULT_BATCH_SIZE, 8)")


def run(ctx, args: argparse.Namespace) -> int:
    """Run ``facekit app ACTION`` or ``facekit embed``; ``ctx`` is facekit.cli's Context."""
    from facekit.cli import CommandError

    if camera.handles(args):  # --stream and serve: facekit/camera/commands.py
        return camera.run(ctx, args)
    ex = settings.load_exercise(EXERCISE, ctx.target)
    try:
        if args.command == "embed":
            return _embed(ctx, ex, args)
        handler = {"register": _register, "login": _login, "identify": _identify}[args.action]
        return handler(ctx, ex, args)
    except NotImplementedError as err:  # a stub (of any exercise): its message names the file
        raise CommandError(f"{err} `facekit list` shows what is left.") from err
    except (ValueError, OSError, ex.UnknownPersonError) as err:
        # The app's own errors are written for people (expected vs given): one line.
        raise CommandError(str(err)) from err


# -- the commands --------------------------------------------------------------------------------


def _register(ctx, ex, args) -> int:
    store_path = _store_path(args)
    _require_files(args.images)
    store = ex.open_store(store_path)
    _header(ctx, store_path)
    model = _model(ctx)
    ids = ex.register(store, model, args.name, args.images)
    people = len({record.name for record in store.all()})
    t = ctx.term
    t.wrap(f"Registered {args.name!r}: {_plural(len(ids), 'embedding')} added to {store_path} "
           f"({_plural(len(store), 'embedding')} of {_plural(people, 'person', 'people')} in all).")
    _standin_note(ctx, "these embeddings cannot tell people apart.")
    return 0


def _login(ctx, ex, args) -> int:
    from facekit.cli import UsageError

    threshold = camera.threshold(args, ex.DEFAULT_THRESHOLD)
    if not -1.0 <= threshold <= 1.0:
        raise UsageError(f"--threshold must be a cosine similarity in [-1, 1]; got {threshold}")
    store_path = _existing_store(args)
    _require_files([args.image])
    store = ex.open_store(store_path)
    _header(ctx, store_path)
    result = ex.login(store, _model(ctx), args.name, args.image, threshold=threshold)
    t = ctx.term
    # As many decimals as the threshold has (4 at least), so "<" never shows two equal numbers.
    digits = max(4, len(f"{result.threshold:g}".partition(".")[2]))
    score, limit = f"{result.score:.{digits}f}", f"{result.threshold:.{digits}f}"
    if result.accepted:
        t.line(f"{result.name}: {t.style('yes', 'green', 'bold')} (best score {score} >= threshold {limit})")
    else:
        t.line(f"{result.name}: {t.style('no', 'red', 'bold')} (best score {score} < threshold {limit})")
    _standin_note(ctx, "this yes or no means nothing about faces.")
    return 0 if result.accepted else 1


def _identify(ctx, ex, args) -> int:
    from facekit.cli import UsageError

    k = ex.DEFAULT_K if args.k is None else args.k
    if k < 1:
        raise UsageError(f"-k must be at least 1; got {k}")
    store_path = _existing_store(args)
    _require_files([args.image])
    store = ex.open_store(store_path)
    _header(ctx, store_path)
    found = ex.identify(store, _model(ctx), args.image, k=k)
    t = ctx.term
    if not found:
        t.wrap(f"Nobody is registered in {store_path} yet: `facekit app register NAME IMAGE...`.")
        return 1
    t.wrap(f"The {_plural(len(found), 'person', 'people')} most like {args.image}, best first "
           f"(cosine similarity):")
    width = max(len(name) for name, _ in found)
    for rank, (name, score) in enumerate(found, 1):
        t.line(f"  {rank}. {name.ljust(width)}  {score:.4f}")
    _standin_note(ctx, "this ranking means nothing about faces.")
    return 0


def _embed(ctx, ex, args) -> int:
    from facekit.cli import CommandError, UsageError

    out = Path(args.out)
    if out.suffix.lower() not in ex.OUTPUT_SUFFIXES:
        raise UsageError(f"--out must end in {' or '.join(ex.OUTPUT_SUFFIXES)}; got {args.out!r}")
    batch_size = ex.DEFAULT_BATCH_SIZE if args.batch_size is None else args.batch_size
    if batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1; got {batch_size}")
    folder = Path(args.folder)
    if not folder.is_dir():
        raise CommandError(f"{folder} is not a folder" if folder.exists() else f"no folder {folder}")
    _header(ctx, None)
    model = _model(ctx)
    t = ctx.term
    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        filled = min(_BAR_WIDTH * done // total, _BAR_WIDTH) if total > 0 else _BAR_WIDTH
        rate = done / max(time.perf_counter() - started, 1e-9)
        t.status(f"embedding [{'#' * filled}{'.' * (_BAR_WIDTH - filled)}] {done}/{total} files, "
                 f"{rate:.1f}/s")

    summary = ex.embed_folder(model, folder, out, batch_size=batch_size, progress=progress)
    seconds = time.perf_counter() - started
    t.clear_status()
    where = f"names in {summary.names_file}" if summary.names_file else "names in its metadata"
    t.wrap(f"Embedded {_plural(summary.count, 'image')} into {summary.out} ({summary.count} x "
           f"{summary.width} float32, {where}) in {seconds:.1f} s "
           f"({summary.count / max(seconds, 1e-9):.1f} images/s).")
    if summary.skipped:
        what = "is not a readable image" if len(summary.skipped) == 1 else "are not readable images"
        t.line(f"Skipped {_plural(len(summary.skipped), 'file')} that {what}:")
        for name, reason in summary.skipped:
            t.wrap(f"{name}: {reason}", first="  ", indent="    ")
    _standin_note(ctx, "these embeddings mean nothing about faces.")
    return 0


# -- pieces ------------------------------------------------------------------------------------


def _store_path(args) -> Path:
    # --store, else the config file's store, else DEFAULT_STORE; a folder or an unknown suffix
    # is one line naming the path (facekit/camera/inputs.py).
    return camera.store_path(args)


def _existing_store(args) -> Path:
    """login and identify read a store: a missing file is a mistake (a new one would be empty)."""
    return camera_inputs.check_store_path(_store_path(args), must_exist=True)


def _require_files(paths) -> None:
    """Say which input files are missing before the model loads (a second or more)."""
    camera_inputs.check_image_files(paths)


def _header(ctx, store: Path | None) -> None:
    t = ctx.term
    who = "your code" if ctx.target == "exercises" else "the reference solutions"
    t.line(f"code:    {ctx.target}/ ({who})")
    if ctx.weights == "standin":
        weights = settings.WeightsInUse("standin", settings.default_standin_cache(), True)
    else:
        from facekit import hub

        weights = settings.WeightsInUse("hub", hub.cache_dir(), hub.is_offline())
    t.wrap(weights.describe(), first="weights: ", indent=" " * 9)
    if store is not None:
        t.wrap(str(store), first="store:   ", indent=" " * 9)
    t.line()


def _model(ctx):
    """The tree's Exercise 02 model on the selected weights (stand-in: built once, offline)."""
    ctx.term.status("loading the model ...")
    settings.activate_weights(ctx.weights)
    model = settings.load_exercise("ex02_embeddings", ctx.target).build_model()
    ctx.term.clear_status()
    return model


def _standin_note(ctx, what: str) -> None:
    if ctx.weights != "standin":
        return
    t = ctx.term
    t.line()
    t.wrap(t.style(f"Stand-in weights (seeded random, NOT pretrained): {what} To them any two "
                   f"images look alike: scores sit near 1. For real answers: `facekit download`, "
                   f"then add --weights hub.", "yellow"))


def _plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else many or word + 's'}"

