"""Terminal output for the ``facekit`` command: colour only on a terminal, lines that fit 80 columns.

Colour follows https://no-color.org: any non-empty NO_COLOR turns it off, so does TERM=dumb,
and output that is piped or redirected never gets escape codes.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import textwrap
from typing import TextIO

MAX_WIDTH = 80
_KEEP = "\x00"  # stands for a space that must not break a line

_CODES = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "cyan": "36"}
# Marks for states, with ASCII stand-ins for terminals that cannot print the others.
_MARKS = {
    "done": ("✓", "+"),
    "todo": ("○", "o"),
    "failing": ("✗", "x"),
    "waiting": ("·", "."),
    "progress": ("◐", "~"),
    "none": (" ", " "),
}


def supports_colour(stream: object) -> bool:
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return _isatty(stream)


def _isatty(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


def supports_unicode(stream: object) -> bool:
    encoding = getattr(stream, "encoding", None) or "ascii"
    try:
        "✓✗○◐·…".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


class Term:
    """Writes lines to ``out`` (default stdout) and errors to ``err`` (default stderr)."""

    def __init__(
        self, out: TextIO | None = None, err: TextIO | None = None, colour: bool | None = None
    ) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.colour = supports_colour(self.out) if colour is None else colour
        self.unicode = supports_unicode(self.out)
        self.is_tty = _isatty(self.out) and os.environ.get("TERM") != "dumb"
        self.err_is_tty = _isatty(self.err) and os.environ.get("TERM") != "dumb"
        columns = shutil.get_terminal_size((MAX_WIDTH, 24)).columns
        self.width = max(40, min(columns, MAX_WIDTH))
        self._status_shown = False

    # -- styling
    def style(self, text: str, *names: str) -> str:
        if not self.colour or not names:
            return text
        codes = ";".join(_CODES[n] for n in names)
        return f"\x1b[{codes}m{text}\x1b[0m"

    def mark(self, kind: str) -> str:
        fancy, plain = _MARKS[kind]
        return fancy if self.unicode else plain

    def ellipsis(self, text: str, limit: int) -> str:
        if len(text) <= limit:
            return text
        dots = "…" if self.unicode else "..."
        return text[: max(0, limit - len(dots))] + dots

    # -- writing
    def line(self, text: str = "") -> None:
        self.clear_status()
        print(text, file=self.out, flush=True)

    def wrap(
        self, text: str, indent: str = "", first: str | None = None, max_lines: int | None = None
    ) -> None:
        """Print ``text`` wrapped to the width, ``first`` as the first line's indent."""
        first = indent if first is None else first
        # A `command` stays on one line, so it can be copied.
        text = re.sub(r"`[^`]+`", lambda m: m.group(0).replace(" ", _KEEP), text)
        lines = textwrap.wrap(
            text,
            width=self.width,
            initial_indent=first,
            subsequent_indent=indent,
            break_on_hyphens=False,
            break_long_words=False,
        ) or [first]
        lines = [line.replace(_KEEP, " ") for line in lines]
        if max_lines and len(lines) > max_lines:
            lines = lines[:max_lines]
            dots = "…" if self.unicode else "..."
            lines[-1] = lines[-1][: self.width - len(dots)] + dots
        for text_line in lines:
            self.line(text_line)

    def error(self, text: str) -> None:
        self.clear_status()
        print(text, file=self.err, flush=True)

    def status(self, text: str) -> None:
        """A transient line on a terminal ("checking..."), erased by the next output; nothing when piped."""
        if not _isatty(self.err) or os.environ.get("TERM") == "dumb":
            return
        self.err.write("\r\x1b[K" + self.ellipsis(text, self.width - 1))
        self.err.flush()
        self._status_shown = True

    def clear_status(self) -> None:
        if self._status_shown:
            self.err.write("\r\x1b[K")
            self.err.flush()
            self._status_shown = False

    def clear_screen(self) -> None:
        if self.is_tty:
            self.out.write("\x1b[2J\x1b[H")
            self.out.flush()
