"""Exercise 01: load_image() and preprocess(), tested against the selected tree.

load_image's tests build their files with Pillow in tmp_path; preprocess's tests use the
sample face and images made in memory. Neither half calls the other function, so each is
reported on its own while the other is still a stub.
"""

from __future__ import annotations

import math
import os
import re
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from facekit import data
from facekit.testing import raises

EXERCISE = "ex01_images"
# preprocess is held to timm's own transform. The reference matches it exactly (max abs
# difference 0.0 on every image below); other float32 ways to scale and normalise (float64
# then cast, multiplying by 1/std) differ by up to 2.4e-7 on the sample face, a one-pixel shift
# or another resampling filter by 0.31 or more (measured in tests/kit/test_figures.py).
ATOL = 1e-6


@pytest.fixture(scope="module")
def ex(load_exercise):
    return load_exercise(EXERCISE)


@pytest.fixture(scope="module")
def timm_transform():
    return data.eval_transform()


def _noise(width: int, height: int, seed: int = 0) -> Image.Image:
    """A self-made RGB test image: a gradient plus seeded noise, so any shift or filter shows."""
    rng = np.random.default_rng(seed)
    # Bytes throughout: the 4000x3000 photo is 36 MB, not the 288 MB of int64 arrays whose
    # first touch alone cost a fresh test process a second.
    pixels = np.frombuffer(rng.bytes(height * width * 3), np.uint8).reshape(height, width, 3) % 96
    ramp = (np.linspace(0, 160, width)[None, :] + np.linspace(0, 60, height)[:, None]).astype(np.uint8)
    np.minimum(pixels, (255 - ramp)[:, :, None], out=pixels)  # so the sum saturates at 255, never wraps
    pixels += ramp[:, :, None]
    return Image.fromarray(pixels)


_CONFIG = data.data_config()  # timm's preprocessing of the model: mean, std, crop_pct


def _expected_normalised(values, mean=_CONFIG["mean"], std=_CONFIG["std"]):
    """(value - mean) / std per channel, for pixel values already in [0, 1]."""
    return torch.tensor([(v - m) / s for v, m, s in zip(values, mean, std)], dtype=torch.float32)


# -- load_image: what comes out ---------------------------------------------------------------


def _save(image: Image.Image, path: Path, **params) -> Path:
    image.save(path, **params)
    return path


def _pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image)


def _assert_rgb(image, call: str) -> None:
    assert isinstance(image, Image.Image), f"{call} returned {type(image).__name__}, not a PIL image"
    assert image.mode == "RGB", f"{call} gave mode {image.mode!r}, expected 'RGB'"


@pytest.mark.function("load_image")
def test_sample_face_loads_as_rgb(ex, sample_face):
    image = ex.load_image(data.SAMPLE_FACE)
    _assert_rgb(image, "load_image(the sample face)")
    assert image.size == sample_face.size, (
        f"load_image(the sample face): size {image.size}, expected {sample_face.size}"
    )
    np.testing.assert_array_equal(
        _pixels(image),
        _pixels(sample_face),
        err_msg="load_image(the sample face): pixels differ from Pillow's",
    )


@pytest.mark.function("load_image")
def test_str_and_path_give_the_same_pixels(ex, tmp_path):
    path = _save(_noise(40, 30), tmp_path / "rgb.png")
    from_str = ex.load_image(str(path))
    from_path = ex.load_image(path)
    np.testing.assert_array_equal(
        _pixels(from_str),
        _pixels(_noise(40, 30)),
        err_msg="load_image(a str path): pixels differ from the file's",
    )
    np.testing.assert_array_equal(
        _pixels(from_path),
        _pixels(from_str),
        err_msg="load_image(a pathlib.Path) and load_image(a str) differ",
    )


@pytest.mark.function("load_image")
def test_image_is_loaded_and_file_closed(ex, tmp_path, monkeypatch):
    import builtins

    path = _save(_noise(40, 30), tmp_path / "rgb.png")
    # Every file opened, by the student's code or by Pillow (which calls builtins.open): on
    # any system, without relying on /proc or on garbage collection closing files.
    opened, real_open = [], builtins.open

    def spy_open(file, *args, **kwargs):
        handle = real_open(file, *args, **kwargs)
        opened.append((file, handle))
        return handle

    monkeypatch.setattr(builtins, "open", spy_open)
    image = ex.load_image(path)
    monkeypatch.setattr(builtins, "open", real_open)
    ours = [h for f, h in opened if isinstance(f, (str, os.PathLike)) and Path(f) == path]
    assert ours, f"load_image({path.name}) did not open the file with open() (nor through Pillow)"
    still_open = [h for h in ours if not h.closed]
    assert not still_open, f"load_image({path.name}) returned with the file still open: close it (use `with`)"
    path.write_bytes(b"")  # a lazily loaded image would now read nothing
    try:
        pixels = _pixels(image)
    except Exception as err:  # noqa: BLE001 - the image was not loaded
        pytest.fail(
            f"load_image({path.name}) returned an image that is not loaded yet: reading its pixels "
            f"after the file closed raised {type(err).__name__} ({err}); call image.load() inside "
            f"the `with`",
            pytrace=False,
        )
    np.testing.assert_array_equal(
        pixels, _pixels(_noise(40, 30)), err_msg=f"load_image({path.name}): the pixels are not the file's"
    )


@pytest.mark.function("load_image")
@pytest.mark.parametrize(
    "orientation, turn",
    [
        (2, lambda a: np.fliplr(a)),  # mirrored
        (3, lambda a: np.rot90(a, 2)),  # upside down
        (6, lambda a: np.rot90(a, -1)),  # display rotated 90 degrees clockwise (phone held upright)
        (8, lambda a: np.rot90(a, 1)),  # display rotated 90 degrees counter-clockwise
    ],
    ids=["2-mirror", "3-rotate180", "6-rotate90cw", "8-rotate90ccw"],
)
def test_exif_orientation_is_applied(ex, tmp_path, orientation, turn):
    exif = Image.Exif()
    exif[0x0112] = orientation  # the EXIF Orientation tag
    path = _save(_noise(48, 32), tmp_path / f"orientation{orientation}.jpg", exif=exif, quality=95)
    image = ex.load_image(path)
    with Image.open(path) as raw:  # the pixels as stored, decoded the same way, not turned
        stored = _pixels(raw.convert("RGB"))
    expected = np.ascontiguousarray(turn(stored))
    call = f"load_image(a 48x32 JPEG with EXIF orientation {orientation})"
    assert image.size == (expected.shape[1], expected.shape[0]), (
        f"{call}: size {image.size}, expected {(expected.shape[1], expected.shape[0])}: apply the orientation tag"
    )
    np.testing.assert_array_equal(
        _pixels(image), expected, err_msg=f"{call}: pixels not turned upright; apply the orientation tag"
    )


@pytest.mark.function("load_image")
def test_no_orientation_tag_leaves_pixels_as_stored(ex, tmp_path):
    path = _save(_noise(48, 32), tmp_path / "upright.jpg", quality=95)
    image = ex.load_image(path)
    with Image.open(path) as raw:
        np.testing.assert_array_equal(
            _pixels(image),
            _pixels(raw.convert("RGB")),
            err_msg="load_image(a JPEG without orientation tag): pixels changed",
        )


@pytest.mark.function("load_image")
def test_grayscale_is_repeated_on_three_channels(ex, tmp_path):
    gray = np.arange(16 * 12, dtype=np.uint8).reshape(12, 16)
    path = _save(Image.fromarray(gray), tmp_path / "gray.png")
    image = ex.load_image(path)
    _assert_rgb(image, "load_image(a grayscale PNG)")
    np.testing.assert_array_equal(
        _pixels(image),
        np.stack([gray] * 3, axis=-1),
        err_msg="load_image(a grayscale PNG): each gray value on all three channels",
    )


@pytest.mark.function("load_image")
def test_black_and_white_comes_out_0_or_255(ex, tmp_path):
    bits = (np.indices((10, 14)).sum(axis=0) % 2).astype(bool)
    path = _save(Image.fromarray(bits), tmp_path / "bilevel.png")
    image = ex.load_image(path)
    _assert_rgb(image, "load_image(a 1-bit PNG)")
    np.testing.assert_array_equal(
        _pixels(image),
        np.stack([bits * 255] * 3, axis=-1).astype(np.uint8),
        err_msg="load_image(a 1-bit PNG): pixels must be 0 or 255",
    )


@pytest.mark.function("load_image")
def test_palette_without_transparency_gives_its_colours(ex, tmp_path):
    path = _save(_noise(40, 30).quantize(16), tmp_path / "palette.png")
    image = ex.load_image(path)
    _assert_rgb(image, "load_image(a palette PNG)")
    with Image.open(path) as raw:
        assert raw.mode == "P", f"precondition: the test's palette PNG opened as mode {raw.mode}, not P"
        np.testing.assert_array_equal(
            _pixels(image),
            _pixels(raw.convert("RGB")),
            err_msg="load_image(a palette PNG): the palette's colours",
        )


@pytest.mark.function("load_image")
@pytest.mark.parametrize(
    "suffix, make",
    [
        ("png", lambda v: Image.fromarray(v.astype(np.uint16))),  # I;16
        ("tiff", lambda v: Image.fromarray(v.astype(">u2"))),  # I;16B
        ("tiff", lambda v: Image.fromarray(v.astype(np.int32))),  # I (32-bit)
    ],
    ids=["png-I;16", "tiff-I;16B", "tiff-I"],
)
def test_16_bit_grayscale_is_scaled_to_8_bits(ex, tmp_path, suffix, make):
    levels = np.arange(256).reshape(16, 16)
    path = _save(make(levels * 257), tmp_path / f"sixteen.{suffix}")  # 257 * 255 = 65535
    with Image.open(path) as raw:
        raw_mode = raw.mode
    image = ex.load_image(path)
    assert image.mode == "RGB", f"load_image(a {raw_mode} {suffix}) gave mode {image.mode}, expected RGB"
    np.testing.assert_array_equal(
        _pixels(image),
        np.stack([levels.astype(np.uint8)] * 3, axis=-1),
        err_msg=f"load_image({path.name}, mode {raw_mode}): 16-bit values "
        f"0..65535 must become round(v * 255 / 65535); all 255 means "
        f"convert() clipped them, tiny values that uint16 * 255 "
        f"wrapped around (convert to float first)",
    )


@pytest.mark.function("load_image")
def test_every_16_bit_value_is_rounded_to_the_nearest_8_bit_level(ex, tmp_path):
    values = np.arange(65536).reshape(256, 256)  # every value of a 16-bit pixel, once
    path = _save(Image.fromarray(values.astype(np.uint16)), tmp_path / "every-value.png")
    got = _pixels(ex.load_image(path))[..., 0].astype(int)
    expected = np.rint(values * 255 / 65535).astype(int)
    wrong = np.argwhere(got != expected)
    assert len(wrong) == 0, (
        f"load_image(a 16-bit PNG of every value 0..65535): {len(wrong)} values do not become "
        f"round(v * 255 / 65535), e.g. {values[tuple(wrong[0])]} gave {got[tuple(wrong[0])]}, expected "
        f"{expected[tuple(wrong[0])]} (divide by 65535 with /, then np.rint)"
    )


@pytest.mark.function("load_image")
def test_32_bit_values_outside_0_65535_are_clipped(ex, tmp_path):
    # Pillow's "I" mode holds 32-bit integers: a scientific camera's file can go below 0 or
    # above 65535. Out of range, uint8 wraps around (256 -> 0, -1 -> 255): clip first.
    values = np.array([[-(2**31), -70000, -1000, 0, 65535, 70000, 2**31 - 1]], dtype=np.int32)
    path = _save(Image.fromarray(values), tmp_path / "out-of-range.tiff")
    got = _pixels(ex.load_image(path))[0, :, 0].tolist()
    assert got == [0, 0, 0, 0, 255, 255, 255], (
        f"load_image(a mode I TIFF of {values[0].tolist()}) gave {got}, expected "
        f"[0, 0, 0, 0, 255, 255, 255]: values below 0 or above 65535 must come out 0 and 255 "
        f"(np.clip(..., 0, 255) before astype(np.uint8), which wraps around)"
    )


ALPHAS = (0, 128, 255)


def _composited_on_white(colour, alpha):
    return [c * alpha / 255 + 255 * (1 - alpha / 255) for c in colour]


def _assert_on_white(pixels: np.ndarray, colour, call: str):
    for column, alpha in enumerate(ALPHAS):
        expected = _composited_on_white(colour, alpha)
        got = pixels[0, column].astype(float)
        what = "fully transparent" if alpha == 0 else "opaque" if alpha == 255 else f"alpha {alpha}"
        assert np.abs(got - expected).max() <= 1, (
            f"{call}: a {what} pixel of {colour} must come out composited on white = {np.round(expected)}; "
            f"got {got}{_compositing_diagnosis(got, colour, alpha)}"
        )


def _compositing_diagnosis(got: np.ndarray, colour, alpha: int) -> str:
    """What a wrong composited pixel looks like it came from, when it is recognisable."""
    if alpha < 255 and np.abs(got - np.asarray(colour, dtype=float)).max() <= 1:
        return ": the alpha channel was dropped (the pixel kept its own colour)"
    on_black = np.asarray(colour, dtype=float) * alpha / 255
    if alpha < 255 and np.abs(got - on_black).max() <= 1:
        return ": it was composited on black, not on white"
    return ""


@pytest.mark.function("load_image")
def test_rgba_is_composited_on_white(ex, tmp_path):
    colour = (200, 30, 60)
    rgba = np.array([[[*colour, a] for a in ALPHAS]], dtype=np.uint8)
    path = _save(Image.fromarray(rgba), tmp_path / "rgba.png")
    image = ex.load_image(path)
    _assert_rgb(image, "load_image(an RGBA PNG)")
    _assert_on_white(_pixels(image), colour, "load_image(an RGBA PNG)")


@pytest.mark.function("load_image")
def test_gray_with_alpha_is_composited_on_white(ex, tmp_path):
    la = np.array([[[40, a] for a in ALPHAS]], dtype=np.uint8)
    path = _save(Image.fromarray(la, "LA"), tmp_path / "la.png")
    image = ex.load_image(path)
    _assert_rgb(image, "load_image(a gray PNG with alpha, mode LA)")
    _assert_on_white(_pixels(image), (40, 40, 40), "load_image(a gray PNG with alpha, mode LA)")


@pytest.mark.function("load_image")
def test_palette_with_transparent_colour_is_composited_on_white(ex, tmp_path):
    indices = np.array([[0, 1, 2, 0]], dtype=np.uint8)
    palette = Image.fromarray(indices, "L").convert("P")
    # The transparent entry is blue, not black: ignoring the transparency (blue) and
    # compositing on black (black) then fail with different pixels.
    palette.putpalette([30, 60, 200, 220, 20, 20, 20, 160, 40] + [0] * (253 * 3))
    path = _save(palette, tmp_path / "transparent.png", transparency=0)
    image = ex.load_image(path)
    _assert_rgb(image, "load_image(a palette PNG with a transparent colour)")
    got = _pixels(image)[0]
    why = ""
    if (got[0] == [30, 60, 200]).all():
        why = ": the palette's transparent colour was ignored (its pixels kept the palette's blue)"
    elif (got[0] == [0, 0, 0]).all():
        why = ": it was composited on black, not on white"
    np.testing.assert_array_equal(
        got,
        [[255, 255, 255], [220, 20, 20], [20, 160, 40], [255, 255, 255]],
        err_msg="load_image(a palette PNG with a transparent colour): "
        f"the transparent pixels must come out white{why}",
    )


# -- load_image: errors -----------------------------------------------------------------------


def _names_the_file(error: BaseException, path: Path) -> None:
    assert path.name in str(error), f"load_image({path.name}): the message must name the file: {error}"


@pytest.mark.function("load_image")
def test_missing_file_is_file_not_found(ex, tmp_path):
    path = tmp_path / "no-such-face.jpg"
    with raises(FileNotFoundError, "load_image(a missing file)") as info:
        ex.load_image(path)
    _names_the_file(info.value, path)


@pytest.mark.function("load_image")
@pytest.mark.parametrize("content", [b"this is a text file, not a JPEG\n", b""], ids=["text", "empty"])
def test_not_an_image_is_a_value_error(ex, tmp_path, content):
    path = tmp_path / "face.jpg"
    path.write_bytes(content)
    with raises(ValueError, f"load_image(a {'text' if content else 'empty'} file named face.jpg)") as info:
        ex.load_image(path)
    _names_the_file(info.value, path)


def _damaged_header(kind: str) -> bytes:
    """A file whose header Pillow's Image.open gives up on, with an error other than
    UnidentifiedImageError: OSError for a BMP header of an unknown size, ValueError for a PNG
    whose IHDR chunk is too short."""
    if kind == "bmp":
        # "BM", file size, reserved, pixel offset, then a header size no BMP version has (99).
        return b"BM" + struct.pack("<IIII", 160, 0, 113, 99) + bytes(144)
    chunk = b"IHDR" + struct.pack(">I", 8)  # 4 bytes of the 13 an IHDR holds
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 4) + chunk + struct.pack(">I", zlib.crc32(chunk))


@pytest.mark.function("load_image")
@pytest.mark.parametrize(
    "kind, raised", [("bmp", "OSError"), ("png", "ValueError")], ids=["bmp-header-size", "png-short-ihdr"]
)
def test_damaged_header_is_a_value_error_naming_the_file(ex, tmp_path, kind, raised):
    path = tmp_path / f"face.{kind}"
    path.write_bytes(_damaged_header(kind))
    call = f"load_image(a {kind.upper()} with a damaged header: Pillow's Image.open raises {raised})"
    with raises(ValueError, call) as info:
        ex.load_image(path)
    assert path.name in str(info.value), (
        f"{call}: turn Image.open's OSError, SyntaxError and ValueError into a ValueError that names "
        f"the file; got {type(info.value).__name__}: {info.value}"
    )


@pytest.mark.function("load_image")
@pytest.mark.parametrize("suffix", ["jpg", "png"])
def test_truncated_file_is_a_value_error_raised_by_load_image(ex, tmp_path, suffix):
    path = _save(_noise(64, 64), tmp_path / f"whole.{suffix}")
    cut = tmp_path / f"truncated.{suffix}"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # the header survives
    with raises(ValueError, f"load_image(a truncated {suffix})") as info:
        ex.load_image(cut)
    _names_the_file(info.value, cut)


def _png_header(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares width x height pixels (8-bit gray)."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + chunk(b"IEND", b"")
    )


@pytest.mark.function("load_image")
def test_decompression_bomb_is_a_value_error(ex, tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_header(100_000, 100_000))  # 10^10 pixels declared in 68 bytes
    with raises(ValueError, "load_image(a PNG declaring 100000x100000 pixels)") as info:
        ex.load_image(path)
    _names_the_file(info.value, path)


@pytest.mark.function("load_image")
@pytest.mark.parametrize("side", [80, 100], ids=["above-limit-warning", "above-twice-limit-error"])
def test_image_over_max_image_pixels_is_a_value_error(ex, tmp_path, monkeypatch, side):
    # Pillow errors above 2 * MAX_IMAGE_PIXELS and only warns between 1x and 2x: both must fail.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 64 * 64)
    path = _save(_noise(side, side), tmp_path / f"big{side}.png")
    with raises(ValueError, f"load_image(a {side}x{side} PNG with MAX_IMAGE_PIXELS = 64 * 64)") as info:
        ex.load_image(path)
    _names_the_file(info.value, path)


@pytest.mark.function("load_image")
@pytest.mark.parametrize(
    "given", [42, b"face.jpg", Image.new("RGB", (4, 4))], ids=["int", "bytes", "pil-image"]
)
def test_not_a_path_is_a_type_error(ex, given):
    with raises(TypeError, f"load_image({type(given).__name__})") as info:
        ex.load_image(given)
    assert type(given).__name__ in str(info.value), (
        f"load_image({type(given).__name__}): say what was given: {info.value}"
    )


# -- preprocess: the same numbers as timm's transform ------------------------------------------


def _resized_otherwise(image: Image.Image, size: int, crop_pct: float, mean, std) -> dict[str, torch.Tensor]:
    """``image`` through timm's steps with one step done the way a student often does it, by
    the diagnosis each would give: a failing comparison that equals one of them names it."""

    def pipeline(
        scale: int, resample=Image.Resampling.BICUBIC, rounding=int, floor_offset=False, reducing_gap=None
    ) -> torch.Tensor:
        width, height = image.size
        new_size = (
            (scale, rounding(scale * height / width))
            if width <= height
            else (rounding(scale * width / height), scale)
        )
        resized = image.resize(new_size, resample, reducing_gap=reducing_gap)
        offset = (lambda n: (n - size) // 2) if floor_offset else (lambda n: int(round((n - size) / 2.0)))
        left, top = offset(new_size[0]), offset(new_size[1])
        cropped = resized.crop((left, top, left + size, top + size))
        pixels = torch.from_numpy(np.asarray(cropped, dtype=np.uint8).copy()).permute(2, 0, 1).double() / 255
        return (pixels - torch.tensor(mean, dtype=torch.float64).view(3, 1, 1)) / torch.tensor(
            std, dtype=torch.float64
        ).view(3, 1, 1)

    scale = math.floor(size / crop_pct)
    return {
        "it was resized with bilinear filtering; timm uses bicubic (Image.Resampling.BICUBIC)": pipeline(
            scale, Image.Resampling.BILINEAR
        ),
        f"the shorter side was resized straight to the crop size ({size}); resize it to "
        f"int(size / crop_pct) = {scale} first, then take the centre crop": pipeline(size),
        "the longer side was rounded to the nearest pixel; timm rounds it down (int(...))": pipeline(
            scale, rounding=round
        ),
        "the crop offset was rounded down ((n - size) // 2); timm rounds it "
        "(int(round((n - size) / 2)))": pipeline(scale, floor_offset=True),
        "the resize used a reducing_gap (a faster, approximate downscale); timm resizes "
        "with plain bicubic": pipeline(scale, reducing_gap=2.0),
    }


def _diagnose(
    got: torch.Tensor, expected: torch.Tensor, mean, std, alternatives: dict[str, torch.Tensor] | None = None
) -> str:
    """Which step differs, when ``got`` is a recognisable transformation of timm's result."""

    def near(a, b, tolerance=1e-4):  # a diagnosis only: looser than ATOL
        return a.shape == b.shape and (a - b).abs().max().item() <= tolerance

    mean_t = torch.tensor(mean, dtype=torch.float64).view(3, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float64).view(3, 1, 1)
    unit = expected.double() * std_t + mean_t  # timm's pixels in [0, 1]
    if near(got.flip(0), expected) or near(got.double() * std_t + mean_t, unit.flip(0)):
        return "the channel order is reversed (BGR): keep RGB, channel 0 is red"
    if near(got.transpose(1, 2), expected):
        return "rows and columns are swapped: permute(2, 0, 1) turns [H, W, 3] into [3, H, W]"
    if near(got.double(), (unit * 255 - mean_t) / std_t, tolerance=1e-2):
        return "the pixels were not scaled to [0, 1] (divide by 255) before the mean and std"
    if near(got.double(), (unit * 255 / 256 - mean_t) / std_t):
        return "the pixels were divided by 256; divide by 255, the largest 8-bit value, so white is 1.0"
    if near(got.double(), unit):
        return "the pixels were scaled to [0, 1] but not normalised: (x - mean) / std, per channel"
    for diagnosis, alternative in (alternatives or {}).items():
        if near(got.double(), alternative):
            return diagnosis
    # Same pixels, another per-channel scale and offset: the mean/std step is wrong.
    flat_got, flat_unit = got.double().flatten(1), unit.flatten(1)
    fits = []
    for c in range(3):
        design = torch.stack([flat_unit[c], torch.ones_like(flat_unit[c])], dim=1)
        solution = torch.linalg.lstsq(design, flat_got[c, :, None]).solution
        fits.append((design @ solution)[:, 0].sub(flat_got[c]).abs().max().item() <= 1e-3)
    if all(fits):
        return (
            "each channel is timm's pixels under another scale and offset: apply the mean and std "
            "per channel as (x - mean) / std"
        )
    return (
        "the pixels themselves differ: check the resize (bicubic, shorter side to int(size / crop_pct), "
        "longer side rounded down) and the centre crop"
    )


def _assert_matches(
    got: torch.Tensor,
    expected: torch.Tensor,
    call: str,
    mean=_CONFIG["mean"],
    std=_CONFIG["std"],
    image: Image.Image | None = None,
    size: int = 224,
    crop_pct: float = _CONFIG["crop_pct"],
) -> None:
    assert isinstance(got, torch.Tensor), f"{call} returned {type(got).__name__}, expected a torch.Tensor"
    assert tuple(got.shape) == tuple(expected.shape), (
        f"{call} has shape {list(got.shape)}, timm's transform gives {list(expected.shape)}"
    )
    assert got.dtype == torch.float32, (
        f"{call} has dtype {got.dtype}, expected torch.float32 like timm's transform"
    )
    difference = (got - expected).abs().max().item()
    if difference <= ATOL:
        return
    alternatives = None if image is None else _resized_otherwise(image, size, crop_pct, mean, std)
    assert difference <= ATOL, (
        f"{call} differs from timm's transform by up to {difference:.3g} (allowed "
        f"{ATOL}): {_diagnose(got, expected, mean, std, alternatives)}"
    )


@pytest.mark.function("preprocess")
def test_sample_face_matches_timm(ex, sample_face, timm_transform):
    _assert_matches(
        ex.preprocess(sample_face),
        timm_transform(sample_face),
        f"preprocess(the sample face, {sample_face.width}x{sample_face.height})",
        image=sample_face,
    )


@pytest.mark.function("preprocess")
@pytest.mark.parametrize(
    "width, height",
    [
        (300, 451),  # portrait; 256 * 451 / 300 = 384.85 -> 384 (round down)
        (640, 333),  # landscape, downscaled
        (7, 5),  # tiny landscape, upscaled
        (5, 9),  # tiny portrait, upscaled
        (1, 1),
        (224, 224),  # already the crop size: still resized to 256 first
        (259, 256),  # no resize; crop offset round(17.5) = 18
        (256, 257),  # no resize; crop offset round(16.5) = 16
    ],
    ids=lambda v: str(v),
)
def test_other_sizes_match_timm(ex, timm_transform, width, height):
    image = _noise(width, height, seed=width * 1000 + height)
    _assert_matches(
        ex.preprocess(image), timm_transform(image), f"preprocess(a {width}x{height} image)", image=image
    )


@pytest.mark.function("preprocess")
def test_a_camera_photo_matches_timm(ex, timm_transform):
    # A phone camera's 12 megapixels: a downscale by almost 12, where shortcuts for big
    # images (draft, thumbnail, reducing_gap) start to differ from timm's plain bicubic resize.
    image = _noise(4000, 3000, seed=4000)
    _assert_matches(ex.preprocess(image), timm_transform(image), "preprocess(a 4000x3000 photo)", image=image)


@pytest.mark.function("preprocess")
@pytest.mark.parametrize(
    "size, crop_pct, mean, std",
    [
        (160, 0.875, None, None),
        (288, 0.95, None, None),
        (224, 1.0, None, None),
        # math.floor(224 / 0.8) is timm's 280; 224 // 0.8 is 279.0 (it floors the exact quotient
        # by the stored 0.8000000000000000444).
        (224, 0.8, None, None),
        (1, 0.875, None, None),
        (224, 0.875, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
    ],
    ids=["160", "288-crop0.95", "224-crop1.0", "224-crop0.8", "1", "mean-std-0.5"],
)
def test_other_settings_match_timm(ex, size, crop_pct, mean, std):
    from timm.data import create_transform

    config = {**data.data_config(), "input_size": (3, size, size), "crop_pct": crop_pct}
    kwargs = {"size": size, "crop_pct": crop_pct}
    if mean is not None:
        config.update(mean=mean, std=std)
        kwargs.update(mean=mean, std=std)
    image = _noise(300, 200, seed=size)
    call = f"preprocess(a 300x200 image, {', '.join(f'{k}={v}' for k, v in kwargs.items())})"
    got = ex.preprocess(image, **kwargs)
    _assert_matches(
        got,
        create_transform(**config, is_training=False)(image),
        call,
        mean=config["mean"],
        std=config["std"],
        image=image,
        size=size,
        crop_pct=crop_pct,
    )


# -- preprocess: what the numbers mean ----------------------------------------------------------


@pytest.mark.function("preprocess")
@pytest.mark.parametrize("channel", [0, 1, 2], ids=["red", "green", "blue"])
def test_channel_order_is_rgb(ex, channel):
    colour = [0, 0, 0]
    colour[channel] = 255
    tensor = ex.preprocess(Image.new("RGB", (64, 48), tuple(colour)))
    expected = _expected_normalised([c / 255 for c in colour])
    name = ("red", "green", "blue")[channel]
    for c in range(3):
        torch.testing.assert_close(
            tensor[c],
            expected[c].expand(224, 224),
            atol=ATOL,
            rtol=0,
            msg=f"preprocess(a pure {name} image): channel {c} is wrong "
            f"(RGB order; (x / 255 - mean[c]) / std[c])",
        )


@pytest.mark.function("preprocess")
def test_white_and_black_are_the_ends_of_the_range(ex):
    white = ex.preprocess(Image.new("RGB", (50, 50), (255, 255, 255)))
    black = ex.preprocess(Image.new("RGB", (50, 50), (0, 0, 0)))
    top, bottom = _expected_normalised([1, 1, 1]), _expected_normalised([0, 0, 0])
    torch.testing.assert_close(
        white,
        top.view(3, 1, 1).expand(3, 224, 224),
        atol=ATOL,
        rtol=0,
        msg="preprocess(a white image): expected (1 - mean) / std per channel",
    )
    torch.testing.assert_close(
        black,
        bottom.view(3, 1, 1).expand(3, 224, 224),
        atol=ATOL,
        rtol=0,
        msg="preprocess(a black image): expected (0 - mean) / std per channel",
    )


@pytest.mark.function("preprocess")
def test_values_stay_in_the_normalised_range(ex, sample_face):
    tensor = ex.preprocess(sample_face)
    top, bottom = _expected_normalised([1, 1, 1]), _expected_normalised([0, 0, 0])
    for c in range(3):
        low, high = tensor[c].min().item(), tensor[c].max().item()
        assert bottom[c] - ATOL <= low and high <= top[c] + ATOL, (
            f"preprocess(the sample face): channel {c} spans {low:.3f}..{high:.3f}, outside "
            f"{bottom[c]:.3f}..{top[c]:.3f}, the normalised range of 0..255"
        )
    assert tensor.std() > 0.1, (
        "preprocess(the sample face): nearly constant output; a face is not one flat colour"
    )


@pytest.mark.function("preprocess")
def test_rows_are_rows_and_columns_are_columns(ex):
    # Landscape: left half black, right half white. Rows must all look alike, columns must not.
    pixels = np.zeros((200, 300, 3), dtype=np.uint8)
    pixels[:, 150:] = 255
    tensor = ex.preprocess(Image.fromarray(pixels))
    call = "preprocess(a 300x200 image, left half black, right half white)"
    assert tuple(tensor.shape) == (3, 224, 224), f"{call}: shape {list(tensor.shape)}, expected [3, 224, 224]"
    assert torch.equal(tensor[:, 0, :], tensor[:, -1, :]), (
        f"{call}: the first and last rows differ; rows and columns swapped?"
    )
    assert (tensor[:, :, 0] < 0).all() and (tensor[:, :, -1] > 0).all(), (
        f"{call}: the left column must be dark and the right one bright"
    )


@pytest.mark.function("preprocess")
def test_input_image_is_not_modified(ex):
    image = _noise(120, 90)
    before = image.tobytes()
    ex.preprocess(image)
    assert image.size == (120, 90) and image.mode == "RGB" and image.tobytes() == before, (
        "preprocess(image) changed the caller's image: work on the copies resize and crop return"
    )


# -- preprocess: bad input ---------------------------------------------------------------------


@pytest.mark.function("preprocess")
@pytest.mark.parametrize(
    "given",
    [np.zeros((224, 224, 3), dtype=np.uint8), torch.zeros(3, 224, 224), "face.jpg"],
    ids=["ndarray", "tensor", "str"],
)
def test_not_a_pil_image_is_a_type_error(ex, given):
    with raises(TypeError, f"preprocess({type(given).__name__})") as info:
        ex.preprocess(given)
    message = str(info.value)
    assert "PIL" in message and type(given).__name__ in message, (
        f"preprocess({type(given).__name__}): say expected (PIL) vs given: {message!r}"
    )


@pytest.mark.function("preprocess")
@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "I;16"])
def test_non_rgb_mode_is_a_value_error(ex, mode):
    with raises(ValueError, f"preprocess(an image of mode {mode})") as info:
        ex.preprocess(Image.new(mode, (32, 32)))
    message = str(info.value)
    assert "RGB" in message.replace(mode, "") and mode in message, (
        f"preprocess(mode {mode}): say expected (RGB) vs given ({mode}): {message!r}"
    )


@pytest.mark.function("preprocess")
@pytest.mark.parametrize("width, height", [(0, 0), (0, 5), (5, 0)])
def test_image_without_pixels_is_a_value_error(ex, width, height):
    with raises(ValueError, f"preprocess(a {width}x{height} image)"):
        ex.preprocess(Image.new("RGB", (width, height)))


@pytest.mark.function("preprocess")
@pytest.mark.parametrize("size", [0, -3])
def test_size_below_one_is_a_value_error(ex, sample_face, size):
    with raises(ValueError, f"preprocess(image, size={size})") as info:
        ex.preprocess(sample_face, size=size)
    message = str(info.value)
    assert "size" in message and str(size) in message, (
        f"preprocess(size={size}): say that size is wrong and which was given: {message!r}"
    )


@pytest.mark.function("preprocess")
@pytest.mark.parametrize("size", [224.0, "224"], ids=["float", "str"])
def test_size_not_an_int_is_a_type_error(ex, sample_face, size):
    with raises(TypeError, f"preprocess(image, size={size!r})"):
        ex.preprocess(sample_face, size=size)


@pytest.mark.function("preprocess")
@pytest.mark.parametrize(
    "name, values",
    [("mean", (0.5, 0.5)), ("mean", (0.5,) * 4), ("std", (0.2,)), ("std", (0.2,) * 6)],
    ids=["mean-2", "mean-4", "std-1", "std-6"],
)
def test_mean_or_std_without_three_values_is_a_value_error(ex, sample_face, name, values):
    call = f"preprocess(image, {name}={values})"
    with raises(ValueError, call) as info:
        ex.preprocess(sample_face, **{name: values})
    message = str(info.value)
    assert name in message, f"{call}: say which argument is wrong: {message!r}"
    assert re.search(r"\b3\b", message) and str(len(values)) in message, (
        f"{call}: say that 3 values were expected and how many came: {message!r}"
    )


@pytest.mark.function("preprocess")
def test_zero_std_is_a_value_error(ex, sample_face):
    with raises(ValueError, "preprocess(image, std=(0.229, 0.0, 0.225)), a std of 0 (it divides)") as info:
        ex.preprocess(sample_face, std=(0.229, 0.0, 0.225))
    assert "std" in str(info.value), f"preprocess(std with a 0): name the argument std: {info.value}"


@pytest.mark.function("preprocess")
def test_negative_std_is_a_value_error(ex, sample_face):
    std = (0.229, -0.224, 0.225)
    with raises(ValueError, f"preprocess(image, std={std}), a std below 0 (std must be > 0)") as info:
        ex.preprocess(sample_face, std=std)
    assert "std" in str(info.value), f"preprocess(std={std}): name the argument std: {info.value}"


@pytest.mark.function("preprocess")
@pytest.mark.parametrize("crop_pct", [0, -0.5, 1.5])
def test_crop_pct_outside_0_1_is_a_value_error(ex, sample_face, crop_pct):
    with raises(ValueError, f"preprocess(image, crop_pct={crop_pct})") as info:
        ex.preprocess(sample_face, crop_pct=crop_pct)
    assert str(crop_pct) in str(info.value), (
        f"preprocess(crop_pct={crop_pct}): say which was given: {info.value}"
    )
