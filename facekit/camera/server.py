"""``facekit app serve``: one local web page that logs you in with your face, and its endpoints.

    GET    /                    the page (page.html): camera, register, log in, identify, people
    GET    /api/info            settings the page shows: frames, interval, threshold, weights, store
    GET    /api/people          [{"name", "records"}]
    POST   /api/register        form: name, frames (files)  -> {"name", "id", "records", "people"}
    POST   /api/login           form: name, frames[, threshold] -> {"name", "accepted", "score", "threshold"}
    POST   /api/identify        form: frames[, k]  -> {"matches": [{"name", "score"}]}
    DELETE /api/people/<name>   -> {"name", "removed"}

Every error is JSON ``{"error": "one line"}`` with a 4xx or 5xx status, and the page shows that
line; a failing request is logged on the console and the server keeps serving. Flask is an
optional extra: ``pip install -e '.[app]'``.
"""

from __future__ import annotations

import socket
import sys
import traceback
from dataclasses import dataclass
from importlib import resources

from facekit.camera.inputs import MAX_FRAME_BYTES, MAX_FRAMES, InputError, check_name, decode_frame

# Room for MAX_FRAMES frames and the form's other fields; Flask answers 413 beyond it.
MAX_REQUEST_BYTES = MAX_FRAMES * MAX_FRAME_BYTES + 64 * 1024
MAX_K = 20


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
    return ("facekit app serve needs Flask, an optional extra: pip install -e '.[app]' "
            "(or pip install flask)")


def create_app(service, info: PageInfo):
    """The Flask application for ``service`` (a FaceService)."""
    from flask import Flask, Response, jsonify, request
    from werkzeug.exceptions import HTTPException

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    page = resources.files("facekit.camera").joinpath("page.html").read_text(encoding="utf-8")

    def error(message: str, status: int):
        return jsonify(error=message), status

    def frames_from_request():
        files = request.files.getlist("frames")
        if not files:
            raise InputError("no frames came with the request; expected 1 or more camera frames")
        if len(files) > MAX_FRAMES:
            raise InputError(f"{len(files)} frames came; at most {MAX_FRAMES} are accepted")
        return [decode_frame(f.read(MAX_FRAME_BYTES + 1), f"frame {n}")
                for n, f in enumerate(files, 1)]

    @app.get("/")
    def index():
        return Response(page, mimetype="text/html")

    @app.get("/api/info")
    def api_info():
        return jsonify(frames=info.frames, interval_ms=info.interval_ms, threshold=info.threshold,
                       store=info.store, target=info.target, weights=info.weights,
                       weights_text=info.weights_text, standin=info.weights == "standin",
                       max_frames=MAX_FRAMES)

    @app.get("/api/people")
    def api_people():
        return jsonify(people=[{"name": n, "records": c} for n, c in service.people()])

    @app.post("/api/register")
    def api_register():
        name = check_name(request.form.get("name", ""))
        record_id, records, people = service.register(name, frames_from_request())
        return jsonify(name=name, id=record_id, records=records, people=people)

    @app.post("/api/login")
    def api_login():
        name = check_name(request.form.get("name", ""))
        threshold = request.form.get("threshold")
        if threshold not in (None, ""):
            try:
                threshold = float(threshold)
            except ValueError:
                raise InputError(f"threshold must be a number in [-1, 1]; got {threshold!r}") from None
        else:
            threshold = None
        answer = service.login(name, frames_from_request(), threshold)
        return jsonify(name=answer.name, accepted=answer.accepted, score=answer.score,
                       threshold=answer.threshold)

    @app.post("/api/identify")
    def api_identify():
        k = request.form.get("k", "3")
        if not k.isdigit() or not 1 <= int(k) <= MAX_K:
            raise InputError(f"k must be a whole number from 1 to {MAX_K}; got {k!r}")
        found = service.identify(frames_from_request(), int(k))
        return jsonify(matches=[{"name": n, "score": s} for n, s in found])

    @app.delete("/api/people/<path:name>")
    def api_remove(name):
        return jsonify(name=name, removed=service.remove(check_name(name)))

    @app.errorhandler(Exception)
    def on_error(err):
        # One line for the page; the traceback only on the console, for unexpected errors.
        if isinstance(err, HTTPException):
            if err.code == 413:
                return error(f"the request is over {MAX_REQUEST_BYTES // 2**20} MB; send at most "
                             f"{MAX_FRAMES} frames of at most {MAX_FRAME_BYTES // 2**20} MB", 413)
            return error(f"{err.code} {err.name}: {err.description}", err.code or 500)
        if isinstance(err, NotImplementedError):  # a stub: its message names the file to open
            return error(str(err), 501)
        if isinstance(err, service.ex.UnknownPersonError):
            return error(str(err).strip("'\""), 404)
        if isinstance(err, (ValueError, TypeError)):
            return error(str(err), 400)
        traceback.print_exception(type(err), err, err.__traceback__, file=sys.stderr)
        return error(f"the server failed on this request ({type(err).__name__}: {err}); "
                     f"see its console", 500)

    return app


def serve(app, host: str, port: int, ready) -> None:
    """Serve ``app`` on host:port in threads until Ctrl-C; ``ready(url)`` once it listens."""
    from werkzeug.serving import make_server

    # werkzeug prints and exits on a taken port; try the address first, for one line of our own.
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as err:  # the port is taken, or the host is not an address of this computer
        raise OSError(f"cannot listen on {host}:{port} ({err.strerror or err}); another program "
                      f"may use the port: --port 0 picks a free one") from None
    server = make_server(host, port, app, threaded=True)
    shown = f"[{host}]" if ":" in host else host
    ready(f"http://{shown}:{server.server_port}/")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
