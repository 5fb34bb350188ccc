"""Register, log in, identify, list and remove people from camera frames, on the selected tree.

Register and login ARE the tree's Exercise 06 ``register`` and ``login`` (your code, or the
reference with ``--target solutions``), given the frames as PIL images: one record per
registration, ``person_embedding`` of the frames, and a login that compares the same average
of new frames with the person's records. Identify embeds the frames with its
``person_embedding`` and ranks with its Exercise 05 ``top_k``. The store is its Exercise 04
store, opened afresh for every request so that a register from another process
(``facekit app register``) is seen at once.

Thread safety: the web server answers requests in threads. Every forward pass runs on one
model thread, one at a time: memory stays bounded, and the memory a pass frees is reused by
the next. (With a lock instead, each request thread's pass kept its own memory: four parallel
requests of 20 Full HD frames grew the peak RSS by 224 MB, against 155 MB on one thread;
tests/kit/test_camera.py measures it.) A lock
serialises this process's writes, so two tabs registering at once both land whatever the
store. Between processes, the store's own locking is what counts: SQLite's transactions, or
the JSON store's FileLock with a re-read.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from facekit import trees
from facekit.camera.inputs import InputError, check_name

if TYPE_CHECKING:  # torch and Pillow are imported by the tree's modules, when a request needs them
    import torch
    from PIL.Image import Image

    from exercises.ex04_storage.api import EmbeddingStore, Record

_Result = TypeVar("_Result")


@dataclass(frozen=True)
class Answer:
    """login's answer from frames: ``accepted`` is ``score >= threshold``."""

    name: str
    accepted: bool
    score: float
    threshold: float


class FaceService:
    def __init__(
        self, target: str, model: torch.nn.Module, store_path: Path, threshold: float | None = None
    ) -> None:
        self.ex = trees.load_exercise("ex06_app", target)
        self.retrieval = trees.load_exercise("ex05_retrieval", target)
        images = trees.load_exercise("ex01_images", target)
        # The shorter side preprocess resizes a frame to (256 for 224 and 0.875).
        self.resize_to = math.floor(images.INPUT_SIZE / images.CROP_PCT)
        self.model = model
        self.store_path = Path(store_path)
        self.threshold = self.ex.DEFAULT_THRESHOLD if threshold is None else float(threshold)
        self._model_thread = ThreadPoolExecutor(1, thread_name_prefix="facekit-model")
        self._write_lock = threading.Lock()

    def store(self) -> EmbeddingStore:
        return self.ex.open_store(self.store_path)

    def shrink(self, frame: Image) -> Image:
        """A decoded frame at the size preprocess resizes it to, so that a request holds
        20 small frames instead of 20 camera-sized ones (a 1920x1080 frame is 6 MB decoded,
        455x256 is 0.3 MB). The same step as preprocess's own first step (bicubic, the shorter
        side to ``resize_to``, rounding down), so preprocess then leaves the size alone and the
        embedding is the one of the whole frame. Smaller frames are left as they are."""
        width, height = frame.size
        if min(width, height) <= self.resize_to:
            return frame
        from PIL import Image

        scale = self.resize_to
        size = (
            (scale, int(scale * height / width)) if width <= height else (int(scale * width / height), scale)
        )
        return frame.resize(size, Image.Resampling.BICUBIC)

    def on_model_thread(self, work: Callable[[], _Result]) -> _Result:
        """``work()``, run on the model thread after the work queued before it; its result or error."""
        return self._model_thread.submit(work).result()

    def embed(self, frames: Iterable[Image]) -> torch.Tensor:
        """The tree's person_embedding of the frames: one unit-length [D]."""
        return self.on_model_thread(lambda: self.ex.person_embedding(self.model, list(frames)))

    def register(self, name: str, frames: Iterable[Image]) -> tuple[str, int, int]:
        """The tree's register: one record, the frames' average. (id, records of name, people in all)."""
        check_name(name)

        def work() -> tuple[
            str, list[Record]
        ]:  # the store is opened on the thread that uses it (SQLite wants that)
            store = self.store()
            return self.ex.register(store, self.model, name, list(frames)), store.all()

        with self._write_lock:
            record_id, records = self.on_model_thread(work)
        return record_id, sum(r.name == name for r in records), len({r.name for r in records})

    def login(self, name: str, frames: Iterable[Image]) -> Answer:
        """The tree's login: the frames' average against name's records; the best score decides.

        The threshold is this service's (the config file's or the command line's): a login
        whose caller sets the bar is not a login.
        """
        check_name(name)
        threshold = self.threshold
        if not self.store_path.exists():  # reading must not create an empty store
            raise self.ex.UnknownPersonError(
                f"nobody named {name!r} is registered (registered: nobody yet, in {self.store_path})"
            )
        result = self.on_model_thread(
            lambda: self.ex.login(self.store(), self.model, name, list(frames), threshold=threshold)
        )
        # Plain Python values for the page's JSON, whatever the student's code returned.
        return Answer(result.name, bool(result.accepted), float(result.score), float(result.threshold))

    def identify(self, frames: Iterable[Image], k: int = 3) -> list[tuple[str, float]]:
        """The ``k`` registered people most like the frames, best first, one entry per person."""
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise InputError(f"k must be a whole number of people, at least 1; got {k!r}")
        if not self.store_path.exists():
            return []
        store = self.store()
        if len(store) == 0:
            return []
        ranked = self.retrieval.top_k(self.embed(frames), store, len(store))
        people: dict[str, float] = {}
        for record, score in ranked:
            people.setdefault(record.name, float(score))
            if len(people) == k:
                break
        return list(people.items())

    def people(self) -> list[tuple[str, int]]:
        """Every registered name with its number of records, sorted by name."""
        if not self.store_path.exists():
            return []
        counts: dict[str, int] = {}
        for record in self.store().all():
            counts[record.name] = counts.get(record.name, 0) + 1
        return sorted(counts.items())

    def remove(self, name: str) -> int:
        """Remove every record of ``name``; return how many. Nobody by that name: UnknownPersonError."""
        check_name(name)
        with self._write_lock:
            store = self.store() if self.store_path.exists() else None
            records = store.find(name) if store is not None else []
            if store is None or not records:
                raise self.ex.UnknownPersonError(f"nobody named {name!r} is registered")
            for record in records:
                store.remove(record.id)
        return len(records)
