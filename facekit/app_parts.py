"""What Exercise 06's tests give the app in place of Exercises 01 to 05: the kit's own parts.

The app imports ``load_image`` ... ``top_k`` from the same tree's Exercises 01 to 05. Its tests
import it with these parts in their place (``load_app``), so they test Exercise 06 alone: a
syntax error in Exercise 02, an import that crashes in Exercise 05 or a bug in ``is_match``
costs those exercises, not the app's tests, and the app's feedback names no mistake of code it
does not hold. ``facekit app`` and ``facekit embed`` still run the student's own exercises.

Each part is a thin use of a library (timm's transform, torch's norms and sorting), with the
behaviour the app relies on: the same results and the same kinds of errors. None is a model
answer to an exercise: they skip most of the checks and messages those exercises teach.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from facekit import course, settings

if TYPE_CHECKING:  # torch and Pillow are imported by the parts that use them
    import torch
    from PIL.Image import Image

    from exercises.ex04_storage.api import EmbeddingStore, Record

APP = "ex06_app"
# The exercises the app is built from, and what it takes from each.
PARTS = {
    "ex01_images": ("load_image", "preprocess"),
    "ex02_embeddings": ("compute_embedding",),
    "ex03_similarity": ("cosine_similarity", "is_match", "l2_normalize"),
    "ex04_storage": ("EmbeddingStore", "Record", "StoreFormatError", "JsonFileStore", "SqliteStore"),
    "ex05_retrieval": ("top_k",),
}


# -- Exercise 01 ----------------------------------------------------------------------------------


def load_image(path: str | os.PathLike[str]) -> Image:
    """The file as an RGB PIL image; ValueError for a file Pillow cannot read, OSError (from
    open) for a missing file or a folder, as Exercise 01's load_image."""
    from PIL import Image, ImageOps

    with open(path, "rb") as file:
        try:
            with Image.open(file) as image:
                image.load()
                return ImageOps.exif_transpose(image).convert("RGB")
        except (Image.UnidentifiedImageError, OSError, SyntaxError) as error:
            raise ValueError(f"{path} is not an image file Pillow can read ({error})") from error


def preprocess(image: Image) -> torch.Tensor:
    """timm's own eval transform (facekit.data.eval_transform): [3, 224, 224] float32."""
    from PIL import Image

    from facekit import data

    if not isinstance(image, Image.Image):
        raise TypeError(f"image must be a PIL.Image.Image; got {type(image).__name__}")
    if image.width == 0 or image.height == 0:
        raise ValueError(f"image must have pixels; got size {image.width}x{image.height}")
    return data.eval_transform()(image.convert("RGB"))


# -- Exercise 02 ----------------------------------------------------------------------------------


def compute_embedding(model: torch.nn.Module, image: torch.Tensor) -> torch.Tensor:
    """``model`` on [3, H, W] or [N, 3, H, W], without autograd: [N, D]."""
    import torch

    if not isinstance(image, torch.Tensor) or image.ndim not in (3, 4) or image.shape[-3] != 3:
        raise ValueError(
            f"image must be a [3, H, W] or [N, 3, H, W] tensor; got {getattr(image, 'shape', image)!r}"
        )
    batch = image[None] if image.ndim == 3 else image
    weight = next(model.parameters(), None)
    if weight is not None:
        batch = batch.to(device=weight.device, dtype=weight.dtype)
    with torch.inference_mode():
        return model(batch)


# -- Exercise 03 ----------------------------------------------------------------------------------


def l2_normalize(x: torch.Tensor) -> torch.Tensor:
    import torch

    norms = torch.linalg.vector_norm(x, dim=-1, keepdim=True)
    if bool((norms < 1e-12).any()):
        raise ValueError("cannot normalise a zero vector")
    return x / norms


def cosine_similarity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """[D] or [N, D] against [D] or [M, D]: [N, M], a vector dimension dropped for each side given as [D]."""
    import torch

    a2, b2 = (l2_normalize(t if t.ndim == 2 else t[None]) for t in (a, b))
    dtype = torch.promote_types(a2.dtype, b2.dtype)
    scores = a2.to(dtype) @ b2.to(dtype).T
    if b.ndim == 1:
        scores = scores[:, 0]
    if a.ndim == 1:
        scores = scores[0]
    return scores


def is_match(score: float | torch.Tensor, threshold: float) -> bool:
    """``score >= threshold``; TypeError for a threshold that is not a number, ValueError for one
    outside [-1, 1] (NaN too), as Exercise 03's is_match."""
    import numbers

    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
        raise TypeError(f"threshold must be a number; got {type(threshold).__name__}")
    limit = float(threshold)
    if not -1.0 <= limit <= 1.0:
        raise ValueError(f"threshold must be a cosine similarity in [-1, 1]; got {threshold}")
    return float(score) >= limit


# -- Exercise 04: the shared API (its own file, not a stub) and two stores ---------------------


def _file_store(api: ModuleType, kind: str) -> type:
    from facekit.testing import MemoryStore

    class FileStore(MemoryStore):
        """MemoryStore, kept in a JSON file after every change (one writer at a time is enough here)."""

        def __init__(self, path: str | os.PathLike[str]) -> None:
            super().__init__(api.Record)
            self.path = Path(path)
            if self.path.exists():
                from datetime import datetime

                import torch

                for entry in json.loads(self.path.read_text(encoding="utf-8")):
                    self._records.append(
                        api.Record(
                            id=entry["id"],
                            name=entry["name"],
                            embedding=torch.tensor(entry["embedding"]),
                            created_at=datetime.fromisoformat(entry["created_at"]),
                        )
                    )

        def _save(self) -> None:
            self.path.write_text(
                json.dumps(
                    [
                        {
                            "id": r.id,
                            "name": r.name,
                            "embedding": r.embedding.tolist(),
                            "created_at": r.created_at.isoformat(),
                        }
                        for r in self._records
                    ]
                )
            )

        def add(self, name: str, embedding: torch.Tensor) -> str:
            record_id = super().add(name, embedding)
            self._save()
            return record_id

        def remove(self, record_id: str) -> None:
            super().remove(record_id)
            self._save()

    FileStore.__name__ = FileStore.__qualname__ = kind
    return FileStore


# -- Exercise 05 ----------------------------------------------------------------------------------


def top_k(query: torch.Tensor, store: EmbeddingStore, k: int) -> list[tuple[Record, float]]:
    """The ``k`` records nearest to ``query``, best first: [(record, score)]. Like Exercise 05's,
    it refuses ``k`` < 1 before it reads the store, empty or not."""
    import torch

    if k < 1:
        raise ValueError(f"k must be at least 1; got {k}")
    records = store.all()
    if not records:
        return []
    scores = cosine_similarity(query, torch.stack([r.embedding for r in records]))
    order = sorted(range(len(records)), key=lambda i: -float(scores[i]))
    return [(records[i], float(scores[i])) for i in order[:k]]


# -- putting the app together ---------------------------------------------------------------------


def _api(target: str) -> ModuleType:
    """The tree's ex04_storage/api.py (shared code, not a stub), imported on its own: not through
    the package, whose __init__ imports the student's stores."""
    exercise = course.load().get("ex04_storage")
    path = course.repo_root() / Path(exercise.source(target)).parent / "api.py"
    name = f"{exercise.module(target)}.api"
    if name in sys.modules:  # the package imported it already: the very same Record
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{path} cannot be imported as a module")
    module = importlib.util.module_from_spec(spec)
    # Kept under its own name (dataclasses look it up there); the package, imported later, uses it.
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def parts(target: str | None = None) -> dict[str, ModuleType]:
    """One module per exercise the app imports from, holding the kit's parts."""
    target = settings.resolve_target(target)
    api = _api(target)
    made = {}
    for exercise_id, names in PARTS.items():
        module = ModuleType(
            f"{target}.{exercise_id}", f"The kit's parts in place of {exercise_id} (facekit.app_parts)"
        )
        for name in names:
            if exercise_id == "ex04_storage":
                value = getattr(api, name, None) or _file_store(api, name)
            else:
                value = globals()[name]
            setattr(module, name, value)
        module.__path__ = []  # a package, as the exercise is
        made[exercise_id] = module
    return made


@contextlib.contextmanager
def _in_place(modules: dict[str, ModuleType]) -> Iterator[None]:
    saved = {name: sys.modules.get(name) for name in modules}
    sys.modules.update(modules)
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def load_app(target: str | None = None) -> tuple[ModuleType, dict[str, ModuleType]]:
    """(Exercise 06's module of the tree, the parts it was given): imported afresh with the kit's
    parts in place of Exercises 01 to 05, which are left as they were for everything else."""
    target = settings.resolve_target(target)
    root = str(course.repo_root())
    if root not in sys.path:
        sys.path.insert(0, root)
    importlib.import_module(target)  # the tree's package itself
    given = parts(target)
    app = course.load().get(APP).module(target)
    for name in [n for n in sys.modules if n == app or n.startswith(app + ".")]:
        del sys.modules[name]
    with _in_place({m.__name__: m for m in given.values()}):
        try:
            module = importlib.import_module(app)
        finally:
            # Not left in sys.modules: a later import of the app (facekit app) gets the real exercises.
            for name in [n for n in sys.modules if n == app or n.startswith(app + ".")]:
                del sys.modules[name]
    return module, given
