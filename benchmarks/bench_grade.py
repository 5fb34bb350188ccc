"""How fast ``facekit grade`` grades a class, against the naive way, in one run.

A synthetic class of the whole course, made from the reference tree (a quarter each: complete,
untouched stubs, half done, a planted bug), is graded four ways, each from an empty cache:

- fork, -j 1 and -j 2: pre-imported workers, one forked child per submission (the default; each
  worker in its bubblewrap jail where bwrap runs, as each row's "isolation" says);
- naive, -j 1 and -j 2: a fresh ``python -m pytest`` per submission (``--runner subprocess``).

It prints seconds per submission and in total, the load average after each, the -j 2 / -j 1
speed-up, and the two targets of issue 8: facekit grade on 2 cores at least 2x faster per
submission than the naive way (a fresh pytest per submission, one after another), and a
30-student class in under 10 minutes on 2 cores. It also prints the naive / fork ratio at the
same -j: what pre-importing alone saves. The naive runs here already get the grader's
prepared workspace (compiled modules, the stand-in weights built once); a plain ``pytest``
per submission would build its own stand-in cache every time, so the ratios are lower bounds.

    python benchmarks/bench_grade.py                 # 20 students
    python benchmarks/bench_grade.py --students 8    # quicker
    python benchmarks/bench_grade.py --rounds 3      # best of 3, the four ways interleaved
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from facekit import course  # noqa: E402
from facekit.grading import grade, jail  # noqa: E402
from facekit.grading.records import SubmissionResult  # noqa: E402


def make_class(folder: Path, students: int) -> list[Path]:
    root = course.repo_root()
    kit = course.load()
    ref = {e.stub: (root / e.reference).read_bytes() for e in kit.exercises}
    stub = {e.stub: (root / e.stub).read_bytes() for e in kit.exercises}
    similarity = kit.get("ex03_similarity").stub
    kinds = [
        ("complete", ref),
        ("empty", stub),
        ("half", {**stub, **{e.stub: ref[e.stub] for e in kit.exercises[: len(kit.exercises) // 2]}}),
        ("buggy", {**ref, similarity: ref[similarity].replace(b">= threshold", b"> threshold")}),
    ]
    paths = []
    for number in range(students):
        kind, files = kinds[number % len(kinds)]
        path = folder / f"student{number:03d}-{kind}.zip"
        with zipfile.ZipFile(path, "w") as archive:
            for relpath, content in files.items():
                archive.writestr(relpath, content + f"\n# {number}\n".encode())  # each one distinct
        paths.append(path)
    return paths


def timed(
    paths: list[Path], out: Path, jobs: int, runner: str, timeout: float, no_jail: bool = False
) -> tuple[float, list[SubmissionResult]]:
    shutil.rmtree(out / ".cache" / "runs", ignore_errors=True)  # keep the collected tests and weights
    before = os.environ.get(jail.OFF_ENV)
    if no_jail:
        os.environ[jail.OFF_ENV] = "off"
    try:
        started = time.perf_counter()
        results, _, _ = grade.grade(
            paths, grade.Options(out=out, jobs=jobs, runner=runner, timeout=timeout, force=True)
        )
        return time.perf_counter() - started, results
    finally:
        if no_jail and before is None:
            os.environ.pop(jail.OFF_ENV)


# The fifth way, forking without the jail: what the jail costs (the same as fork -j 2 where
# bubblewrap does not run).
MODES = (
    ("fork -j 1", 1, "fork"),
    ("naive -j 1", 1, "subprocess"),
    ("fork -j 2", 2, "fork"),
    ("naive -j 2", 2, "subprocess"),
    ("fork -j 2 no jail", 2, "fork"),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="grade the class this many times each way, the ways interleaved; best of them",
    )
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    if args.students < 4:
        parser.error("--students must be at least 4 (one of each kind)")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    print(
        f"{os.cpu_count()} CPU cores visible, load average {os.getloadavg()[0]:.1f} at the start; "
        f"a synthetic class of {args.students} submissions (complete, empty, half, buggy), "
        f"stand-in weights, best of {args.rounds} round(s)"
    )
    with tempfile.TemporaryDirectory(prefix="bench-grade-") as tmp:
        tmp = Path(tmp)
        (tmp / "class").mkdir()
        paths = make_class(tmp / "class", args.students)
        out = tmp / "out"
        grade.grade(
            paths[:1], grade.Options(out=out, jobs=1, runner="subprocess", timeout=args.timeout)
        )  # warm caches
        rows = {label: float("inf") for label, _, _ in MODES}
        for round_ in range(args.rounds):
            for label, jobs, runner in MODES:
                seconds, results = timed(
                    paths, out, jobs, runner, args.timeout, no_jail=label.endswith("no jail")
                )
                statuses = sorted({r.status for r in results})
                rows[label] = min(rows[label], seconds)
                isolation = sorted({r.isolation or "" for r in results})
                print(
                    f"round {round_ + 1}  {label:17s} total {seconds:7.1f} s   {seconds / len(paths):5.2f} "
                    f"s/submission   statuses {statuses}   isolation {isolation}   load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
    for label, _, _ in MODES:
        print(f"best {label:17s} {rows[label]:7.1f} s   {rows[label] / len(paths):5.2f} s/submission")
    per = {label: rows[label] / len(paths) for label in rows}
    print(f"-j 2 speed-up over -j 1 (fork): {rows['fork -j 1'] / rows['fork -j 2']:.2f}x")
    target = per["naive -j 1"] / per["fork -j 2"]
    print(
        f"TARGET (>= 2x): facekit grade on 2 cores (fork -j 2) against the naive way, a fresh pytest per "
        f"submission one after another (naive -j 1): {per['naive -j 1']:.2f} / {per['fork -j 2']:.2f} s per "
        f"submission = {target:.2f}x: {'met' if target >= 2 else 'NOT met'}"
    )
    print(
        f"the start-up saving alone, the same number of processes: naive / fork {per['naive -j 1'] / per['fork -j 1']:.2f}x "
        f"at -j 1, {per['naive -j 2'] / per['fork -j 2']:.2f}x at -j 2"
    )
    print(
        f"the jail's cost at -j 2: fork in the jail / fork without it "
        f"{per['fork -j 2'] / per['fork -j 2 no jail']:.2f}x"
    )
    estimate = per["fork -j 2"] * 30
    print(
        f"TARGET (< 10 min): a 30-student class at -j 2, estimated from this run: {estimate / 60:.1f} min: "
        f"{'met' if estimate < 600 else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
