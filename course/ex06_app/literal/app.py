"""Exercise 06 written only from the stub's TODO steps and the hints, word for word.

The stub's docstring follows.

Exercise 06: a face login app built from your Exercises 01 to 05.

Read README.md in this folder first, then replace each `raise NotImplementedError(...)`
with your code, task by task: embed_images, open_store and register, login, identify,
embed_folder, person_embedding. Check your work with `pytest tests/test_ex06_app.py` from the kit's root;
then try the app itself: `facekit app --help` and `facekit embed --help`.

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
# they decode, resize and convert, so the threads' work overlaps. benchmarks/bench_embed.py
# prints embed_folder's throughput against a one-image-at-a-time loop's (--load-threads N).
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

    ``score`` is the best cosine similarity between the presented image and the person's
    enrolled embeddings (a Python float in [-1, 1]).
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


def embed_images(
    model: torch.nn.Module, paths: Iterable[str | os.PathLike], batch_size: int = DEFAULT_BATCH_SIZE
) -> Iterator[Batch]:
    # TODO 1
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral):
        raise TypeError(f"batch_size must be an int; got {type(batch_size).__name__}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1; got {batch_size}")
    # TODO 2
    iterator = iter(paths)
    with ThreadPoolExecutor(max_workers=LOAD_THREADS) as pool:
        while True:
            chunk = [Path(p) for p in itertools.islice(iterator, batch_size)]
            if not chunk:
                return
            # TODO 3
            kept, tensors, skipped = [], [], []
            for path, (tensor, error) in zip(chunk, pool.map(_load_one, chunk)):
                if tensor is None:
                    skipped.append((path, error))
                else:
                    kept.append(path)
                    tensors.append(tensor)
            # TODO 4
            embeddings = compute_embedding(model, torch.stack(tensors)) if tensors else None
            yield Batch(paths=kept, embeddings=embeddings, skipped=skipped)


def _load_one(path):
    # TODO 3 (the helper)
    try:
        return preprocess(load_image(path)), None
    except (ValueError, OSError) as error:
        return None, str(error)


def open_store(path: str | os.PathLike) -> EmbeddingStore:
    # TODO 1
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike; got {type(path).__name__}")
    path = Path(path)
    # TODO 2
    suffix = path.suffix.lower()
    if suffix in JSON_SUFFIXES:
        return JsonFileStore(path)
    if suffix in SQLITE_SUFFIXES:
        return SqliteStore(path)
    # TODO 3
    raise ValueError(
        f"{path.name}: the store's suffix must be one of {', '.join(JSON_SUFFIXES + SQLITE_SUFFIXES)}"
    )


def _check_name(name):
    if not isinstance(name, str):
        raise TypeError(f"name must be a str; got {type(name).__name__}")
    if name.strip() == "":
        raise ValueError(f"name must not be empty; got {name!r}")


def register(
    store: EmbeddingStore,
    model: torch.nn.Module,
    name: str,
    images: Iterable[str | os.PathLike | Image.Image],
) -> str:
    # TODO 1
    _check_name(name)
    if isinstance(images, (str, bytes, os.PathLike, Image.Image)):
        raise TypeError(f"images must be a list; got one item, {images!r}: wrap it in a list")
    items = list(images)
    if not items:
        raise ValueError("no images given")
    # TODO 2
    frames, unreadable = [], []
    for item in items:
        if isinstance(item, Image.Image):
            frames.append(item)
            continue
        try:
            frames.append(load_image(item))
        except (ValueError, OSError) as error:
            unreadable.append((item, str(error)))
    # TODO 3
    if unreadable:
        raise ValueError("cannot read " + "; ".join(f"{item}: {why}" for item, why in unreadable))
    # TODO 4
    return store.add(name, person_embedding(model, frames))


def login(
    store: EmbeddingStore,
    model: torch.nn.Module,
    name: str,
    images: str | os.PathLike | Image.Image | Iterable[str | os.PathLike | Image.Image],
    threshold: float = DEFAULT_THRESHOLD,
) -> LoginResult:
    # TODO 1
    _check_name(name)
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
        raise TypeError(f"threshold must be a number; got {type(threshold).__name__}")
    if not -1.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [-1, 1]; got {threshold}")
    # TODO 2
    enrolled = store.find(name)
    if enrolled == []:
        raise UnknownPersonError(
            f"{name!r} is not registered; registered: {sorted({r.name for r in store.all()})}"
        )
    # TODO 3
    if isinstance(images, (str, os.PathLike, Image.Image)):
        images = [images]
    frames = [item if isinstance(item, Image.Image) else load_image(item) for item in images]
    query = person_embedding(model, frames)
    # TODO 4
    scores = cosine_similarity(query, torch.stack([r.embedding for r in enrolled]))
    best = float(scores.max())
    return LoginResult(name=name, accepted=is_match(best, threshold), score=best, threshold=float(threshold))


def identify(
    store: EmbeddingStore, model: torch.nn.Module, image_path: str | os.PathLike, k: int = DEFAULT_K
) -> list[tuple[str, float]]:
    # TODO 1
    if isinstance(k, bool) or not isinstance(k, int):
        raise TypeError(f"k must be an int; got {type(k).__name__}")
    if k < 1:
        raise ValueError(f"k must be at least 1; got {k}")
    # TODO 2
    query = compute_embedding(model, preprocess(load_image(image_path)))[0]
    ranked = top_k(query, store, max(len(store), 1))
    # TODO 3 (hint: a dict until it holds k names)
    people = {}
    for record, score in ranked:
        if len(people) == k:
            break
        if record.name not in people:
            people[record.name] = score
    return list(people.items())


def embed_folder(
    model: torch.nn.Module,
    folder: str | os.PathLike,
    out: str | os.PathLike,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[int, int], None] | None = None,
) -> EmbedSummary:
    # TODO 1
    out = Path(out)
    if out.suffix.lower() not in OUTPUT_SUFFIXES:
        raise ValueError(f"{out}: the output's suffix must be one of {', '.join(OUTPUT_SUFFIXES)}")
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"no folder {folder}")
    if folder.is_file():
        raise NotADirectoryError(f"{folder} is a file, not a folder")
    # TODO 2
    files = [
        p
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    ]
    if not files:
        raise ValueError(f"no files in {folder}")
    # TODO 3
    names, skipped, rows, done = [], [], [], 0
    for batch in embed_images(model, files, batch_size):
        names += [path.relative_to(folder).as_posix() for path in batch.paths]
        skipped += [(path.relative_to(folder).as_posix(), reason) for path, reason in batch.skipped]
        if batch.embeddings is not None:
            rows.append(batch.embeddings)
        done += len(batch.paths) + len(batch.skipped)
        if progress is not None:
            progress(done, len(files))
    # TODO 4
    if not rows:
        raise ValueError(
            f"none of the files in {folder} is a readable image, e.g. {skipped[0][0]}: {skipped[0][1]}"
        )
    embeddings = torch.cat(rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    # TODO 5
    names_file = None
    if out.suffix.lower() == ".safetensors":
        save_file(
            {EMBEDDINGS_KEY: embeddings.contiguous()},
            out,
            metadata={FORMAT_KEY: OUTPUT_FORMAT, NAMES_KEY: json.dumps(names)},
        )
    else:
        array = embeddings.numpy()
        with open(out, "wb") as file:
            np.save(file, array, allow_pickle=False)
        names_file = out.with_suffix(NAMES_SUFFIX)
        names_file.write_text(json.dumps(names))
    # TODO 6
    return EmbedSummary(
        out=out, names_file=names_file, count=len(names), width=embeddings.shape[1], skipped=skipped
    )


def person_embedding(model: torch.nn.Module, frames: Sequence[Image.Image]) -> torch.Tensor:
    # TODO 1
    if isinstance(frames, Image.Image):
        raise TypeError("frames must be a list of images; got one image: wrap it in a list")
    if not isinstance(frames, (list, tuple)):
        raise TypeError(f"frames must be a list or tuple; got {type(frames).__name__}")
    if not frames:
        raise ValueError("frames is empty")
    for i, frame in enumerate(frames):
        if not isinstance(frame, Image.Image):
            raise TypeError(f"frames[{i}] is not a PIL image; got {type(frame).__name__}")
    # TODO 2
    batch = torch.stack([preprocess(frame) for frame in frames])
    embeddings = compute_embedding(model, batch)
    # TODO 3
    mean = l2_normalize(embeddings).mean(dim=0)
    # TODO 4
    return l2_normalize(mean)
