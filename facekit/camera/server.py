"""``facekit app serve``: one local web page that logs you in with your face, and its endpoints.

    GET    /                    the page (page.html): camera, register, log in, identify, people
    GET    /api/info            settings the page shows: frames, interval, threshold, weights, store
    GET    /api/people          [{"name", "records"}]
    POST   /api/register        form: name, frames (files)  -> {"name", "id", "records", "people"}
    POST   /api/login           form: name, frames -> {"name", "accepted", "score", "threshold"}
    POST   /api/identify        form: frames[, k]  -> {"matches": [{"name", "score"}]}
    DELETE /api/people/<name>   -> {"name", "removed"}

Every error is JSON ``{"error": "one line"}`` with a 4xx or 5xx status, and the page shows that
line; a failing request is logged on the console and the server keeps serving. Flask is an
optional extra: ``pip install -e '.[app]'``.

Any website the student visits can make the browser send requests here, so:
- the Host header must name this server (127.0.0.1, localhost, [::1] or --host), else 400:
  a website whose name resolves to 127.0.0.1 (DNS rebinding) is not this page;
- every /api/ request must come from this page: its Origin header (or, without one, its
  Referer) must be this server's own origin, else 403 (OWASP's CSRF header verification);
  one with neither passes when the browser says Sec-Fetch-Site: same-origin;
- the login threshold is the server's: a request that sends one is refused (400);
- frames are checked before decoding (their bytes, then the pixels their header states),
  decoded one at a time and shrunk at once to the size preprocess resizes them to
  (FaceService.shrink), and at most MAX_BUSY requests hold frames at once: the others wait.
"""

from __future__ import annotations

import socket
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from facekit.camera.inputs import (
    DEFAULT_FRAME_PIXELS,
    MAX_FRAME_BYTES,
    MAX_FRAMES,
    InputError,
    check_frame_bytes,
    check_name,
    decode_frame,
    error_text,
    size_text,
)

if TYPE_CHECKING:  # Flask is an optional extra, imported when the server starts
    from flask import Flask, Response
    from PIL.Image import Image

    from facekit.camera.service import FaceService

# Room for MAX_FRAMES frames and the form's other fields; Flask answers 413 beyond it.
MAX_REQUEST_BYTES = MAX_FRAMES * MAX_FRAME_BYTES + 64 * 1024
MAX_K = 20
# Requests that hold decoded frames at once (the model runs one at a time anyway).
MAX_BUSY = 2
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
WILDCARDS = ("0.0.0.0", "::", "")


@dataclass(frozen=True)
class PageInfo:
    """What the page shows about this server."""

    frames: int
    interval_ms: int
    threshold: float
    store: str
    target: str
    weights: str  # "standin" or "hub"
    weights_text: str


def flask_missing_message() -> str:
    return "facekit app serve needs Flask, an optional extra: pip install -e '.[app]' (or pip install flask)"


def trusted_hosts(host: str) -> set[str]:
    """The host names a request may name in its Host header when the server listens on ``host``:
    the loopback names, ``host`` itself, and for 0.0.0.0 or :: this computer's names and
    addresses (the ones other computers reach it by)."""
    names = {*LOOPBACK_NAMES, host.strip("[]").lower()}
    if host in WILDCARDS:
        names.discard(host)
        for name in {socket.gethostname(), socket.getfqdn()}:
            names.add(name.lower())
            try:
                names.update(str(info[4][0]) for info in socket.getaddrinfo(name, None))
            except OSError:  # a name that does not resolve: only the name itself
                pass
    return names


def host_name(host_header: str) -> str:
    """ "localhost" of "localhost:8765", "::1" of "[::1]:8765". (Werkzeug 3.1's TRUSTED_HOSTS
    compares "[::1]" with "[" and so can never accept an IPv6 address: the check is here.)"""
    if host_header.startswith("["):
        return host_header[1:].partition("]")[0].lower()
    return host_header.rpartition(":")[0].lower() if ":" in host_header else host_header.lower()


def create_app(
    service: FaceService, info: PageInfo, host: str = "127.0.0.1", max_pixels: int = DEFAULT_FRAME_PIXELS
) -> Flask:
    """The Flask application for ``service`` (a FaceService), serving on ``host``."""
    from flask import Flask, Response, jsonify, request
    from werkzeug.exceptions import HTTPException

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    page = resources.files("facekit.camera").joinpath("page.html").read_text(encoding="utf-8")
    trusted = trusted_hosts(host)
    busy = threading.BoundedSemaphore(MAX_BUSY)

    def error(message: str, status: int) -> tuple[Response, int]:
        return jsonify(error=message), status

    @app.before_request
    def from_this_page_only() -> tuple[Response, int] | None:
        name = host_name(request.host)
        if name not in trusted:
            return error(
                f"this server answers only to {', '.join(sorted(trusted))}; the request "
                f"named the host {request.host!r} (another website's name?)",
                400,
            )
        if not request.path.startswith("/api/"):
            return None
        own = f"{request.scheme}://{request.host}"
        origin = request.headers.get("Origin")
        if origin is None and request.headers.get("Sec-Fetch-Site") == "same-origin":
            return None  # the browser's own word (no page can set it), where a Referer was stripped
        if origin is None and request.referrer:
            parts = urlsplit(request.referrer)
            origin = f"{parts.scheme}://{parts.netloc}"
        if origin != own:
            came = f"from {origin}" if origin else "without an Origin or Referer header"
            return error(
                f"refused: {request.method} {request.path} came {came}; this server "
                f"answers only its own page, {own}/",
                403,
            )
        return None

    def frames_from_request() -> list[Image]:
        """The frames, decoded one by one: the byte count first, then the pixels from the header."""
        files = request.files.getlist("frames")
        if not files:
            raise InputError("no frames came with the request; expected 1 or more camera frames")
        if len(files) > MAX_FRAMES:
            raise InputError(f"{len(files)} frames came; at most {MAX_FRAMES} are accepted")
        frames = []
        for n, f in enumerate(files, 1):
            f.stream.seek(0, 2)  # the real size, not the bytes read so far
            check_frame_bytes(f.stream.tell(), f"frame {n}")
            f.stream.seek(0)
            frames.append(service.shrink(decode_frame(f.stream.read(), f"frame {n}", max_pixels)))
            f.close()  # decoded and shrunk: the bytes and the full frame go
        return frames

    def no_threshold() -> None:
        if "threshold" in request.values:
            raise InputError(
                f"the login threshold is the server's ({service.threshold}); a request "
                f"may not set it (got threshold={request.values['threshold']!r})"
            )

    @app.get("/")
    def index() -> Response:
        return Response(page, mimetype="text/html")

    @app.get("/api/info")
    def api_info() -> Response:
        return jsonify(
            frames=info.frames,
            interval_ms=info.interval_ms,
            threshold=info.threshold,
            store=info.store,
            target=info.target,
            weights=info.weights,
            weights_text=info.weights_text,
            standin=info.weights == "standin",
            max_frames=MAX_FRAMES,
        )

    @app.get("/api/people")
    def api_people() -> Response:
        return jsonify(people=[{"name": n, "records": c} for n, c in service.people()])

    @app.post("/api/register")
    def api_register() -> Response:
        no_threshold()
        name = check_name(request.form.get("name", ""))
        with busy:
            record_id, records, people = service.register(name, frames_from_request())
        return jsonify(name=name, id=record_id, records=records, people=people)

    @app.post("/api/login")
    def api_login() -> Response:
        no_threshold()
        name = check_name(request.form.get("name", ""))
        with busy:
            answer = service.login(name, frames_from_request())
        return jsonify(
            name=answer.name, accepted=answer.accepted, score=answer.score, threshold=answer.threshold
        )

    @app.post("/api/identify")
    def api_identify() -> Response:
        no_threshold()
        k = request.form.get("k", "3")
        if not k.isdigit() or not 1 <= int(k) <= MAX_K:
            raise InputError(f"k must be a whole number from 1 to {MAX_K}; got {k!r}")
        with busy:
            found = service.identify(frames_from_request(), int(k))
        return jsonify(matches=[{"name": n, "score": s} for n, s in found])

    @app.delete("/api/people/<path:name>")
    def api_remove(name: str) -> Response:
        return jsonify(name=name, removed=service.remove(check_name(name)))

    @app.errorhandler(Exception)
    def on_error(err: Exception) -> tuple[Response, int]:
        # One line for the page; the traceback only on the console, for unexpected errors.
        if isinstance(err, HTTPException):
            if err.code == 413:
                limit = app.config["MAX_CONTENT_LENGTH"]
                sent = f"is {size_text(request.content_length)}" if request.content_length else "is too big"
                return error(
                    f"the request {sent}; at most {size_text(limit)} is accepted (at most "
                    f"{MAX_FRAMES} frames of at most {size_text(MAX_FRAME_BYTES)} each)",
                    413,
                )
            return error(f"{err.code} {err.name}: {err.description}", err.code or 500)
        if isinstance(err, NotImplementedError):  # a stub: its message names the file to open
            return error(str(err), 501)
        if isinstance(err, service.ex.UnknownPersonError):
            return error(error_text(err), 404)
        if isinstance(err, (ValueError, TypeError)):
            return error(str(err), 400)
        traceback.print_exception(type(err), err, err.__traceback__, file=sys.stderr)
        return error(f"the server failed on this request ({type(err).__name__}: {err}); see its console", 500)

    return app


def serve(app: Flask, host: str, port: int, ready: Callable[[str], object]) -> None:
    """Serve ``app`` on host:port in threads until Ctrl-C; ``ready(url)`` once it listens."""
    from werkzeug.serving import make_server

    # werkzeug prints and exits on a taken port; try the address first, for one line of our own.
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as err:  # the port is taken, or the host is not an address of this computer
        raise OSError(
            f"cannot listen on {host}:{port} ({err.strerror or err}); another program "
            f"may use the port: --port 0 picks a free one"
        ) from None
    server = make_server(host, port, app, threaded=True)
    shown = f"[{host}]" if ":" in host else host
    ready(f"http://{shown}:{server.server_port}/")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
