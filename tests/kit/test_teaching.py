"""What the teaching text tells a student to do is right: each recipe runs as printed.

A recipe is the `code` a README, a stub's TODO or a manifest hint gives to copy. Each test
finds it in the text (snippets.recipe: the one code span holding the markers given), runs it
on the inputs that matter (16-bit PNG and TIFF, a single zero vector, an upper-case suffix, an
empty table) and checks what comes out. Numbers the text states are measured here too.
"""

from __future__ import annotations

import errno
import os
import re
import sqlite3
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from snippets import ROOT, hints_of, recipe, run

from facekit import course, data, trees

pytestmark = pytest.mark.kit


def readme(exercise_id: str) -> str:
    return (ROOT / course.load().get(exercise_id).readme).read_text(encoding="utf-8")


def flat(text: str) -> str:
    return " ".join(text.split())


def reference(exercise_id: str):
    return trees.load_exercise(exercise_id, "solutions")


def sources(exercise_id: str) -> list[str]:
    """README, stub and hints of one exercise: the three places a recipe may be given."""
    exercise = course.load().get(exercise_id)
    return [exercise.readme, exercise.stub, f"hint:{exercise_id}"]


# -- 1. 16-bit images: scale in float ------------------------------------------------------------


SIXTEEN_BIT = {  # how the file is made, and the mode Pillow opens it in
    "png-I;16": ("png", lambda v: Image.fromarray(v.astype(np.uint16)), "I;16"),
    "tiff-I;16B": ("tiff", lambda v: Image.fromarray(v.astype(">u2")), "I;16B"),
    "tiff-I": ("tiff", lambda v: Image.fromarray(v.astype(np.int32)), "I"),
}


@pytest.mark.parametrize("kind", SIXTEEN_BIT)
@pytest.mark.parametrize("source", sources("ex01_images"))
def test_16_bit_recipe_scales_to_8_bits(source, kind, tmp_path):
    suffix, make, mode = SIXTEEN_BIT[kind]
    levels = np.array([[0, 1000, 32896, 65535]])
    make(levels).save(tmp_path / f"deep.{suffix}")
    scale = recipe(source, "65535", "astype(np.uint8)")
    with Image.open(tmp_path / f"deep.{suffix}") as image:
        image.load()
        assert image.mode == mode
        # `values` is what the text calls np.asarray(image), where it uses that name.
        out = run(scale, tmp_path, np=np, Image=Image, image=image, values=np.asarray(image))
    eight_bit = out.get("eight_bit", out.get("_"))
    assert isinstance(eight_bit, np.ndarray) and eight_bit.dtype == np.uint8, (
        f"{scale.where}: the recipe must give a uint8 array; got {eight_bit!r}"
    )
    np.testing.assert_array_equal(
        eight_bit,
        [[0, 4, 128, 255]],
        err_msg=f"{scale.where} on a {mode} {suffix.upper()} holding 0, 1000, 32896, 65535: "
        f"expected round(v * 255 / 65535); uint16 * 255 wraps around, so convert to float first",
    )
    to_rgb = recipe(source, "Image.fromarray(eight_bit)")
    rgb = run(to_rgb, tmp_path, Image=Image, eight_bit=eight_bit)["_"]
    assert rgb.mode == "RGB" and rgb.getpixel((2, 0)) == (128, 128, 128), to_rgb.where


def test_convert_alone_clips_16_bit_values_as_the_text_says():
    deep = Image.fromarray(np.array([[0, 1000, 32896, 65535]], dtype=np.uint16))
    assert np.asarray(deep.convert("L")).tolist() == [[0, 255, 255, 255]]
    (wrapped,) = marked(readme("ex01_images"), "wrapped")
    assert (np.asarray(deep) * 255).tolist()[0][-1] == wrapped, "NumPy 2 keeps uint16 and wraps"
    assert "clips" in flat(readme("ex01_images")) and "clips" in hints_of("ex01_images", "load_image")[1]


# -- 2. .npy output with an upper-case suffix ----------------------------------------------------


@pytest.mark.parametrize("name", ["faces.npy", "faces.NPY", "faces.Npy"])
@pytest.mark.parametrize("source", sources("ex06_app"))
def test_npy_recipe_writes_the_file_it_names(source, name, tmp_path):
    save = recipe(source, "np.save(")
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    out = tmp_path / name
    run(save, tmp_path, np=np, out=out, array=array)
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == [name], (
        f"{save.where} with out={name!r} wrote {written}: np.save given a "
        f"path appends .npy unless the name ends in lower-case .npy"
    )
    np.testing.assert_array_equal(np.load(out, allow_pickle=False), array)


def test_reference_embed_folder_writes_an_upper_case_npy_where_it_says(embedder, sample_face, tmp_path):
    app = reference("ex06_app")
    folder = tmp_path / "photos"
    folder.mkdir()
    sample_face.save(folder / "alice.png")
    summary = app.embed_folder(embedder, folder, tmp_path / "out" / "faces.NPY")
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["faces.NPY", "faces.names.json"], f"embed_folder(..., 'faces.NPY') wrote {written}"
    assert summary.out == tmp_path / "out" / "faces.NPY" and summary.out.exists()
    assert np.load(summary.out, allow_pickle=False).shape == (1, summary.width)


# -- 3. SQLite: the stored width is bytes // 4 -----------------------------------------------------


@pytest.mark.parametrize("source", sources("ex04_storage")[:2])
def test_sqlite_width_recipe_gives_values_not_bytes(source, tmp_path):
    select = recipe(source, "length(embedding)", "fetchone()")
    width = recipe(source, "width = ", "row")
    db = sqlite3.connect(tmp_path / "faces.db")
    db.execute("CREATE TABLE records (embedding BLOB)")
    assert run(width, tmp_path, **run(select, tmp_path, db=db))["width"] is None, (
        f"{width.where}: no row yet must give None"
    )
    db.execute("INSERT INTO records VALUES (?)", (np.zeros(320, "<f4").tobytes(),))
    got = run(width, tmp_path, **run(select, tmp_path, db=db))["width"]
    db.close()
    assert got == 320, f"{select.where} then {width.where}: a 320-float blob must give width 320, got {got}"


# -- 4. Zero vectors: the recipe must see a single [D] zero vector -------------------------------


@pytest.mark.parametrize("source", sources("ex03_similarity"))
def test_zero_row_recipe_finds_a_single_zero_vector(source, tmp_path):
    find = recipe(source, "nonzero()")
    eps = reference("ex03_similarity").EPS
    rows = torch.randn(12, 16)
    rows[[4, 9]] = 0
    cases = [(torch.zeros(320), [0]), (rows, [4, 9]), (torch.ones(320), []), (torch.ones(3, 8), [])]
    for x, expected in cases:
        norms = torch.linalg.vector_norm(x, dim=-1, keepdim=True)  # the text's step 3
        got = run(find, tmp_path, torch=torch, x=x, norms=norms, EPS=eps)["_"]
        assert got == expected, f"{find.where} on x {tuple(x.shape)}: expected {expected}, got {got}"


# -- 5. Exercise 02: the hint checks what the README checks, in its order -------------------------


def test_ex02_hint_checks_dtype_first_and_the_empty_batch(embedder):
    hint = " ".join(hints_of("ex02_embeddings", "compute_embedding"))
    steps = [hint.find("is_floating_point"), hint.find("ndim"), hint.find("shape[0]")]
    assert -1 not in steps and steps == sorted(steps), (
        f"the compute_embedding hint must check the dtype, then the rank, then the empty batch "
        f"(shape[0]), like README and TODO: {hint}"
    )
    todo = (ROOT / course.load().get("ex02_embeddings").stub).read_text(encoding="utf-8")
    assert todo.find("is_floating_point") < todo.find("image.ndim") and "empty" in todo
    # Why the check is needed: the model itself does not refuse an empty batch.
    with torch.inference_mode():
        assert tuple(embedder(torch.zeros(0, 3, 64, 64)).shape) == (0, 320)


# -- 6. os.replace between file systems --------------------------------------------------------------


def test_os_replace_between_file_systems_raises_exdev_as_the_readme_says(tmp_path):
    text = flat(readme("ex04_storage"))
    assert "EXDEV" in text and '"rename" is a copy' not in text
    other = Path("/dev/shm")
    if not other.is_dir() or other.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("no second file system (/dev/shm) on this machine")
    fd, temporary = tempfile.mkstemp(dir=other)
    os.close(fd)
    try:
        with pytest.raises(OSError) as info:
            os.replace(temporary, tmp_path / "store.json")
        assert info.value.errno == errno.EXDEV
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


# -- numbers the text states ----------------------------------------------------------------------


def _stated(text: str, pattern: str) -> list[float]:
    match = re.search(pattern, flat(text))
    assert match, f"the text no longer says {pattern!r}: update this test with it"
    # "14,794,560" and a typographic minus, "−2.118", as the text writes them
    return [float(g.replace(",", "").replace("−", "-")) for g in match.groups()]


# A figure the prose states is marked where it stands, ``<!--fig:NAME-->3,695,520``: invisible on
# the page, and the sentence around it may be reworded freely. ``marked`` reads it by name.
FIGURE = re.compile(r"<!--fig:([a-z][a-z0-9_]*)-->([−-]?\d[\d,]*(?:\.\d+)?(?:e[−-]?\d+)?)")


def figures(text: str) -> dict[str, float]:
    """Every marked figure of ``text``, by name; a name marked twice must state one value."""
    found: dict[str, float] = {}
    for name, value in FIGURE.findall(text):
        number = float(value.replace(",", "").replace("−", "-"))  # "14,794,560", a typographic minus
        assert found.setdefault(name, number) == number, (
            f"the figure {name} is marked twice with different values: {found[name]} and {number}"
        )
    return found


# A behaviour the prose states, and a test checks, is marked before its sentence:
# ``<!--claim:NAME-->``. The test asserts the claim is still made, whatever its words.
CLAIM = re.compile(r"<!--claim:([a-z][a-z0-9-]*)-->")


def claims(text: str) -> set[str]:
    return set(CLAIM.findall(text))


def marked(text: str, *names: str) -> list[float]:
    """The figures ``names`` as the text states them (``<!--fig:NAME-->`` before each)."""
    found = figures(text)
    missing = [name for name in names if name not in found]
    assert not missing, f"no <!--fig:NAME--> marker for {missing}: mark the figure where the text states it"
    return [found[name] for name in names]


def test_ex01_resampling_and_normalisation_figures(sample_face):
    import torch.nn.functional as F

    ex01 = reference("ex01_images")
    text = readme("ex01_images")
    right = ex01.preprocess(sample_face)
    mean = torch.tensor(ex01.IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(ex01.IMAGENET_STD).view(3, 1, 1)
    assert sample_face.size == (200, 200)  # enlarged to 256, crop offset 16

    def crop(t):
        return t[..., 16:240, 16:240]

    def tensor(image):
        return torch.from_numpy(np.array(image)).permute(2, 0, 1).float().div(255)

    bilinear = (crop(tensor(sample_face.resize((256, 256), Image.Resampling.BILINEAR))) - mean) / std
    interpolated = {
        aa: (
            crop(F.interpolate(tensor(sample_face)[None], size=(256, 256), mode="bicubic", antialias=aa)[0])
            - mean
        )
        / std
        for aa in (True, False)
    }
    unnormalised = crop(tensor(sample_face.resize((256, 256), Image.Resampling.BICUBIC)))
    measured = [
        (bilinear - right).abs().max(),
        (interpolated[True] - right).abs().max(),
        (interpolated[False] - right).abs().max(),
        (1 / std).mean(),  # black to white, mean of 3
        (unnormalised - right).abs().mean(),
        (unnormalised - right).abs().max(),
    ]
    stated = marked(
        text, "bilinear", "antialiased", "aliased", "channel_span", "unnormalised_mean", "unnormalised_max"
    )
    for value, figure in zip(measured, stated):
        decimals = len(str(figure).split(".")[1])
        assert round(float(value), decimals) == figure, f"README says {figure}; measured {float(value):.4f}"


def test_pillow_gives_the_files_mode_until_convert(tmp_path):
    Image.new("L", (2, 2)).save(tmp_path / "gray.png")
    with Image.open(tmp_path / "gray.png") as image:
        assert image.mode == "L" and image.convert("RGB").mode == "RGB"
    assert "Pillow always gives RGB" not in flat(readme("ex01_images"))


def test_ex03_figures_for_rounding():
    sim = reference("ex03_similarity")
    a = torch.randn(2000, 320, generator=torch.Generator().manual_seed(0))
    text = flat(readme("ex03_similarity"))
    (within,) = marked(text, "within")
    scaled = torch.stack([sim.cosine_similarity(a[i], 3.7 * a[i]) for i in range(len(a))])
    assert (1 - scaled).abs().max() <= within
    (above,) = marked(text, "float32_excess")
    unit = sim.l2_normalize(a)
    self_similarity = (unit @ unit.mT).diagonal()
    assert 1 < self_similarity.max() < 1 + above, f"max {self_similarity.max().item():.9f}"
    for tree in ("exercises", "solutions"):
        doc = flat(trees.load_exercise("ex03_similarity", tree).cosine_similarity.__doc__)
        assert "slightly more than 1" in doc and not re.search(r"1\.00000\d", doc)


def test_ex06_standin_figures(embedder, sample_face):
    """The figures are measured on the images the README names: the sample face, its mirror
    image, the half-brightness copy Exercise 06's tests use (``point(lambda v: v // 2)``, their
    dark.jpg) and random noise pixels, each through timm's eval transform."""
    text = readme("ex06_app")
    assert "`face.point(lambda v: v // 2)`" in flat(text), "the README must name the darker copy it measures"
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8))
    images = [
        sample_face,
        sample_face.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        sample_face.point(lambda v: v // 2),
        noise,
    ]
    transform = data.eval_transform()
    with torch.inference_mode():
        unit = torch.nn.functional.normalize(
            embedder(torch.stack([transform(i) for i in images])).double(), dim=1
        )
    distance = 1 - unit @ unit.mT
    pairs = distance[torch.triu_indices(4, 4, 1).unbind()]
    below, mirror = marked(text, "below", "mirror")
    measured = f"max {pairs.max().item():.3g}, mirror {distance[0, 1].item():.3g}: {pairs.tolist()}"
    # Each bound holds, and is tight: less than twice what was measured.
    assert pairs.max() < below and distance[0, 1] < mirror, measured
    assert below < 2 * pairs.max() and mirror < 2 * distance[0, 1], (
        f"README says below {below} and {mirror}; {measured}"
    )


# -- literal students: the TODO steps and hints, word for word, pass the tests ---------------------


def _literal_modules() -> dict[str, list[Path]]:
    """{exercise id: its literal modules (course/<id>/literal)}, for the exercises that have one."""
    folders = {e.id: ROOT / e.meta.literal for e in course.load().exercises}
    return {
        exercise_id: sorted(folder.glob("*.py"))
        for exercise_id, folder in folders.items()
        if folder.is_dir() and any(folder.glob("*.py"))
    }


def test_literal_students_pass(tmp_path):
    """Each literal module replaces its reference in a scratch copy of the kit; the exercises'
    tests then run there against "solutions", in one pytest process (later exercises import the
    earlier ones, so Exercise 06 runs on the literal Exercises 01 to 05 too)."""
    import shutil

    from facekit.harness import run as harness_run

    modules = _literal_modules()
    assert modules, f"no literal solutions under {course.META_DIR}/<id>/literal"
    kit = tmp_path / "kit"
    shutil.copytree(
        ROOT,
        kit,
        ignore=shutil.ignore_patterns(
            ".git",
            ".venv",
            "__pycache__",
            "*.pyc",
            ".pytest_cache",
            ".facekit",
            ".fragments",
            "*.egg-info",
            "notebooks",
            "benchmarks",
        ),
    )
    exercises = [course.load().get(exercise_id) for exercise_id in modules]
    for exercise in exercises:
        for module in modules[exercise.id]:
            target = kit / "solutions" / exercise.id / module.name
            assert target.exists(), f"{module} replaces nothing: no {target.relative_to(kit)}"
            shutil.copyfile(module, target)
    outcome = harness_run.run_tests(kit, "solutions", [e.tests for e in exercises])
    assert not outcome.collect_errors, outcome.collect_errors
    failures = []
    for exercise in exercises:
        tests = outcome.tests_of(exercise.tests)
        assert tests, f"no tests of {exercise.id} ran"
        failures += [f"{nodeid}: {r.error}" for nodeid, r in tests.items() if r.failed]
    assert not failures, (
        f"{len(failures)} tests fail on a solution written word for word from the "
        f"TODO steps and hints (course/<id>/literal); fix the text:\n" + "\n".join(failures)
    )


# -- one recipe, the same everywhere: README steps, TODO steps and the last hint ------------------


# The calls each function's reference makes that a student cannot guess, and that each of the
# three places a student may follow alone (the README's numbered steps, the stub's TODO steps,
# the function's near-answer: its last hint, or its hints after the first nudge where the
# recipe takes two, as preprocess's and top_k's do) must therefore name. A place that leaves
# one out teaches a recipe that fails the tests: the JSON store's hints without the lock,
# Exercise 02's README without the move to the model's dtype.
# Each exercise's list lives in its meta folder, course/<id>/key_calls.toml (function = [calls]).


if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def _key_calls() -> dict[tuple[str, str], list[str]]:
    found = {}
    for exercise in course.load().exercises:
        path = ROOT / exercise.meta.key_calls
        if path.is_file():
            for function, calls in tomllib.loads(path.read_text(encoding="utf-8")).items():
                found[exercise.id, function] = calls
    return found


KEY_CALLS: dict[tuple[str, str], list[str]] = _key_calls()


def _squeeze(text: str) -> str:
    """Whitespace and the comment markers of a wrapped line taken out, so a call that wraps
    in a TODO still reads as one."""
    return re.sub(r"\s+", "", text.replace('"', "'"))


def _definition(path: Path, name: str) -> tuple[str, list[str]]:
    """(source, names of the module's own private functions it calls) of ``name`` in ``path``."""
    import ast

    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text)
    node = next(
        (n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == name), None
    )
    assert node is not None, f"{path.relative_to(ROOT)} defines no {name}"
    source = "\n".join(text.splitlines()[node.lineno - 1 : node.end_lineno])
    helpers = {n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("_")}
    called = {
        n.func.id
        for n in ast.walk(node)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in helpers
    }
    return source, sorted(called)


def _reference_source(exercise, name: str) -> str:
    path = ROOT / exercise.reference
    source, helpers = _definition(path, name)
    return "\n".join([source] + [_definition(path, helper)[0] for helper in helpers])


def _todo_steps(exercise, name: str) -> str:
    """The comment lines of ``name``'s definition in the stub (a class: all its methods)."""
    source, _ = _definition(ROOT / exercise.stub, name)
    return "\n".join(line.strip()[1:] for line in source.splitlines() if line.strip().startswith("#"))


def _readme_steps(exercise, name: str) -> str:
    """The numbered steps (with their indented lines) of the README's Task section(s) whose
    heading names ``name``."""
    steps, in_task, in_step = [], False, False
    for line in (ROOT / exercise.readme).read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            in_task = line.startswith("## Task") and f"`{name}(" in line
            in_step = False
        elif in_task:
            if re.match(r"\d+\.\s", line):
                in_step = True
            elif in_step and line and not line[0].isspace():
                in_step = False
            if in_step:
                steps.append(line)
    return "\n".join(steps)


def _near_answer(hints: list[str]) -> str:
    """The hints after the first nudge (the only hint, when there is one)."""
    return " ".join(hints[1:] or hints)


def test_every_function_has_its_key_calls_listed():
    listed = {function for _, function in KEY_CALLS}
    missing = [f"{e.id}.{f}" for e in course.load().exercises for f in e.functions if f not in listed]
    assert not missing, f"KEY_CALLS has no entry for {missing}: list the calls their recipe needs"


@pytest.mark.parametrize("exercise_id, function", sorted(KEY_CALLS), ids=lambda v: v)
def test_readme_todo_and_last_hint_give_the_same_recipe(exercise_id, function):
    exercise = course.load().get(exercise_id)
    reference_source = _squeeze(_reference_source(exercise, function))
    unused = [call for call in KEY_CALLS[exercise_id, function] if _squeeze(call) not in reference_source]
    assert not unused, (
        f"{exercise_id}.{function}: the reference does not call {unused}; "
        f"KEY_CALLS must list calls the reference makes"
    )
    places = {
        f"{exercise.readme} (numbered steps of its Task section)": _readme_steps(exercise, function),
        f"{exercise.stub} (TODO steps of {function})": _todo_steps(exercise, function),
        f"{course.MANIFEST.relative_to(ROOT)} (near-answer hints of {function})": _near_answer(
            hints_of(exercise_id, function)
        ),
    }
    problems = []
    for where, text in places.items():
        assert text.strip(), f"{where} is empty: no steps found"
        missing = [call for call in KEY_CALLS[exercise_id, function] if _squeeze(call) not in _squeeze(text)]
        if missing:
            problems.append(f"{where} never mentions {', '.join(map(repr, missing))}")
    assert not problems, (
        f"{exercise_id}.{function}: a student who follows one place alone misses "
        f"a call the tests need:\n  " + "\n  ".join(problems)
    )


# -- wrong claims: never again, in any text a student or an instructor reads ----------------------


def _texts_read_by_people() -> dict[str, str]:
    """{path: flattened text} of every README, CHEATSHEET, stub, reference, hint, notebook, the
    exercises' tests (their messages and comments) and the kit's own code (its messages and
    comments), with the `#` of comment lines dropped so a comment's sentence reads whole."""
    paths = [
        *ROOT.glob("*.md"),
        *ROOT.glob("docs/**/*.md"),
        *ROOT.glob("exercises/**/*.md"),
        *ROOT.glob("exercises/**/*.py"),
        *ROOT.glob("solutions/**/*.py"),
        *ROOT.glob("tests/test_ex*.py"),
        *ROOT.glob("notebooks/*.ipynb"),
        *ROOT.glob("facekit/**/*.py"),
        course.MANIFEST,
    ]
    texts = {}
    for path in paths:
        if path == ROOT / "facekit" / "mistakes.py":
            continue  # the catalogue of mistakes quotes wrong code on purpose, to recognise it
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".ipynb":
            import json

            text = "\n".join("".join(cell["source"]) for cell in json.loads(text)["cells"])
        text = re.sub(r"(?m)^\s*#\s?", "", text)
        texts[str(path.relative_to(ROOT))] = flat(text.replace('\\n"', " ").replace('"\n', " "))
    return texts


WRONG_CLAIMS = {  # a wrong recipe or fact once taught, and why it is wrong
    r"read once in `?__init__|[Rr]ecords are read once": "the JSON store reads the file again, under its FileLock, before every change; read once, "
    "two writers lose a record",
    r"rename across (disks|file systems|devices) is a copy|\"rename\" is a copy": "os.replace between file systems raises OSError EXDEV and copies nothing",
    r"NaN sorts unpredictably": "torch.sort and topk rank NaN above every number, every time",
    r"30 GB once converted": "Pillow keeps 4 bytes per RGB pixel: 40 GB",
    r"`I;16`/`I` \(16-bit gray\)|`I` \(16-bit gray": "`I` is Pillow's 32-bit integer mode",
    r"outer 12\.5% of the border": "crop_pct 0.875 cuts 6.25% from each edge (23.4% of the area)",
    r"does not lock its file": "Exercise 04's JSON store locks its file",
}


def test_no_wrong_claim_is_taught_anywhere():
    texts = _texts_read_by_people()
    assert any("tests/test_ex04_storage.py" in p for p in texts) and any(".ipynb" in p for p in texts)
    found = [
        f"{path}: {match.group(0)!r}: {why}"
        for pattern, why in WRONG_CLAIMS.items()
        for path, text in texts.items()
        for match in [re.search(pattern, text)]
        if match
    ]
    assert not found, "text that teaches what is not so:\n" + "\n".join(found)


def test_averaging_frames_guarantee_states_its_condition():
    """cos(average, e) >= mean of the frames' cosines holds when that mean is >= 0 only."""
    generator = torch.Generator().manual_seed(0)
    failures = holds = 0
    for _ in range(2000):
        frames = torch.nn.functional.normalize(
            torch.randn(4, 8, generator=generator, dtype=torch.float64), dim=1
        )
        e = torch.nn.functional.normalize(torch.randn(8, generator=generator, dtype=torch.float64), dim=0)
        mean = (frames @ e).mean()
        averaged = torch.nn.functional.normalize(frames.mean(dim=0), dim=0) @ e
        if mean >= 0:
            holds += 1
            assert averaged >= mean - 1e-12
        else:
            failures += bool(averaged < mean)
    assert holds and failures, "the random trials must show both sides of the condition"
    # The text's example: two frames at 60 degrees either side of -e: mean -0.5, average -e.
    e, f = torch.eye(2, dtype=torch.float64)
    frames = torch.stack([-0.5 * e + 0.75**0.5 * f, -0.5 * e - 0.75**0.5 * f])
    averaged = torch.nn.functional.normalize(frames.mean(dim=0), dim=0) @ e
    assert (frames @ e).mean().item() == pytest.approx(-0.5) and averaged.item() == pytest.approx(-1.0)
    texts = _texts_read_by_people()
    claim = r"at least (the mean of the single frames|that mean)"
    stated = {path: text for path, text in texts.items() if re.search(claim, text)}
    assert {"exercises/ex06_app/README.md", "notebooks/ex06_app.ipynb", "tests/test_ex06_app.py"} <= set(
        stated
    )
    for path, text in stated.items():
        for match in re.finditer(claim, text):
            around = text[max(0, match.start() - 300) : match.end() + 300]
            assert re.search(r"is at least 0|mean (≥|>=) 0", around), (
                f"{path} states the averaging guarantee without its condition (the frames' mean "
                f"cosine at least 0; a mean of -0.5 can become -1.0): ...{around}..."
            )


# -- the corrected figures, measured ---------------------------------------------------------------


def test_rgb_image_takes_4_bytes_a_pixel_as_the_bomb_figure_says():
    import subprocess
    import sys

    (pixels_gb, rgb_gb) = marked(readme("ex01_images"), "gigabytes", "rgb_gigabytes")
    assert pixels_gb == 100_000**2 / 1e9
    # Resident memory of one 10,000 x 10,000 image of each mode, in a fresh process.
    script = (
        "import sys; from PIL import Image\n"
        "def rss(): return int(open('/proc/self/statm').read().split()[1]) * 4096\n"
        "before = rss(); image = Image.new(sys.argv[1], (10_000, 10_000), 1)\n"
        "print((rss() - before) / 1e8)"
    )
    per_pixel = {
        mode: float(
            subprocess.run(
                [sys.executable, "-c", script, mode], capture_output=True, text=True, check=True
            ).stdout
        )
        for mode in ("L", "RGB")
    }
    assert round(per_pixel["L"]) == 1 and round(per_pixel["RGB"]) == rgb_gb / pixels_gb, per_pixel


def test_nan_scores_rank_first_as_the_retrieval_readme_says():
    scores = torch.tensor([0.5, float("nan"), 0.9, -1.0])
    assert torch.sort(scores, descending=True, stable=True).indices[0] == 1
    assert torch.topk(scores, 2).indices[0] == 1
    text = flat(readme("ex05_retrieval"))
    assert "nan-ranks-first" in claims(text), "the README no longer says that NaN ranks first"


def test_ex01_notebook_crop_figures():
    import json

    ex01 = reference("ex01_images")
    size = 224
    scale = __import__("math").floor(size / ex01.CROP_PCT)
    edge = (scale - size) / 2
    cells = json.loads((ROOT / "notebooks/ex01_images.ipynb").read_text(encoding="utf-8"))["cells"]
    text = flat(" ".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown"))
    pixels, side, area = _stated(
        text,
        r"the centre 224×224 kept: (\d+) pixels, ([\d.]+)% of the side, "
        r"are gone from each edge, ([\d.]+)% of the picture's area",
    )
    assert (pixels, side, area) == (
        edge,
        round(100 * edge / scale, 2),
        round(100 * (1 - (size / scale) ** 2), 1),
    )


# -- ffmpeg's MJPEG stream, as the README's command serves it --------------------------------------


def _ffmpeg_server(content_type: str, frames: list[bytes]):
    """One client, as ``ffmpeg -f mpjpeg ... -listen 1`` serves it, byte for byte: libavformat's
    http.c reply (HTTP/1.1, the -content_type given or application/octet-stream, chunked) and
    mpjpeg.c's parts ("--ffmpeg", "Content-type", "Content-length", each frame followed by CRLF
    and the next delimiter); each write is one chunk."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def serve():
        connection, _ = server.accept()
        with connection:
            request = b""
            while b"\r\n\r\n" not in request:
                request += connection.recv(4096)
            connection.sendall(
                f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\n"
                f"Transfer-Encoding: chunked\r\n\r\n".encode()
            )

            def chunk(data: bytes):
                connection.sendall(f"{len(data):x}\r\n".encode() + data + b"\r\n")

            try:
                chunk(b"--ffmpeg\r\n")
                for frame in frames:
                    chunk(b"Content-type: image/jpeg\r\n")
                    chunk(f"Content-length: {len(frame)}\r\n\r\n".encode())
                    chunk(frame)
                    chunk(b"\r\n--ffmpeg\r\n")
            except OSError:  # the reader took its frames and left, as ffmpeg then exits
                pass
        server.close()

    threading.Thread(target=serve, daemon=True).start()
    return f"http://127.0.0.1:{server.getsockname()[1]}/video_feed"


def _jpeg(number: int) -> bytes:
    import io

    buffer = io.BytesIO()
    data.sample_face().save(buffer, "JPEG", quality=90, comment=f"frame {number}")
    return buffer.getvalue()


def test_the_readmes_ffmpeg_command_serves_a_stream_the_app_reads():
    from facekit.camera.stream import StreamError, read_frames

    text = flat(readme("ex06_app"))
    command = next((line for line in readme("ex06_app").splitlines() if line.startswith("ffmpeg ")), "")
    for option in ("-f mpjpeg", "-listen 1", "-c:v mjpeg"):
        assert option in command, f"the README's ffmpeg command lacks {option}: {command!r}"
    content_type = re.search(r'-content_type "([^"]+)"', command)
    assert content_type, f"the README's ffmpeg command gives no -content_type: {command!r}"
    assert "ffmpeg-one-client" in claims(text), "the README no longer says ffmpeg serves one client per run"
    frames = [_jpeg(n) for n in range(6)]
    got = read_frames(_ffmpeg_server(content_type[1], frames), 3, 0.0, timeout_s=3)
    assert got == frames[:3], "the frames of ffmpeg's stream must come back byte for byte"
    # Without -content_type ffmpeg answers application/octet-stream: refused, and the message says why.
    with pytest.raises(StreamError, match='it sent application/octet-stream .*-content_type "multipart/'):
        read_frames(_ffmpeg_server("application/octet-stream", frames), 1, 0.0, timeout_s=3)


# -- what the kit's own messages and the README say about names and limits --------------------------


def test_download_says_hf_home_works_only_above_a_folder_named_hub(capsys, monkeypatch, tmp_path):
    import subprocess
    import sys

    from facekit import hub
    from facekit.cli.testing import run_cli

    blob = tmp_path / "model.safetensors"
    blob.write_bytes(b"\0" * 1000)
    monkeypatch.setattr(hub, "download", lambda repo_id, filename, **kwargs: blob)
    monkeypatch.setattr(hub, "cache_dir", lambda: tmp_path / "hub")
    code, out, _ = run_cli(capsys, "download")
    assert code == 0 and "HF_HOME=<the folder above it>, if the copy is still named hub" in flat(out), out
    # Why: huggingface_hub takes HF_HOME/hub as the cache, whatever the copy is called.
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    cache = subprocess.run(
        [sys.executable, "-c", "from huggingface_hub import constants; print(constants.HF_HUB_CACHE)"],
        env={**env, "HF_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(cache) == tmp_path / "hub"


def test_a_frame_over_the_limit_is_not_reported_at_the_limit():
    from facekit.camera import inputs

    # The web server reads at most one byte past the limit (server.py), so a 6.4 MB frame
    # arrives as MAX_FRAME_BYTES + 1 bytes: its size is unknown, only that it is over.
    with pytest.raises(inputs.InputError) as info:
        inputs.decode_frame(b"\xff" * (inputs.MAX_FRAME_BYTES + 1), "frame 1")
    assert "frame 1 is over 4 MB" in str(info.value) and "4.0 MB" not in str(info.value)


def test_frame_limits_in_the_readme_are_the_apps(tmp_path):
    import io

    from facekit.camera import inputs

    text = flat(readme("ex06_app"))
    megabytes, pixels, side, wide, high = marked(text, "megabytes", "pixels", "side", "wide", "high")
    assert megabytes * 2**20 == inputs.MAX_FRAME_BYTES and pixels == inputs.MAX_FRAME_PIXELS == side * side
    assert wide * high > pixels
    # A pixel count, not a side: a frame wider than 4096 but with fewer pixels passes.
    passes = io.BytesIO()
    Image.new("L", (6000, 2500)).save(passes, "PNG")
    assert inputs.decode_frame(passes.getvalue()).size == (6000, 2500)


def test_a_submissions_id_is_its_zips_name_without_zip():
    from facekit.grading import sources

    assert sources.default_id(Path("/class/alice.zip")) == "alice"
    assert sources.default_id(Path("/class/bob")) == "bob"
    text = flat((ROOT / "docs/instructors/grading.md").read_text(encoding="utf-8"))
    assert "submission-id" in claims(text), "grading.md no longer says where a submission's id comes from"


def test_cheatsheet_shows_the_context_manager_exercise_04_asks_for():
    from snippets import parse

    sheet = parse((ROOT / "CHEATSHEET.md").read_text(encoding="utf-8"))
    section = "Your own `with`: context managers"
    assert section in sheet.sections, f"CHEATSHEET.md has no section {section!r}"
    assert sheet.sections.index(section) < sheet.sections.index("JSON files and atomic writes"), (
        "the context-manager section must come before the sections Exercise 04 uses it with"
    )
    code = " ".join(b.code for b in sheet.blocks if b.section == section)
    for part in ("@contextlib.contextmanager", "yield", "try:", "except BaseException:", "raise", "finally:"):
        assert part in code, f"CHEATSHEET.md's {section!r} shows no {part}"
    text = flat(readme("ex04_storage"))
    assert "`@contextlib.contextmanager`" in text and f'CHEATSHEET\'s "{section}"' in text


def test_register_and_login_say_why_they_differ_on_one_image(embedder, sample_face, tmp_path):
    for tree in ("exercises", "solutions"):
        app = trees.load_exercise("ex06_app", tree)
        assert "Unlike login, one path or image alone is refused" in flat(app.register.__doc__), tree
        assert "Unlike register, one image alone is accepted" in flat(app.login.__doc__), tree
    app = reference("ex06_app")
    sample_face.save(tmp_path / "face.png")
    store = app.open_store(tmp_path / "faces.json")
    with pytest.raises(TypeError, match="wrap it in a list"):
        app.register(store, embedder, "alice", tmp_path / "face.png")
    app.register(store, embedder, "alice", [tmp_path / "face.png"])
    assert app.login(store, embedder, "alice", tmp_path / "face.png").accepted


# -- tasks in the order they are needed --------------------------------------------------------------


def _readme_tasks(exercise) -> dict[str, int]:
    """{function: the number of the README's "## Task N" section whose heading names it}."""
    tasks: dict[str, int] = {}
    for line in (ROOT / exercise.readme).read_text(encoding="utf-8").splitlines():
        match = re.match(r"## Task\s*(\d+)?:", line)
        if match:
            for function in exercise.functions:
                if f"`{function}(" in line:
                    tasks.setdefault(function, int(match[1] or 1))
    return tasks


def _file_tasks(path: Path, functions) -> dict[str, int]:
    """{function: N of the last "# -- Task N:" comment above its definition in ``path``}."""
    tasks, current = {}, None
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"# -- Task (\d+):", line)
        current = int(match[1]) if match else current
        definition = re.match(r"(?:def|class) (\w+)", line)
        if definition and definition[1] in functions and current is not None:
            tasks[definition[1]] = current
    return tasks


@pytest.mark.parametrize("exercise_id", [e.id for e in course.load().exercises])
def test_tasks_come_in_the_order_they_are_needed(exercise_id):
    """A function is taught (README Task number, stub and reference sections, the manifest's
    order) no later than the functions whose reference calls it."""
    exercise = course.load().get(exercise_id)
    tasks = _readme_tasks(exercise)
    assert set(tasks) == set(exercise.functions), f"{exercise.readme}: Task sections name {sorted(tasks)}"
    order = sorted(exercise.functions, key=lambda f: (tasks[f], exercise.functions.index(f)))
    assert list(exercise.functions) == order, (
        f"{course.MANIFEST.relative_to(ROOT)} lists {exercise_id}'s functions as {exercise.functions}; "
        f"its README's tasks give {order}"
    )
    for tree_file in (exercise.stub, exercise.reference):
        in_file = _file_tasks(ROOT / tree_file, exercise.functions)
        if in_file:  # files without "# -- Task N:" sections have nothing to disagree with
            assert in_file == tasks, f"{tree_file}'s '# -- Task N:' sections say {in_file}; README {tasks}"
    import ast

    late = []
    for caller in exercise.functions:
        tree = ast.parse(textwrap.dedent(_reference_source(exercise, caller)))
        called = {
            node.func.id
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        }
        for callee in exercise.functions:
            if callee != caller and callee in called and tasks[callee] > tasks[caller]:
                late.append(f"{caller} (Task {tasks[caller]}) calls {callee} (Task {tasks[callee]})")
    assert not late, f"{exercise.readme}: a task needs one that comes later: {late}"


def test_ex05_notebook_times_warm_medians_and_prints_the_readmes_figure():
    import ast
    import json

    low, high = marked(readme("ex05_retrieval"), "low", "high")
    cells = json.loads((ROOT / "notebooks/ex05_retrieval.ipynb").read_text(encoding="utf-8"))["cells"]
    timing = next(
        "".join(c["source"])
        for c in cells
        if c["cell_type"] == "code" and "perf_counter" in c["source"][0] + "".join(c["source"])
    )
    tree = ast.parse(timing)
    helper = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "median_ms")
    body = ast.unparse(helper)
    # A warm-up call comes before the timed loop, and the median (not one run) is returned.
    assert body.index("function()") < body.index("for _ in range") and "statistics.median" in body, body
    assert f"the README measured {low:.0f} to {high:.0f} times" in timing, (
        "print the README's figure next to yours"
    )
