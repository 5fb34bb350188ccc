"""A progress bar for work counted in items (``facekit embed``'s files): tqdm, like the download's.

    bar = progress_bar("embedding", unit="file")
    embed_folder(..., progress=bar)   # bar(done, total) after each batch
    bar.close()                       # erases the bar (or `with progress_bar(...) as bar:`)

The bar is huggingface_hub's tqdm, the class its download bars are, so both look alike
(``embedding:  40%|####      | 4/10 [00:01<00:01, 3.10file/s]``: percent, count, time so far,
time left, rate) and obey the same switches: shown only when ``file`` (default: stderr) is a
terminal (or when ``terminal`` says so: the CLI passes its own test, which also refuses
TERM=dumb), and never when ``HF_HUB_DISABLE_PROGRESS_BARS=1``.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:  # imported at the first call: importing this module stays instant
    from huggingface_hub.utils import tqdm


class ProgressBar:
    """``bar(done, total)``: ``done`` of ``total`` items handled so far; ``close()`` erases the bar.

    The tqdm bar starts at the first call, when the total is known. Each call redraws the bar
    every time (a batch takes tens of milliseconds or more, so a redraw per batch costs
    nothing), where tqdm's own default would skip redraws closer than 0.1 s apart.
    """

    def __init__(
        self, desc: str, unit: str, file: TextIO | None = None, terminal: bool | None = None
    ) -> None:
        self.desc, self.unit, self.file, self.terminal = desc, unit, file, terminal
        self._bar: tqdm | None = None

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            from huggingface_hub.utils import tqdm  # here: importing this module stays instant

            # disable=None: tqdm's own test, off when the stream is not a terminal (unless the
            # caller knows better: ``terminal``); huggingface_hub's switch overrides both. leave=False:
            # close() erases the line, so the command's summary follows on a clean screen.
            # initial=done: the clock starts now, so the rate and the time left count from
            # the first batch's end (the first batch also warms the model up: slower).
            self._bar = tqdm(
                total=total,
                initial=done,
                desc=self.desc,
                unit=self.unit,
                leave=False,
                disable=None if self.terminal is None else not self.terminal,
                mininterval=0,
                miniters=1,
                file=self.file if self.file is not None else sys.stderr,
            )
        if total != self._bar.total:
            self._bar.total = total
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def progress_bar(
    desc: str, unit: str = "it", file: TextIO | None = None, terminal: bool | None = None
) -> ProgressBar:
    """A ProgressBar called ``desc`` counting ``unit``s on ``file`` (default: sys.stderr at the first call);
    ``terminal`` (default: ask the stream) says whether it is a terminal that can redraw a line."""
    return ProgressBar(desc, unit, file, terminal)
