"""The app's one config file, TOML like the course manifest; command-line options override it.

    # facekit-app.toml (read from the current folder, or --config PATH)
    [app]
    stream_url = "http://localhost:8000/video_feed"   # an MJPEG stream, for --stream
    num_images = 5             # frames per register, login or identify
    interval_millis = 200      # between two frames
    threshold = 0.5            # login accepts a score >= this (not calibrated)
    store = "faces.sqlite"     # relative to the config file's folder
    stream_timeout_s = 5       # all N frames must come within this, plus the intervals
    host = "127.0.0.1"         # facekit app serve: where it listens
    port = 8765
    max_frame_pixels = 2073600 # facekit app serve: the largest frame (1920x1080), up to 4096x4096

Unknown keys are errors (a typo would otherwise be ignored silently).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from facekit.camera.inputs import (
    DEFAULT_FRAME_PIXELS,
    DEFAULT_STORE,
    MAX_FRAME_PIXELS,
    MAX_FRAMES,
    InputError,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CONFIG_NAME = "facekit-app.toml"


class ConfigError(InputError):
    """The config file is unreadable or holds a wrong value: the message names the file and key."""


@dataclass(frozen=True)
class AppConfig:
    stream_url: str | None = None
    num_images: int = 5
    interval_millis: int = 200
    threshold: float | None = None  # None: the exercise's DEFAULT_THRESHOLD
    store: Path = Path(DEFAULT_STORE)
    stream_timeout_s: float = 5.0
    host: str = "127.0.0.1"
    port: int = 8765
    max_frame_pixels: int = DEFAULT_FRAME_PIXELS
    source: Path | None = None  # the file these values came from, if any


# -- checks, shared by the file and argparse -------------------------------------------------------


def frames_count(value: object) -> int:
    return _int_in(value, 1, MAX_FRAMES, "frames")


def interval_millis(value: object) -> int:
    return _int_in(value, 0, 10_000, "milliseconds")


def port_number(value: object) -> int:
    return _int_in(value, 0, 65535, "a port")


def threshold_value(value: object) -> float:
    number = _number(value, "a threshold")
    if not -1.0 <= number <= 1.0:
        raise ValueError(f"a threshold is a cosine similarity in [-1, 1]; got {value}")
    return number


def frame_pixels(value: object) -> int:
    return _int_in(value, 1, MAX_FRAME_PIXELS, "pixels")


def threshold_warning(threshold: float | None) -> str | None:
    """A warning for a threshold below 0, or None: a login that accepts a score below 0 says
    yes to images less alike than two unrelated ones, nearly anyone."""
    if threshold is None or threshold >= 0:
        return None
    return (
        f"The login threshold is {threshold:g}: below 0, login says yes to images less alike "
        f"than two unrelated ones, nearly anyone. Use a threshold in (0, 1]."
    )


def timeout_seconds(value: object) -> float:
    number = _number(value, "seconds")
    if not 0 < number <= 300:
        raise ValueError(f"a timeout must be in (0, 300] seconds; got {value}")
    return number


def stream_url(value: object) -> str:
    from urllib.parse import urlsplit

    if (
        not isinstance(value, str)
        or urlsplit(value).scheme not in ("http", "https")
        or not urlsplit(value).netloc
    ):
        raise ValueError(f"a stream URL starts with http:// or https://; got {value!r}")
    return value


_Checked = TypeVar("_Checked")


def argtype(check: Callable[[object], _Checked]) -> Callable[[str], _Checked]:
    """``check`` as an argparse ``type=``: a bad value is argparse's usage error (exit 2, at once)."""

    def convert(text: str) -> _Checked:
        try:
            return check(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    convert.__name__ = check.__name__.replace("_", " ")
    return convert


_CHECKS: dict[str, Callable[[object], object]] = {
    "stream_url": stream_url,
    "num_images": frames_count,
    "interval_millis": interval_millis,
    "threshold": threshold_value,
    "store": str,
    "stream_timeout_s": timeout_seconds,
    "host": str,
    "port": port_number,
    "max_frame_pixels": frame_pixels,
}


# -- the file ----------------------------------------------------------------------------------------


def load(path: str | Path | None = None) -> AppConfig:
    """The config in ``path``, or in ./facekit-app.toml when that exists, or the defaults.

    A ``path`` given explicitly must exist. Raises ConfigError naming the file and the key.
    """
    if path is None:
        path = Path(CONFIG_NAME)
        if not path.is_file():
            return AppConfig()
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"no config file at {path}" + (" (it is a folder)" if path.is_dir() else ""))
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path} is not valid TOML: {err}") from None
    unknown_tables = sorted(set(table) - {"app"})
    if unknown_tables:
        raise ConfigError(f"{path}: unknown table {unknown_tables[0]!r}; the settings go under [app]")
    app = table.get("app", {})
    values: dict[str, Any] = {}  # AppConfig's keyword arguments, each checked by its _CHECKS entry
    for key, value in app.items():
        if key not in _CHECKS:
            raise ConfigError(f"{path}: unknown key {key!r} in [app]; known: {', '.join(_CHECKS)}")
        if isinstance(value, bool) or (key in ("store", "host") and not isinstance(value, str)):
            raise ConfigError(f"{path}: {key} = {value!r} has the wrong type")
        try:
            values[key] = _CHECKS[key](value)
        except ValueError as err:
            raise ConfigError(f"{path}: {key}: {err}") from None
    if "store" in values:  # relative to the file, so the config works from any folder
        values["store"] = (
            (path.parent / values["store"])
            if not Path(values["store"]).is_absolute()
            else Path(values["store"])
        )
    return AppConfig(**values, source=path)


def resolve(args: argparse.Namespace) -> AppConfig:
    """The config file (``--config``, or ./facekit-app.toml), with the options given on top."""
    config = load(getattr(args, "config", None))
    given: dict[str, Any] = {}  # replace()'s keyword arguments: values argparse checked
    for option, key in (
        ("stream", "stream_url"),
        ("frames", "num_images"),
        ("interval", "interval_millis"),
        ("threshold", "threshold"),
        ("store", "store"),
        ("stream_timeout", "stream_timeout_s"),
        ("host", "host"),
        ("port", "port"),
    ):
        value = getattr(args, option, None)
        if value is not None and value is not argparse.SUPPRESS and value != USE_CONFIG:
            given[key] = Path(value) if key == "store" else value
    return replace(config, **given)


# ``--stream`` without a URL: the config file's stream_url.
USE_CONFIG = "<config>"


def _int_in(value: object, low: int, high: int, what: str) -> int:
    number: int | None
    try:
        number = int(value) if isinstance(value, (int, str)) and not isinstance(value, bool) else None
    except ValueError:
        number = None
    if number is None or not low <= number <= high:
        raise ValueError(f"expected a whole number of {what} from {low} to {high}; got {value!r}")
    return number


def _number(value: object, what: str) -> float:
    try:
        number = float(value) if isinstance(value, (int, float, str)) else math.nan
    except ValueError:
        number = math.nan
    if math.isnan(number):
        raise ValueError(f"expected a number ({what}); got {value!r}")
    return number


__all__ = [
    "AppConfig",
    "ConfigError",
    "CONFIG_NAME",
    "DEFAULT_STORE",
    "USE_CONFIG",
    "load",
    "resolve",
    "argtype",
    "threshold_warning",
]
