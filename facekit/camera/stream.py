"""Frames from an MJPEG stream: HTTP ``multipart/x-mixed-replace``, one JPEG per part.

That is what an IP camera, a small Flask ``/video_feed`` or ``ffmpeg -f mpjpeg -content_type
"multipart/x-mixed-replace;boundary=ffmpeg" -listen 1`` serve (without -content_type ffmpeg
answers application/octet-stream; it serves one client per run), and what the workshop's app read. ``read_frames`` takes ``count`` frames ``interval_s`` apart,
reading and dropping the frames in between so that each one is fresh, then closes the
connection. Every wait is bounded, and so is the whole: all ``count`` frames must come within
``timeout_s`` plus the intervals between them, so a stream that trickles bytes without
finishing frames fails as fast as a silent one. Anything that is not MJPEG is a StreamError.

The bytes are read with ``read1`` (at most one system call each) under a socket timeout set to
the time left, never with a ``readline`` that a trickle could keep waiting for minutes.
"""

from __future__ import annotations

import http.client
import socket
import time
from urllib.parse import urlsplit

from facekit.camera.inputs import MAX_FRAME_BYTES, size_text

MJPEG_TYPE = "multipart/x-mixed-replace"
FFMPEG_TYPE = f"{MJPEG_TYPE};boundary=ffmpeg"  # its mpjpeg muxer's default boundary
_MAX_LINE = 8192  # a part header line; longer is not MJPEG
_MAX_HEADERS = 64


class StreamError(OSError):
    """The stream could not give frames: not reachable, not MJPEG, silent, or malformed."""


class _Late(Exception):
    """The deadline passed while waiting for bytes."""


def read_frames(
    url: str, count: int, interval_s: float, timeout_s: float = 5.0, max_frame_bytes: int = MAX_FRAME_BYTES
) -> list[bytes]:
    """``count`` JPEG frames from the MJPEG stream at ``url``, ``interval_s`` apart (bytes each).

    Raises StreamError when the URL cannot be reached, answers with another status than 200
    or with another content type than multipart/x-mixed-replace, does not send all ``count``
    frames within ``timeout_s + (count - 1) * interval_s`` seconds (the message says how many
    came), or sends a frame over ``max_frame_bytes``.
    """
    started = time.monotonic()
    deadline = started + timeout_s + (count - 1) * interval_s
    response, sock = _open(url, timeout_s)
    with response:
        content_type = response.headers.get_content_type()
        boundary = response.headers.get_param("boundary")
        if content_type != MJPEG_TYPE or not boundary:
            got = response.headers.get("Content-Type") or "no Content-Type"
            ffmpeg = (
                f' (ffmpeg sends that unless told -content_type "{FFMPEG_TYPE}")'
                if content_type == "application/octet-stream"
                else ""
            )
            raise StreamError(
                f"{url} is not an MJPEG stream: it sent {got}{ffmpeg}; expected "
                f"{MJPEG_TYPE} with a boundary (a camera's MJPEG feed)"
            )
        parts = _Parts(response, sock, str(boundary), url, timeout_s, deadline, max_frame_bytes)
        frames: list[bytes] = []
        try:
            frames.append(parts.next_frame())
            for _ in range(count - 1):
                due = time.monotonic() + interval_s
                # Drop the frames sent meanwhile: the next one taken is the first after the interval.
                while True:
                    frame = parts.next_frame()
                    if time.monotonic() >= due:
                        break
                frames.append(frame)
        except (_Late, TimeoutError):
            if not frames:
                raise StreamError(
                    f"{url} sent no whole frame for {time.monotonic() - started:.0f} s "
                    f"(0 of {count} frames came; is the camera on?)"
                ) from None
            raise StreamError(
                f"{url} sent {len(frames)} of {count} frames in "
                f"{time.monotonic() - started:.1f} s (--stream-timeout {timeout_s:g} s "
                f"plus the intervals between frames); is the camera on?"
            ) from None
        except (ConnectionError, http.client.HTTPException) as err:
            raise StreamError(f"{url} broke off the stream ({type(err).__name__}: {err})") from None
    return frames


def _open(url: str, timeout_s: float) -> tuple[http.client.HTTPResponse, socket.socket | None]:
    """The stream's response and its socket; StreamError when there is none."""
    parts = urlsplit(url)
    connection_type = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    try:
        connection = connection_type(parts.hostname or "", parts.port, timeout=timeout_s)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection.request("GET", path, headers={"Accept": f"{MJPEG_TYPE}, image/jpeg"})
        sock = connection.sock  # kept: the connection hands it to the response and forgets it
        response = connection.getresponse()
    except TimeoutError:
        raise StreamError(f"{url} did not answer within {timeout_s:g} s; expected an MJPEG stream") from None
    except (OSError, ValueError, http.client.HTTPException) as err:
        reason = getattr(err, "strerror", None) or err
        raise StreamError(f"cannot connect to {url} ({reason}); is the camera's stream running?") from None
    if response.status != 200:
        response.close()
        raise StreamError(
            f"{url} answered HTTP {response.status} {response.reason}; expected an MJPEG stream"
        )
    return response, sock


class _Parts:
    """The parts of one multipart response, read with bounded sizes and a deadline."""

    def __init__(
        self,
        response: http.client.HTTPResponse,
        sock: socket.socket | None,
        boundary: str,
        url: str,
        timeout_s: float,
        deadline: float,
        max_bytes: int,
    ):
        self.response, self.sock = response, sock
        boundary = boundary.strip('"')
        self.delimiters = {b"--" + boundary.encode("latin-1"), boundary.encode("latin-1")}
        self.url, self.timeout_s, self.deadline, self.max_bytes = url, timeout_s, deadline, max_bytes
        self.buffer = bytearray()
        self.at_boundary = False

    def next_frame(self) -> bytes:
        if not self.at_boundary:  # skip the preamble, or the rest of a part read by length
            while self._line(_MAX_LINE).strip() not in self.delimiters:
                pass
        length = None
        for _ in range(_MAX_HEADERS):
            line = self._line(_MAX_LINE).strip()
            if not line:
                break
            key, _, value = line.decode("latin-1").partition(":")
            if key.strip().lower() == "content-length":
                try:
                    length = int(value.strip())
                except ValueError:
                    raise StreamError(
                        f"{self.url} sent a part with Content-Length {value.strip()!r}; expected a number"
                    ) from None
        else:
            raise StreamError(f"{self.url} sent a part with over {_MAX_HEADERS} header lines; not MJPEG")
        if length is not None:
            if length > self.max_bytes:
                raise self._too_big(length)
            frame = self._read(length)
            self.at_boundary = False
            return frame
        # No Content-Length: the frame runs to the next boundary line.
        chunks: list[bytes] = []
        size = 0
        while True:
            line = self._line(self.max_bytes + 1)
            if line.rstrip(b"\r\n") in self.delimiters:
                self.at_boundary = True
                frame = b"".join(chunks)
                return frame[:-2] if frame.endswith(b"\r\n") else frame.rstrip(b"\n")
            size += len(line)
            if size > self.max_bytes:
                raise self._too_big(size)
            chunks.append(line)

    def _line(self, limit: int) -> bytes:
        """Up to and with the next newline, or ``limit`` bytes, whichever comes first."""
        start = 0
        while True:
            end = self.buffer.find(b"\n", start)
            if end >= 0 or len(self.buffer) >= limit:
                end = min(end + 1 if end >= 0 else limit, limit)
                line = bytes(self.buffer[:end])
                del self.buffer[:end]
                return line
            start = len(self.buffer)
            self._fill()

    def _read(self, length: int) -> bytes:
        while len(self.buffer) < length:
            self._fill()
        data = bytes(self.buffer[:length])
        del self.buffer[:length]
        return data

    def _fill(self) -> None:
        """One more read from the socket, waiting at most until the deadline."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise _Late
        if self.sock is not None:
            self.sock.settimeout(min(self.timeout_s, left))
        data = self.response.read1(65536)
        if not data:
            raise StreamError(f"{self.url} closed the stream before a whole frame came")
        self.buffer += data

    def _too_big(self, size: int) -> StreamError:
        return StreamError(
            f"{self.url} sent a frame of {size_text(size)}; at most {size_text(self.max_bytes)} is accepted"
        )
