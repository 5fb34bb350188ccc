"""Exercise 06: a face login app built from your Exercises 01 to 05.

Read README.md in this folder first, then replace each `raise NotImplementedError(...)`
with your code, task by task: embed_images, person_embedding (register and login use
it), open_store and register, login, identify, embed_folder. Check your work
with `pytest tests/test_ex06_app.py` from the kit's root; then try the app itself:
`facekit app --help` and `facekit embed --help`.

Batch, LoginResult, EmbedSummary and UnknownPersonError are given: use them as they are.
"""

from __future__ import annotations

import itertools  # noqa: F401  (you will need these)
import json  # noqa: F401
import numbers  # noqa: F401
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor  # noqa: F401
from dataclasses import dataclass
from pathlib import Path

import numpy as np  # noqa: F401
import torch
from PIL import Image
from safetensors.torch import save_file  # noqa: F401

# Your own Exercises 01 to 05 (the reference solutions when KIT_TARGET=solutions): the app is
# built from them, from load_image to top_k.
from ..ex01_images import load_image, preprocess  # noqa: F401
from ..ex02_embeddings import compute_embedding  # noqa: F401
from ..ex03_similarity import cosine_similarity, is_match, l2_normalize  # noqa: F401
from ..ex04_storage import EmbeddingStore, JsonFileStore, SqliteStore  # noqa: F401
from ..ex05_retrieval import top_k  # noqa: F401

# Images per forward pass: 8 did best on the 2 CPU cores this kit was written on
# (benchmarks/bench_ex02.py prints images per second for each batch size). One batch of
# decoded images (8 x 3 x 224 x 224 float32, 4.8 MB) is held at a time.
DEFAULT_BATCH_SIZE = 8
# Files loaded at the same time, in threads: Pillow and torch let go of Python's GIL while
# they decode, resize and convert, so the threads' work overlaps. On 2 shared CPU cores,
# batches of 8 with 2 loading threads beat batches of 4 or 16 and 1 loading thread; a third
# thread tied (the sweep's table is in facekit/cli/embed.py; benchmarks/sweep_embed.py).
LOAD_THREADS = 2
# Illustrative, like Exercise 03's THRESHOLDS["balanced"]: NOT calibrated for any model.
DEFAULT_THRESHOLD = 0.5
DEFAULT_K = 3
# Which store a path opens, by its suffix (compared in lower case).
JSON_SUFFIXES = (".json",)
SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")
# embed_folder's output formats, by the suffix of ``out``.
OUTPUT_SUFFIXES = (".safetensors", ".npy")
# In a .safetensors output: the tensor's name, and the metadata keys (metadata values are strings).
EMBEDDINGS_KEY = "embeddings"
NAMES_KEY = "names"
FORMAT_KEY = "format"
OUTPUT_FORMAT = "facekit-embeddings"
# Next to a .npy output, the names as a JSON list: faces.npy -> faces.names.json.
NAMES_SUFFIX = ".names.json"


class UnknownPersonError(LookupError):
    """login() was asked about a name that has no embedding in the store."""


@dataclass(frozen=True)
class Batch:
    """One batch of embed_images(): the files it embedded, their embeddings, and the files it skipped.

    ``paths[i]`` is the file of row ``embeddings[i]`` (``[len(paths), D]`` float32).
    ``embeddings`` is None when no file of the batch could be read. ``skipped`` holds
    ``(path, reason)`` for each file that is not a readable image, ``reason`` being the
    error's message.
    """

    paths: list[Path]
    embeddings: torch.Tensor | None
    skipped: list[tuple[Path, str]]


@dataclass(frozen=True)
class LoginResult:
    """login()'s answer: ``accepted`` is ``score >= threshold``.

    ``score`` is the best cosine similarity between the presented images' embedding and
    the person's enrolled records (a Python float in [-1, 1]).
    """

    name: str
    accepted: bool
    score: float
    threshold: float


@dataclass(frozen=True)
class EmbedSummary:
    """What embed_folder() wrote.

    ``out``: the embeddings file; ``names_file``: the .npy output's list of names (None
    for .safetensors, which keeps the names inside); ``count`` rows of ``width`` values;
    ``skipped``: ``(name, reason)`` for each file that was not a readable image, ``name``
    relative to the folder as in the output.
    """

    out: Path
    names_file: Path | None
    count: int
    width: int
    skipped: list[tuple[str, str]]


# -- Task 1: embeddings in batches ---------------------------------------------------------------


def embed_images(
    model: torch.nn.Module, paths: Iterable[str | os.PathLike], batch_size: int = DEFAULT_BATCH_SIZE
) -> Iterator[Batch]:
    """Embed image files ``batch_size`` at a time; yield one Batch per ``batch_size`` paths.

    ``paths`` may be any iterable, a generator included: it is consumed lazily, one
    batch of paths at a time, so at most ``batch_size`` decoded images are held however
    many paths there are. Each file goes through load_image and preprocess (Exercise 01),
    in ``LOAD_THREADS`` threads; each batch is one ``compute_embedding`` call (Exercise 02).
    Row ``i`` equals what that file alone would give. A file load_image cannot read
    (ValueError: not an image, truncated; OSError: missing, no permission) is skipped and
    listed in the batch's ``skipped``, not raised. Raises TypeError when ``batch_size`` is
    not an int and ValueError when it is < 1 (when iteration starts: this is a generator).
    """
    # TODO 1. batch_size: a bool or not an int (numbers.Integral) -> TypeError; < 1 -> ValueError.
    #         (This is a generator: these checks run when the caller starts iterating.)
    # TODO 2. iterator = iter(paths), once. Open `with ThreadPoolExecutor(max_workers=
    #         LOAD_THREADS) as pool:` and loop inside it: chunk = the next batch_size paths,
    #         [Path(p) for p in itertools.islice(iterator, batch_size)]. An empty chunk: return.
    # TODO 3. Write a helper that loads one file: preprocess(load_image(path)) (Exercise 01)
    #         -> (tensor, None); a ValueError or OSError means "not a readable image"
    #         -> (None, str(error)). pool.map(helper, chunk) runs it in the threads and gives
    #         the results in the chunk's order: keep the paths and tensors of the good ones,
    #         and (path, error) of the others in a skipped list.
    # TODO 4. embeddings = compute_embedding(model, torch.stack(tensors)) (Exercise 02), one
    #         forward pass for the batch, or None when no tensor was kept.
    #         yield Batch(paths=kept, embeddings=embeddings, skipped=skipped)
    raise NotImplementedError(
        "Exercise 06: embed_images() is not implemented yet. Open exercises/ex06_app/app.py "
        "and follow its TODO steps (instructions: exercises/ex06_app/README.md)."
    )


# -- Task 2: several frames of one person, one embedding ----------------------------------------


def person_embedding(model: torch.nn.Module, frames: Sequence[Image.Image]) -> torch.Tensor:
    """One embedding for one person from several frames of a camera: a unit-length ``[D]`` float32.

    ``frames`` are RGB PIL images of the same person (a list or a tuple, at least one).
    All frames go through preprocess (Exercise 01) and ONE compute_embedding call
    (Exercise 02) as one batch; each row is scaled to length 1 with l2_normalize
    (Exercise 03), the rows are averaged, and the average is normalised again. One frame
    gives that frame's normalised embedding. register() stores this embedding as one
    record; login() compares the same average of new images with the person's records.
    Raises TypeError when ``frames`` is a single image or not a list or tuple, or holds
    something that is not a PIL image, and ValueError when it is empty (preprocess's
    errors, e.g. a frame not in mode RGB, go up as they are).
    """
    # TODO 1. frames: one PIL image (isinstance(frames, Image.Image)) -> TypeError saying to
    #         wrap it in a list; not a list or tuple -> TypeError; empty -> ValueError; any
    #         item that is not a PIL image -> TypeError naming its position.
    # TODO 2. One batch: torch.stack([preprocess(frame) for frame in frames]) is
    #         [N, 3, 224, 224]; ONE compute_embedding(model, batch) gives [N, D].
    # TODO 3. l2_normalize(embeddings) (Exercise 03) so each frame counts the same, then
    #         .mean(dim=0): the average direction, [D].
    # TODO 4. Return l2_normalize(mean): an average of unit vectors is shorter than 1.
    raise NotImplementedError(
        "Exercise 06: person_embedding() is not implemented yet. Open exercises/ex06_app/app.py "
        "and follow its TODO steps (instructions: exercises/ex06_app/README.md)."
    )


# -- Task 3: the store and registering ----------------------------------------------------------


def open_store(path: str | os.PathLike) -> EmbeddingStore:
    """Open the embedding store in ``path``: a JsonFileStore or a SqliteStore by its suffix.

    ``.json`` opens a JsonFileStore; ``.sqlite``, ``.sqlite3`` and ``.db`` open a
    SqliteStore (Exercise 04); the suffix is compared in lower case. A missing file is a
    new, empty store. Raises TypeError when ``path`` is not a str or os.PathLike and
    ValueError for any other suffix (naming the ones accepted).
    """
    # TODO 1. path not a str or os.PathLike -> TypeError; then path = Path(path).
    # TODO 2. suffix = path.suffix.lower(): in JSON_SUFFIXES -> JsonFileStore(path); in
    #         SQLITE_SUFFIXES -> SqliteStore(path) (both from Exercise 04, imported above).
    # TODO 3. Any other suffix -> ValueError naming the file and every accepted suffix.
    raise NotImplementedError(
        "Exercise 06: open_store() is not implemented yet. Open exercises/ex06_app/app.py "
        "and follow its TODO steps (instructions: exercises/ex06_app/README.md)."
    )


def register(
    store: EmbeddingStore,
    model: torch.nn.Module,
    name: str,
    images: Iterable[str | os.PathLike | Image.Image],
) -> str:
    """Enrol ``name`` from one or more images: add ONE record, their person_embedding; return its id.

    ``images`` is a list (or any iterable) of image files, read with load_image
    (Exercise 01), or PIL images (a camera's frames), taken as they are. The record is
    ``person_embedding(model, images)`` (Task 2): the images' unit embeddings averaged
    and normalised again. All or nothing: every file is read first, and only when all of
    them could be read is the record added, so a bad file leaves the store as it was. A
    name may be registered again: each registration adds one more record. Unlike login,
    one path or image alone is refused: register writes a record that stays, so it takes
    only a plain list (a lone str would be iterated one character at a time); login
    writes nothing, so it takes one image alone as a list of one.
    Raises TypeError when ``name`` is not a str or ``images`` is a single path or image
    instead of a list, and ValueError for an empty name, no images, or files that cannot
    be read (naming each file and why).
    """
    # TODO 1. name: not a str -> TypeError; empty or only spaces -> ValueError.
    #         images a single str, bytes, os.PathLike or PIL image -> TypeError ("wrap it in a
    #         list"). items = list(images); no items -> ValueError.
    # TODO 2. For each item: a PIL image (isinstance(item, Image.Image)) is a frame as it is;
    #         anything else goes through load_image(item). Collect (item, str(error)) for each
    #         ValueError or OSError instead of stopping at the first.
    # TODO 3. Any unreadable file -> ValueError naming every one and why, before adding anything.
    # TODO 4. ONE record: return store.add(name, person_embedding(model, frames)), its id.
    #         (person_embedding is Task 2, above: write it first.)
    raise NotImplementedError(
        "Exercise 06: register() is not implemented yet. Open exercises/ex06_app/app.py "
        "and follow its TODO steps (instructions: exercises/ex06_app/README.md)."
    )


# -- Task 4: login -----------------------------------------------------------------------------


def login(
    store: EmbeddingStore,
    model: torch.nn.Module,
    name: str,
    images: str | os.PathLike | Image.Image | Iterable[str | os.PathLike | Image.Image],
    threshold: float = DEFAULT_THRESHOLD,
) -> LoginResult:
    """Is the person in ``images`` the registered ``name``? Accept when the best score reaches ``threshold``.

    ``images``: one image file or PIL image, or a list of them (a camera's frames); files
    are read with load_image. Unlike register, one image alone is accepted: login writes
    nothing, so taking it as a list of one cannot store anything wrong. Their person_embedding (one image: its unit embedding) is
    compared (cosine similarity, Exercise 03) with every record enrolled under ``name``;
    the best score decides, with ``is_match(score, threshold)``. Raises
    UnknownPersonError (a LookupError) naming the registered names when ``name`` has no
    embedding in the store, TypeError for a name that is not a str or a threshold that is
    not a number, ValueError for an empty name, a threshold outside [-1, 1], no images,
    or an image that cannot be read (FileNotFoundError when missing).
    """
    # TODO 1. name as in register. threshold: a bool or not a number (numbers.Real) ->
    #         TypeError; not -1.0 <= threshold <= 1.0 (NaN included) -> ValueError.
    # TODO 2. enrolled = store.find(name). Empty ([]) -> raise UnknownPersonError naming `name` and
    #         the names that are registered (sorted({r.name for r in store.all()})).
    # TODO 3. images: one str, os.PathLike or PIL image -> [images]. frames: each PIL image as
    #         it is, each path through load_image (its errors go up as they are).
    #         query = person_embedding(model, frames), a [D], exactly as register made the records.
    # TODO 4. scores = cosine_similarity(query, torch.stack([r.embedding for r in enrolled])),
    #         an [M]: one score per enrolled record (Exercise 03). best = float(scores.max());
    #         return LoginResult(name=name, accepted=is_match(best, threshold), score=best,
    #         threshold=float(threshold)).
    raise NotImplementedError(
        "Exercise 06: login() is not implemented yet. Open exercises/ex06_app/app.py "
        "and follow its TODO steps (instructions: exercises/ex06_app/README.md)."
    )


# -- Task 5: identify --------------------------------------------------------------------------


def identify(
    store: EmbeddingStore, model: torch.nn.Module, image_path: str | os.PathLike, k: int = DEFAULT_K
) -> list[tuple[str, float]]:
    """Who is in ``image_path``? The ``k`` registered people most similar to it, best first.

    Returns up to ``k`` pairs ``(name, score)``, one per person: a person's score is
    the best cosine similarity among their enrolled embeddings (top_k, Exercise 05,
    ranks every record; the first, best record of each name counts). Fewer people than
    ``k`` gives all of them; an empty store gives []. Raises TypeError when ``k`` is not
    an int, ValueError when ``k`` < 1 or the image cannot be read (FileNotFoundError
    when missing).
    """
    # TODO 1. k: a bool or not an int -> TypeError; k < 1 -> ValueError.
    # TODO 2. query: the image's embedding [D], query = compute_embedding(model,
    #         preprocess(load_image(image_path)))[0] (Exercises 01 and 02; load_image's
    #         errors go up). ranked = top_k(query, store, max(len(store), 1)) (Exercise 05):
    #         every record, best first.
    # TODO 3. Walk `ranked`; the first time a name appears, keep (name, score). Stop at k
    #         names. Return the list (an empty store gives []).
    raise NotImplementedError(
        "Exercise 06: identify() is not implemented yet. Open exercises/ex06_app/app.py "
        "and follow its TODO steps (instructions: exercises/ex06_app/README.md)."
    )


# -- Task 6: a whole folder into one file --------------------------------------------------------


def embed_folder(
    model: torch.nn.Module,
    folder: str | os.PathLike,
    out: str | os.PathLike,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[int, int], None] | None = None,
) -> EmbedSummary:
    """Embed every image under ``folder`` (recursively) into one file; return an EmbedSummary.

    Files are taken in sorted order; names starting with "." (files or folders) are left
    out. Each file's name is its path relative to ``folder`` with "/" separators
    (``alice/1.jpg``). Images stream through embed_images in batches of ``batch_size``,
    so memory holds one batch of images whatever the folder's size; files that are not
    readable images are skipped and listed in the summary. ``progress(done, total)`` is
    called after each batch with the number of files handled so far and in all.

    ``out`` ending in ``.safetensors``: one tensor ``"embeddings"`` ``[N, D]`` float32, the
    metadata holding ``"format": "facekit-embeddings"`` and ``"names"``: the N names as a
    JSON list. ``out`` ending in ``.npy``: the ``[N, D]`` float32 array (np.save), and the
    names as a JSON list next to it in ``<out without .npy>.names.json``. Row ``i`` is
    name ``i``. Missing parent folders of ``out`` are created.

    Raises ValueError for another suffix of ``out`` (before reading anything), a folder
    without files, or files none of which is a readable image (nothing is written then);
    FileNotFoundError when ``folder`` does not exist and NotADirectoryError when it is a file.
    """
    # TODO 1. out = Path(out); its suffix (lower case) not in OUTPUT_SUFFIXES -> ValueError,
    #         before anything else. folder = Path(folder): missing -> FileNotFoundError; a file
    #         -> NotADirectoryError.
    # TODO 2. files = every path of sorted(folder.rglob("*")) that is a file and whose parts
    #         relative to the folder (path.relative_to(folder).parts) do not start with ".".
    #         No files -> ValueError naming the folder.
    # TODO 3. for batch in embed_images(model, files, batch_size): add the names
    #         (path.relative_to(folder).as_posix()) of batch.paths, the (name, reason) pairs of
    #         batch.skipped, and batch.embeddings (when not None) to three lists; count the
    #         files done (kept + skipped) and call progress(done, len(files)) if it is given.
    # TODO 4. No embeddings at all -> ValueError naming a skipped file; write nothing.
    #         embeddings = torch.cat(rows). Create out's folder (out.parent.mkdir(parents=True,
    #         exist_ok=True)).
    # TODO 5. ".safetensors": save_file({EMBEDDINGS_KEY: embeddings.contiguous()}, out,
    #         metadata={FORMAT_KEY: OUTPUT_FORMAT, NAMES_KEY: json.dumps(names)}).
    #         ".npy" (any case): `with open(out, "wb") as file: np.save(file, array,
    #         allow_pickle=False)` with array = embeddings.numpy() (given a path, np.save
    #         would write faces.NPY as faces.NPY.npy), and the names as a JSON list in
    #         names_file = out.with_suffix(NAMES_SUFFIX).
    # TODO 6. Return EmbedSummary(out=out, names_file=names_file (None for .safetensors),
    #         count=len(names), width=embeddings.shape[1], skipped=skipped).
    raise NotImplementedError(
        "Exercise 06: embed_folder() is not implemented yet. Open exercises/ex06_app/app.py "
        "and follow its TODO steps (instructions: exercises/ex06_app/README.md)."
    )
