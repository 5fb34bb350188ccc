"""The figures the exercises' READMEs state are computed here, and their ```python blocks run.

Numbers (sizes, differences, counts, ranges) are read out of the text by the marker before each,
``<!--fig:NAME-->`` (``marked``: the sentence around a figure may be reworded freely), and
compared with what the libraries compute now; a figure that depends on float rounding is checked
as a bound. The few figures that stand in code (a code span, a comment in a code block, a
docstring), where a marker would show, are still read with a pattern (``_stated``). Every
```python block of the exercises' READMEs (``EXERCISES``: the manifest's) either runs here (``RUNS``) on inputs that matter, or
carries a tag of snippets.TAGS (a signature without a body, an outline with ``...``) and is
checked the tag's way. What a README says the tests do (their inputs, sizes, limits) is matched
against the test modules' code (TEST_FACTS).
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import io
import json
import math
import re
import struct
import sys
import uuid
import warnings
import zlib
from collections.abc import Callable
from typing import Any
from unittest import mock

import numpy as np
import pytest
import torch
from PIL import Image
from snippets import ROOT, TAGS, Block, parse, recipe, run
from test_teaching import _stated, claims, figures, flat, marked, readme, reference

from facekit import course, data, settings, trees

pytestmark = pytest.mark.kit

EXERCISES = course.load().ids  # every exercise of the manifest, a new one too


def stub(exercise_id: str):
    return trees.load_exercise(exercise_id, "exercises")


# -- the ```python blocks of the READMEs -----------------------------------------------------------


def _blocks() -> list[Block]:
    blocks = []
    for exercise_id in EXERCISES:
        source = course.load().get(exercise_id).readme
        sheet = parse(readme(exercise_id), source)
        assert not sheet.problems, f"{source}: " + "; ".join(sheet.problems)
        blocks += sheet.blocks
    return blocks


BLOCKS = _blocks()


def _normal(annotation: str | None) -> str | None:
    """``PIL.Image.Image`` and ``Image.Image`` alike: a dotted name by its last part."""
    return None if annotation is None else re.sub(r"\b(?:\w+\.)+(\w+)", r"\1", annotation)


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.tag == "signature"], ids=lambda b: b.where)
def test_signature_blocks_match_the_stub(block):
    """A signature cannot run (it has no body): its names, defaults and annotations must be the
    stub's and the reference's, so what the README shows is what the student fills in."""
    code = "\n".join(re.sub(r"\s+#.*$", "", line) for line in block.code.splitlines()).strip()
    (node,) = ast.parse(code + ":\n    ...").body
    assert isinstance(node, ast.FunctionDef), f"{block.where}: not a def signature: {code!r}"
    exercise_id = block.source.split("/")[1]
    for tree in ("exercises", "solutions"):
        module = trees.load_exercise(exercise_id, tree)
        function = getattr(module, node.name, None)
        assert callable(function), f"{block.where}: {tree}/{exercise_id} has no {node.name}"
        actual = inspect.signature(function)
        args = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
        shown = [a.arg for a in args]
        assert shown == list(actual.parameters), (
            f"{block.where}: the README shows {node.name}({', '.join(shown)}); {tree} has {node.name}{actual}"
        )
        defaults = dict(zip([a.arg for a in node.args.args][::-1], node.args.defaults[::-1]))
        for arg in args:
            parameter = actual.parameters[arg.arg]
            assert _normal(ast.unparse(arg.annotation) if arg.annotation else None) == _normal(
                parameter.annotation if parameter.annotation is not inspect.Parameter.empty else None
            ), f"{block.where}: {arg.arg}'s annotation differs from {tree}'s {node.name}{actual}"
            if arg.arg in defaults:
                value = eval(ast.unparse(defaults[arg.arg]), vars(module))  # noqa: S307 (our README)
                assert parameter.default is not inspect.Parameter.empty and value == parameter.default, (
                    f"{block.where}: {arg.arg}={ast.unparse(defaults[arg.arg])} is {value!r}; "
                    f"{tree}'s {node.name}{actual} has {'no default' if parameter.default is inspect.Parameter.empty else repr(parameter.default)}"
                )
            else:
                assert parameter.default is inspect.Parameter.empty, (
                    f"{block.where}: {arg.arg} has no default; {tree}'s is {parameter.default!r}"
                )
        assert node.returns is not None, f"{block.where}: the README's {node.name} shows no return type"
        assert _normal(ast.unparse(node.returns)) == _normal(actual.return_annotation), (
            f"{block.where}: returns {ast.unparse(node.returns)}; {tree}: {actual.return_annotation}"
        )


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.tag == "outline"], ids=lambda b: b.where)
def test_outline_blocks_are_what_the_literal_student_wrote(block):
    """An outline cannot run (``...`` stands for the student's code); each of its complete
    lines is in the literal student's module, which passes the exercise's tests."""
    exercise_id = block.source.split("/")[1]
    literal = ROOT / course.meta_of(exercise_id).literal
    written = {
        line.strip()
        for module in literal.glob("*.py")
        for line in module.read_text(encoding="utf-8").splitlines()
    }
    complete = [line.strip() for line in block.code.splitlines() if line.strip() and "..." not in line]
    assert complete, f"{block.where}: an outline with no complete line"
    missing = [line for line in complete if line not in written]
    assert not missing, (
        f"{block.where}: the literal student of {exercise_id} ({course.meta_of(exercise_id).literal}) "
        f"does not write {missing}: follow the outline there, word for word"
    )


def _png_header(width: int, height: int) -> bytes:
    """A tiny PNG that declares width x height 8-bit gray pixels."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
        )

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + chunk(b"IEND", b"")
    )


def _pixel_limit() -> int:
    """Pillow's decompression-bomb limit (None would mean the check is off: these tests need it)."""
    limit = Image.MAX_IMAGE_PIXELS
    assert limit is not None, "Pillow's MAX_IMAGE_PIXELS is None: its bomb check is off"
    return limit


def _group(pattern: str, text: str) -> str:
    """The first group of ``pattern`` in ``text``; a README that lost the pattern fails by name."""
    found = re.search(pattern, text)
    assert found is not None, f"the README no longer matches {pattern!r}"
    return found[1]


def _bomb_block(block, tmp_path, request=None):
    """The README's catch_warnings block: between once and twice MAX_IMAGE_PIXELS it raises
    the warning; an ordinary file opens."""
    side = math.isqrt(int(_pixel_limit() * 1.5))
    (tmp_path / "bomb.png").write_bytes(_png_header(side, side))
    with open(tmp_path / "bomb.png", "rb") as file, pytest.raises(Image.DecompressionBombWarning):
        run(block, tmp_path, warnings=warnings, Image=Image, file=file)
    data.sample_face().save(tmp_path / "face.png")
    with open(tmp_path / "face.png", "rb") as file:
        assert run(block, tmp_path, warnings=warnings, Image=Image, file=file)["image"].size == (200, 200)


def _config_block(block, tmp_path, request=None):
    """The printed pretrained config is what facekit.data.data_config() reads from timm."""
    shown = run(block, tmp_path)["_"]
    config = data.data_config()
    assert {key: config[key] for key in shown} == shown, f"{block.where}: timm says {config}"


def _thresholds_block(block, tmp_path, request=None):
    shown = run(block, tmp_path)["THRESHOLDS"]
    for tree in ("exercises", "solutions"):
        given = trees.load_exercise("ex03_similarity", tree).THRESHOLDS
        assert given == shown, f"{block.where} shows {shown}; {tree}'s stub module has {given}"


def _top_k_block(block, tmp_path, request=None):
    """The usage example prints k lines of name and score, best first."""
    from facekit.testing import MemoryStore

    rows = torch.randn(6, 320, generator=torch.Generator().manual_seed(0))
    store = MemoryStore(trees.load_exercise("ex04_storage", "solutions").Record)
    for name, row in zip(["ada", "bob", "cy", "ada", "dee", "bob"], rows):
        store.add(name, row)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        out = run(block, tmp_path, top_k=reference("ex05_retrieval").top_k, query=rows[3] + 0.1, store=store)
    lines = printed.getvalue().splitlines()
    assert len(lines) == 3 and re.fullmatch(r"ada +\d\.\d{3}", lines[0]), (block.where, lines)
    assert [s for _, s in out["results"]] == sorted((s for _, s in out["results"]), reverse=True)


def _store_api_block(block, tmp_path, request):
    """The API tour runs on both stores (the reference's, under the name the block imports)."""
    package = reference("ex04_storage")
    embedding = torch.randn(320, generator=torch.Generator().manual_seed(0))
    with mock.patch.dict(sys.modules, {"exercises.ex04_storage": package}):
        out = run(block, tmp_path, embedding=embedding)
    # The block's paths are relative. (Not contextlib.chdir: Python 3.11+, and the kit runs on 3.10.)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        assert isinstance(out["store"], package.JsonFileStore) and len(out["store"]) == 0, block.where
    code = block.code.replace('JsonFileStore("faces.json")', 'SqliteStore("faces.db")')
    assert code != block.code, f'{block.where} no longer opens JsonFileStore("faces.json")'
    import dataclasses

    with mock.patch.dict(sys.modules, {"exercises.ex04_storage": package}):
        out = run(dataclasses.replace(block, code=code), tmp_path, embedding=embedding)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        assert isinstance(out["store"], package.SqliteStore) and len(out["store"]) == 0, block.where
    # What the comments say get returns.
    store = package.JsonFileStore(tmp_path / "again.json")
    record = store.get(store.add("ada", embedding))
    assert (
        record.name == "ada" and record.embedding.dtype == torch.float32 and record.embedding.shape == (320,)
    )


def _blob_block(block, tmp_path, request):
    """tensor -> 4·D little-endian bytes -> the same float32 values, bit for bit."""
    embedding = torch.tensor([0.1, -0.0, 1 / 3, 3.4e38, 1e-45], dtype=torch.float32)
    out = run(block, tmp_path, np=np, torch=torch, embedding=embedding)
    assert out["blob"] == struct.pack("<5f", *embedding.tolist()) and len(out["blob"]) == 4 * 5, block.where
    assert torch.equal(out["embedding"].view(torch.int32), embedding.view(torch.int32)), block.where
    assert out["embedding"].dtype == torch.float32 and out["values"].flags.writeable is False


def _read_back_block(block, tmp_path, request):
    """The reading-back example reads what the reference embed_folder wrote, both formats."""
    app = reference("ex06_app")
    embedder = request.getfixturevalue("embedder")
    folder = tmp_path / "photos"
    (folder / "alice").mkdir(parents=True)
    data.sample_face().save(folder / "alice" / "1.png")
    data.sample_face().transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(folder / "bob.png")
    written = {
        suffix: app.embed_folder(embedder, folder, tmp_path / f"faces{suffix}")
        for suffix in (".safetensors", ".npy")
    }
    out = run(block, tmp_path)
    assert out["names"] == ["alice/1.png", "bob.png"], block.where
    assert out["embeddings"].shape == (2, written[".npy"].width), block.where
    assert isinstance(out["embeddings"], np.ndarray), f"{block.where}: the last read is the .npy file"


RUNS = {  # block id (section slug and place) -> how it runs and what it must do
    ("exercises/ex01_images/README.md", "what-is-in-an-image-file-1"): _bomb_block,
    ("exercises/ex01_images/README.md", "what-the-model-expects-preprocessing-1"): _config_block,
    ("exercises/ex03_similarity/README.md", "thresholds-from-a-score-to-a-decision-1"): _thresholds_block,
    ("exercises/ex05_retrieval/README.md", "nearest-neighbour-search-1"): _top_k_block,
    ("exercises/ex04_storage/README.md", "the-api-both-stores-share-apipy-1"): _store_api_block,
    ("exercises/ex04_storage/README.md", "why-sqlite-next-1"): _blob_block,
    (
        "exercises/ex06_app/README.md",
        "task-6-embed_foldermodel-folder-out-batch_size8-progressnone-1",
    ): _read_back_block,
}


@pytest.mark.parametrize("block", [b for b in BLOCKS if not b.tag], ids=lambda b: b.where)
def test_readme_python_blocks_run(block, tmp_path, request):
    check = RUNS.get((block.source, block.id))
    assert check, (
        f"{block.where} is neither run by a test nor tagged: add it to RUNS here with "
        f"the inputs that matter, or tag its fence with one of {sorted(TAGS)}"
    )
    check(block, tmp_path, request)


def test_every_run_names_a_block():
    ids = {(b.source, b.id) for b in BLOCKS}
    stale = [key for key in RUNS if key not in ids]
    assert not stale, f"RUNS names blocks the READMEs no longer have: {stale}"


# -- Exercise 01 -----------------------------------------------------------------------------------


def test_ex01_decompression_bomb_figures(tmp_path):
    text = readme("ex01_images")
    size, side, gigabytes, rgb_gigabytes, limit, limit_side = marked(
        text, "size", "side", "gigabytes", "rgb_gigabytes", "limit", "limit_side"
    )
    header = _png_header(int(side), int(side))
    assert len(header) == size, f"the PNG declaring {side:.0f}² pixels is {len(header)} bytes"
    (tmp_path / "bomb.png").write_bytes(header)
    default, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None  # to read the header only
    try:
        with Image.open(tmp_path / "bomb.png") as bomb:
            assert bomb.size == (side, side) and bomb.mode == "L"
    finally:
        Image.MAX_IMAGE_PIXELS = default
    # Pillow keeps an RGB pixel in 4 bytes (measured: test_teaching's
    # test_rgb_image_takes_4_bytes_a_pixel_as_the_bomb_figure_says).
    assert side * side * 1 / 1e9 == gigabytes and side * side * 4 / 1e9 == rgb_gigabytes
    assert Image.MAX_IMAGE_PIXELS == limit and math.isqrt(int(limit)) == limit_side


def test_ex01_bomb_warns_between_once_and_twice_the_limit(tmp_path):
    assert "bomb-warns" in claims(readme("ex01_images")), "the README no longer says Pillow only warns there"
    for factor, expected in ((1.5, Image.DecompressionBombWarning), (2.5, Image.DecompressionBombError)):
        side = math.isqrt(int(_pixel_limit() * factor))
        (tmp_path / "bomb.png").write_bytes(_png_header(side, side))
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with pytest.raises(expected):
                Image.open(tmp_path / "bomb.png")


def test_ex01_resize_and_crop_figures(sample_face):
    text = flat(readme("ex01_images"))
    ex01 = reference("ex01_images")
    size, short, kept = marked(text, "crop_size", "short", "kept")
    assert size / short == kept == ex01.CROP_PCT and math.floor(size / kept) == short
    width, height, new_width, new_height, exact = marked(
        text, "width", "height", "new_width", "new_height", "exact"
    )
    assert new_width == short and round(short * height / width, 2) == exact and int(exact) == new_height
    portrait, resized = sample_face.resize((int(width), int(height))), []
    with pytest.MonkeyPatch.context() as patch:  # the size the reference resizes to

        def resize(self, box, *args, **kwargs):
            resized.append(box)
            return self.crop((0, 0, *box))

        patch.setattr(Image.Image, "resize", resize)
        ex01.preprocess(portrait)
    assert resized == [(new_width, new_height)], resized
    w1, half1, rounded1, w2, half2, rounded2 = _stated(
        text,
        r"a width of (\d+) gives `round\(([\d.]+)\) = (\d+)`, and (\d+) gives `round\(([\d.]+)\) = (\d+)`",
    )
    for w, half, rounded in ((w1, half1, rounded1), (w2, half2, rounded2)):
        assert (w - size) / 2 == half and round(half) == rounded
    side, held = marked(text, "sample_side", "held")
    assert sample_face.size == (side, side) and side * size / short == held


def test_ex01_black_and_white_table():
    ex01 = reference("ex01_images")
    rows = re.findall(
        r"^\| (\d), \w+ \| (?:\(0 − [\d.]+\) / [\d.]+ = )?(−?[\d.]+) \| "
        r"(?:\(1 − [\d.]+\) / [\d.]+ = )?(−?[\d.]+) \|$",
        readme("ex01_images"),
        re.M,
    )
    assert [int(r[0]) for r in rows] == [0, 1, 2], f"the black/white table has rows {rows}"
    for channel, black, white in rows:
        mean, std = ex01.IMAGENET_MEAN[int(channel)], ex01.IMAGENET_STD[int(channel)]
        assert float(black.replace("−", "-")) == round(-mean / std, 3), (channel, black)
        assert float(white) == round((1 - mean) / std, 3), (channel, white)


def test_ex01_tolerance_figures(sample_face):
    """The tests' tolerance sits between float32 rounding and a real mistake."""
    text = flat(readme("ex01_images"))
    ex01 = reference("ex01_images")
    tolerance, exact, rounding, mistake = marked(text, "tolerance", "timm_difference", "rounding", "mistake")
    tests = (ROOT / "tests" / "test_ex01_images.py").read_text(encoding="utf-8")
    assert float(_group(r"(?m)^ATOL = ([\de.-]+)", tests)) == tolerance
    right = ex01.preprocess(sample_face)
    assert (right - data.eval_transform()(sample_face)).abs().max().item() == exact
    mean = torch.tensor(ex01.IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(ex01.IMAGENET_STD).view(3, 1, 1)

    def pixels(resample, dx=0, dy=0):  # enlarged to 256, cropped at 16 (+ a shift)
        image = sample_face.resize((256, 256), resample).crop((16 + dx, 16 + dy, 240 + dx, 240 + dy))
        return torch.from_numpy(np.array(image)).permute(2, 0, 1)

    bicubic = pixels(Image.Resampling.BICUBIC)
    other_arithmetic = [
        ((bicubic.double() / 255 - mean.double()) / std.double()).float(),  # float64
        (bicubic.float() / 255 - mean) * (1 / std),
    ]  # times 1 / std
    worst = max((x - right).abs().max().item() for x in other_arithmetic)
    assert rounding / 2 < worst <= rounding, f"float64 or 1 / std: {worst:.3g}, README says {rounding}"
    wrong = [
        pixels(f)
        for f in (
            Image.Resampling.NEAREST,
            Image.Resampling.BOX,
            Image.Resampling.BILINEAR,
            Image.Resampling.HAMMING,
            Image.Resampling.LANCZOS,
        )
    ]
    wrong += [pixels(Image.Resampling.BICUBIC, dx, dy) for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1))]
    least = min((((x.float() / 255 - mean) / std) - right).abs().max().item() for x in wrong)
    assert mistake <= least < 2 * mistake, f"the smallest mistake: {least:.3g}, README says {mistake}"
    assert tolerance < mistake and worst < tolerance


# -- Exercise 02 -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def classifier():
    """ConvNeXt-Atto with its classifier, random weights: the figures are about its shape."""
    import timm

    return timm.create_model("convnext_atto", pretrained=False).eval()


def test_ex02_architecture_table(classifier):
    table = {
        row[0]: row[1:]
        for row in re.findall(
            r"^\| (channels|blocks|grid for a 224×224 input) \|(.*)\|$", readme("ex02_embeddings"), re.M
        )
    }
    assert table.keys() == {"channels", "blocks", "grid for a 224×224 input"}, table
    channels, blocks, grids = (
        [cell.strip() for cell in table[key][0].split("|")]
        for key in ("channels", "blocks", "grid for a 224×224 input")
    )
    shapes = []
    hooks = [
        module.register_forward_hook(lambda m, i, out: shapes.append(tuple(out.shape[1:])))
        for module in [classifier.stem, *classifier.stages]
    ]
    with torch.inference_mode():
        classifier(torch.zeros(1, 3, 224, 224))
    for hook in hooks:
        hook.remove()
    assert [c.strip("*") for c in channels] == [str(s[0]) for s in shapes], (channels, shapes)
    assert grids == [f"{s[1]}×{s[2]}" for s in shapes], (grids, shapes)
    assert blocks == ["", *(str(len(stage.blocks)) for stage in classifier.stages)], blocks


def test_ex02_parameter_and_size_figures(classifier, checkpoint):
    text = flat(readme("ex02_embeddings"))
    count = sum(p.numel() for p in classifier.parameters())
    (whole,) = marked(text, "whole")
    classes, _, weight_rows, width, bias, fc, share = _stated(
        text,
        r"for the (\d+) ImageNet classes.*?`head.fc` is a linear layer from (\d+) features to \d+ "
        r"ImageNet classes: a `\[(\d+), (\d+)\]` weight and a `\[(\d+)\]` bias, ([\d,]+) parameters "
        r"\(([\d.]+)% of the model\)",
    )
    (headless,) = marked(text, "headless")
    fc_count = sum(p.numel() for p in classifier.head.fc.parameters())
    assert (whole, headless, fc) == (count, count - fc_count, fc_count)
    assert (
        tuple(classifier.head.fc.weight.shape) == (weight_rows, width) == (classes, 320) and bias == classes
    )
    assert round(100 * fc_count / count, 1) == share
    pixels, numbers, nbytes = marked(text, "pixels", "numbers", "nbytes")
    assert pixels == 3 * 224 * 224 and numbers == classifier.num_features and nbytes == 4 * numbers
    (tensors,) = marked(text, "tensors")
    assert tensors == len(classifier.state_dict()) == len(checkpoint)


def test_ex02_tiny_is_768_wide():
    import timm

    (*stages,) = marked(flat(readme("ex02_embeddings")), "stages1", "stages2", "stages3", "stages4")
    with torch.device("meta"):  # shapes only, no memory
        tiny = timm.create_model("convnext_tiny", pretrained=False, num_classes=0)
    tiny_stages: Any = tiny.stages  # an nn.Sequential (torch types a submodule as Tensor | Module)
    assert [stage.blocks[0].conv_dw.out_channels for stage in tiny_stages] == stages
    assert tiny.num_features == stages[-1] == 768


def test_ex02_checkpoint_file_figures(checkpoint):
    from facekit import hub, standin

    text = flat(readme("ex02_embeddings"))
    tensors, file_bytes, megabytes = marked(text, "tensors", "file_bytes", "megabytes")
    path = hub.download(standin.MODEL_ID, standin.FILENAME)
    assert len(checkpoint) == tensors and all(t.dtype == torch.float32 for t in checkpoint.values())
    if standin.is_standin(path):  # the stand-in's file; the real one's header differs
        assert path.stat().st_size == file_bytes, f"{path} is {path.stat().st_size} bytes"
    assert round(file_bytes / 1e6, 1) == megabytes
    real_megabytes, payload = marked(text, "real_megabytes", "payload")
    assert (
        payload == sum(t.numel() * 4 for t in checkpoint.values())
        and round(payload / 1e6, 1) == real_megabytes
    )


def test_ex02_candle_recipe_is_the_pool_before_the_head_layernorm(embedder, face_tensor):
    candle = recipe(course.load().get("ex02_embeddings").readme, "forward_features", "mean")
    x = torch.stack([face_tensor, face_tensor.flip(-1)])
    with torch.inference_mode():
        pooled = run(candle, ".", model=embedder, x=x)["_"]
        assert tuple(pooled.shape) == (2, 320), candle.where
        # The LayerNorm timm keeps turns Candle's numbers into timm's embedding.
        torch.testing.assert_close(embedder.head.norm(pooled[:, :, None, None]).flatten(1), embedder(x))
        assert not torch.allclose(pooled, embedder(x))


# -- Exercise 03 -----------------------------------------------------------------------------------


def test_ex03_random_vector_figures():
    """The notebook's section 3 (500 x 500 pairs of Gaussian vectors of width 320), per seed."""
    sim = reference("ex03_similarity")
    pairs, mean_within, std, root, low, high = marked(
        flat(readme("ex03_similarity")), "pairs", "mean_within", "std", "root", "low", "high"
    )
    assert round(320**-0.5, 4) == root and pairs == 500 * 500
    for seed in (0, 1, 2):
        many = torch.randn(1000, 320, generator=torch.Generator().manual_seed(seed))
        scores = sim.cosine_similarity(many[:500], many[500:])
        measured = (scores.mean().item(), scores.std().item(), scores.abs().max().item())
        assert (
            abs(measured[0]) < mean_within and round(measured[1], 3) == std and low <= measured[2] <= high
        ), f"seed {seed}: mean, std, largest |cos| = {measured}"


def test_ex03_standin_scores_are_all_high(embedder, face_tensor):
    (above,) = marked(flat(readme("ex03_similarity")), "above")
    noise = torch.randn(face_tensor.shape, generator=torch.Generator().manual_seed(0))
    images = torch.stack([face_tensor, face_tensor.flip(-1), face_tensor * 0.5 - 0.5, noise])
    with torch.inference_mode():
        scores = reference("ex03_similarity").cosine_similarity(embedder(images), embedder(images))
    if settings.resolve_weights() == "standin":
        assert scores.min() > above, scores


def test_ex03_example_messages():
    """The messages the README quotes are the reference's."""
    sim = reference("ex03_similarity")
    text = flat(readme("ex03_similarity"))
    rows = torch.randn(12, 16)
    rows[[4, 9]] = 0
    with pytest.raises(ValueError) as zero:
        sim.l2_normalize(rows)
    assert _group(r"e\.g\. `(rows 4, 9 of x \(12, 16\) are zero vectors)`", text) in str(zero.value)
    with pytest.raises(ValueError) as widths:
        sim.cosine_similarity(torch.randn(4, 320), torch.randn(5, 128))
    assert _group(r"e\.g\. `(a has width 320 \(4, 320\), b has width 128 \(5, 128\))`", text) in str(
        widths.value
    )


# -- Exercise 04 -----------------------------------------------------------------------------------


def test_ex04_size_figures(tmp_path):
    """The JSON file's and the SQLite file's bytes per record, written by the reference."""
    ex04 = reference("ex04_storage")
    text = flat(readme("ex04_storage"))
    records, width, megabytes = marked(text, "records", "width", "megabytes")
    indented, compact, values = marked(text, "indented", "compact", "values")
    (sqlite_bytes, sqlite_records) = marked(text, "sqlite_bytes", "sqlite_records")
    assert values == 4 * width and records == sqlite_records
    rows = torch.randn(int(records), int(width), generator=torch.Generator().manual_seed(0))
    names = ["ada", "bob", "cy", "dee"]
    json_store, sqlite_store = ex04.JsonFileStore(tmp_path / "f.json"), ex04.SqliteStore(tmp_path / "f.db")
    for i, row in enumerate(rows[:20]):  # 20 rewrites of the JSON file are enough for its bytes per record
        json_store.add(names[i % 4], row)
    sqlite_store.add(names[0], rows[0])
    first = sqlite_store.all()[0]
    # The rest in one transaction (an add each would take a second per 1,000 fsyncs), laid out
    # as the reference's add lays out its rows.
    import sqlite3

    with contextlib.closing(sqlite3.connect(tmp_path / "f.db")) as db, db:
        db.executemany(
            "INSERT INTO records (id, name, created_at, embedding) VALUES (?, ?, ?, ?)",
            [
                (
                    str(uuid.uuid4()),
                    names[i % 4],
                    first.created_at.isoformat(),
                    row.numpy().astype("<f4").tobytes(),
                )
                for i, row in enumerate(rows[1:], 1)
            ],
        )
    assert len(sqlite_store) == records
    per_record = (tmp_path / "f.json").stat().st_size / 20
    document = json.loads((tmp_path / "f.json").read_text(encoding="utf-8"))
    per_record_compact = len(json.dumps(document)) / 20
    measured = [
        round(per_record, -2),
        round(per_record_compact, -2),
        round(per_record * records / 1e6, 1),
        round((tmp_path / "f.db").stat().st_size / records, -2),
    ]
    assert measured == [indented, compact, megabytes, sqlite_bytes], (
        f"measured {per_record:.0f} and {per_record_compact:.0f} JSON bytes per record, "
        f"{(tmp_path / 'f.db').stat().st_size / records:.0f} SQLite bytes; README: {indented, compact, megabytes, sqlite_bytes}"
    )


def test_ex04_stated_test_facts():
    """What the README says the tests do is in the test module."""
    text = flat(readme("ex04_storage"))
    tests = (ROOT / "tests" / "test_ex04_storage.py").read_text(encoding="utf-8")
    each, total = marked(text, "each", "total")
    (sqlite_each,) = map(int, re.findall(r"per_process = (\d+) if kind == \"sqlite\"", tests))
    assert sqlite_each == each and total == 2 * each, f"the SQLite test adds {sqlite_each} per process"
    (bits,) = marked(text, "bits")
    assert bits == 128 - 6 and uuid.uuid4().version == 4  # version and variant fix 6 of the 128 bits
    (points,) = re.findall(r"simulated crashes at (\w+) points", text)
    (where,) = re.findall(r'parametrize\("where", \[([^\]]*)\]\)\n[^\n]*\ndef test_json_crash', tests)
    count = len(ast.literal_eval(f"[{where}]"))
    assert ["one", "two", "three", "four", "five"].index(points) + 1 == count, (
        f"{count} crash points: {where}"
    )


# -- Exercise 06 -----------------------------------------------------------------------------------


def test_ex06_memory_figures():
    text = flat(readme("ex06_app"))
    kib, images, gib = marked(text, "kib", "images", "gib")
    one = 3 * 224 * 224 * 4
    assert round(one / 1024) == kib and round(images * one / 2**30, 1) == gib
    width, row_kib = marked(text, "width", "row_kib")
    assert width * 4 / 1024 == row_kib
    stub_text = (ROOT / course.load().get("ex06_app").stub).read_text(encoding="utf-8")
    batch, megabytes = _stated(stub_text, r"\((\d+) x 3 x 224 x 224 float32, ([\d.]+) MB\)")
    assert batch == stub("ex06_app").DEFAULT_BATCH_SIZE and round(batch * one / 1e6, 1) == megabytes


def test_ex06_benchmark_target_and_camera_defaults():
    import importlib.util

    text = flat(readme("ex06_app"))
    (target,) = marked(text, "target")
    spec = importlib.util.spec_from_file_location("bench_embed", ROOT / "benchmarks" / "bench_embed.py")
    assert spec is not None and spec.loader is not None, "benchmarks/bench_embed.py is missing"
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.TARGET == target, f"bench_embed.py's TARGET is {bench.TARGET}; the README says {target}"
    from facekit.camera import config

    frames, millis = marked(text, "frames", "millis")
    defaults = config.AppConfig()
    assert (defaults.num_images, defaults.interval_millis) == (frames, millis)


# -- Exercise 05 -----------------------------------------------------------------------------------


def test_ex05_size_figures():
    text = flat(readme("ex05_retrieval"))
    records, width, megabytes = marked(text, "records", "width", "megabytes")
    assert records * width * 4 / 1e6 == megabytes
    gigabytes, per_million_width = marked(text, "gigabytes", "per_million_width")
    assert 1_000_000 * per_million_width * 4 / 1e9 == gigabytes
    (eps,) = _stated(text, r"it divides by `max\(‖x‖, ([\de.-]+)\)`")
    assert inspect.signature(torch.nn.functional.normalize).parameters["eps"].default == eps
    assert torch.nn.functional.normalize(torch.zeros(2, 3), dim=1).eq(0).all()


# -- what the READMEs say the tests do ------------------------------------------------------------------


def _test_source(exercise_id: str) -> str:
    return (ROOT / course.load().get(exercise_id).tests).read_text(encoding="utf-8")


def _int(value: float) -> int:
    assert value == int(value), value
    return int(value)


# exercise -> [(the README's marked figures, the test module's code they stand for, built from
# those numbers)]. A test that changes the input, or a README that states another number, fails
# here: update the other one. The sentence around each figure may change freely.
TEST_FACTS: dict[str, list[tuple[tuple[str, ...], Callable[..., str]]]] = {
    "ex02_embeddings": [(("tried_height", "tried_width"), lambda h, w: rf"size=\({h}, {w}\)")],
    "ex03_similarity": [
        (
            ("small_a", "small_b", "large_a", "large_b"),
            lambda a, b, c, d: (
                rf"randn\({a}, \d+, seed=\d+\), randn\({b}, \d+.*\n.*randn\({c}, \d+, seed=\d+\), randn\({d}, "
            ),
        )
    ],
    "ex04_storage": [(("test_width",), lambda w: rf"(?m)^WIDTH = {w}\b")],
    "ex05_retrieval": [
        (("tie_records",), lambda n: rf"for i in range\({n}\)\]"),
        (("counted_records",), lambda n: rf"n = {n}\n"),
        (("most_calls",), lambda n: rf"arithmetic < {n}\b"),
        (
            ("compared_records", "compared_width"),
            lambda n, width: rf"(?m)^WIDTH = {width}\b[\s\S]*make_store\(vectors\({n}\)\)",
        ),
        (("k1", "k2", "k3", "k4"), lambda *ks: rf'parametrize\("k", \[{", ".join(ks)}\]\)'),
        (
            ("tolerance",),  # 1e-05 as Python prints it, 1e-5 as written
            lambda tolerance: rf"(?m)^TOLERANCE = (?:{tolerance}|{tolerance.replace('e-0', 'e-')})\b",
        ),
    ],
}


@pytest.mark.parametrize(
    "exercise_id,names,code",
    [(e, n, c) for e, facts in TEST_FACTS.items() for n, c in facts],
    ids=[f"{e}-{'-'.join(n)}" for e, facts in TEST_FACTS.items() for n, _ in facts],
)
def test_what_the_readme_says_the_tests_do(exercise_id, names, code):
    numbers = marked(readme(exercise_id), *names)
    text = [str(_int(n)) if n == int(n) else f"{n:g}" for n in numbers]
    pattern = code(*text)
    assert re.search(pattern, _test_source(exercise_id)), (
        f"{course.load().get(exercise_id).readme} states {dict(zip(names, text))}; "
        f"{course.load().get(exercise_id).tests} has no {pattern!r}"
    )


def test_every_marked_figure_and_claim_is_read_by_a_test():
    """A ``<!--fig:NAME-->`` or ``<!--claim:NAME-->`` marker that no test reads would promise a
    check that nobody makes."""
    sources = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests" / "kit").glob("test_*.py"))
    pages = [*(e.readme for e in course.load().exercises), "CHEATSHEET.md", "README.md"]
    pages += [p.relative_to(ROOT).as_posix() for p in sorted((ROOT / "docs").rglob("*.md"))]
    unread = [
        f"{page}: {name}"
        for page in pages
        for text in [(ROOT / page).read_text(encoding="utf-8")]
        for name in [*figures(text), *sorted(claims(text))]
        if f'"{name}"' not in sources
    ]
    assert not unread, f"marked figures or claims no test reads (tests/kit): {unread}"


# -- the CHEATSHEET's and the top-level README's figures ---------------------------------------------


def test_weights_size_where_the_cheatsheet_and_readme_state_it(checkpoint):  # docs/students/weights.md now
    megabytes = sum(t.numel() * 4 for t in checkpoint.values()) / 1e6  # the header adds ~0.01 MB
    (sheet,) = marked((ROOT / "CHEATSHEET.md").read_text(encoding="utf-8"), "sheet")
    (top,) = _stated(
        (ROOT / "docs" / "students" / "weights.md").read_text(encoding="utf-8"),
        r"fetches them into the Hugging Face cache \(about (\d+) MB\)",
    )
    assert round(megabytes, 1) == sheet and round(megabytes) == top, megabytes


def test_cheatsheet_figures_in_prose_and_comments():
    import sqlite3
    import uuid

    text = flat((ROOT / "CHEATSHEET.md").read_text(encoding="utf-8"))
    (timeout,) = marked(text, "timeout")
    # sqlite3.connect's signature is not introspectable; SQLite reports the wait it was given.
    db = sqlite3.connect(":memory:")
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] == timeout * 1000
    db.close()
    characters, bits = _stated(text, r"str\(uuid.uuid4\(\)\) # (\d+) characters, (\d+) random bits")
    value = uuid.uuid4()
    assert len(str(value)) == characters and 128 - 6 == bits and value.version == 4  # 6 fixed bits


def test_readme_python_version_is_the_packages():
    (version,) = re.findall(r"\(Python (3\.\d+)\+", (ROOT / "README.md").read_text(encoding="utf-8"))
    assert f'requires-python = ">={version}"' in (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    for page in ("index.md", "students/setup.md"):  # the site's pages say it too
        stated = re.findall(r"\(Python (3\.\d+)\+", (ROOT / "docs" / page).read_text(encoding="utf-8"))
        assert stated == [version], f"docs/{page} states Python {stated}; the package needs {version}"
