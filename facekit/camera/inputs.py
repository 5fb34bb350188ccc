"""What comes into the app from outside, checked: names, frames, store paths and image paths.

Every check raises InputError (a ValueError) with one line that names what was given and
what was expected; the command line prints it, the web page shows it.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Pillow is imported where a frame is decoded, not when the CLI starts
    from PIL.Image import Image

# The store suffixes of Exercise 06 (JSON_SUFFIXES + SQLITE_SUFFIXES; a kit test keeps them
# in step), known here so that a wrong --store is refused before torch is imported.
STORE_SUFFIXES = (".json", ".sqlite", ".sqlite3", ".db")
# The app's store when neither --store nor the config file names one: in the current folder.
# The one definition (the parser's help, the config's default and the store checks read it).
DEFAULT_STORE = "facekit-faces.sqlite"
MAX_NAME_LENGTH = 64
# One camera frame: a 1920x1080 JPEG is 0.2 to 1 MB. 4 MB refuses what is no webcam frame.
# Pixels are what memory costs once decoded (3 bytes each), so they are checked from the
# header before decoding: at most a Full HD frame by default (max_frame_pixels in the config
# file raises it, up to MAX_FRAME_PIXELS, for a camera that sends more).
MAX_FRAME_BYTES = 4 * 1024 * 1024
DEFAULT_FRAME_PIXELS = 1920 * 1080
MAX_FRAME_PIXELS = 4096 * 4096
# Frames per register, login or identify: the page and --frames take 1 to this many.
MAX_FRAMES = 20


class InputError(ValueError):
    """Bad input from a person or a page: the message says what was given and what was expected."""


def check_name(name: object) -> str:
    """A person's name as given, or InputError: empty, over MAX_NAME_LENGTH, a path, control characters."""
    if not isinstance(name, str):
        raise InputError(f"a name must be text; got {type(name).__name__}")
    if not name.strip():
        raise InputError("a name must not be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise InputError(f"a name must be at most {MAX_NAME_LENGTH} characters; got {len(name)}")
    if "/" in name or "\\" in name or name.strip() in (".", ".."):
        raise InputError(f"a name must not be a path (no / or \\); got {name!r}")
    if any(unicodedata.category(c).startswith("C") for c in name):
        raise InputError(f"a name must not hold control characters; got {name!r}")
    return name


def decode_frame(blob: bytes, what: str = "a frame", max_pixels: int = MAX_FRAME_PIXELS) -> Image:
    """``blob`` (a JPEG, PNG or WebP file's bytes) as an RGB PIL image, or InputError.

    Refused: more than MAX_FRAME_BYTES bytes, more than ``max_pixels`` pixels (checked
    from the header, before decoding), bytes that do not decode as an image. The app passes
    its config's max_frame_pixels (DEFAULT_FRAME_PIXELS unless raised, up to MAX_FRAME_PIXELS).
    """
    from PIL import Image, UnidentifiedImageError

    check_frame_bytes(len(blob), what)
    if not blob:
        raise InputError(f"{what} is empty; expected a JPEG or PNG image")
    try:
        image = Image.open(io.BytesIO(blob), formats=("JPEG", "PNG", "WEBP"))  # reads the header only
    except Image.DecompressionBombError:  # Pillow's own limit, far above ours: its header says so
        bomb = Image.MAX_IMAGE_PIXELS or 0  # set: Pillow raises this only when there is a limit
        raise InputError(
            f"{what} claims over {2 * bomb:,} pixels; at most {pixels_text(max_pixels)} are accepted"
        ) from None
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise InputError(f"{what} is not a JPEG, PNG or WebP image ({err})") from None
    width, height = image.size
    if width * height > max_pixels or width < 1 or height < 1:
        raise InputError(
            f"{what} is {width}x{height} pixels ({width * height:,}); at most "
            f"{pixels_text(max_pixels)} are accepted"
        )
    try:
        image.load()
        return image if image.mode == "RGB" else image.convert("RGB")  # convert() would copy
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        raise InputError(f"{what} does not decode as an image ({err})") from None


def check_frame_bytes(size: int, what: str = "a frame") -> None:
    """InputError when a frame of ``size`` bytes is over MAX_FRAME_BYTES, stating both sizes."""
    if size > MAX_FRAME_BYTES:
        limit = size_text(MAX_FRAME_BYTES)
        raise InputError(f"{what} is over {limit} ({size_text(size)}); at most {limit} is accepted")


def size_text(size: int) -> str:
    """Bytes for people: "5 MB", "6.4 MB", or the bytes where one decimal would hide the
    difference from a whole MB (4 MB + 1 byte is not "4.0 MB")."""
    megabytes = size / 2**20
    if size % 2**20 == 0:
        return f"{size // 2**20} MB"
    if abs(megabytes - round(megabytes)) < 0.05:
        return f"{size:,} bytes"
    return f"{megabytes:.1f} MB"


def pixels_text(pixels: int) -> str:
    named = {DEFAULT_FRAME_PIXELS: "1920x1080", MAX_FRAME_PIXELS: "4096x4096"}
    return f"{pixels:,} pixels" + (f" ({named[pixels]})" if pixels in named else "")


def error_text(err: BaseException) -> str:
    """An exception's own message: a KeyError's str() adds quotes, and stripping them
    would also cut a quote the message starts or ends with."""
    if len(err.args) == 1 and isinstance(err.args[0], str):
        return err.args[0]
    return str(err)


def check_store_path(path: str | Path, must_exist: bool = False) -> Path:
    """The store's path, or InputError: an unknown suffix, a folder, a missing store to read.

    The suffix is checked first, so that every advice agrees (a missing ``faces.txt`` is
    not "register someone first" and then "unknown suffix").
    """
    path = Path(path)
    accepted = ", ".join(STORE_SUFFIXES[:-1]) + " or " + STORE_SUFFIXES[-1]
    if path.is_dir():
        raise InputError(
            f"{path} is a folder; expected a store file ending in {accepted} (e.g. {path / 'faces.sqlite'})"
        )
    if path.suffix.lower() not in STORE_SUFFIXES:
        got = f"{path.suffix!r}" if path.suffix else "no suffix"
        raise InputError(f"{path}: a store's file name must end in {accepted}; got {got}")
    parent = next((p for p in path.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise InputError(f"{path}: {parent} is a file, not a folder")
    if must_exist and not path.exists():
        raise InputError(
            f"no store at {path}: register someone first "
            f"(`facekit app register NAME IMAGE...`), or name the store with --store"
        )
    return path


def check_image_files(names: Iterable[str | Path]) -> list[Path]:
    """The paths, or InputError naming the missing ones and the folders among them."""
    paths = [Path(p) for p in names]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise InputError(f"no such file: {', '.join(missing)}")
    folders = [str(p) for p in paths if p.is_dir()]
    if folders:
        raise InputError(
            f"{', '.join(folders)} {'is a folder' if len(folders) == 1 else 'are folders'}; "
            f"expected image files (for a whole folder: `facekit embed FOLDER --out FILE`)"
        )
    return paths
