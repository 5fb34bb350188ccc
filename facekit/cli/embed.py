"""``facekit embed DIR --out FILE``: every image under DIR into one file, in batches, with a
tqdm progress bar (ETA and rate on a terminal, quiet when piped)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from facekit.cli import appkit
from facekit.cli.context import Context, plural
from facekit.errors import CommandError, UsageError
from facekit.progressbar import progress_bar

if TYPE_CHECKING:
    import torch

# The model `facekit embed` runs in batches: in torch.channels_last (the command's choice; the
# student's build_model and embed_folder stay as they are). Measured with
# benchmarks/sweep_embed.py (reference solutions, stand-in weights, 48 images, torch 2.14.1,
# 2 shared CPU cores at 1-min load average 4.5 to 5.9, OMP_WAIT_POLICY=passive; every
# configuration took its turn in each round, the order rotating; naive per-image loop's time /
# embed_folder's in the same round, median of the rounds; "-": not in that sweep):
#
#     batch  loading threads  format          sweep 1    sweep 2    sweep 3
#                                             6 rounds   8 rounds   8 rounds
#       8          2          NCHW              1.50       1.80       1.27
#       8          2          channels_last     1.72       2.02       1.36
#       8          3          NCHW              1.71       1.78        -
#       8          3          channels_last      -         1.93        -
#       8          1          NCHW              1.51        -          -
#       4          2          NCHW              1.45        -          -
#      16          2          NCHW              1.39        -          -
#      16          2          channels_last      -         1.41        -
#
# The load moves every ratio between sweeps; within each, channels_last won (+0.22, +0.22,
# +0.09), so the command uses it. Batches of 8 and 2 loading threads (the exercise's
# DEFAULT_BATCH_SIZE and LOAD_THREADS) stay: a third thread tied, batches of 4 or 16 lost.
MEMORY_FORMAT = "channels_last"


def prepare_model(model: torch.nn.Module) -> torch.nn.Module:
    """The model as `facekit embed` runs it (benchmarks/bench_embed.py measures the same)."""
    import torch

    return model.to(memory_format=getattr(torch, MEMORY_FORMAT))


def check_args(args: argparse.Namespace) -> None:
    if args.batch_size is not None and args.batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1; got {args.batch_size}")


def run(ctx: Context, args: argparse.Namespace) -> int:
    suffixes = appkit.app_constants(ctx, "OUTPUT_SUFFIXES")["OUTPUT_SUFFIXES"]
    if Path(args.out).suffix.lower() not in suffixes:  # before torch: usage errors answer at once
        raise UsageError(f"--out must end in {' or '.join(suffixes)}; got {args.out!r}")
    folder = Path(args.folder)
    if not folder.is_dir():
        raise CommandError(f"{folder} is not a folder" if folder.exists() else f"no folder {folder}")
    ex = appkit.exercise(ctx)
    return appkit.app_errors(ex, lambda: _embed(ctx, ex, args, folder))


def _embed(ctx: Context, ex: ModuleType, args: argparse.Namespace, folder: Path) -> int:
    batch_size = ex.DEFAULT_BATCH_SIZE if args.batch_size is None else args.batch_size
    appkit.app_header(ctx, None)
    model = prepare_model(appkit.model(ctx))
    t = ctx.term
    started = time.perf_counter()
    # huggingface_hub's tqdm, like the download bar (facekit/progressbar.py).
    with progress_bar("embedding", unit="file", file=t.err, terminal=t.err_is_tty) as progress:
        summary = ex.embed_folder(model, folder, Path(args.out), batch_size=batch_size, progress=progress)
    seconds = time.perf_counter() - started
    where = f"names in {summary.names_file}" if summary.names_file else "names in its metadata"
    t.wrap(
        f"Embedded {plural(summary.count, 'image')} into {summary.out} ({summary.count} x "
        f"{summary.width} float32, {where}) in {seconds:.1f} s "
        f"({summary.count / max(seconds, 1e-9):.1f} images/s)."
    )
    if summary.skipped:
        what = "is not a readable image" if len(summary.skipped) == 1 else "are not readable images"
        t.line(f"Skipped {plural(len(summary.skipped), 'file')} that {what}:")
        for name, reason in summary.skipped:
            t.wrap(f"{name}: {reason}", first="  ", indent="    ")
    appkit.standin_note(ctx, "these embeddings mean nothing about faces.")
    return 0
