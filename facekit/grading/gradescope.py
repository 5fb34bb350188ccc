"""``facekit gradescope --out autograder.zip``: this kit as a Gradescope autograder.

The bundle holds ``setup.sh`` (installs Python, a CPU build of torch and the kit, and builds
the stand-in weights once), ``run_autograder`` (grades ``/autograder/submission`` with the same
code as ``facekit grade``, one submission, and writes ``/autograder/results/results.json``), the
kit without solutions/, and the grading settings. ``FACEKIT_AUTOGRADER_ROOT`` replaces
``/autograder`` (to try the bundle on your own machine), ``FACEKIT_AUTOGRADER_PYTHON`` the
Python that runs it.

    python -m facekit.grading.gradescope prepare   # setup.sh: collect the tests, build the weights
    python -m facekit.grading.gradescope run       # run_autograder: grade, write results.json
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
import traceback
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from facekit import course, mistakes, release
from facekit.grading import grade, report, sources, workspace
from facekit.grading.records import SubmissionResult

ROOT_ENV = "FACEKIT_AUTOGRADER_ROOT"
CONFIG = "facekit-grading.json"
STATE_DIR = ".facekit-grading"

# The kit needs Python >= 3.10 (pyproject's requires-python). Gradescope's Ubuntu base images
# 22.04 (its default) and 24.04 ship one; 18.04 and 20.04 ship 3.6 and 3.8, so there Python 3.11
# comes from the deadsnakes PPA: Ubuntu packages built on Launchpad, installed with apt like the
# rest, no binary downloaded from elsewhere and no other installer (the kit uses pip only). On
# the Fedora/Rocky images dnf installs python3.11 where python3 is older (Rocky 8 and 9).
SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image on the base image
# chosen under Configure Autograder: Ubuntu 22.04 (the default) or 24.04; 18.04 and 20.04 work
# too (Python 3.11 from the deadsnakes PPA), as do the Fedora and Rocky images (dnf).
set -euo pipefail
ROOT="${FACEKIT_AUTOGRADER_ROOT:-/autograder}"
cd "$ROOT/source"
export DEBIAN_FRONTEND=noninteractive
recent() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; }
find_python() {  # the newest Python >= 3.10 on the PATH, or nothing
    for candidate in python3.13 python3.12 python3.11 python3.10 python3; do
        if command -v "$candidate" >/dev/null && recent "$candidate"; then
            command -v "$candidate"
            return
        fi
    done
}
if command -v apt-get >/dev/null; then
    apt-get update
    apt-get install -y --no-install-recommends python3 python3-venv python3-pip ca-certificates
elif command -v dnf >/dev/null; then
    dnf install -y python3 python3-pip
fi
PYTHON="$(find_python)"
if [ -z "$PYTHON" ] && command -v apt-get >/dev/null; then
    echo "setup.sh: $(python3 --version 2>&1) is older than 3.10: Python 3.11 from the deadsnakes PPA"
    apt-get install -y --no-install-recommends software-properties-common gpg-agent
    add-apt-repository -y ppa:deadsnakes/ppa
    apt-get update
    apt-get install -y --no-install-recommends python3.11 python3.11-venv
    PYTHON="$(find_python)"
elif [ -z "$PYTHON" ] && command -v dnf >/dev/null; then
    echo "setup.sh: $(python3 --version 2>&1) is older than 3.10: python3.11 from dnf"
    dnf install -y python3.11 python3.11-pip || true
    PYTHON="$(find_python)"
fi
if [ -z "$PYTHON" ]; then
    echo "setup.sh: no Python >= 3.10 on this base image; choose Ubuntu 22.04 under Configure Autograder" >&2
    exit 1
fi
if command -v apt-get >/dev/null && [ "$PYTHON" != "$(command -v python3)" ]; then
    apt-get install -y --no-install-recommends "$(basename "$PYTHON")-venv" || true  # its own package there
fi
"$PYTHON" -m venv "$ROOT/venv"
"$ROOT/venv/bin/pip" install --upgrade pip
# The kit runs on the CPU: the CPU build of torch is a fraction of the CUDA one.
"$ROOT/venv/bin/pip" install torch torchvision --index-url https://download.pytorch.org/whl/cpu
"$ROOT/venv/bin/pip" install .
"$ROOT/venv/bin/python" -m facekit.grading.gradescope prepare
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this once per submission, in a fresh container: it grades
# $ROOT/submission and writes $ROOT/results/results.json, always: when the grader itself
# cannot run, a results.json with score 0 that says so.
ROOT="${FACEKIT_AUTOGRADER_ROOT:-/autograder}"
# Absolute, as Python sees it after the cd below (a relative DIR when tried locally).
ROOT="$(cd "$ROOT" && pwd)" || exit 1
export FACEKIT_AUTOGRADER_ROOT="$ROOT"
PYTHON="${FACEKIT_AUTOGRADER_PYTHON:-$ROOT/venv/bin/python}"
mkdir -p "$ROOT/results"
rm -f "$ROOT/results/results.json"
(cd "$ROOT/source" && "$PYTHON" -m facekit.grading.gradescope run)
code=$?
if [ ! -s "$ROOT/results/results.json" ]; then
    printf '%s\\n' '{"score": 0, "output": "The autograder could not grade this submission (its Python ended with exit code '"$code"' before writing any result). Nothing you handed in was graded; please tell your instructor.", "output_format": "md", "visibility": "visible", "stdout_visibility": "hidden", "tests": []}' > "$ROOT/results/results.json"
fi
exit 0
"""


def build_bundle(out: Path, opts: grade.Options) -> Path:
    """Write the autograder zip: scripts at the top, the kit's grading parts beside them."""
    kit_root = Path(opts.kit_root)
    out = Path(out)
    # What `facekit grade` refuses up front, refused before anything is written: in the bundle
    # it would fail for every student instead.
    grade.check_all_or_nothing(opts.all_or_nothing, course.load(kit_root / "exercises" / "course.toml"))
    with tempfile.TemporaryDirectory(prefix="facekit-gradescope-") as tmp:
        template = workspace.build_template(kit_root, Path(tmp) / "kit", opts.extra_tests)
        workspace.check_extra_tests(template, course.load(kit_root / "exercises" / "course.toml"))
        for extra in ("README.md", "CHEATSHEET.md"):  # pip install . reads README.md
            if (kit_root / extra).is_file():
                shutil.copy2(kit_root / extra, template / extra)
        # Feedback then names a known mistake. The catalogue as a student's release has it: its
        # find/replace quote the reference, and the submission runs in this very template.
        for exercise in course.load(kit_root / "exercises" / "course.toml").exercises:
            catalogue = mistakes.catalogue_path(kit_root, exercise.id)
            if catalogue.is_file():
                target = mistakes.catalogue_path(template, exercise.id)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(release.student_catalogue(catalogue), encoding="utf-8")
        config = {
            "timeout": opts.timeout,
            "test_timeout": opts.test_timeout,
            "memory_mb": opts.memory_mb,
            "weights": opts.weights,
            "all_or_nothing": sorted(opts.all_or_nothing),
        }
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(out.name + ".tmp")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, text in (("setup.sh", SETUP_SH), ("run_autograder", RUN_AUTOGRADER)):
                info = zipfile.ZipInfo(name)
                info.external_attr = 0o100755 << 16  # executable, as Gradescope needs
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, text)
            info = zipfile.ZipInfo(CONFIG)
            info.external_attr = 0o100644 << 16
            archive.writestr(info, json.dumps(config, indent=1) + "\n")
            for path in sorted(template.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(template).as_posix())
        os.replace(partial, out)
    return out


def _options(source: Path) -> grade.Options:
    config = json.loads((source / CONFIG).read_text(encoding="utf-8")) if (source / CONFIG).is_file() else {}
    # Extra tests are already in the bundle's tests/instructor/: the template copies tests/.
    return grade.Options(
        out=source / STATE_DIR,
        jobs=1,
        timeout=float(config.get("timeout", 300)),
        test_timeout=config.get("test_timeout"),
        memory_mb=int(config.get("memory_mb", 4096)),
        weights=config.get("weights", "standin"),
        all_or_nothing=set(config.get("all_or_nothing", ())),
        kit_root=source,
    )


def _submission_path(folder: Path, kit: course.Course) -> tuple[Path, str | None]:
    """(what to grade, why it is refused or None): the uploaded folder, or the one zip in it when
    the files are not there (an upload of the zip). Several zips and no files: which one counts
    is a guess, so the submission is refused, naming them."""
    found = sources.read(folder, kit)
    zips = sorted(folder.glob("*.zip"))
    if not found.files and len(zips) == 1:
        return zips[0], None
    if not found.files and len(zips) > 1:
        return folder, (
            f"{len(zips)} zips uploaded ({', '.join(z.name for z in zips)}): upload one zip "
            f"(your submission.zip from `facekit submit`), or the exercise modules themselves"
        )
    return folder, None


def results_json(
    result: SubmissionResult, kit: course.Course, seconds: float, root: Path | None = None
) -> dict[str, Any]:
    """Gradescope's results.json: score, execution_time, output, and one test per exercise, each
    output Markdown (``output_format``/``test_output_format`` "md", which Gradescope renders).
    ``root``: the kit whose catalogue of mistakes the feedback may name."""
    tests = []
    for number, exercise in enumerate(kit.exercises, 1):
        ex = result.exercises[exercise.id]
        tests.append(
            {
                "name": f"{exercise.id}: {exercise.title}",
                "number": str(number),
                "score": ex.score,
                "max_score": ex.points,
                "status": "passed" if ex.passed == ex.total and ex.total else "failed",
                "output": "\n".join(
                    report.exercise_section(result, exercise, mistakes.known(root, exercise) if root else ())
                ),
                "output_format": "md",
                "visibility": "visible",
            }
        )
    return {
        "score": result.total,
        "execution_time": round(seconds, 1),
        "output": overview(result, kit),
        "output_format": "md",
        "test_output_format": "md",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def overview(result: SubmissionResult, kit: course.Course) -> str:
    """The top of the student's results page (Markdown): the total, what went wrong as a whole
    (a refused upload, a timeout, a module missing), one row per exercise, what was ignored."""
    lines = [
        f"Status: {result.status}" + (f" ({result.reason})" if result.reason else ""),
        "",
        f"**Total: {result.total:g} / {result.max_total or report.max_total(kit):g}**",
        "",
    ]
    lines += [f"Note: {warning}" for warning in result.warnings]
    if result.warnings:
        lines.append("")
    lines += ["| exercise | score | tests passed |", "|---|---|---|"]
    for exercise in kit.exercises:
        ex = result.exercises[exercise.id]
        lines.append(
            f"| {exercise.id}: {exercise.title} | {ex.score:g} / {ex.points} | {ex.passed} of {ex.total} |"
        )
    lines += [
        "",
        "Each exercise below lists its functions: passing, not implemented yet, or failing "
        "with the first failure and a hint.",
    ]
    if result.ignored:
        lines += [
            "",
            "Ignored (only the exercise modules are graded): " + ", ".join(f"`{n}`" for n in result.ignored),
        ]
    return "\n".join(lines)


def failed_results(why: str, seconds: float = 0.0) -> dict[str, Any]:
    """A results.json for a submission the autograder could not grade: score 0 and why."""
    return {
        "score": 0,
        "execution_time": round(seconds, 1),
        "output": f"**Not graded**: {why}. Nothing you handed in was scored; please tell your instructor.",
        "output_format": "md",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [],
    }


def _write_results(root: Path, data: dict[str, Any]) -> None:
    out = root / "results" / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".tmp")
    partial.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    os.replace(partial, out)  # never a half-written results.json


def autograde(root: Path, source: Path) -> dict[str, Any]:
    """Grade ``root/submission`` with the kit at ``source``; write ``root/results/results.json``.
    Whatever goes wrong, results.json is written: score 0 and the reason."""
    started = time.monotonic()
    try:
        data = _autograde(root, source, started)
    except Exception as err:  # noqa: BLE001 - the student gets a result, the traceback goes to stdout
        traceback.print_exc(file=sys.stdout)
        data = failed_results(
            f"the autograder failed ({type(err).__name__}: {err})", time.monotonic() - started
        )
    _write_results(root, data)
    return data


def _autograde(root: Path, source: Path, started: float) -> dict[str, Any]:
    kit = course.load(source / "exercises" / "course.toml")
    opts = _options(source)
    path, refused = _submission_path(root / "submission", kit)
    if refused:
        # Graded as an empty folder (no test runs, every exercise 0 of its tests), not as the
        # folder itself: `grade` takes a folder of zips for a class and would grade each one.
        with tempfile.TemporaryDirectory() as tmp:
            empty = Path(tmp) / "submission"
            empty.mkdir()
            results, _, _ = grade.grade([empty], opts)
        result = replace(results[0], status="refused", reason=refused)
    else:
        results, _, _ = grade.grade([path], opts, roster={path.name: "submission"})
        result = results[0]
    return results_json(result, kit, time.monotonic() - started, source)


def prepare(source: Path) -> None:
    """At image build time: collect the kit's tests and build the stand-in weights, once."""
    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp) / "nothing"
        empty.mkdir()
        grade.grade([empty], _options(source))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    source = Path.cwd()
    if argv == ["prepare"]:
        prepare(source)
        return 0
    if argv == ["run"]:
        root = Path(os.environ.get(ROOT_ENV) or "/autograder")
        data = autograde(root, source)
        print(f"score {data['score']:g}; results in {root / 'results' / 'results.json'}")
        return 0
    print("usage: python -m facekit.grading.gradescope prepare|run", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
