"""Exercise 06 sweep: which batch size, loading threads and memory format `facekit embed` uses.

    python benchmarks/sweep_embed.py [--images 48] [--rounds 6] [--configs 8:2:nchw,8:2:cl,...]

Each configuration is BATCH:LOAD_THREADS:FORMAT (FORMAT nchw, or cl: the model in
torch.channels_last, as `facekit embed` can build it). Every round embeds the same folder
once with the naive loop (load_image, preprocess, compute_embedding per file) and once with
embed_folder in each configuration, the order rotating between rounds, so a background load
that comes and goes hits all alike. Printed per configuration: the median over rounds of
naive time / embed_folder time in the same round, and the best images/s. Reference
solutions, stand-in weights, torch's own thread count.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_embed import make_images  # noqa: E402

from facekit import hub_switch, settings, trees  # noqa: E402

DEFAULT_CONFIGS = "8:2:nchw,8:2:cl,4:2:nchw,16:2:nchw,8:1:nchw,8:3:nchw"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--configs", default=DEFAULT_CONFIGS)
    args = parser.parse_args(argv)
    configs = []
    for item in args.configs.split(","):
        batch, threads, fmt = item.split(":")
        if fmt not in ("nchw", "cl"):
            parser.error(f"format must be nchw or cl; got {fmt!r} in {item!r}")
        configs.append((int(batch), int(threads), fmt))

    import torch

    with tempfile.TemporaryDirectory(prefix="facekit-sweep-embed-") as tmp, contextlib.ExitStack() as stack:
        tmp = Path(tmp)
        weights = settings.read_choice("solutions", "standin", standin_cache=tmp / "hub").weights
        hub_switch.build_standin(weights)
        stack.enter_context(hub_switch.pointed_at(weights))
        ex01 = trees.load_exercise("ex01_images", "solutions")
        ex02 = trees.load_exercise("ex02_embeddings", "solutions")
        ex06 = trees.load_exercise("ex06_app", "solutions")
        app = importlib.import_module(f"{ex06.__name__}.app")
        folder = tmp / "images"
        folder.mkdir()
        paths = make_images(folder, args.images)
        model = ex02.build_model()
        models = {"nchw": ex02.build_model(), "cl": ex02.build_model().to(memory_format=torch.channels_last)}
        out = tmp / "faces.npy"

        def naive():
            for p in paths:
                ex02.compute_embedding(model, ex01.preprocess(ex01.load_image(p)))

        def batched(config):
            batch, threads, fmt = config
            app.LOAD_THREADS = threads  # embed_images reads it at every call
            ex06.embed_folder(models[fmt], folder, out, batch_size=batch)

        sides = [None, *configs]
        naive()
        for config in configs:  # warm-up: file cache, kernel selection per shape
            batched(config)
        took = {side: [] for side in sides}
        loads = [os.getloadavg()[0]]
        for round_ in range(args.rounds):
            turn = round_ % len(sides)
            for side in sides[turn:] + sides[:turn]:
                start = time.perf_counter()
                naive() if side is None else batched(side)
                took[side].append(time.perf_counter() - start)
            loads.append(os.getloadavg()[0])
    n = len(paths)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; {n} images; {args.rounds} rounds; "
        f"1-min load average {min(loads):.1f} to {max(loads):.1f}"
    )
    print(f"naive loop: best {n / min(took[None]):.1f} images/s")
    print(f"{'batch':>5} {'threads':>7} {'format':>6}  {'x naive (median)':>16}  {'best images/s':>13}")
    for config in configs:
        ratios = [a / b for a, b in zip(took[None], took[config])]
        print(
            f"{config[0]:>5} {config[1]:>7} {config[2]:>6}  {statistics.median(ratios):>16.2f}  "
            f"{n / min(took[config]):>13.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
