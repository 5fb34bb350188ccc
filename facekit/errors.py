"""Every error the kit reports to a person, each with the exit code ``facekit`` ends with.

``facekit.cli.main`` catches ``FacekitError`` and prints ``prefix + message`` on one line,
then exits with ``exit_code`` (the scheme of click's ``exceptions.py``). Anything else that
escapes a command is unexpected: one line too, exit 1, the traceback with ``-v``.
"""

from __future__ import annotations


class FacekitError(Exception):
    """An error written for people: one line, then exit ``exit_code``."""

    exit_code = 1
    prefix = "facekit: "


class UsageError(FacekitError):
    """Bad usage: an unknown exercise, an option out of range, a bad KIT_* value (exit 2)."""

    exit_code = 2
    prefix = "facekit: error: "


class ManifestError(UsageError, ValueError):
    """exercises/course.toml is missing, malformed, or names something that is not there (exit 2)."""


class CommandError(FacekitError):
    """The command could not do its job: no git, a missing input file, a failed download (exit 1)."""


class NoAnswerError(CommandError):
    """``facekit app login`` could not answer yes or no: a missing file or store, an unknown
    person, a stub not implemented, a silent stream (exit 3, so a script tells it from "no",
    exit 1)."""

    exit_code = 3


class WeightsNotFoundError(FacekitError, FileNotFoundError):
    """The weights are not in the local cache and cannot be downloaded now (exit 1)."""


class CorruptWeightsError(FacekitError, OSError):
    """A cached weights file does not match the hash the hub published for it (exit 1)."""


class Interrupted(FacekitError):
    """Ctrl-C (exit 130, as a shell reports SIGINT)."""

    exit_code = 130
