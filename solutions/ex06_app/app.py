"""Exercise 06, reference solution: a face login app built from Exercises 01 to 05."""

from __future__ import annotations

import itertools
import json
import numbers
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file

# The same tree's exercises (exercises/ with exercises/, solutions/ with solutions/), so the
# app runs on whichever code is selected: yours, from load_image to top_k.
from ..ex01_images import load_image, preprocess
from ..ex02_embeddings import compute_embedding
from ..ex03_similarity import cosine_similarity, is_match, l2_normalize
from ..ex04_storage import EmbeddingStore, JsonFileStore, SqliteStore
from ..ex05_retrieval import top_k

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
    # 1. The batch size: a whole number, at least 1.
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral):
        raise TypeError(f"batch_size must be an int; got {type(batch_size).__name__}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1; got {batch_size}")
    iterator = iter(paths)
    # One pool of loading threads for the whole run; `with` stops them when the loop ends (or
    # when the caller drops the generator halfway).
    with ThreadPoolExecutor(max_workers=LOAD_THREADS) as pool:
        while True:
            # 2. The next batch_size paths, no more: islice takes them from the iterator lazily.
            chunk = [Path(p) for p in itertools.islice(iterator, batch_size)]
            if not chunk:
                return
            # 3. Load and preprocess the chunk's files in the threads; map keeps their order.
            #    A file that is not a readable image is listed, not fatal.
            kept, tensors, skipped = [], [], []
            for path, (tensor, error) in zip(chunk, pool.map(_load, chunk)):
                if error is None:
                    kept.append(path)
                    tensors.append(tensor)
                else:
                    skipped.append((path, error))
            # 4. One forward pass for the whole batch: [B, 3, 224, 224] -> [B, D].
            embeddings = compute_embedding(model, torch.stack(tensors)) if tensors else None
            yield Batch(paths=kept, embeddings=embeddings, skipped=skipped)


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
    # 1. A list (or tuple) of PIL images, at least one: one image alone is a mistake.
    if isinstance(frames, Image.Image):
        raise TypeError("frames must be a list of PIL images; got one image: wrap it in a list")
    if not isinstance(frames, (list, tuple)):
        raise TypeError(f"frames must be a list of PIL images; got {type(frames).__name__}")
    if not frames:
        raise ValueError("frames must hold at least one image; got none")
    for number, frame in enumerate(frames):
        if not isinstance(frame, Image.Image):
            raise TypeError(f"frames[{number}] must be a PIL image; got {type(frame).__name__}")
    # 2. One batch, one forward pass: [N, 3, 224, 224] -> [N, D].
    embeddings = compute_embedding(model, torch.stack([preprocess(frame) for frame in frames]))
    # 3. Each frame counts the same: unit rows first, so a frame the model happens to give a
    #    long vector does not outvote the others. Then the mean of the directions, [D].
    mean = l2_normalize(embeddings.to(torch.float32)).mean(dim=0)
    # 4. The mean of unit vectors is shorter than 1 (the more they disagree, the shorter):
    #    scale it back to length 1, like every embedding the store compares.
    return l2_normalize(mean)


# -- Task 3: the store and registering ----------------------------------------------------------


def open_store(path: str | os.PathLike) -> EmbeddingStore:
    """Open the embedding store in ``path``: a JsonFileStore or a SqliteStore by its suffix.

    ``.json`` opens a JsonFileStore; ``.sqlite``, ``.sqlite3`` and ``.db`` open a
    SqliteStore (Exercise 04); the suffix is compared in lower case. A missing file is a
    new, empty store. Raises TypeError when ``path`` is not a str or os.PathLike and
    ValueError for any other suffix (naming the ones accepted).
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or a pathlib.Path; got {type(path).__name__}")
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in JSON_SUFFIXES:
        return JsonFileStore(path)
    if suffix in SQLITE_SUFFIXES:
        return SqliteStore(path)
    accepted = ", ".join(JSON_SUFFIXES + SQLITE_SUFFIXES)
    raise ValueError(f"a store's file name must end in one of {accepted}; got {path.name!r}")


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
    # 1. Check what came in before any slow work.
    _check_name(name)
    if isinstance(images, (str, bytes, os.PathLike, Image.Image)):
        one = images if isinstance(images, Image.Image) else repr(os.fsdecode(images))
        raise TypeError(
            f"images must be a list of image paths or PIL images; got one: {one}: wrap it in a list"
        )
    items = list(images)
    if not items:
        raise ValueError(f"register {name!r} with at least one image; got none")
    # 2. Read every file; collect the unreadable ones instead of stopping at the first.
    frames, skipped = [], []
    for item in items:
        if isinstance(item, Image.Image):
            frames.append(item)
            continue
        try:
            frames.append(load_image(item))
        except (ValueError, OSError) as error:  # not an image, truncated; missing, a folder
            skipped.append((item, str(error)))
    if skipped:
        # load_image's messages name the file already; name it when one does not.
        listed = "; ".join(
            reason if os.fsdecode(path) in reason else f"{os.fsdecode(path)}: {reason}"
            for path, reason in skipped
        )
        raise ValueError(
            f"nothing was registered for {name!r}: {len(skipped)} of {len(items)} "
            f"images cannot be read ({listed})"
        )
    # 3. Every image is fine: ONE record, the person's average embedding.
    return store.add(name, person_embedding(model, frames))


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
    # 1. Check the arguments before any slow work.
    _check_name(name)
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
        raise TypeError(f"threshold must be a number in [-1, 1]; got {type(threshold).__name__}")
    if not -1.0 <= threshold <= 1.0:  # NaN fails this too
        raise ValueError(f"threshold must be a cosine similarity in [-1, 1]; got {threshold}")
    # 2. The person's enrolled embeddings; nobody by that name is an error, not a "no".
    enrolled = store.find(name)
    if not enrolled:
        names = sorted({record.name for record in store.all()})
        known = ", ".join(repr(n) for n in names) if names else "nobody yet"
        raise UnknownPersonError(f"nobody named {name!r} is registered (registered: {known})")
    # 3. One embedding for the presented images, as register makes them: one image alone is
    #    a list of one (a str is iterable: list("a.jpg") would be five "paths").
    if isinstance(images, (str, os.PathLike, Image.Image)):
        images = [images]
    frames = [image if isinstance(image, Image.Image) else load_image(image) for image in images]
    query = person_embedding(model, frames)
    # 4. Compared with all enrolled records at once: [M]; the best decides.
    scores = cosine_similarity(query, torch.stack([record.embedding for record in enrolled]))
    best = float(scores.max())
    return LoginResult(name=name, accepted=is_match(best, threshold), score=best, threshold=float(threshold))


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
    # 1. k, before any slow work.
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"k must be an int (how many people); got {type(k).__name__}")
    if k < 1:
        raise ValueError(f"k must be at least 1; got {k}")
    # 2. Rank every record: a person may own many, and k people may need more than k records.
    query = _embed_one(model, image_path)
    ranked = top_k(query, store, max(len(store), 1))
    # 3. The best record of each person, in rank order, until there are k people.
    people: dict[str, float] = {}
    for record, score in ranked:
        if record.name not in people:
            people[record.name] = score
            if len(people) == k:
                break
    return list(people.items())


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
    # 1. Check the output format first: failing after an hour of embedding would be cruel.
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise ValueError(f"out must end in {' or '.join(OUTPUT_SUFFIXES)}; got {out.name!r}")
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"no folder {folder} to embed")
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder} is a file; expected a folder of images")
    # 2. Every file under the folder, sorted, hidden ones left out. Paths are small: a list
    #    of a million is fine; the images are what must not pile up.
    files = [
        path
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    ]
    if not files:
        raise ValueError(f"{folder} holds no files to embed")
    # 3. Stream: one batch of images in memory at a time; keep only rows and names.
    names, rows, skipped, done = [], [], [], 0
    for batch in embed_images(model, files, batch_size):
        names += [path.relative_to(folder).as_posix() for path in batch.paths]
        skipped += [(path.relative_to(folder).as_posix(), reason) for path, reason in batch.skipped]
        if batch.embeddings is not None:
            rows.append(batch.embeddings.to(torch.float32).cpu())
        done += len(batch.paths) + len(batch.skipped)
        if progress is not None:
            progress(done, len(files))
    if not rows:
        first, reason = skipped[0]
        raise ValueError(
            f"none of the {len(files)} files under {folder} is a readable image "
            f"(e.g. {first}: {reason}); nothing was written"
        )
    embeddings = torch.cat(rows)
    # 4. Write, by the suffix: names travel with the numbers, row i is name i.
    out.parent.mkdir(parents=True, exist_ok=True)
    names_file = None
    if suffix == ".safetensors":
        save_file(
            {EMBEDDINGS_KEY: embeddings.contiguous()},
            out,
            metadata={FORMAT_KEY: OUTPUT_FORMAT, NAMES_KEY: json.dumps(names)},
        )
    else:
        # An open file: given a path, np.save appends .npy to faces.NPY (faces.NPY.npy).
        with open(out, "wb") as file:
            np.save(file, embeddings.numpy(), allow_pickle=False)
        names_file = out.with_suffix(NAMES_SUFFIX)
        names_file.write_text(json.dumps(names, ensure_ascii=False) + "\n", encoding="utf-8")
    return EmbedSummary(
        out=out, names_file=names_file, count=len(names), width=embeddings.shape[1], skipped=skipped
    )


# -- helpers ------------------------------------------------------------------------------------


def _load(path: Path) -> tuple[torch.Tensor | None, str | None]:
    """(tensor, None) for a readable image, (None, why) for a file that is not one."""
    try:
        return preprocess(load_image(path)), None
    except (ValueError, OSError) as error:
        return None, str(error)


def _check_name(name: str) -> None:
    if not isinstance(name, str):
        raise TypeError(f"name must be a str; got {type(name).__name__}")
    if not name.strip():
        raise ValueError(f"name must not be empty; got {name!r}")


def _embed_one(model: torch.nn.Module, image_path: str | os.PathLike) -> torch.Tensor:
    """One image file -> its embedding [D]; load_image's errors (unreadable, missing) go up."""
    return compute_embedding(model, preprocess(load_image(image_path)))[0]
