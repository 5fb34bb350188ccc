"""facekit/progressbar.py: tqdm's bar (the download's), quiet unless the stream is a terminal."""

from __future__ import annotations

import importlib
import io
import re

import pytest

from facekit.progressbar import progress_bar

# The module (its name is shadowed by the class in huggingface_hub.utils): it reads
# HF_HUB_DISABLE_PROGRESS_BARS once, at import, into a global that its tqdm checks.
hf_tqdm = importlib.import_module("huggingface_hub.utils.tqdm")

# tqdm's meter: "2/5 [00:00<00:01, 3.10file/s]": count, time so far < time left, rate.
METER = re.compile(r"(\d+)/5 \[\d\d:\d\d<(\d\d:\d\d|\?), +([\d.]+|\?)file/s\]")


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture(autouse=True)
def bars_allowed(monkeypatch):
    """Whatever HF_HUB_DISABLE_PROGRESS_BARS the run has, these tests decide it themselves."""
    monkeypatch.setattr(hf_tqdm, "HF_HUB_DISABLE_PROGRESS_BARS", None, raising=True)


def run(stream, steps=(2, 4, 5)) -> str:
    with progress_bar("embedding", unit="file", file=stream) as bar:
        for done in steps:
            bar(done, 5)
    return stream.getvalue()


def test_the_bar_shows_count_rate_and_time_left_on_a_terminal():
    shown = run(FakeTerminal())
    meters = METER.findall(shown)
    assert [count for count, _, _ in meters] == ["2", "4", "5"], (
        f"progress_bar(...)(done, 5) for done in 2, 4, 5 on a terminal: expected one meter per call, got {shown!r}"
    )
    # The first call starts the clock (nothing to measure yet); later ones have a rate and an ETA.
    assert meters[0][1:] == ("?", "?"), f"first meter: {meters[0]}"
    assert all(left != "?" and rate != "?" for _, left, rate in meters[1:]), (
        f"after the first call the meter shows a time left and a rate; got {meters[1:]}"
    )
    assert shown.startswith("\rembedding:"), f"the bar is named after desc: {shown!r}"
    # leave=False: close() overwrites the bar with spaces and goes back to the line's start.
    assert re.search(r"\r +\r$", shown), f"close() must erase the bar; the stream ends {shown[-40:]!r}"


def test_the_bar_is_quiet_when_the_stream_is_not_a_terminal():
    assert run(io.StringIO()) == "", "progress_bar wrote to a stream that is not a terminal"


def test_the_callers_terminal_test_wins_over_the_streams():
    """The CLI passes its own answer (TERM=dumb is a terminal that cannot redraw a line)."""
    stream = FakeTerminal()
    with progress_bar("embedding", unit="file", file=stream, terminal=False) as bar:
        bar(2, 5)
    assert stream.getvalue() == "", (
        "progress_bar(..., terminal=False) drew on a stream that says it is a terminal"
    )


def test_the_bar_obeys_hf_hub_disable_progress_bars(monkeypatch):
    monkeypatch.setattr(hf_tqdm, "HF_HUB_DISABLE_PROGRESS_BARS", True, raising=True)
    assert run(FakeTerminal()) == "", "HF_HUB_DISABLE_PROGRESS_BARS=1 must silence the bar, as the download's"


def test_close_without_a_call_writes_nothing():
    stream = FakeTerminal()
    progress_bar("embedding", unit="file", file=stream).close()
    assert stream.getvalue() == ""
