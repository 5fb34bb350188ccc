"""The command-line side of the camera capstone (facekit.camera): ``--stream`` and ``serve``.

    facekit app register NAME --stream [URL]   enrol NAME from N frames of an MJPEG stream
    facekit app login NAME --stream [URL]      yes (exit 0) / no (exit 1) from N frames (3: no answer)
    facekit app serve [--host H] [--port P]    the local web page with the browser's camera

facekit/cli/parser.py declares the options; facekit/cli/app.py calls ``stream`` and
facekit/cli/serve.py ``serve``. ``--stream`` without a URL takes ``stream_url`` from the config
file. The frames are read first, before PyTorch loads, so a wrong or silent stream is
reported within the timeout.
"""

from __future__ import annotations

import argparse
import sys
import time

from facekit.camera import config as app_config
from facekit.camera.inputs import InputError, check_name, decode_frame, error_text
from facekit.cli import appkit
from facekit.errors import CommandError


def stream(ctx, args: argparse.Namespace) -> int:
    """``app register|login NAME --stream [URL]``."""
    return _errors(lambda cfg: _from_stream(ctx, args, cfg), args)


def serve(ctx, args: argparse.Namespace) -> int:
    """``app serve``: until Ctrl-C."""
    return _errors(lambda cfg: _serve(ctx, args, cfg), args)


def _errors(call, args) -> int:
    cfg = appkit.config(args)  # a bad config file: UsageError (exit 2)
    try:
        return call(cfg)
    except NotImplementedError as err:  # a stub: its message names the file to open
        raise CommandError(f"{err} `facekit list` shows what is left.") from err
    except (ValueError, OSError, LookupError) as err:  # InputError, StreamError, UnknownPersonError
        raise CommandError(error_text(err)) from err


# -- --stream ------------------------------------------------------------------------------------


def _from_stream(ctx, args, cfg) -> int:
    from facekit.camera.stream import read_frames

    check_name(args.name)
    if args.stream == app_config.USE_CONFIG and not cfg.stream_url:
        where = cfg.source or f"./{app_config.CONFIG_NAME}"
        raise InputError(
            f"--stream without a URL takes stream_url from the config file, and "
            f"{where} has none: give --stream URL"
        )
    url = app_config.stream_url(cfg.stream_url)
    store = appkit.existing_store(args) if args.action == "login" else appkit.store_path(args)
    t = ctx.term
    t.status(f"reading {cfg.num_images} frames, {cfg.interval_millis} ms apart, from {url} ...")
    blobs = read_frames(url, cfg.num_images, cfg.interval_millis / 1000, cfg.stream_timeout_s)
    frames = [
        decode_frame(blob, f"frame {n} of {url}", cfg.max_frame_pixels) for n, blob in enumerate(blobs, 1)
    ]
    t.clear_status()
    service = _service(ctx, cfg, store)
    width, height = frames[0].size
    taken = f"{len(frames)} frames ({width}x{height}, {cfg.interval_millis} ms apart) of {url}"
    if args.action == "register":
        _, records, people = service.register(args.name, frames)
        t.wrap(
            f"Registered {args.name!r} from {taken}: one averaged embedding added to {store} "
            f"({records} for {args.name!r}; {people} {'person' if people == 1 else 'people'} in all)."
        )
        appkit.standin_note(ctx, "this embedding cannot tell people apart.")
        return 0
    answer = service.login(args.name, frames)
    appkit.login_verdict(ctx, answer)
    appkit.threshold_warning(ctx, answer.threshold)
    t.wrap(f"From {taken}.")
    appkit.standin_note(ctx, "this yes or no means nothing about faces.")
    return 0 if answer.accepted else 1


# -- serve ---------------------------------------------------------------------------------------


def _serve(ctx, args, cfg) -> int:
    from facekit.camera import server

    try:
        import flask  # noqa: F401
    except ModuleNotFoundError:
        raise InputError(server.flask_missing_message()) from None
    store = appkit.store_path(args)
    service = _service(ctx, cfg, store)
    info = server.PageInfo(
        frames=cfg.num_images,
        interval_ms=cfg.interval_millis,
        threshold=service.threshold,
        store=str(store),
        target=ctx.target,
        weights=ctx.weights,
        weights_text=ctx.choice.weights.describe(),
    )
    app = server.create_app(service, info, cfg.host, cfg.max_frame_pixels)
    t = ctx.term

    def ready(url: str) -> None:
        t.line(f"Serving the face login page on {url}  (Ctrl-C stops it)")
        if cfg.host in ("127.0.0.1", "localhost", "::1"):
            t.wrap(
                f"Listening on {cfg.host} only: other computers cannot connect (--host to change "
                f"that; anyone who can reach the port could then register and log in)."
            )
        else:
            t.wrap(
                t.style(
                    f"Listening on {cfg.host}: other computers can reach this page and its "
                    f"store. Browsers allow the camera only on https or on localhost.",
                    "yellow",
                )
            )
        appkit.threshold_warning(ctx, service.threshold)
        appkit.standin_note(ctx, "the page's answers mean nothing about faces.")
        sys.stdout.flush()

    server.serve(app, cfg.host, cfg.port, ready)
    return 0


# -- pieces --------------------------------------------------------------------------------------


def _service(ctx, cfg, store):
    from facekit.camera.service import FaceService

    appkit.app_header(ctx, store, cfg.source)
    started = time.perf_counter()
    model = appkit.model(ctx)
    if ctx.verbose:
        ctx.term.line(f"model loaded in {time.perf_counter() - started:.1f} s")
    return FaceService(ctx.target, model, store, cfg.threshold)
