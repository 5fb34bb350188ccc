"""The command-line side of the camera capstone, called from ``facekit app``.

    facekit app register NAME --stream [URL]   enrol NAME from N frames of an MJPEG stream
    facekit app login NAME --stream [URL]      yes (exit 0) / no (exit 1) from N frames
    facekit app serve [--host H] [--port P]    the local web page with the browser's camera

``--stream`` without a URL takes ``stream_url`` from the config file. The frames are read
first, before PyTorch loads, so a wrong or silent stream is reported within the timeout.
"""

from __future__ import annotations

import argparse
import sys
import time

from facekit import settings
from facekit.camera import config as app_config
from facekit.camera.inputs import InputError, check_name, check_store_path, decode_frame

EXERCISE = "ex06_app"


def add_arguments(register, login, serve_parser, exclusive=None) -> None:
    """The camera options of ``app register``, ``app login`` and ``app serve``.

    ``exclusive`` maps a parser to the mutually exclusive group --stream belongs in (login's
    IMAGE or --stream: argparse then says "one of ... is required" when both are missing).
    """
    from facekit.camera.inputs import MAX_FRAMES

    exclusive = exclusive or {}
    for parser in (register, login):
        exclusive.get(parser, parser).add_argument("--stream", nargs="?", const=app_config.USE_CONFIG, default=None, metavar="URL",
                            help="take the frames from this MJPEG stream (multipart/x-mixed-replace) "
                                 "instead of image files; without URL: the config's stream_url")
        parser.add_argument("--stream-timeout", type=app_config.argtype(app_config.timeout_seconds),
                            default=None, metavar="S",
                            help="a stream silent this many seconds is an error (default 5)")
    for parser in (register, login, serve_parser):
        parser.add_argument("--frames", type=app_config.argtype(app_config.frames_count), default=None,
                            metavar="N", help=f"frames per capture, 1 to {MAX_FRAMES} (default 5)")
        parser.add_argument("--interval", type=app_config.argtype(app_config.interval_millis),
                            default=None, metavar="MS", help="milliseconds between frames (default 200)")
    serve_parser.add_argument("--threshold", type=app_config.argtype(app_config.threshold_value),
                              default=None, help="login accepts a score >= this, in [-1, 1] "
                                                 "(default: the exercise's DEFAULT_THRESHOLD, 0.5)")
    serve_parser.add_argument("--host", default=None,
                              help="where to listen (default 127.0.0.1: this computer only)")
    serve_parser.add_argument("--port", type=app_config.argtype(app_config.port_number), default=None,
                              help="the port (default 8765; 0 picks a free one)")



def add_config_option(parser) -> None:
    """``--config FILE`` on a parser every ``app`` action inherits."""
    parser.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS,
                        help=f"the app's TOML config (default: ./{app_config.CONFIG_NAME} if present)")


def handles(args: argparse.Namespace) -> bool:
    """True for what this module runs: ``serve``, register/login with --stream, register with neither."""
    if getattr(args, "command", None) != "app":
        return False
    if args.action == "register" and not args.images:
        return True  # run() says: IMAGE... or --stream
    return args.action == "serve" or getattr(args, "stream", None) is not None


def store_path(args: argparse.Namespace):
    """--store, else the config file's store, else the default; checked (suffix, not a folder)."""
    return check_store_path(app_config.resolve(args).store)


def threshold(args: argparse.Namespace, default: float) -> float:
    """--threshold, else the config file's threshold, else ``default``."""
    value = app_config.resolve(args).threshold
    return default if value is None else value


def run(ctx, args: argparse.Namespace) -> int:
    from facekit.cli import CommandError, UsageError

    if args.action == "register" and bool(args.images) == (args.stream is not None):
        raise UsageError("app register takes IMAGE... or --stream [URL], one of the two; got "
                         + ("both" if args.images else "neither"))
    try:
        cfg = app_config.resolve(args)
        if args.action == "serve":
            return _serve(ctx, cfg)
        return _from_stream(ctx, args, cfg)
    except app_config.ConfigError as err:
        raise UsageError(str(err)) from err
    except NotImplementedError as err:  # a stub: its message names the file to open
        raise CommandError(f"{err} `facekit list` shows what is left.") from err
    except (ValueError, OSError, LookupError) as err:
        raise CommandError(str(err).strip("'\"")) from err


# -- --stream ------------------------------------------------------------------------------------


def _from_stream(ctx, args, cfg) -> int:
    from facekit.camera.stream import read_frames

    check_name(args.name)
    if args.stream == app_config.USE_CONFIG and not cfg.stream_url:
        where = cfg.source or f"./{app_config.CONFIG_NAME}"
        raise InputError(f"--stream without a URL takes stream_url from the config file, and "
                         f"{where} has none: give --stream URL")
    url = app_config.stream_url(cfg.stream_url)
    store = check_store_path(cfg.store, must_exist=args.action == "login")
    t = ctx.term
    t.status(f"reading {cfg.num_images} frames, {cfg.interval_millis} ms apart, from {url} ...")
    blobs = read_frames(url, cfg.num_images, cfg.interval_millis / 1000, cfg.stream_timeout_s)
    frames = [decode_frame(blob, f"frame {n} of {url}") for n, blob in enumerate(blobs, 1)]
    t.clear_status()
    service = _service(ctx, cfg, store)
    width, height = frames[0].size
    taken = f"{len(frames)} frames ({width}x{height}, {cfg.interval_millis} ms apart) of {url}"
    if args.action == "register":
        _, records, people = service.register(args.name, frames)
        t.wrap(f"Registered {args.name!r} from {taken}: one averaged embedding added to {store} "
               f"({records} for {args.name!r}; {people} {'person' if people == 1 else 'people'} in all).")
        _standin_note(ctx, "this embedding cannot tell people apart.")
        return 0
    answer = service.login(args.name, frames, cfg.threshold)
    digits = max(4, len(f"{answer.threshold:g}".partition(".")[2]))
    score, limit = f"{answer.score:.{digits}f}", f"{answer.threshold:.{digits}f}"
    if answer.accepted:
        t.line(f"{answer.name}: {t.style('yes', 'green', 'bold')} (best score {score} >= threshold {limit})")
    else:
        t.line(f"{answer.name}: {t.style('no', 'red', 'bold')} (best score {score} < threshold {limit})")
    t.wrap(f"From {taken}.")
    _standin_note(ctx, "this yes or no means nothing about faces.")
    return 0 if answer.accepted else 1


# -- serve ---------------------------------------------------------------------------------------


def _serve(ctx, cfg) -> int:
    from facekit.camera import server

    try:
        import flask  # noqa: F401
    except ModuleNotFoundError:
        raise InputError(server.flask_missing_message()) from None
    store = check_store_path(cfg.store)
    service = _service(ctx, cfg, store)
    weights = _weights(ctx)
    info = server.PageInfo(frames=cfg.num_images, interval_ms=cfg.interval_millis,
                           threshold=service.threshold, store=str(store), target=ctx.target,
                           weights=ctx.weights, weights_text=weights.describe())
    app = server.create_app(service, info)
    t = ctx.term

    def ready(url: str) -> None:
        t.line(f"Serving the face login page on {url}  (Ctrl-C stops it)")
        if cfg.host in ("127.0.0.1", "localhost", "::1"):
            t.wrap(f"Listening on {cfg.host} only: other computers cannot connect (--host to change "
                   f"that; anyone who can reach the port could then register and log in).")
        else:
            t.wrap(t.style(f"Listening on {cfg.host}: other computers can reach this page and its "
                           f"store. Browsers allow the camera only on https or on localhost.", "yellow"))
        _standin_note(ctx, "the page's answers mean nothing about faces.")
        sys.stdout.flush()

    server.serve(app, cfg.host, cfg.port, ready)
    return 0


# -- pieces --------------------------------------------------------------------------------------


def _weights(ctx):
    if ctx.weights == "standin":
        return settings.WeightsInUse("standin", settings.default_standin_cache(), True)
    from facekit import hub

    return settings.WeightsInUse("hub", hub.cache_dir(), hub.is_offline())


def _service(ctx, cfg, store):
    from facekit.camera.service import FaceService

    t = ctx.term
    who = "your code" if ctx.target == "exercises" else "the reference solutions"
    t.line(f"code:    {ctx.target}/ ({who})")
    t.wrap(_weights(ctx).describe(), first="weights: ", indent=" " * 9)
    t.wrap(str(store), first="store:   ", indent=" " * 9)
    if cfg.source is not None:
        t.wrap(str(cfg.source), first="config:  ", indent=" " * 9)
    t.line()
    t.status("loading the model ...")
    started = time.perf_counter()
    settings.activate_weights(ctx.weights)
    model = settings.load_exercise("ex02_embeddings", ctx.target).build_model()
    t.clear_status()
    if ctx.verbose:
        t.line(f"model loaded in {time.perf_counter() - started:.1f} s")
    return FaceService(ctx.target, model, store, cfg.threshold)


def _standin_note(ctx, what: str) -> None:
    if ctx.weights != "standin":
        return
    t = ctx.term
    t.line()
    t.wrap(t.style(f"Stand-in weights (seeded random, NOT pretrained): {what} To them any two "
                   f"images look alike: scores sit near 1. For real answers: `facekit download`, "
                   f"then add --weights hub.", "yellow"))
