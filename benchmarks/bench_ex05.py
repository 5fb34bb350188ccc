"""Exercise 05 benchmark: where top_k's time goes, the figures of the ex05 README.

    python benchmarks/bench_ex05.py [--target solutions|exercises] [--records 20000] [--rounds 15]

One run measures, on the same random records of width 320 in a list (Exercise 06's
MemoryStore) and in an SqliteStore of the tree: top_k; its parts (torch.stack of the
embeddings, normalising and the product, the product alone, the stable sort); the same
similarities one at a time with F.cosine_similarity in a Python loop; and SqliteStore.all().
Each is the median of ``--rounds`` timings, taken in turns (top_k, stack, ..., then again), so
a background load slows all alike. Printed in ms and as a share of top_k's time. No target:
the README states these as measured (a range over three runs of this script).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from facekit import trees  # noqa: E402
from facekit.testing import MemoryStore  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=("solutions", "exercises"), default="solutions")
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)

    import torch
    import torch.nn.functional as F

    retrieval = trees.load_exercise("ex05_retrieval", args.target)
    storage = trees.load_exercise("ex04_storage", args.target)
    rows = torch.randn(args.records, 320, generator=torch.Generator().manual_seed(0))
    query = torch.randn(320, generator=torch.Generator().manual_seed(1))
    store = MemoryStore(storage.Record)
    for i, row in enumerate(rows):
        store.add(f"person{i % 500}", row)
    records = store.all()
    matrix = torch.stack([r.embedding for r in records])
    normalised = F.normalize(matrix, dim=1)
    scores = normalised @ F.normalize(query, dim=0)

    with tempfile.TemporaryDirectory(prefix="facekit-bench-") as tmp:
        sqlite = storage.SqliteStore(Path(tmp) / "faces.sqlite")
        for record in records:
            sqlite.add(record.name, record.embedding)
        steps = {
            "top_k(query, store, 5)": lambda: retrieval.top_k(query, store, 5),
            "torch.stack of the embeddings": lambda: torch.stack([r.embedding for r in records]),
            "normalising and the product": lambda: F.normalize(matrix, dim=1) @ F.normalize(query, dim=0),
            "the product alone": lambda: normalised @ query,
            "the stable sort": lambda: torch.sort(scores, descending=True, stable=True),
            "F.cosine_similarity in a loop": lambda: [
                F.cosine_similarity(r.embedding, query, dim=0) for r in records
            ],
            "SqliteStore.all()": sqlite.all,
        }
        times: dict[str, list[float]] = {name: [] for name in steps}
        for _ in range(args.rounds):
            for name, step in steps.items():
                start = time.perf_counter()
                step()
                times[name].append(time.perf_counter() - start)
        close = getattr(sqlite, "close", None)
        if close:
            close()

    print(
        f"Exercise 05 benchmark: target {args.target}, {args.records:,} records of width 320, "
        f"{matrix.numel() * 4 / 1e6:.1f} MB as one matrix; torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads; median of {args.rounds} rounds\n"
    )
    base = statistics.median(times["top_k(query, store, 5)"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:32s} {median * 1000:9.2f} ms  {median / base:6.2f} x top_k")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
