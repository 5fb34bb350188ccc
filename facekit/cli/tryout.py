"""``facekit try [EXERCISE]``: run your functions on the sample face and print what comes out.

A few lines without Jupyter; the notebooks go further. Exercises 01 to 03: shapes, norms, a
similarity. Exercise 04: both stores' round trip in a temporary folder. Exercise 05: a top-k
on a small gallery (the sample face, its mirror image, a darker copy, noise). Exercise 06:
register and log in with the sample face, then identify it. Embeddings come from the kit's own
model (as the tests build it), so each exercise is tried on its own code. A stub answers in
one line naming the function to write.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from facekit import trees
from facekit.cli import runs
from facekit.cli.context import Context, header
from facekit.errors import CommandError, UsageError


@dataclass(frozen=True)
class Demo:
    run: Callable[[Any, Any, str], None]  # (the exercise's module, the terminal, the tree)
    weights: bool  # whether what it prints depends on the weights (then the stand-in note)


# Exercise id -> its demo, filled by @demo beside each demo's code: no list to keep in step
# with the manifest. An exercise without one (a new one, say) is told to use its notebook.
DEMOS: dict[str, Demo] = {}


def demo(exercise_id: str, weights: bool = True) -> Callable[[Callable[..., None]], Callable[..., None]]:
    def register(run: Callable[..., None]) -> Callable[..., None]:
        DEMOS[exercise_id] = Demo(run, weights)
        return run

    return register


def _stats(x) -> str:
    return (
        f"{list(x.shape)} {str(x.dtype).removeprefix('torch.')}, "
        f"mean {x.float().mean().item():+.3f}, std {x.float().std().item():.3f}"
    )


def _harness_model():
    """ConvNeXt-Atto built by the kit (not by your build_model), as the tests build it."""
    import timm
    from safetensors.torch import load_file

    from facekit import hub, standin

    state = load_file(hub.download(standin.MODEL_ID, standin.FILENAME))
    model = timm.create_model("convnext_atto", pretrained=False, num_classes=0)
    model.load_state_dict({k: v for k, v in state.items() if not k.startswith("head.fc.")})
    return model.eval()


def _faces():
    """The sample face and its mirror image, through timm's own eval transform: [2, 3, 224, 224]."""
    import torch
    from PIL import Image

    from facekit import data

    face = data.sample_face()
    transform = data.eval_transform()
    return torch.stack([transform(face), transform(face.transpose(Image.Transpose.FLIP_LEFT_RIGHT))])


@demo("ex01_images", weights=False)
def _ex01(ex, t, target: str) -> None:
    from facekit import data

    image = ex.load_image(data.SAMPLE_FACE)
    t.line(
        f"load_image({data.SAMPLE_FACE.name}): {type(image).__name__} mode {image.mode}, "
        f"{image.width}x{image.height}"
    )
    t.line(f"preprocess(image): {_stats(ex.preprocess(image))}")


@demo("ex02_embeddings")
def _ex02(ex, t, target: str) -> None:
    import torch

    model = ex.build_model()
    t.line(
        f"build_model(): {type(model).__name__}, {sum(p.numel() for p in model.parameters()):,} "
        f"parameters, eval mode: {not model.training}"
    )
    faces = _faces()
    one = ex.compute_embedding(model, faces[0])
    t.line(
        f"compute_embedding(model, face [3, 224, 224]): {list(one.shape)}, "
        f"norm {torch.linalg.vector_norm(one).item():.3f}"
    )
    both = ex.compute_embedding(model, faces)
    cos = torch.nn.functional.cosine_similarity(both[0], both[1], dim=0).item()
    t.line(
        f"compute_embedding(model, [face, mirrored face]): {list(both.shape)}; "
        f"their cosine similarity {cos:.4f}"
    )


@demo("ex03_similarity")
def _ex03(ex, t, target: str) -> None:
    import torch

    with torch.inference_mode():
        both = _harness_model()(_faces())
    unit = ex.l2_normalize(both)
    norms = ", ".join(f"{n:.4f}" for n in torch.linalg.vector_norm(unit, dim=-1).tolist())
    t.line(f"l2_normalize(embeddings [2, {both.shape[1]}]): row norms {norms}")
    scores = ex.cosine_similarity(both, both)
    t.line(
        f"cosine_similarity(embeddings, embeddings): {list(scores.shape)}, "
        f"face vs mirrored face {scores[0, 1].item():.4f}"
    )
    t.line(f"is_match(that score, threshold=0.5): {ex.is_match(scores[0, 1], 0.5)}")


@demo("ex04_storage", weights=False)
def _ex04(ex, t, target: str) -> None:
    import tempfile

    import torch

    rows = torch.randn(2, 320, generator=torch.Generator().manual_seed(0))
    with tempfile.TemporaryDirectory() as folder:
        for store_class, name in ((ex.JsonFileStore, "faces.json"), (ex.SqliteStore, "faces.db")):
            path = Path(folder) / name
            store = store_class(path)
            ids = [store.add("ada", rows[0]), store.add("bob", rows[1])]
            again = store_class(path)  # reopened: what is on disk
            exact = all(
                torch.equal(again.get(i).embedding.view(torch.int32), row.view(torch.int32))
                for i, row in zip(ids, rows)
            )
            t.line(
                f"{store_class.__name__}({name}): add ada, bob; reopened: "
                f"{[r.name for r in again.all()]}, bit for bit: {exact}"
            )
            again.remove(ids[0])
            t.line(f"  remove(ada's id); reopened: {[r.name for r in store_class(path).all()]}")


def _gallery_images():
    """{name: PIL image}: the sample face, its mirror image, a darker copy and seeded noise."""
    import numpy as np
    from PIL import Image

    from facekit import data

    face = data.sample_face()
    noise = np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8)
    return {
        "face": face,
        "mirror": face.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        "darker": face.point(lambda v: v // 2),
        "noise": Image.fromarray(noise),
    }


class _ListStore:
    """Records in a list: enough of Exercise 04's EmbeddingStore for top_k."""

    def __init__(self, records):
        self.records = list(records)

    def all(self):
        return list(self.records)

    def __len__(self):
        return len(self.records)


@demo("ex05_retrieval")
def _ex05(ex, t, target: str) -> None:
    from datetime import datetime, timezone

    import torch

    from facekit import data

    images = _gallery_images()
    transform = data.eval_transform()
    with torch.inference_mode():
        rows = _harness_model()(torch.stack([transform(image) for image in images.values()]))
    record = trees.load_exercise("ex04_storage", target).Record  # given in api.py
    now = datetime.now(timezone.utc)
    store = _ListStore(
        record(f"id-{n}", name, row.clone(), now) for n, (name, row) in enumerate(zip(images, rows))
    )
    ranked = ex.top_k(rows[0], store, 3)
    t.line(f"a gallery of {len(store)}: {', '.join(images)}")
    t.line(
        "top_k(the face's embedding, gallery, k=3): "
        + ", ".join(f"{r.name} {score:.4f}" for r, score in ranked)
    )


@demo("ex06_app")
def _ex06(ex, t, target: str) -> None:
    import tempfile

    images = _gallery_images()
    model = _harness_model()
    with tempfile.TemporaryDirectory() as folder:
        face = Path(folder) / "face.png"
        images["face"].save(face)
        store = ex.open_store(Path(folder) / "faces.json")
        ex.register(store, model, "sample", [face])
        ex.register(store, model, "noise", [images["noise"]])
        t.line(f"register 'sample' from face.png, 'noise' from noise: {len(store)} records")
        result = ex.login(store, model, "sample", face)
        t.line(
            f"login(store, model, 'sample', face.png): accepted {result.accepted}, "
            f"score {result.score:.4f}, threshold {result.threshold}"
        )
        mirror = ex.login(store, model, "sample", [images["mirror"]])
        t.line(f"login with its mirror image: accepted {mirror.accepted}, score {mirror.score:.4f}")
        people = ", ".join(f"{name} {score:.4f}" for name, score in ex.identify(store, model, face, k=2))
        t.line(f"identify(store, model, face.png, k=2): {people}")


def _stub_origin(err: BaseException, tree: Path) -> tuple[str, Path] | None:
    """(qualified function, file) of the stub in ``tree`` that raised ``err``."""
    found, tb = None, err.__traceback__
    while tb is not None:
        path = Path(tb.tb_frame.f_code.co_filename).resolve()
        if path.is_relative_to(tree):
            code = tb.tb_frame.f_code
            found = (getattr(code, "co_qualname", code.co_name), path)
        tb = tb.tb_next
    return found


def run(ctx: Context, args: argparse.Namespace) -> int:
    exercise = ctx.exercise(args.exercise) if args.exercise else runs.current(ctx)
    if exercise is None or exercise.id not in DEMOS:
        which = f"{exercise.id}: " if exercise else ""
        tried = [e.id for e in ctx.course.exercises if e.id in DEMOS]
        raise UsageError(
            f"{which}facekit try runs {', '.join(tried)} on the sample face; the other "
            f"exercises have a notebook (notebooks/) and `facekit check`"
        )
    from facekit import hub_switch

    t = ctx.term
    header(ctx, title=False)
    t.status("loading torch and the weights ...")
    hub_switch.activate_weights(ctx.weights)
    ex = trees.load_exercise(exercise.id, ctx.target)
    try:
        DEMOS[exercise.id].run(ex, t, ctx.target)
    except NotImplementedError as err:
        origin = _stub_origin(err, (ctx.root / ctx.target).resolve())
        if origin is None:
            raise
        function, path = origin
        home = next(
            (e for e in ctx.course.exercises if (ctx.root / e.source(ctx.target)).resolve() == path), exercise
        )
        name = home.function_for(function) or function
        raise CommandError(
            f"{function}() is not implemented yet ({ctx.rel(path)}): follow its TODO "
            f"steps, or `facekit hint {home.id} {name}`"
        ) from None
    if ctx.weights == "standin" and DEMOS[exercise.id].weights:
        t.line()
        t.wrap(
            t.style(
                "Stand-in weights (seeded random, NOT pretrained): shapes and norms are "
                "real, the similarities mean nothing about faces.",
                "yellow",
            )
        )
    return 0
