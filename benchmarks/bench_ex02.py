"""Exercise 02 benchmark: compute_embedding's overhead and build_model's start-up time.

    python benchmarks/bench_ex02.py [--target solutions|exercises] [--weights standin|hub]

Everything is measured in this one run, on the same weights (stand-in by default), and
printed as ratios against a baseline measured alongside it:
- compute_embedding throughput at batch 1 and 8 / raw ``model(x)`` under inference_mode
  (target >= 0.97: the checks and reshaping must cost next to nothing);
- build_model() seconds from a warm cache, after imports (target <= 0.3 s).
Timings are interleaved (raw, ours, raw, ours, ...) and summarised by the median, so a
background load slows both sides alike.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from facekit import data, hub_switch, settings, trees  # noqa: E402

THROUGHPUT_TARGET = 0.97
BUILD_TARGET_S = 0.3


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def interleaved(baseline, candidate, rounds: int) -> tuple[float, float]:
    """Median seconds of ``baseline`` and ``candidate``, run alternately ``rounds`` times each."""
    base, cand = [], []
    for _ in range(rounds):
        base.append(_timed(baseline))
        cand.append(_timed(candidate))
    return statistics.median(base), statistics.median(cand)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=("solutions", "exercises"), default="solutions")
    parser.add_argument("--weights", choices=settings.WEIGHTS, default="standin")
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args(argv)

    import torch

    with tempfile.TemporaryDirectory(prefix="facekit-bench-") as tmp, contextlib.ExitStack() as stack:
        weights = settings.read_choice(args.target, args.weights, standin_cache=Path(tmp)).weights
        hub_switch.build_standin(weights)
        stack.enter_context(hub_switch.pointed_at(weights))
        ex = trees.load_exercise("ex02_embeddings", args.target)
        print(f"Exercise 02 benchmark: target {args.target}; weights: {weights.describe()}")
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")

        model = ex.build_model()  # warms the file cache and timm's lazy imports
        builds = [_timed(ex.build_model) for _ in range(7)]
        build_s = statistics.median(builds)

        face = data.eval_transform()(data.sample_face())
        ok = build_s <= BUILD_TARGET_S
        rows = []
        for n in (1, 8):
            batch = face.expand(n, -1, -1, -1).contiguous()
            single = face if n == 1 else batch

            def raw(batch=batch):
                with torch.inference_mode():
                    model(batch)

            def ours(single=single):
                ex.compute_embedding(model, single)

            for _ in range(3):  # warm-up: first calls allocate and pick kernels
                raw(), ours()
            base, cand = interleaved(raw, ours, args.rounds if n == 1 else max(args.rounds // 3, 5))
            ratio = base / cand  # throughput ratio: (n / cand) / (n / base)
            ok &= ratio >= THROUGHPUT_TARGET
            rows.append((n, n / base, n / cand, ratio))

    print(f"{'batch':>5}  {'raw model(x) img/s':>18}  {'compute_embedding img/s':>23}  {'ratio':>6}  target")
    for n, raw_ips, our_ips, ratio in rows:
        print(f"{n:>5}  {raw_ips:>18.1f}  {our_ips:>23.1f}  {ratio:>6.3f}  >= {THROUGHPUT_TARGET}")
    print(
        f"\nbuild_model() from a warm cache: {build_s:.3f} s (median of {len(builds)}; "
        f"target <= {BUILD_TARGET_S} s)"
    )
    print("all targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
