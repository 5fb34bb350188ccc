"""Exercise 06 benchmark: embed_folder in batches against a naive loop, one image at a time.

    python benchmarks/bench_embed.py [--target solutions|exercises] [--weights standin|hub]
                                     [--images 96] [--batch-size 8] [--load-threads 2]
                                     [--rounds 5] [--threads N] [--nchw]

Both sides embed the same files in the same run, with the same model and the tree's own
functions: the naive loop calls load_image, preprocess and compute_embedding for each file
(a forward pass per image); embed_folder streams the folder through embed_images in batches
and writes an .npy file. The images are the kit's sample face (public domain) in 12 sizes
from 160 to 600 pixels and 8 variations (mirrored, rotated, darker, cropped), saved as JPEG
and PNG in a temporary folder, in subfolders of four batches. The two sides take turns on
every subfolder (naive then batched, then the other way round), and the ratio reported is the
median of these paired runs, so a background load that comes and goes slows both alike.
Target: batched throughput >= 1.6 x the naive loop's.

A third side takes its turn on every subfolder too: the bare network, ``model(x)`` under
torch.inference_mode on random tensors of the same batch size (as many images as the
subfolder holds, no files, no preprocessing): the network's own limit, which embed_folder
can approach but not pass. embed_folder's model and the bare network run as `facekit embed`
runs its model (facekit/cli/embed.py: prepare_model, torch.channels_last); ``--nchw`` keeps
the default contiguous format instead, to measure that choice. The naive loop's model is
always as build_model returns it.

On a busy machine (1-min load average above the core count) OpenMP's worker threads, which
spin while they wait (its default policy), make back-to-back forward passes crawl: at load 5
on 2 cores, model(x) on a batch of 8 took 0.65 to 1.1 s when called again and again but 0.16
to 0.23 s inside embed_folder (which loads files between passes) or on 1 thread, and 0.23 to
0.33 s with OMP_WAIT_POLICY=passive. The naive loop and the bare side then read several
times slower than embed_folder, whose ratio to them says more about the load than the code
(11.4 x at load 7; the bare network "slower" than the whole pipeline). The benchmark prints
the load and says so; run it with OMP_WAIT_POLICY=passive on a busy machine. The defaults'
sweep (batch size, loading threads, memory format) is recorded in facekit/cli/embed.py and
reproduced by benchmarks/sweep_embed.py; an earlier sweep at load 2.1 to 2.3 without
OMP_WAIT_POLICY had channels_last 0.03 ahead, batches of 16 and 1 loading thread behind.
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

from facekit import data, hub_switch, settings, trees  # noqa: E402
from facekit.cli import embed as embed_command  # noqa: E402

TARGET = 1.6
SIZES = (160, 200, 224, 256, 300, 320, 360, 400, 448, 480, 512, 600)


def make_images(folder: Path, count: int) -> list[Path]:
    """``count`` variations of the sample face, of several sizes, as JPEG and PNG files."""
    from PIL import Image, ImageOps

    face = data.sample_face()
    variations = [
        lambda im: im,
        lambda im: ImageOps.mirror(im),
        lambda im: im.rotate(8, resample=Image.Resampling.BICUBIC),
        lambda im: im.rotate(-8, resample=Image.Resampling.BICUBIC),
        lambda im: im.point(lambda v: v * 3 // 4),
        lambda im: ImageOps.autocontrast(im),
        lambda im: im.crop((10, 10, 190, 190)),
        lambda im: ImageOps.grayscale(im).convert("RGB"),
    ]
    paths = []
    for i in range(count):
        size = SIZES[i % len(SIZES)]
        image = variations[i % len(variations)](face).resize((size, size * 5 // 4), Image.Resampling.BICUBIC)
        path = folder / (f"face_{i:04d}.jpg" if i % 4 else f"face_{i:04d}.png")
        image.save(path, quality=90) if path.suffix == ".jpg" else image.save(path)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=("solutions", "exercises"), default="solutions")
    parser.add_argument("--weights", choices=settings.WEIGHTS, default="standin")
    parser.add_argument("--images", type=int, default=96, help="how many image files (default 96)")
    parser.add_argument("--batch-size", type=int, default=None, help="default: DEFAULT_BATCH_SIZE")
    parser.add_argument("--rounds", type=int, default=5, help="timed runs of each side (default 5)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument(
        "--load-threads",
        type=int,
        default=None,
        help="embed_images' loading threads (default: the exercise's LOAD_THREADS)",
    )
    parser.add_argument(
        "--nchw",
        action="store_true",
        help="embed_folder's model and the bare network in the default contiguous format "
        "(default: as `facekit embed` runs it, facekit/cli/embed.py's MEMORY_FORMAT)",
    )
    args = parser.parse_args(argv)

    import numpy as np
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="facekit-bench-embed-") as tmp, contextlib.ExitStack() as stack:
        tmp = Path(tmp)
        weights = settings.read_choice(args.target, args.weights, standin_cache=tmp / "hub").weights
        hub_switch.build_standin(weights)
        stack.enter_context(hub_switch.pointed_at(weights))
        ex01 = trees.load_exercise("ex01_images", args.target)
        ex02 = trees.load_exercise("ex02_embeddings", args.target)
        ex06 = trees.load_exercise("ex06_app", args.target)
        batch_size = args.batch_size or ex06.DEFAULT_BATCH_SIZE
        if args.load_threads:  # app.py reads its LOAD_THREADS at every call
            importlib.import_module(f"{ex06.__name__}.app").LOAD_THREADS = args.load_threads
        load_threads = importlib.import_module(f"{ex06.__name__}.app").LOAD_THREADS
        folder = tmp / "images"
        folder.mkdir()
        paths = make_images(folder, args.images)
        model = ex02.build_model()
        batch_model = ex02.build_model()  # embed_folder's, and the bare network's
        memory_format = torch.contiguous_format if args.nchw else getattr(torch, embed_command.MEMORY_FORMAT)
        batch_model = batch_model if args.nchw else embed_command.prepare_model(batch_model)
        # Folders of four batches each: the two sides alternate on every folder, so a background
        # load that comes and goes (a shared machine) hits both alike.
        folders, group = [], 4 * batch_size
        for start in range(0, len(paths), group):
            folder = tmp / f"group{len(folders):03d}"
            folder.mkdir()
            for path in paths[start : start + group]:
                path.rename(folder / path.name)
            folders.append(sorted(folder.iterdir()))
        print(f"Exercise 06 benchmark: target {args.target}; weights: {weights.describe()}")
        print(
            f"torch {torch.__version__}, {torch.get_num_threads()} threads; {len(paths)} images "
            f"({min(SIZES)} to {max(SIZES)} px, JPEG and PNG) in {len(folders)} folders; "
            f"batch size {batch_size}, {load_threads} loading threads, "
            f"{'contiguous (NCHW)' if args.nchw else embed_command.MEMORY_FORMAT}; {args.rounds} rounds; "
            f"1-min load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs, "
            f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}\n"
        )
        if os.getloadavg()[0] > (os.cpu_count() or 1) and "OMP_WAIT_POLICY" not in os.environ:
            print(
                "The machine is busy: OpenMP's spinning threads then slow back-to-back forward passes "
                "(the naive loop, the bare network) far more than embed_folder's, which load files "
                "in between; the ratios below overstate. Rerun with OMP_WAIT_POLICY=passive.\n"
            )

        def naive(files) -> np.ndarray:
            rows = [ex02.compute_embedding(model, ex01.preprocess(ex01.load_image(p)))[0] for p in files]
            return torch.stack(rows).numpy()

        out = tmp / "faces.npy"

        def batched(files) -> np.ndarray:
            ex06.embed_folder(batch_model, files[0].parent, out, batch_size=batch_size)
            return np.load(out)

        noise = torch.randn(batch_size, 3, 224, 224).contiguous(memory_format=memory_format)

        def bare(files) -> None:
            with torch.inference_mode():
                for start in range(0, len(files), batch_size):
                    batch_model(noise[: len(files) - start])

        # Warm-up (file cache, kernel selection) and a check that both give the same rows.
        difference = max(np.abs(naive(files) - batched(files)).max() for files in folders)
        bare(folders[0])
        naive_s, batched_s, bare_s = [0.0] * args.rounds, [0.0] * args.rounds, [0.0] * args.rounds
        pairs, limits = [], []
        for round_ in range(args.rounds):
            for number, files in enumerate(folders):
                # Which side goes first rotates, so none always runs on a warmer cache.
                order = ((naive, naive_s), (batched, batched_s), (bare, bare_s))
                turn = (round_ + number) % 3
                order = order[turn:] + order[:turn]
                took = {}
                for side, totals in order:
                    start = time.perf_counter()
                    side(files)
                    took[side] = time.perf_counter() - start
                    totals[round_] += took[side]
                pairs.append(took[naive] / took[batched])
                limits.append(took[bare] / took[batched])

    n = len(paths)
    naive_m, batched_m, bare_m = (statistics.median(s) for s in (naive_s, batched_s, bare_s))
    ratio = statistics.median(pairs)
    print(f"{'':22}{'median s':>9}  {'images/s':>9}  every round (s)")
    print(
        f"{'naive, one at a time':22}{naive_m:>9.2f}  {n / naive_m:>9.1f}  "
        + " ".join(f"{s:.2f}" for s in naive_s)
    )
    print(
        f"{'embed_folder, batches':22}{batched_m:>9.2f}  {n / batched_m:>9.1f}  "
        + " ".join(f"{s:.2f}" for s in batched_s)
    )
    print(f"{'bare model(x)':22}{bare_m:>9.2f}  {n / bare_m:>9.1f}  " + " ".join(f"{s:.2f}" for s in bare_s))
    print(
        f"\nbatched / naive throughput: {ratio:.2f} x, the median of {len(pairs)} paired runs "
        f"(quartiles {_quartiles(pairs)}; target >= {TARGET})"
    )
    print(f"ratio of the fastest rounds: {min(naive_s) / min(batched_s):.2f} x")
    print(
        f"embed_folder / bare network throughput: {statistics.median(limits):.2f}, the median of "
        f"{len(limits)} paired runs (quartiles {_quartiles(limits)}): the share of the network's "
        f"own speed at batch size {batch_size} that the whole pipeline keeps"
    )
    print(f"largest difference between the two sides' embeddings: {difference:.2e}")
    print(f"1-min load average at the end: {os.getloadavg()[0]:.1f}")
    ok = ratio >= TARGET and difference < 1e-3
    print("target met" if ok else "TARGET MISSED")
    return 0 if ok else 1


def _quartiles(values) -> str:
    if len(values) < 4:
        return "too few runs"
    q1, _, q3 = statistics.quantiles(values, n=4)
    return f"{q1:.2f} to {q3:.2f}"


if __name__ == "__main__":
    raise SystemExit(main())
