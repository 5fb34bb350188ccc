"""Frames from an MJPEG stream: HTTP ``multipart/x-mixed-replace``, one JPEG per part.

That is what an IP camera, a small Flask ``/video_feed`` or ``ffmpeg -f mpjpeg -content_type
"multipart/x-mixed-replace;boundary=ffmpeg" -listen 1`` serve (without -content_type ffmpeg
answers application/octet-stream; it serves one client per run), and what the workshop's app read. ``read_frames`` takes ``count`` frames ``interval_s`` apart,
reading and dropping the frames in between so that each one is fresh, then closes the
connection. Every wait is bounded: a stream silent for ``timeout_s`` (or one that trickles
bytes without finishing a frame) is a StreamError, and so is anything that is not MJPEG.
"""

from __future__ import annotations

import http.client
import socket
import time
import urllib.error
import urllib.request

from facekit.camera.inputs import MAX_FRAME_BYTES

MJPEG_TYPE = "multipart/x-mixed-replace"
FFMPEG_TYPE = f"{MJPEG_TYPE};boundary=ffmpeg"  # its mpjpeg muxer's default boundary
_MAX_LINE = 8192  # a part header line; longer is not MJPEG
_MAX_HEADERS = 64


class StreamError(OSError):
    """The stream could not give frames: not reachable, not MJPEG, silent, or malformed."""


def read_frames(url: str, count: int, interval_s: float, timeout_s: float = 5.0,
                max_frame_bytes: int = MAX_FRAME_BYTES) -> list[bytes]:
    """``count`` JPEG frames from the MJPEG stream at ``url``, ``interval_s`` apart (bytes each).

    Raises StreamError when the URL cannot be reached, answers with an HTTP error or with
    another content type than multipart/x-mixed-replace, sends no complete frame within
    ``timeout_s`` seconds of asking for one, or sends a frame over ``max_frame_bytes``.
    """
    request = urllib.request.Request(url, headers={"Accept": f"{MJPEG_TYPE}, image/jpeg"})
    try:
        response = urllib.request.urlopen(request, timeout=timeout_s)  # noqa: S310 - http(s) checked by config
    except urllib.error.HTTPError as err:
        raise StreamError(f"{url} answered HTTP {err.code} {err.reason}; expected an MJPEG stream") from None
    except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError) as err:
        reason = getattr(err, "reason", err)
        if isinstance(reason, (socket.timeout, TimeoutError)):
            raise StreamError(f"{url} did not answer within {timeout_s:g} s; expected an MJPEG "
                              f"stream") from None
        raise StreamError(f"cannot connect to {url} ({reason}); is the camera's stream running?") from None
    with response:
        content_type = response.headers.get_content_type()
        boundary = response.headers.get_param("boundary")
        if content_type != MJPEG_TYPE or not boundary:
            got = response.headers.get("Content-Type") or "no Content-Type"
            ffmpeg = (f' (ffmpeg sends that unless told -content_type "{FFMPEG_TYPE}")'
                      if content_type == "application/octet-stream" else "")
            raise StreamError(f"{url} is not an MJPEG stream: it sent {got}{ffmpeg}; expected "
                              f"{MJPEG_TYPE} with a boundary (a camera's MJPEG feed)")
        parts = _Parts(response, str(boundary), url, timeout_s, max_frame_bytes)
        try:
            frames = [parts.next_frame(time.monotonic() + timeout_s)]
            for _ in range(count - 1):
                due = time.monotonic() + interval_s
                # Drop the frames sent meanwhile: the next one taken is the first after the interval.
                while True:
                    frame = parts.next_frame(max(due, time.monotonic()) + timeout_s)
                    if time.monotonic() >= due:
                        break
                frames.append(frame)
        except (socket.timeout, TimeoutError):  # the socket's own timeout: silence
            raise StreamError(parts.silent()) from None
        except (ConnectionError, http.client.HTTPException) as err:
            raise StreamError(f"{url} broke off the stream ({type(err).__name__}: {err})") from None
    return frames


class _Parts:
    """The parts of one multipart response, read line by line with bounded sizes and times."""

    def __init__(self, response, boundary: str, url: str, timeout_s: float, max_bytes: int):
        self.response = response
        boundary = boundary.strip('"')
        self.delimiters = {b"--" + boundary.encode("latin-1"), boundary.encode("latin-1")}
        self.url, self.timeout_s, self.max_bytes = url, timeout_s, max_bytes
        self.at_boundary = False

    def next_frame(self, deadline: float) -> bytes:
        self.deadline = deadline
        if not self.at_boundary:  # skip the preamble, or the rest of a part read by length
            while self._line().strip() not in self.delimiters:
                pass
        length = None
        for _ in range(_MAX_HEADERS):
            line = self._line().strip()
            if not line:
                break
            key, _, value = line.decode("latin-1").partition(":")
            if key.strip().lower() == "content-length":
                try:
                    length = int(value.strip())
                except ValueError:
                    raise StreamError(f"{self.url} sent a part with Content-Length {value.strip()!r}; "
                                      f"expected a number") from None
        else:
            raise StreamError(f"{self.url} sent a part with over {_MAX_HEADERS} header lines; not MJPEG")
        if length is not None:
            if length > self.max_bytes:
                raise self._too_big(length)
            frame = self._read(length)
            self.at_boundary = False
            return frame
        # No Content-Length: the frame runs to the next boundary line.
        chunks, size = [], 0
        while True:
            line = self.response.readline(self.max_bytes + 1)
            self._check(line)
            if line.rstrip(b"\r\n") in self.delimiters:
                self.at_boundary = True
                frame = b"".join(chunks)
                return frame[:-2] if frame.endswith(b"\r\n") else frame.rstrip(b"\n")
            size += len(line)
            if size > self.max_bytes:
                raise self._too_big(size)
            chunks.append(line)

    def _line(self) -> bytes:
        line = self.response.readline(_MAX_LINE)
        self._check(line)
        return line

    def _read(self, length: int) -> bytes:
        chunks, left = [], length
        while left:
            chunk = self.response.read(min(left, 65536))
            self._check(chunk)
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _check(self, data: bytes) -> None:
        if not data:
            raise StreamError(f"{self.url} closed the stream before a whole frame came")
        if time.monotonic() > self.deadline:
            raise StreamError(self.silent())

    def silent(self) -> str:
        return f"{self.url} sent no whole frame for {self.timeout_s:g} s (is the camera on?)"

    def _too_big(self, size: int) -> StreamError:
        return StreamError(f"{self.url} sent a frame of {size / 2**20:.1f} MB; at most "
                           f"{self.max_bytes // 2**20} MB is accepted")
