"""``facekit app register|login|identify``: Exercise 06's face login app on the command line.

    facekit app register NAME IMAGE...    enrol NAME: one record, the images' average embedding
    facekit app login NAME IMAGE...       yes or no: are the images (averaged) the registered NAME?
    facekit app identify IMAGE [-k K]     the K registered people most like IMAGE
    facekit app register/login NAME --stream [URL]   the same from N frames of an MJPEG stream
    facekit app serve                     a local web page (facekit/cli/serve.py)

Every action runs the selected tree's code (``--target``): its Exercise 06 functions, which
use its Exercises 01 to 05, and the model from its Exercise 02 ``build_model()`` on the
selected weights. On the stand-in weights every answer comes with a note that it means
nothing about faces. Options and the config file (``--config``, or ./facekit-app.toml) are
checked before anything imports torch. ``--stream`` is facekit/camera/commands.py's.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from facekit.camera import commands as camera
from facekit.camera import config as app_config
from facekit.cli import appkit
from facekit.cli.context import Context, plural
from facekit.errors import FacekitError, Interrupted, NoAnswerError, UsageError


def check_args(args: argparse.Namespace) -> None:
    if args.action in ("register", "login") and bool(args.images) == (args.stream is not None):
        raise UsageError(
            f"app {args.action} takes IMAGE... or --stream [URL], one of the two; got "
            + ("both" if args.images else "neither")
        )
    if args.action == "login" and args.threshold is not None:
        try:  # the range the config file and `app serve` check too
            app_config.threshold_value(args.threshold)
        except ValueError as err:
            raise UsageError(f"--threshold: {err}") from None
    if args.action == "identify" and args.k is not None and args.k < 1:
        raise UsageError(f"-k must be at least 1; got {args.k}")
    appkit.config(args)


def run(ctx: Context, args: argparse.Namespace) -> int:
    if args.action == "login":
        return _answer_or_exit_3(ctx, lambda: _run(ctx, args))
    return _run(ctx, args)


def _answer_or_exit_3(ctx: Context, call: Callable[[], int]) -> int:
    """login's exit status: 0 yes, 1 no, so every other failure but a usage error (2) is 3."""
    try:
        return call()
    except (UsageError, Interrupted, NoAnswerError):
        raise
    except FacekitError as err:
        raise NoAnswerError(str(err)) from err
    except Exception as err:
        if ctx.verbose:
            import traceback

            traceback.print_exc()
        raise NoAnswerError(f"unexpected error: {type(err).__name__}: {err}") from err


def _run(ctx: Context, args: argparse.Namespace) -> int:
    if getattr(args, "stream", None) is not None:
        return camera.stream(ctx, args)
    handler = {"register": _register, "login": _login, "identify": _identify}[args.action]
    # The store and the inputs are checked before the import: they answer at once.
    store_path = appkit.store_path(args) if handler is _register else appkit.existing_store(args)
    appkit.require_inputs([args.image] if handler is _identify else args.images)
    ex = appkit.exercise(ctx)
    return appkit.app_errors(ex, lambda: handler(ctx, ex, args, store_path))


def _register(ctx: Context, ex: ModuleType, args: argparse.Namespace, store_path: Path) -> int:
    store = ex.open_store(store_path)
    appkit.app_header(ctx, store_path, appkit.config(args).source)
    ex.register(store, appkit.model(ctx), args.name, args.images)
    records = store.all()
    own, people = sum(r.name == args.name for r in records), len({r.name for r in records})
    ctx.term.wrap(
        f"Registered {args.name!r} from {plural(len(args.images), 'image')}: one averaged "
        f"embedding added to {store_path} ({own} for {args.name!r}; "
        f"{plural(people, 'person', 'people')} in all)."
    )
    appkit.standin_note(ctx, "this embedding cannot tell people apart.")
    return 0


def _login(ctx: Context, ex: ModuleType, args: argparse.Namespace, store_path: Path) -> int:
    threshold = appkit.threshold(args, ex.DEFAULT_THRESHOLD)
    store = ex.open_store(store_path)
    appkit.app_header(ctx, store_path, appkit.config(args).source)
    result = ex.login(store, appkit.model(ctx), args.name, args.images, threshold=threshold)
    appkit.login_verdict(ctx, result)
    appkit.threshold_warning(ctx, threshold)
    if len(args.images) > 1:
        ctx.term.wrap(f"From {len(args.images)} images, averaged into one embedding.")
    appkit.standin_note(ctx, "this yes or no means nothing about faces.")
    return 0 if result.accepted else 1


def _identify(ctx: Context, ex: ModuleType, args: argparse.Namespace, store_path: Path) -> int:
    k = ex.DEFAULT_K if args.k is None else args.k
    store = ex.open_store(store_path)
    appkit.app_header(ctx, store_path, appkit.config(args).source)
    found = ex.identify(store, appkit.model(ctx), args.image, k=k)
    t = ctx.term
    if not found:
        t.wrap(f"Nobody is registered in {store_path} yet: `facekit app register NAME IMAGE...`.")
        return 1
    t.wrap(
        f"The {plural(len(found), 'person', 'people')} most like {args.image}, best first "
        f"(cosine similarity):"
    )
    width = max(len(name) for name, _ in found)
    for rank, (name, score) in enumerate(found, 1):
        t.line(f"  {rank}. {name.ljust(width)}  {score:.4f}")
    appkit.standin_note(ctx, "this ranking means nothing about faces.")
    return 0
