"""How a test failure reads: its first line, and the whole message a student reads first.

The recorder (facekit.harness.plugin) keeps both per failed test; `facekit check` and the
grader's feedback show them, and the catalogue of mistakes (facekit.mistakes) matches its
entries' words against the whole message.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from facekit import course


def first_message(text: str) -> str:
    """What a student reads first: an assertion's own message, without pytest's 'assert ...' part."""
    text = text.strip()
    if text.startswith("assert "):  # a bare assert: only pytest's explanation, no message
        return ""
    cut = text.find("\nassert ")
    return text[:cut].strip() if cut >= 0 else text


def student_message(excinfo: pytest.ExceptionInfo[BaseException], tree: Path) -> str:
    """A test failure's message as the catalogue's ``words`` are checked against (and
    `facekit check` matches a student's failure with): an assertion's own message, a
    ``pytest.fail``'s text, or an error raised in the code under test (``tree``) with the
    functions it went through, as a student reads them in the traceback."""
    if excinfo.errisinstance(AssertionError):
        return first_message(str(excinfo.value))
    if excinfo.errisinstance(pytest.fail.Exception):
        return str(excinfo.value)
    frames = [
        getattr(entry.frame.code.raw, "co_qualname", entry.frame.code.name)
        for entry in excinfo.traceback
        if Path(str(entry.path)).resolve().is_relative_to(tree)
    ]
    where = f" raised in {' -> '.join(frames)}" if frames else ""
    return f"{excinfo.typename}{where}: {excinfo.value}"


def first_line(excinfo: pytest.ExceptionInfo[BaseException]) -> str:
    """``Type: first line of the message``; a SyntaxError names its file with the folder (str()
    names it without: the whole path says which tree)."""
    value = excinfo.value
    if isinstance(value, SyntaxError) and value.filename:
        return f"{excinfo.typename}: {value.msg} ({_where(value.filename)}, line {value.lineno})"
    lines = str(value).strip().splitlines()
    return f"{excinfo.typename}: {lines[0] if lines else ''}"


def _where(filename: str) -> str:
    try:
        return Path(filename).resolve().relative_to(course.repo_root()).as_posix()
    except ValueError:
        return filename
