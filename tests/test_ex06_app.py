"""Exercise 06: the app (embed_images, open_store, register, login, identify, embed_folder,
person_embedding).

The model is the harness's ``embedder`` (timm's ConvNeXt-Atto on this run's weights, not
the tree's build_model()) minus a fixed vector (see Centered), answering an input it has
seen before from memory (see Remembering), and the expected embeddings
come from timm's own eval transform and that model, file by file. On stand-in weights no
score means anything about faces, so every assertion here holds for any weights: the images
enrolled, presented again, score 1.0; a record is the images' average; a score is the cosine similarity of the right two
embeddings; a threshold splits scores where it should.

The app is imported with the kit's own parts in place of Exercises 01 to 05 (facekit.app_parts:
load_image ... top_k, and stores that keep records in a file), so these tests grade Exercise 06
alone: a broken earlier exercise costs that exercise, not the app. Most tests use
facekit.testing.MemoryStore, a list in memory.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from facekit import data
from facekit.testing import MemoryStore, raises

EXERCISE = "ex06_app"
WIDTH = 320  # ConvNeXt-Atto's embedding width
ATOL = 1e-4  # float32 forward passes of a batch and of one image differ by ~1e-6
SCORE_ATOL = 1e-4  # see Centered: cosines of the centred embeddings, computed in another order


@pytest.fixture(scope="module")
def app(kit_target):
    """(the tree's Exercise 06, the kit's parts it was given in place of Exercises 01 to 05)."""
    from facekit import app_parts

    return app_parts.load_app(kit_target)


@pytest.fixture(scope="module")
def ex(app):
    return app[0]


@pytest.fixture(scope="module")
def api(app):
    """What the app was given as Exercise 04: Record (the tree's api.py, shared, not a stub)
    and the kit's JsonFileStore and SqliteStore."""
    return app[1]["ex04_storage"]


@pytest.fixture
def store(api):
    return MemoryStore(api.Record)


class Recording(torch.nn.Module):
    """The embedder, wrapped: records the batch size of every forward pass."""

    def __init__(self, inner, on_forward=None):
        super().__init__()
        self.inner = inner
        self.batch_sizes: list[int] = []
        self.on_forward = on_forward

    def forward(self, x):
        self.batch_sizes.append(x.shape[0])
        if self.on_forward:
            self.on_forward(x)
        return self.inner(x)


class Centered(torch.nn.Module):
    """A model whose embedding is ``inner(x) - offset``: the app works with any embedding model.

    On the stand-in weights (random, not pretrained) every image's embedding points almost
    the same way: 1 - cosine is between 1e-6 and 3e-4 for the images below, so rankings would
    hang on the sixth decimal. Subtracting the images' mean embedding keeps the model a
    deterministic function of the image and spreads the cosines over [-1, 1]. With real
    weights it changes nothing that these tests assert.
    """

    def __init__(self, inner, offset):
        super().__init__()
        self.inner = inner
        self.register_buffer("offset", offset)

    def forward(self, x):
        return self.inner(x) - self.offset


class Remembering(torch.nn.Module):
    """``inner``, with the output of each distinct input row kept for the module's tests.

    These tests present the same seven images again and again (about 80 ConvNeXt passes, a
    third of a graded submission's time); a model that answers a row it has seen from memory
    is the same function. Without autograd only (a caller that tracks gradients gets the
    inner model itself), and every answer is a new tensor, so no caller can change a kept row.
    """

    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.rows: dict[tuple, torch.Tensor] = {}

    @staticmethod
    def _key(row: torch.Tensor) -> tuple:
        data_ = row.detach().cpu().contiguous().numpy().tobytes()
        return (tuple(row.shape), str(row.dtype), hashlib.blake2b(data_, digest_size=16).digest())

    def forward(self, x):
        if torch.is_grad_enabled():
            return self.inner(x)
        keys = [self._key(row) for row in x]
        new: dict[tuple, int] = {}  # key -> index of its first row in x
        for index, key in enumerate(keys):
            if key not in self.rows:
                new.setdefault(key, index)
        if new:
            for key, row in zip(new, self.inner(x[list(new.values())])):
                self.rows[key] = row.clone()
        return torch.stack([self.rows[key] for key in keys])


def _embed_file(model, path) -> torch.Tensor:
    """timm's transform and ``model`` on one file: [D]."""
    with Image.open(path) as image:
        tensor = data.eval_transform()(image.convert("RGB"))
    with torch.inference_mode():
        return model(tensor[None])[0]


@pytest.fixture(scope="module")
def remembering(embedder):
    return Remembering(embedder).eval()


@pytest.fixture(scope="module")
def uncentered(remembering, images) -> dict[bytes, torch.Tensor]:
    """The embedder's embedding of each of ``images``, one at a time, by the file's bytes."""
    return {path.read_bytes(): _embed_file(remembering, path) for path in images.values()}


@pytest.fixture(scope="module")
def model(remembering, uncentered):
    """The harness's embedder (timm, this run's weights) minus the mean embedding of ``images``."""
    offset = torch.stack(list(uncentered.values())).mean(dim=0)
    return Centered(remembering, offset).eval()


# -- images, all made here (the face is the kit's public-domain sample) ---------------------------


def _noise(width: int, height: int, seed: int) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def _stripes(width: int, height: int) -> Image.Image:
    x = np.arange(width)[None, :, None]
    y = np.arange(height)[:, None, None]
    pixels = ((np.sin(x / 5.0) + np.cos(y / 9.0) + 2) * 60 * np.array([1.0, 0.6, 0.3])).astype(np.uint8)
    return Image.fromarray(pixels)


def _make_images(sample_face: Image.Image) -> dict[str, Image.Image]:
    canvas = Image.new("RGB", (300, 200), (30, 90, 160))
    canvas.paste(sample_face, (0, 0))  # off centre: the centre crop keeps some background
    return {
        "face.png": sample_face,
        "mirror.png": sample_face.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        "dark.jpg": sample_face.point(lambda v: v // 2),
        "rotated.png": sample_face.rotate(90),
        "wide.png": canvas,
        "noise.png": _noise(120, 90, seed=1),
        "stripes.png": _stripes(160, 240),
    }


@pytest.fixture(scope="module")
def images(tmp_path_factory, sample_face) -> dict[str, Path]:
    """Seven readable images of different sizes and formats: {file name: path}."""
    folder = tmp_path_factory.mktemp("images")
    paths = {}
    for name, image in _make_images(sample_face).items():
        path = folder / name
        image.save(path, quality=95) if name.endswith(".jpg") else image.save(path)
        paths[name] = path
    return paths


@pytest.fixture(scope="module")
def broken(tmp_path_factory, images) -> dict[str, Path]:
    """Files that are not readable images: text, a truncated JPEG, a missing file, a folder."""
    folder = tmp_path_factory.mktemp("broken")
    text = folder / "notes.txt"
    text.write_text("not an image\n")
    truncated = folder / "truncated.jpg"
    truncated.write_bytes(images["dark.jpg"].read_bytes()[:300])
    subfolder = folder / "a-folder.png"
    subfolder.mkdir()
    return {"text": text, "truncated": truncated, "missing": folder / "missing.png", "folder": subfolder}


@pytest.fixture(scope="module")
def expected(model, uncentered):
    """``expected(path)``: the file's embedding [320] by timm's transform and model, one at a time."""
    # By the file's bytes: the tests' folders hold copies of ``images``, embedded once already.
    cache = {content: row - model.offset for content, row in uncentered.items()}

    def embed(path):
        content = Path(path).read_bytes()
        if content not in cache:
            cache[content] = _embed_file(model, path)
        return cache[content]

    return embed


def _cos(a: torch.Tensor, b: torch.Tensor) -> float:
    return F.cosine_similarity(a, b, dim=0).item()


# -- embed_images ---------------------------------------------------------------------------------


@pytest.mark.function("embed_images")
def test_batches_equal_per_image_embeddings(ex, model, images, expected):
    paths = list(images.values())
    batches = list(ex.embed_images(model, paths, batch_size=3))
    assert [len(b.paths) for b in batches] == [3, 3, 1], (
        f"embed_images(7 paths, batch_size=3) gave batches of {[len(b.paths) for b in batches]}, expected [3, 3, 1]"
    )
    assert [p for b in batches for p in b.paths] == paths, "paths in input order, as Path objects"
    rows = torch.cat([b.embeddings for b in batches])
    assert rows.shape == (len(paths), WIDTH) and rows.dtype == torch.float32, (
        f"embed_images(7 paths): the batches' embeddings are {list(rows.shape)} {rows.dtype}, expected [7, {WIDTH}] torch.float32"
    )
    torch.testing.assert_close(rows, torch.stack([expected(p) for p in paths]), atol=ATOL, rtol=ATOL)
    assert all(b.skipped == [] for b in batches), (
        f"embed_images(7 readable images) skipped {[p for b in batches for p in b.skipped]}: nothing to skip"
    )


@pytest.mark.function("embed_images")
def test_paths_are_consumed_one_batch_at_a_time(ex, model, images):
    consumed = []

    def paths():
        for path in images.values():
            consumed.append(path)
            yield str(path)  # strings work as well as Paths

    seen_at_forward = []
    model = Recording(model, on_forward=lambda x: seen_at_forward.append(len(consumed)))
    batches = iter(ex.embed_images(model, paths(), batch_size=2))
    first = next(batches)
    call = f"embed_images(a generator of {len(images)} paths, batch_size=2)"
    assert len(consumed) <= 2, (
        f"{call}: {len(consumed)} paths taken for a first batch of 2: take paths "
        f"lazily (itertools.islice), not all at once"
    )
    assert model.batch_sizes == [2], (
        f"{call}: after the first batch, forward passes of sizes {model.batch_sizes}, expected [2]: "
        f"one compute_embedding call per batch, and yield each batch as soon as it is done"
    )
    assert first.paths == [Path(p) for p in consumed[:2]], f"{call}: the first batch holds {first.paths}"
    rest = list(batches)
    assert model.batch_sizes == [2, 2, 2, 1], (
        f"{call}: forward passes of sizes {model.batch_sizes}, expected [2, 2, 2, 1]"
    )
    for number, taken in enumerate(seen_at_forward, 1):
        assert taken <= 2 * number, f"{call}: forward pass {number} ran after {taken} paths were taken"
    total = sum(len(b.paths) for b in [first, *rest])
    assert total == len(images), f"{call}: {total} paths in the batches, expected {len(images)}"


@pytest.mark.function("embed_images")
def test_unreadable_files_are_skipped_and_listed(ex, model, images, broken, expected):
    paths = [
        images["face.png"],
        broken["text"],
        broken["truncated"],
        images["noise.png"],
        broken["missing"],
        broken["folder"],
    ]
    call = "embed_images(2 images and 4 unreadable files, batch_size=2)"
    batches = list(ex.embed_images(model, paths, batch_size=2))
    assert len(batches) == 3, (
        f"{call} gave {len(batches)} batches: one Batch per batch_size paths, unreadable ones included"
    )
    kept = [p for b in batches for p in b.paths]
    assert kept == [images["face.png"], images["noise.png"]], f"{call}: the embedded paths are {kept}"
    skipped = [s for b in batches for s in b.skipped]
    assert [path for path, _ in skipped] == [broken[k] for k in ("text", "truncated", "missing", "folder")], (
        f"{call}: skipped {[path.name for path, _ in skipped]}, expected the 4 unreadable files in order"
    )
    for path, reason in skipped:
        assert isinstance(reason, str) and reason.strip(), f"{call}: say why {path} was skipped"
    assert batches[2].embeddings is None, f"{call}: a batch with no readable file has embeddings None"
    rows = torch.cat([b.embeddings for b in batches[:2]])
    torch.testing.assert_close(
        rows,
        torch.stack([expected(p) for p in kept]),
        atol=ATOL,
        rtol=ATOL,
        msg=lambda m: f"{call}: the rows differ from each file's own embedding: {m}",
    )


@pytest.mark.function("embed_images")
def test_batch_size_one_embeds_one_image_per_batch(ex, model, images, expected):
    paths = [images["face.png"], images["noise.png"]]
    call = "embed_images(2 images, batch_size=1)"
    batches = list(ex.embed_images(model, paths, batch_size=1))
    assert [b.paths for b in batches] == [[p] for p in paths], (
        f"{call}: batches of {[[p.name for p in b.paths] for b in batches]}, expected one image each "
        f"(a batch size of 1 is allowed: only < 1 is refused)"
    )
    for batch in batches:
        row, own = batch.embeddings[0], expected(batch.paths[0])
        assert torch.allclose(row, own, atol=ATOL, rtol=ATOL), (
            f"{call}: the row of {batch.paths[0].name} differs from its own embedding by up to "
            f"{(row - own).abs().max().item():.3g}"
        )


@pytest.mark.function("embed_images")
@pytest.mark.parametrize(
    "batch_size, error",
    [(0, ValueError), (-3, ValueError), (2.0, TypeError), ("4", TypeError), (True, TypeError)],
)
def test_bad_batch_size(ex, model, images, batch_size, error):
    with raises(error, f"embed_images(paths, batch_size={batch_size!r})") as info:
        list(ex.embed_images(model, list(images.values()), batch_size=batch_size))
    assert "batch_size" in str(info.value), f"embed_images: name the argument batch_size: {info.value}"


# -- open_store -----------------------------------------------------------------------------------


@pytest.mark.function("open_store")
@pytest.mark.parametrize(
    "name, kind",
    [
        ("faces.json", "JsonFileStore"),
        ("faces.sqlite", "SqliteStore"),
        ("faces.db", "SqliteStore"),
        ("FACES.SQLITE3", "SqliteStore"),
    ],
)
def test_open_store_picks_the_store_by_suffix(ex, api, tmp_path, name, kind):
    opened = ex.open_store(tmp_path / name)
    assert type(opened) is getattr(api, kind), (
        f"open_store({name!r}) gave a {type(opened).__name__}, expected {kind}"
    )
    assert len(opened) == 0, f"open_store({name!r}) of a missing file is not empty"


@pytest.mark.function("open_store")
def test_open_store_refuses_other_suffixes_and_non_paths(ex, tmp_path):
    with raises(ValueError, "open_store('faces.txt')") as info:
        ex.open_store(tmp_path / "faces.txt")
    assert "faces.txt" in str(info.value), f"open_store('faces.txt'): name the file: {info.value}"
    assert ".json" in str(info.value) and ".sqlite" in str(info.value), (
        f"open_store('faces.txt'): name the suffixes accepted: {info.value}"
    )
    assert not (tmp_path / "faces.txt").exists(), "open_store('faces.txt') created the file"
    with raises(TypeError, "open_store(3)"):
        ex.open_store(3)


# -- register -------------------------------------------------------------------------------------


def _person(expected, paths) -> torch.Tensor:
    """What register enrols for ``paths``: the files' unit embeddings averaged, normalised again."""
    return F.normalize(F.normalize(torch.stack([expected(p) for p in paths]), dim=1).mean(dim=0), dim=0)


@pytest.mark.function("register")
def test_register_adds_one_averaged_record(ex, model, store, images, expected):
    alice = [images["face.png"], images["mirror.png"], images["dark.jpg"]]
    record_id = ex.register(store, model, "alice", alice)
    records = store.find("alice")
    assert len(records) == 1, (
        f"register('alice', 3 images) stored {len(records)} records, expected ONE: "
        f"person_embedding of the 3 images"
    )
    assert isinstance(record_id, str) and record_id == records[0].id, (
        f"register('alice', 3 images) returned {record_id!r}, expected the new record's id {records[0].id!r}"
    )
    torch.testing.assert_close(
        records[0].embedding,
        _person(expected, alice),
        atol=ATOL,
        rtol=ATOL,
        msg=lambda m: f"register('alice', 3 images): the record is not person_embedding of the images: {m}",
    )
    more = ex.register(store, model, "alice", iter([str(images["rotated.png"])]))
    again = store.find("alice")
    assert len(again) == 2 and again[1].id == more, "register: registering again adds one more record"
    torch.testing.assert_close(
        again[1].embedding,
        F.normalize(expected(images["rotated.png"]), dim=0),
        atol=ATOL,
        rtol=ATOL,
        msg=lambda m: f"register('alice', [one image]): its unit embedding: {m}",
    )


@pytest.mark.function("register")
def test_register_takes_pil_images_as_they_are(ex, model, store, images, sample_face, expected):
    # A camera's frames are PIL images, not files; a list may mix both.
    frames = _frames(sample_face)
    ex.register(store, model, "alice", [frames["face.png"], images["noise.png"]])
    (record,) = store.find("alice")
    torch.testing.assert_close(
        record.embedding,
        _person(expected, [images["face.png"], images["noise.png"]]),
        atol=ATOL,
        rtol=ATOL,
        msg=lambda m: f"register('alice', [a PIL image, a path]): {m}",
    )


@pytest.mark.function("register")
def test_register_is_all_or_nothing(ex, model, store, images, broken):
    with raises(ValueError, "register('bob', [an image, a truncated JPEG, a text file])") as info:
        ex.register(store, model, "bob", [images["noise.png"], broken["truncated"], broken["text"]])
    message = str(info.value)
    assert "truncated.jpg" in message and "notes.txt" in message, (
        f"register: name every unreadable file: {message}"
    )
    assert len(store) == 0, (
        f"register: a bad file must leave the store as it was; it holds {len(store)} records"
    )


@pytest.mark.function("register")
def test_register_is_all_or_nothing_across_batches(ex, model, store, images, broken, tmp_path):
    # More images than embed_images' batch (8), the unreadable file last: an average of the
    # readable ones is not what was asked for.
    good = list(images.values()) + [tmp_path / "copy1.png", tmp_path / "copy2.png"]
    good[-2].write_bytes(images["face.png"].read_bytes())
    good[-1].write_bytes(images["noise.png"].read_bytes())
    call = f"register('bob', {len(good)} images then a text file)"
    with raises(ValueError, call) as info:
        ex.register(store, model, "bob", good + [broken["text"]])
    assert "notes.txt" in str(info.value), f"{call}: name the unreadable file: {info.value}"
    assert len(store) == 0, (
        f"{call} left {len(store)} records: read every file first, and add "
        f"nothing unless every file could be read"
    )


@pytest.mark.function("register")
def test_register_refuses_bad_arguments(ex, model, store, images, sample_face):
    with raises(ValueError, "register(name='  ')"):
        ex.register(store, model, "  ", [images["face.png"]])
    with raises(TypeError, "register(name=42)"):
        ex.register(store, model, 42, [images["face.png"]])
    with raises(TypeError, "register('alice', one str path instead of a list)") as info:
        ex.register(store, model, "alice", str(images["face.png"]))
    assert "list" in str(info.value), f"register(one path): say that a list is expected: {info.value}"
    with raises(TypeError, "register('alice', one PIL image instead of a list)") as info:
        ex.register(store, model, "alice", sample_face)
    assert "list" in str(info.value), f"register(one image): say that a list is expected: {info.value}"
    with raises(ValueError, "register('alice', [])"):
        ex.register(store, model, "alice", [])
    assert len(store) == 0, f"register: refused calls left {len(store)} records"


# -- login ----------------------------------------------------------------------------------------


@pytest.mark.function("login")
def test_login_with_the_enrolled_images_scores_one(ex, model, store, images, sample_face):
    ex.register(store, model, "alice", [images["face.png"], images["mirror.png"]])
    # The same images again, as PIL frames in another order: the same average, score 1.0.
    frames = _frames(sample_face)
    result = ex.login(store, model, "alice", (frames["mirror.png"], frames["face.png"]), threshold=0.99)
    call = "login('alice', the two images she enrolled, threshold=0.99)"
    assert isinstance(result, ex.LoginResult), (
        f"{call} returned {type(result).__name__}, expected a LoginResult"
    )
    assert result.accepted is True, f"{call}: not accepted ({result!r})"
    assert result.name == "alice" and result.threshold == 0.99, f"{call}: {result!r}"
    assert isinstance(result.score, float) and result.score == pytest.approx(1.0, abs=SCORE_ATOL), (
        f"{call}: score {result.score!r}, expected the float 1.0"
    )


@pytest.mark.function("login")
def test_login_score_is_the_best_cosine_and_the_threshold_decides(ex, model, store, images, expected):
    # Alice registered twice: two records, each an average.
    visits = [[images["face.png"], images["stripes.png"]], [images["wide.png"]]]
    for visit in visits:
        ex.register(store, model, "alice", visit)
    presented = images["noise.png"]
    scores = [_cos(expected(presented), _person(expected, visit)) for visit in visits]
    best = max(scores)
    assert best < 1 - 1e-3 and abs(scores[0] - scores[1]) > 1e-3, (
        "precondition: different images give different embeddings"
    )
    result = ex.login(store, model, "alice", presented, threshold=-1.0)
    assert result.score == pytest.approx(best, abs=SCORE_ATOL), (
        f"login('alice', another image): score {result.score:.6f}, expected {best:.6f}, the best cosine among "
        f"her enrolled records ({', '.join(f'{s:.6f}' for s in scores)})"
    )
    assert result.accepted, "login(threshold=-1.0): every score is accepted"
    below = ex.login(store, model, "alice", presented, threshold=max(best - 1e-3, -1.0))
    above = ex.login(store, model, "alice", presented, threshold=min(best + 1e-3, 1.0))
    assert below.accepted and not above.accepted, "login: accepted exactly when score >= threshold"
    assert not ex.login(store, model, "alice", presented, threshold=1.0).accepted, (
        "login(threshold=1.0) accepted a score below 1"
    )


@pytest.mark.function("login")
def test_login_averages_the_images_presented(ex, model, store, images, expected):
    ex.register(store, model, "alice", [images["face.png"]])
    presented = [images["noise.png"], images["stripes.png"]]
    want = _cos(_person(expected, presented), F.normalize(expected(images["face.png"]), dim=0))
    first = _cos(expected(presented[0]), expected(images["face.png"]))
    assert abs(want - first) > 1e-3, "precondition: the average scores differently from the first image"
    result = ex.login(store, model, "alice", presented, threshold=-1.0)
    assert result.score == pytest.approx(want, abs=SCORE_ATOL), (
        f"login('alice', [2 images]): score {result.score:.6f}, expected {want:.6f}, the cosine of "
        f"person_embedding of the images presented with her record"
    )
    one = ex.login(store, model, "alice", str(presented[0]), threshold=-1.0)
    listed = ex.login(store, model, "alice", [presented[0]], threshold=-1.0)
    assert one.score == pytest.approx(first, abs=SCORE_ATOL) and listed.score == pytest.approx(one.score), (
        f"login('alice', one str path) scored {one.score:.6f} and login('alice', [that path]) "
        f"{listed.score:.6f}; expected {first:.6f} for both: one image alone is a list of one"
    )


@pytest.mark.function("login")
def test_login_compares_with_that_persons_embeddings_only(ex, model, store, images, expected):
    ex.register(store, model, "alice", [images["face.png"]])
    ex.register(store, model, "bob", [images["noise.png"]])
    own = _cos(expected(images["noise.png"]), expected(images["face.png"]))
    result = ex.login(store, model, "alice", images["noise.png"], threshold=-1.0)
    assert result.score == pytest.approx(own, abs=SCORE_ATOL), (
        f"login('alice', bob's enrolled image): score {result.score:.6f}, expected {own:.6f}, its cosine "
        f"with alice's embedding: compare with alice's embeddings only (store.find), not everyone's"
    )
    # A threshold exactly equal to the score accepts, as is_match does.
    again = ex.login(store, model, "alice", images["noise.png"], threshold=result.score)
    assert again.accepted, (
        f"login(threshold={result.score!r}), a score equal to the threshold, was "
        f"refused: accept when score >= threshold (is_match)"
    )


@pytest.mark.function("login")
def test_login_of_an_unknown_person_is_an_error_naming_who_is_registered(ex, model, store, images):
    ex.register(store, model, "alice", [images["face.png"]])
    with raises(ex.UnknownPersonError, "login(store with alice, 'mallory', face.png)") as info:
        ex.login(store, model, "mallory", images["face.png"])
    assert isinstance(info.value, LookupError), (
        f"login('mallory'): UnknownPersonError must be a LookupError (like KeyError); its bases are {type(info.value).__mro__[1:]}"
    )
    assert "mallory" in str(info.value) and "alice" in str(info.value), (
        f"login('mallory', alice registered): say who was asked for and who is registered: {info.value}"
    )


@pytest.mark.function("login")
@pytest.mark.parametrize(
    "threshold, error", [(1.5, ValueError), (-1.01, ValueError), (math.nan, ValueError), ("0.5", TypeError)]
)
def test_login_checks_the_threshold_before_embedding(ex, model, store, images, threshold, error):
    store.add("alice", torch.ones(WIDTH))
    model = Recording(model)
    with raises(error, f"login('alice', image, threshold={threshold!r})") as info:
        ex.login(store, model, "alice", images["face.png"], threshold=threshold)
    assert "threshold" in str(info.value), f"login: name the argument threshold: {info.value}"
    assert model.batch_sizes == [], (
        f"login(threshold={threshold!r}): check the arguments before running the model"
    )


@pytest.mark.function("login")
def test_login_of_unreadable_or_no_images_is_an_error(ex, model, store, images, broken):
    store.add("alice", torch.ones(WIDTH))
    with raises(ValueError, "login('alice', a truncated JPEG)"):
        ex.login(store, model, "alice", broken["truncated"])
    with raises(FileNotFoundError, "login('alice', a missing file)"):
        ex.login(store, model, "alice", broken["missing"])
    with raises(ValueError, "login('alice', [an image, a truncated JPEG])"):
        ex.login(store, model, "alice", [images["face.png"], broken["truncated"]])
    with raises(ValueError, "login('alice', [])"):
        ex.login(store, model, "alice", [])


# -- identify -------------------------------------------------------------------------------------


@pytest.mark.function("identify")
def test_identify_ranks_people_by_their_best_score(ex, model, store, images, expected):
    people = {
        "alice": [images["face.png"], images["mirror.png"]],
        "bob": [images["noise.png"], images["stripes.png"]],
        "carol": [images["wide.png"]],
    }
    for name, paths in people.items():
        for path in paths:  # one registration per image: a record each
            ex.register(store, model, name, [path])
    presented = images["rotated.png"]
    best = {
        name: max(_cos(expected(presented), expected(p)) for p in paths) for name, paths in people.items()
    }
    ranking = sorted(best, key=lambda name: best[name], reverse=True)

    found = ex.identify(store, model, presented, k=2)
    assert [name for name, _ in found] == ranking[:2], (
        f"identify(k=2) gave {[name for name, _ in found]}, expected {ranking[:2]}: one entry per person, "
        f"best first (a person with several records may fill the top k records alone)"
    )
    for name, score in found:
        assert isinstance(score, float) and score == pytest.approx(best[name], abs=SCORE_ATOL), (
            f"identify: {name}'s score is {score!r}, expected {best[name]:.6f}, the best of their records"
        )
    everyone = ex.identify(store, model, presented, k=10)
    assert [name for name, _ in everyone] == ranking, (
        f"identify(k=10) with 3 people gave {[name for name, _ in everyone]}, expected all of them: {ranking}"
    )


@pytest.mark.function("identify")
def test_identify_the_enrolled_image_wins_with_one(ex, model, store, images):
    ex.register(store, model, "alice", [images["face.png"]])
    ex.register(store, model, "bob", [images["noise.png"]])
    ex.register(store, model, "bob", [images["dark.jpg"]])
    (name, score), *_ = ex.identify(store, model, images["dark.jpg"])
    assert name == "bob" and score == pytest.approx(1.0, abs=SCORE_ATOL), (
        f"identify(an image bob enrolled): first is {name} with {score}, expected bob with 1.0"
    )
    found = ex.identify(store, model, images["dark.jpg"])
    assert len(found) == 2, f"identify(default k=3) with two people gave {found}"


@pytest.mark.function("identify")
def test_identify_with_k_1_gives_the_best_person(ex, model, store, images, expected):
    ex.register(store, model, "alice", [images["face.png"]])
    ex.register(store, model, "bob", [images["noise.png"]])
    presented = images["mirror.png"]
    scores = {
        name: _cos(expected(presented), expected(images[file]))
        for name, file in (("alice", "face.png"), ("bob", "noise.png"))
    }
    best = max(scores, key=lambda name: scores[name])
    found = ex.identify(store, model, presented, k=1)
    assert [name for name, _ in found] == [best], (
        f"identify(mirror.png, k=1) with alice and bob gave {found}, expected [{best!r}] alone "
        f"(k=1 is allowed: only k < 1 is refused)"
    )


@pytest.mark.function("identify")
def test_identify_stops_at_k_people_for_a_large_k(ex, model, store, images):
    # 301 people, k=300: `len(people) is k` holds only for small ints (CPython keeps one object
    # for each of -5..256), so such a loop never stops; == does.
    vectors = torch.randn(301, WIDTH, generator=torch.Generator().manual_seed(3))
    for number, vector in enumerate(vectors):
        store.add(f"person {number}", vector)
    found = ex.identify(store, model, images["face.png"], k=300)
    assert len(found) == 300, (
        f"identify(image, k=300) with 301 people gave {len(found)} people, expected 300 "
        f"(compare the count with ==, not `is`)"
    )


@pytest.mark.function("identify")
def test_identify_on_an_empty_store_finds_nobody(ex, model, store, images):
    found = ex.identify(store, model, images["face.png"])
    assert found == [], f"identify on an empty store gave {found!r}, expected []"


@pytest.mark.function("identify")
@pytest.mark.parametrize("k, error", [(0, ValueError), (-1, ValueError), (1.5, TypeError), (True, TypeError)])
def test_identify_checks_k(ex, model, store, images, k, error):
    store.add("alice", torch.ones(WIDTH))
    with raises(error, f"identify(image, k={k!r})") as info:
        ex.identify(store, model, images["face.png"], k=k)
    assert re.search(r"\bk\b", str(info.value)), f"identify: name the argument k: {info.value}"


# -- end to end, with the tree's own stores -------------------------------------------------------


@pytest.mark.function("identify")
@pytest.mark.parametrize("store_name", ["faces.sqlite", "faces.json"])
def test_register_two_people_log_each_in_and_identify(ex, model, images, expected, tmp_path, store_name):
    path = tmp_path / store_name
    faces = ex.open_store(path)
    people = {
        "alice": [images["face.png"], images["mirror.png"]],
        "bob": [images["noise.png"], images["stripes.png"]],
    }
    ids = [ex.register(faces, model, name, paths) for name, paths in people.items()]
    assert len(set(ids)) == 2 and len(faces) == 2, "one record per registration"

    # The same files presented again: the same average, score 1.0, accepted at any threshold <= 1.
    for name, paths in people.items():
        result = ex.login(faces, model, name, paths, threshold=0.999)
        assert result.accepted and result.score == pytest.approx(1.0, abs=SCORE_ATOL), name

    # Alice's file presented as Bob: refused once the threshold is above its score.
    alice = people["alice"][0]
    cross = _cos(expected(alice), _person(expected, people["bob"]))
    assert cross < 1 - 1e-3, "precondition: different images give different embeddings"
    refused = ex.login(faces, model, "bob", alice, threshold=(cross + 1) / 2)
    assert not refused.accepted and refused.score == pytest.approx(cross, abs=SCORE_ATOL), (
        f"login(bob, alice's photo, threshold above their similarity {cross:.4f}): got accepted={refused.accepted}, "
        f"score={refused.score}; expected refused with that score"
    )

    # A new process would open the file again: the people are still there.
    reopened = ex.open_store(path)
    assert len(reopened) == 2, (
        f"open_store({path.name}) again: {len(reopened)} records, expected alice's and bob's"
    )
    for presented in (people["alice"][1], people["bob"][0]):
        scores = {name: _cos(expected(presented), _person(expected, paths)) for name, paths in people.items()}
        want = sorted(scores, key=lambda name: scores[name], reverse=True)
        found = ex.identify(reopened, model, presented, k=2)
        assert [name for name, _ in found] == want, (
            f"identify({presented.name}) gave {found}, expected {want}"
        )
        assert found[0][1] == pytest.approx(scores[want[0]], abs=SCORE_ATOL), (
            f"identify({presented.name}): {want[0]}'s score is {found[0][1]}, expected {scores[want[0]]:.6f}"
        )


# -- embed_folder ---------------------------------------------------------------------------------


@pytest.fixture
def folder(tmp_path, images):
    """Images in a folder with a subfolder, plus hidden entries that must be left out."""
    root = tmp_path / "photos"
    (root / "sub").mkdir(parents=True)
    (root / ".cache").mkdir()
    for name in ("face.png", "noise.png", "dark.jpg"):
        (root / name).write_bytes(images[name].read_bytes())
    (root / "sub" / "stripes.png").write_bytes(images["stripes.png"].read_bytes())
    (root / ".hidden.png").write_bytes(images["wide.png"].read_bytes())
    (root / ".cache" / "wide.png").write_bytes(images["wide.png"].read_bytes())
    return root


FOLDER_NAMES = ["dark.jpg", "face.png", "noise.png", "sub/stripes.png"]  # sorted, relative, "/"


def _rows_of(folder: Path, names, expected) -> torch.Tensor:
    return torch.stack([expected(folder / name) for name in names])


@pytest.mark.function("embed_folder")
def test_embed_folder_writes_safetensors_with_names_in_the_metadata(ex, model, folder, expected, tmp_path):
    from safetensors import safe_open

    out = tmp_path / "out" / "faces.safetensors"
    summary = ex.embed_folder(model, folder, out, batch_size=3)
    with safe_open(out, framework="pt") as f:
        names = json.loads(f.metadata()["names"])
    # The names first: they say which files were taken.
    assert names == FOLDER_NAMES, (
        f"embed_folder: names {names}, expected {FOLDER_NAMES} (sorted, hidden left out)"
    )
    assert isinstance(summary, ex.EmbedSummary), (
        f"embed_folder returned {type(summary).__name__}, not an EmbedSummary"
    )
    got = (summary.out, summary.names_file, summary.count, summary.width, summary.skipped)
    assert got == (out, None, 4, WIDTH, []), (
        f"embed_folder: summary (out, names_file, count, width, skipped) is {got}, expected {(out, None, 4, WIDTH, [])}"
    )
    with safe_open(out, framework="pt") as f:
        assert list(f.keys()) == ["embeddings"], (
            f"embed_folder: the safetensors file holds {list(f.keys())}, expected ['embeddings']"
        )
        metadata = f.metadata()
        embeddings = f.get_tensor("embeddings")
    assert metadata["format"] == "facekit-embeddings", (
        f"embed_folder: metadata format is {metadata.get('format')!r}"
    )
    names = json.loads(metadata["names"])
    assert names == FOLDER_NAMES, (
        f"embed_folder: names {names}, expected {FOLDER_NAMES} (sorted, hidden left out)"
    )
    assert embeddings.dtype == torch.float32 and embeddings.shape == (4, WIDTH), (
        f"embed_folder(4 images): 'embeddings' is {list(embeddings.shape)} {embeddings.dtype}, expected [4, {WIDTH}] torch.float32"
    )
    torch.testing.assert_close(embeddings, _rows_of(folder, FOLDER_NAMES, expected), atol=ATOL, rtol=ATOL)


@pytest.mark.function("embed_folder")
def test_embed_folder_writes_npy_with_a_names_file(ex, model, folder, expected, tmp_path):
    out = tmp_path / "faces.npy"
    summary = ex.embed_folder(model, folder, out)
    names_file = tmp_path / "faces.names.json"
    assert summary.names_file == names_file and summary.count == 4, (
        f"embed_folder(4 images, 'faces.npy'): the summary says names_file={summary.names_file}, "
        f"count={summary.count}; expected {names_file.name} (the .npy name with .names.json) and 4"
    )
    array = np.load(out, allow_pickle=False)
    assert array.dtype == np.float32 and array.shape == (4, WIDTH), (
        f"embed_folder(4 images, 'faces.npy'): the array is {array.shape} {array.dtype}, expected (4, {WIDTH}) float32"
    )
    names = json.loads(names_file.read_text(encoding="utf-8"))
    assert names == FOLDER_NAMES, (
        f"embed_folder(4 images, 'faces.npy'): {names_file.name} lists {names}, expected {FOLDER_NAMES}"
    )
    torch.testing.assert_close(
        torch.from_numpy(array), _rows_of(folder, FOLDER_NAMES, expected), atol=ATOL, rtol=ATOL
    )


@pytest.mark.function("embed_folder")
def test_embed_folder_writes_the_npy_file_its_summary_names(ex, model, folder, tmp_path):
    # Given a path, np.save appends ".npy" to a name that does not end in ".npy" (in that case).
    out = tmp_path / "out" / "faces.NPY"
    summary = ex.embed_folder(model, folder, out)
    written = sorted(p.name for p in out.parent.iterdir())
    assert summary.out == out and out.is_file(), (
        f"embed_folder(model, folder, 'faces.NPY'): the summary names {summary.out}, but the files written "
        f"are {written}: np.save(path) adds .npy to faces.NPY; give np.save an open file"
    )
    assert written == ["faces.NPY", "faces.names.json"], (
        f"embed_folder(model, folder, 'faces.NPY') wrote {written}, expected faces.NPY and faces.names.json"
    )


@pytest.mark.function("embed_folder")
def test_embed_folder_skips_and_lists_unreadable_files(ex, model, folder, broken, expected, tmp_path):
    (folder / "sub" / "notes.txt").write_bytes(broken["text"].read_bytes())
    (folder / "broken.jpg").write_bytes(broken["truncated"].read_bytes())
    out = tmp_path / "faces.safetensors"
    calls = []
    summary = ex.embed_folder(
        model, folder, out, batch_size=2, progress=lambda done, total: calls.append((done, total))
    )
    call = "embed_folder(4 images and 2 unreadable files, batch_size=2)"
    assert [name for name, _ in summary.skipped] == ["broken.jpg", "sub/notes.txt"], (
        f"{call}: skipped {summary.skipped}"
    )
    assert all(reason.strip() for _, reason in summary.skipped), f"{call}: say why each file was skipped"
    assert summary.count == 4, f"{call}: count {summary.count}, expected 4"
    assert calls == [(2, 6), (4, 6), (6, 6)], (
        f"{call}: progress calls {calls}, expected [(2, 6), (4, 6), (6, 6)]: count every file handled, "
        f"unreadable ones too"
    )
    from safetensors.torch import load_file

    torch.testing.assert_close(
        load_file(out)["embeddings"], _rows_of(folder, FOLDER_NAMES, expected), atol=ATOL, rtol=ATOL
    )


@pytest.mark.function("embed_folder")
def test_embed_folder_does_not_depend_on_the_listing_order(ex, model, folder, tmp_path, monkeypatch):
    import os

    # A file system lists a folder in any order (ext4 by hash, others by creation): make this
    # one list every folder in reverse, so code that trusts the listing order shows it.
    real_scandir, real_listdir = os.scandir, os.listdir

    class Listing(list):
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def close(self):
            pass

    def scandir(path="."):
        with real_scandir(path) as entries:
            return Listing(sorted(entries, key=lambda e: e.name, reverse=True))

    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.setattr(os, "listdir", lambda path=".": sorted(real_listdir(path), reverse=True))
    out = tmp_path / "faces.npy"
    ex.embed_folder(model, folder, out)
    monkeypatch.undo()
    names = json.loads((tmp_path / "faces.names.json").read_text(encoding="utf-8"))
    advice = (
        "take the files in sorted order"
        if sorted(names) == sorted(FOLDER_NAMES)
        else "the files taken differ, not only their order"
    )
    assert names == FOLDER_NAMES, (
        f"embed_folder on a file system that lists folders in another order: "
        f"names {names}, expected {FOLDER_NAMES}: {advice}"
    )


@pytest.mark.function("embed_folder")
def test_embed_folder_streams_in_batches_and_reports_progress(ex, model, folder, tmp_path):
    model = Recording(model)
    calls = []
    ex.embed_folder(
        model,
        folder,
        tmp_path / "faces.npy",
        batch_size=3,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert model.batch_sizes == [3, 1], (
        f"embed_folder(4 images, batch_size=3): forward passes of sizes {model.batch_sizes}, expected [3, 1]"
    )
    assert calls == [(3, 4), (4, 4)], (
        f"embed_folder(4 images, batch_size=3): progress calls {calls}, expected [(3, 4), (4, 4)]"
    )


@pytest.mark.function("embed_folder")
def test_embed_folder_counts_skipped_files_in_its_progress(ex, model, images, broken, tmp_path):
    root = tmp_path / "photos"
    root.mkdir()
    # Sorted: a.png, b.txt (not an image), c.png in the first batch of 3, d.png in the second.
    for name, source in (
        ("a.png", images["face.png"]),
        ("b.txt", broken["text"]),
        ("c.png", images["noise.png"]),
        ("d.png", images["stripes.png"]),
    ):
        (root / name).write_bytes(source.read_bytes())
    calls = []
    ex.embed_folder(
        model,
        root,
        tmp_path / "faces.npy",
        batch_size=3,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert calls == [(3, 4), (4, 4)], (
        f"embed_folder(3 images and 1 unreadable file, batch_size=3): progress calls {calls}, expected "
        f"[(3, 4), (4, 4)]: done counts every file handled, the skipped ones too"
    )


@pytest.mark.function("embed_folder")
def test_embed_folder_creates_missing_parent_folders(ex, model, folder, tmp_path):
    out = tmp_path / "new" / "deeper" / "faces.npy"
    call = "embed_folder(folder, out='new/deeper/faces.npy'), neither folder there yet"
    try:
        summary = ex.embed_folder(model, folder, out)
    except FileNotFoundError as error:
        pytest.fail(f"{call} raised FileNotFoundError ({error}): create them with mkdir(parents=True)")
    assert out.is_file() and summary.count == len(FOLDER_NAMES), (
        f"{call}: {out} {'exists' if out.exists() else 'is missing'}, summary count {summary.count}"
    )


@pytest.mark.function("embed_folder")
def test_embed_folder_checks_the_output_suffix_before_any_work(ex, model, folder, tmp_path):
    model = Recording(model)
    with raises(ValueError, "embed_folder(folder, out='faces.pt')") as info:
        ex.embed_folder(model, folder, tmp_path / "faces.pt")
    assert ".safetensors" in str(info.value) and ".npy" in str(info.value), (
        f"embed_folder(out='faces.pt'): name the suffixes accepted: {info.value}"
    )
    assert model.batch_sizes == [] and not (tmp_path / "faces.pt").exists(), (
        "embed_folder(out='faces.pt'): check the suffix before any work"
    )


@pytest.mark.function("embed_folder")
def test_embed_folder_refuses_empty_and_unreadable_folders(ex, model, broken, tmp_path):
    empty = tmp_path / "nothing-here"
    (empty / ".git").mkdir(parents=True)
    (empty / ".git" / "HEAD").write_text("ref: refs/heads/main\n")  # hidden: does not count
    out = tmp_path / "faces.safetensors"
    with raises(ValueError, "embed_folder(a folder with only hidden files)") as info:
        ex.embed_folder(model, empty, out)
    assert "nothing-here" in str(info.value), f"embed_folder: name the folder: {info.value}"
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "notes.txt").write_text("not an image\n")
    with raises(ValueError, "embed_folder(a folder with only a text file)") as info:
        ex.embed_folder(model, junk, out)
    assert "notes.txt" in str(info.value), f"embed_folder: name the unreadable file: {info.value}"
    assert not out.exists(), "embed_folder: nothing to write, yet it wrote a file"


@pytest.mark.function("embed_folder")
def test_embed_folder_needs_an_existing_folder(ex, model, images, tmp_path):
    with raises(FileNotFoundError, "embed_folder(a missing folder)"):
        ex.embed_folder(model, tmp_path / "nowhere", tmp_path / "faces.npy")
    with raises(NotADirectoryError, "embed_folder(a file instead of a folder)"):
        ex.embed_folder(model, images["face.png"], tmp_path / "faces.npy")


# -- person_embedding ------------------------------------------------------------------------------


def _frames(sample_face) -> dict[str, Image.Image]:
    """The made-up images as PIL frames, as a camera page would hand them over."""
    return _make_images(sample_face)


def _unit_rows(model, frames) -> torch.Tensor:
    """timm's transform and the model, frame by frame, each row scaled to length 1: [N, D]."""
    transform = data.eval_transform()
    with torch.inference_mode():
        rows = torch.cat([model(transform(frame)[None]) for frame in frames])
    return F.normalize(rows, dim=1)


@pytest.mark.function("person_embedding")
def test_person_embedding_of_one_frame_is_its_unit_embedding(ex, model, sample_face):
    got = ex.person_embedding(model, [sample_face])
    assert isinstance(got, torch.Tensor) and got.shape == (WIDTH,) and got.dtype == torch.float32, (
        f"person_embedding(model, [face]) must return a [{WIDTH}] float32 tensor; got "
        f"{type(got).__name__} {tuple(getattr(got, 'shape', ()))} {getattr(got, 'dtype', '')}"
    )
    torch.testing.assert_close(
        got,
        _unit_rows(model, [sample_face])[0],
        atol=ATOL,
        rtol=ATOL,
        msg="one frame: its embedding scaled to length 1",
    )


@pytest.mark.function("person_embedding")
def test_person_embedding_is_the_normalised_mean_of_unit_embeddings(ex, model, sample_face):
    frames = _frames(sample_face)
    chosen = [frames[n] for n in ("face.png", "mirror.png", "dark.jpg", "noise.png")]
    transform = data.eval_transform()
    with torch.inference_mode():
        raw = torch.cat([model(transform(frame)[None]) for frame in chosen])
    want = F.normalize(F.normalize(raw, dim=1).mean(dim=0), dim=0)
    # The mistakes this guards against give measurably different answers with these frames.
    unnormalised_mean = F.normalize(raw.mean(dim=0), dim=0)
    assert (unnormalised_mean - want).abs().max() > 10 * ATOL, "precondition: the rows' lengths differ"
    got = ex.person_embedding(model, chosen)
    assert float(torch.linalg.vector_norm(got)) == pytest.approx(1.0, abs=1e-5), (
        "person_embedding must return a unit vector: normalise the mean again"
    )
    assert (got - unnormalised_mean).abs().max() > 10 * ATOL, (
        "person_embedding averaged the raw embeddings: normalise each row first, so each frame "
        "has one vote whatever its length"
    )
    torch.testing.assert_close(
        got, want, atol=ATOL, rtol=ATOL, msg="l2_normalize(l2_normalize(embeddings).mean(dim=0))"
    )
    reordered = ex.person_embedding(model, tuple(reversed(chosen)))
    torch.testing.assert_close(
        reordered,
        got,
        atol=ATOL,
        rtol=ATOL,
        msg="a tuple of the same frames in another order: the same average",
    )


@pytest.mark.function("person_embedding")
def test_person_embedding_embeds_all_frames_in_one_batch(ex, model, sample_face):
    frames = list(_frames(sample_face).values())
    recording = Recording(model)
    ex.person_embedding(recording, frames)
    assert recording.batch_sizes == [len(frames)], (
        f"{len(frames)} frames took forward passes of {recording.batch_sizes}: stack them and call "
        f"compute_embedding once"
    )


@pytest.mark.function("person_embedding")
def test_person_embedding_scores_at_least_the_frames_average(ex, model, sample_face):
    # Why the app averages frames: against an enrolled embedding, the averaged frames score at
    # least the mean of the single frames' scores when that mean is at least 0 (the mean of
    # unit vectors is at most 1 long; dividing by its length lowers a negative mean), hence the
    # precondition; and one bad frame moves the average by a share, not all the way.
    frames = _frames(sample_face)
    enrolled = ex.person_embedding(model, [frames["face.png"]])
    visits = [frames[n] for n in ("mirror.png", "dark.jpg", "rotated.png", "wide.png")]
    singles = [_cos(row, enrolled) for row in _unit_rows(model, visits)]
    averaged = _cos(ex.person_embedding(model, visits), enrolled)
    assert sum(singles) / len(singles) > 0, "precondition: the visits look like the enrolled face"
    assert averaged >= sum(singles) / len(singles) - SCORE_ATOL, (
        f"averaged frames scored {averaged:.4f}, below the single frames' mean "
        f"{sum(singles) / len(singles):.4f} ({', '.join(f'{s:.4f}' for s in singles)})"
    )


@pytest.mark.function("person_embedding")
@pytest.mark.parametrize(
    "frames, error",
    [
        ("one image", TypeError),
        ("a generator", TypeError),
        ("a path", TypeError),
        ("none", ValueError),
    ],
    ids=["one image", "a generator", "a path in the list", "an empty list"],
)
def test_person_embedding_refuses_bad_frames(ex, model, sample_face, images, frames, error):
    given = {
        "one image": sample_face,
        "a generator": (f for f in [sample_face]),
        "a path": [sample_face, str(images["face.png"])],
        "none": [],
    }[frames]
    recording = Recording(model)
    with raises(error, f"person_embedding(model, {frames})"):
        ex.person_embedding(recording, given)
    assert recording.batch_sizes == [], "check the frames before any forward pass"
