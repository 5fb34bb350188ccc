"""``facekit grade SUBMISSION... [--out DIR] [-j N]``: grade a class, fairly and without stopping.

Each submission (a zip from ``facekit submit``, a folder, a git repository) is graded in its own
workspace built from this kit (never its solutions/), with only the student's files overlaid,
in a process of its own with a timeout and a memory limit (facekit.grading.runner). The count
of tests expected per exercise comes from this kit, collected once; see facekit.grading.report
for the scores and the files written.
"""

from __future__ import annotations

import ast
import base64
import compileall
import csv
import functools
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import facekit
from facekit import course, hub_switch, mistakes
from facekit.errors import UsageError
from facekit.grading import (
    classreport,
    gradebook,
    integrity,
    jail,
    records,
    report,
    runner,
    sources,
    workspace,
)
from facekit.grading.records import Declared, SubmissionResult
from facekit.harness import forking

CACHE_VERSION = "3"  # 2: each failure's whole message (detail) too; 3: signed, checked for tampering; per-test limits, resumed runs
# What holds a submission's processes and memory, as the CSV, the summary and feedback say it.
JAIL_LIMITS = "processes: PID namespace (none outlives its grading); memory: RLIMIT_AS per process"
NO_PROCESS_LIMIT = (
    "partial: a process the submission starts in a new session can outlive its grading; "
    "memory: RLIMIT_AS per process"
)


class GradeError(UsageError):
    """Grading cannot start (bad arguments, a broken kit); the message says why (exit 2)."""


@dataclass
class Options:
    out: Path
    jobs: int = field(default_factory=forking.cores)
    timeout: float = 300.0
    memory_mb: int = 4096
    file_mb: int = 256
    weights: str = "standin"
    extra_tests: Path | None = None
    all_or_nothing: set[str] = field(default_factory=set)
    force: bool = False
    runner: str = "auto"
    kit_root: Path = field(default_factory=course.repo_root)
    require_jail: bool = False  # no bubblewrap jail is an error, not a note
    test_timeout: float | None = None  # seconds per test for every exercise (else the manifest's `timeout`)
    replace: bool = False  # a new gradebook in --out instead of merging into the one there
    due: datetime | None = None  # late penalties: when the hand-ins were due
    late_percent: float = 10.0  # percent of the total taken per day (each started day) late


def _expand(paths: list[Path]) -> list[Path]:
    """A folder of archives (zips, no exercises/ inside) stands for its zips and subfolders."""
    expanded = []
    for path in paths:
        if (
            path.is_dir()
            and not (path / "exercises").exists()
            and not (path / ".git").exists()
            and any(path.glob("*.zip"))
        ):
            # Not macOS's __MACOSX folder (an unzipped class archive has one), nor hidden ones.
            expanded += sorted(
                p
                for p in path.iterdir()
                if not p.name.startswith((".", "__MACOSX"))
                and ((p.suffix.lower() == ".zip" and p.is_file()) or p.is_dir())
            )
        else:
            expanded.append(path)
    return expanded


def read_roster(path: Path) -> dict[str, str]:
    """A CSV with a header naming columns ``submission`` (file or folder name) and ``id``."""
    try:
        # utf-8-sig: a spreadsheet's CSV often starts with a byte-order mark.
        with open(path, newline="", encoding="utf-8-sig") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as err:
        raise GradeError(f"cannot read the roster {path}: {getattr(err, 'strerror', None) or err}") from None
    try:
        dialect = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.DictReader(text.splitlines(), dialect=dialect))
    header = [h.strip() for h in (rows[0].keys() if rows else [])]
    if "submission" not in header or "id" not in header:
        raise GradeError(
            f"the roster {path} needs a header with the columns submission,id "
            f"(one row per submission file or folder name); its header is {header}"
        )
    roster: dict[str, str] = {}
    lines: dict[str, tuple[str, int]] = {}  # each name matched -> (as the roster gives it, its line)
    for number, row in enumerate(rows, 2):
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        name, sub_id = row["submission"], row["id"]
        if not name or not sub_id:
            raise GradeError(
                f"the roster {path}, line {number}: both submission and id are needed; "
                f"got submission={name!r}, id={sub_id!r}"
            )
        keys = [name] + ([name[:-4]] if name.lower().endswith(".zip") else [])
        for key in keys:
            if key in lines:
                first, line = lines[key]
                if first == name:
                    raise GradeError(
                        f"the roster {path}, line {number}: {name} is listed twice (line {line} too)"
                    )
                raise GradeError(
                    f"the roster {path}, line {number}: {name} names the same submission as "
                    f"{first} on line {line} (a zip is matched with or without .zip): list it once"
                )
        for key in keys:
            roster[key], lines[key] = sources.safe_id(sub_id), (name, number)
    return roster


def load_submissions(
    paths: list[Path], kit: course.Course, kit_root: Path, roster: dict[str, str] | None = None
) -> list[sources.Submission]:
    subs = []
    for path in _expand([Path(p) for p in paths]):
        if not path.exists():
            raise GradeError(f"no such submission: {path}")
        sub_id = (roster or {}).get(path.name) or (roster or {}).get(path.name.removesuffix(".zip"))
        sub = sources.read(path, kit, kit_root, sub_id)
        if roster is not None and sub_id is None:
            sub.warnings.append(f"{path.name} is not on the roster: graded under its file name")
        subs.append(sub)
    seen: dict[str, str] = {}
    for sub in subs:
        if sub.id in seen:
            raise GradeError(
                f"two submissions have the id {sub.id!r} ({seen[sub.id]} and {sub.source}); "
                f"rename one or map them with --roster"
            )
        seen[sub.id] = sub.source
    return subs


def _standin_ready(cache: Path) -> bool:
    return hub_switch.standin_ready(cache)


def prepared_kit(
    template: Path, kit: course.Course, cache_dir: Path, kit_hash: str, weights: str, standin: Path | None
) -> tuple[Path, dict[str, list[str]], Declared, list[str], dict[str, Any]]:
    """The template to copy for each submission, compiled; the test ids per exercise that the
    pristine kit collects; what each test declares (``@pytest.mark.function``, hidden tests:
    records.Declared); every test in the
    order pytest runs them; the manifest of the prepared kit (facekit.grading.integrity).
    Cached under ``cache_dir`` by the kit's hash, signed.

    One collecting run (instructor code only) in the template itself leaves the compiled
    facekit, conftest and test modules (pytest's assertion-rewritten ones too) in it, so that no
    submission compiles them again (their timestamps survive the copies); it also builds the
    stand-in weights, once. Nothing compiled of exercises/ is kept: those are the student's files.
    """
    final = cache_dir / f"kit-{kit_hash[:32]}"
    cached = final / "expected.json"
    if cached.is_file() and (standin is None or _standin_ready(standin)):
        # Signed by this grader, and every file as it was when prepared: else prepared again
        # (a submission graded without a jail may have written into it).
        data = integrity.verified(f"kit:{kit_hash}", cached.read_text())
        if data and not integrity.differences(data["manifest"], integrity.manifest(final / "kit")):
            declared = Declared.from_json(data["declared"])
            return final / "kit", data["tests"], declared, data["order"], data["manifest"]
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=final.name + ".partial-", dir=cache_dir))
    try:
        kit_dir = partial / "kit"
        shutil.copytree(template, kit_dir)
        for name in ("home", "tmp"):
            (partial / name).mkdir()
        env = workspace.env(partial, weights, _hub_cache(weights), standin)
        env.pop("PYTHONDONTWRITEBYTECODE")  # this one run writes them
        files = [e.tests for e in kit.exercises] + workspace.extra_test_files(template)
        run = runner.run_job(
            {
                "workspace": str(kit_dir),
                "test_files": files,
                "env": env,
                "timeout": 900,
                "collect_only": True,
            },
            "subprocess",
        )
        if run["collect_errors"] or not run["collected"]:
            # Its last line whole: the kit's own message (missing hub weights, say) is one long line.
            lines = [line for line in run["output_tail"].splitlines() if line.strip()]
            problem = (run["collect_errors"] or [lines[-1][:1000] if lines else "nothing collected"])[0]
            raise GradeError(f"the kit's tests do not collect: {problem}")
        for part in ("facekit", "tests"):  # what the collecting run did not import
            compileall.compile_dir(kit_dir / part, quiet=2)
        for folder in list((kit_dir / "exercises").rglob("__pycache__")):
            shutil.rmtree(folder)
        shutil.rmtree(partial / "home")
        shutil.rmtree(partial / "tmp")
        expected: dict[str, list[str]] = {e.id: [] for e in kit.exercises}
        for nodeid in run["collected"]:
            exercise = workspace.exercise_of_file(nodeid.split("::")[0], kit)
            if exercise is not None:
                expected[exercise.id].append(nodeid)
        hidden, secrets = _hidden(kit_dir, run)
        declared = Declared(run["functions"], run["broad"], hidden, secrets)
        order = list(run["collected"])
        manifest = integrity.manifest(kit_dir)
        (partial / "expected.json").write_text(
            integrity.sign(
                f"kit:{kit_hash}",
                {"tests": expected, "declared": declared.to_json(), "order": order, "manifest": manifest},
            )
        )
        shutil.rmtree(final, ignore_errors=True)
        os.replace(partial, final)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return final / "kit", expected, declared, order, manifest


def _hidden(kit_dir: Path, run: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    """({test: visibility} for the extra tests students do not see (``hidden``, the default, or
    ``after_due_date``: ``@pytest.mark.visibility``), their secrets: their names and source lines,
    which no message shown to a student may quote)."""
    hidden: dict[str, str] = {}
    for nodeid in run["collected"]:
        if nodeid.startswith(workspace.EXTRA_DIR + "/"):
            visibility = run.get("visibility", {}).get(nodeid, report.HIDDEN)
            if visibility not in report.VISIBILITIES:
                raise GradeError(
                    f"{nodeid}: @pytest.mark.visibility takes one of "
                    f"{', '.join(report.VISIBILITIES)}; got {visibility!r}"
                )
            if visibility != "visible":
                hidden[nodeid] = visibility
    secrets = {n.split("::")[-1].split("[")[0] for n in hidden}
    for path in sorted((kit_dir / workspace.EXTRA_DIR).rglob("*.py")) if hidden else ():
        source = path.read_text(encoding="utf-8", errors="replace")
        secrets |= {line.strip() for line in source.splitlines() if len(line.strip()) >= 16}
        # Its strings too (an assertion's message), as code in the same process finds them.
        secrets |= {
            node.value.strip()
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and len(node.value.strip()) >= 12
        }
    # Only what students cannot read anyway: not a line or a name of the kit they have.
    public = "\n".join(
        p.read_text(encoding="utf-8", errors="replace")
        for part in ("tests", "exercises", "facekit")
        for p in (kit_dir / part).rglob("*.py")
        if workspace.EXTRA_DIR not in p.relative_to(kit_dir).as_posix()
    )
    return hidden, sorted(s for s in secrets if s not in public)


def _withhold(text: str | None, secrets: list[str], hidden: dict[str, str]) -> str | None:
    if not text:
        return text
    for nodeid in hidden:
        text = text.replace(nodeid, "a hidden test")
    if any(secret in text for secret in secrets):
        return report.WITHHELD
    return text


def check_function_points(kit: course.Course, expected: dict[str, list[str]], declared: Declared) -> None:
    """GradeError when an exercise with ``function_points`` has a function no test declares, or a
    test that declares none of its functions: points nobody can earn, or a test worth nothing."""
    for exercise in kit.exercises:
        if not exercise.function_points:
            continue
        named = {n: declared.functions.get(n) for n in expected[exercise.id]}
        stray = [n for n, f in named.items() if f not in exercise.function_points]
        if stray:
            raise GradeError(
                f"{exercise.id} gives points per function, and {stray[0]} declares none of its "
                f"functions: mark it @pytest.mark.function(NAME) ({', '.join(exercise.functions)})"
            )
        untested = [f for f in exercise.function_points if f not in named.values()]
        if untested:
            raise GradeError(
                f"{exercise.id} gives {untested[0]} {exercise.function_points[untested[0]]} points, "
                f"and no test declares it"
            )


def check_extra_tests(
    template: Path, kit: course.Course, kit_root: Path, work: Path, weights: str, standin: Path | None
) -> None:
    """GradeError naming the instructor's extra tests that do not pass on the reference or do
    not fail on the stubs as shipped: one would cost every student, or give points for nothing.

    Two runs of the extra tests only, before any submission; remembered beside the prepared kit
    (its hash covers the extra tests)."""
    files = workspace.extra_test_files(template)
    checked = template.parent / "extra-tests-checked.json"
    if not files or checked.is_file():
        return
    missing = [e.reference for e in kit.exercises if not (kit_root / e.reference).is_file()]
    if missing:
        raise GradeError(
            f"--extra-tests are checked against the reference before grading, and this kit has "
            f"no {missing[0]}: grade from the instructor's kit"
        )
    wrong = []
    for tree, want in (("reference", "passed"), ("stubs", "failed")):
        files_in = (
            {e.stub: (kit_root / e.reference).read_bytes() for e in kit.exercises}
            if tree == "reference"
            else {}
        )
        job_dir = work / tree
        workspace.make(template, job_dir, files_in, standin)
        env = {**workspace.env(job_dir, weights, _hub_cache(weights))}
        run = runner.run_job(
            {
                "workspace": str(job_dir / "kit"),
                "test_files": files,
                "env": env,
                "timeout": 900,
            },
            "subprocess",
        )
        shutil.rmtree(job_dir, ignore_errors=True)
        outcomes = records.outcomes_of(run)
        for nodeid in run["collected"] or ():
            test = outcomes.get(nodeid) or records.TestOutcome(records.NOT_RUN)
            outcome = test.outcome
            if outcome != want:
                message = test.message or ""
                wrong.append(
                    f"{nodeid} {'passes' if outcome == 'passed' else outcome if outcome != 'failed' else 'fails'}"
                    f" on the {tree}" + (f" ({message[:120]})" if message and want == "passed" else "")
                )
        if not run["collected"]:
            wrong.append(
                f"the extra tests did not run on the {tree}: {(run['collect_errors'] or ['nothing collected'])[0]}"
            )
    if wrong:
        more = f"; and {len(wrong) - 3} more" if len(wrong) > 3 else ""
        raise GradeError(
            f"extra tests must pass on the reference and fail on the stubs; {len(wrong)} do not: "
            + "; ".join(wrong[:3])
            + more
        )
    checked.write_text(json.dumps({"files": files}) + "\n")


def _hub_cache(weights: str) -> str | None:
    if weights != "hub":
        return None
    from huggingface_hub import constants

    return constants.HF_HUB_CACHE


def _run_key(kit_hash: str, sub: sources.Submission, opts: Options, isolation: str) -> str:
    h = hashlib.sha256()
    for part in (
        CACHE_VERSION,
        kit_hash,
        opts.weights,
        f"{opts.timeout:g}",
        str(opts.memory_mb),
        isolation,
        f"{opts.test_timeout or 0:g}",
        sub.digest(),
    ):
        h.update(part.encode() + b"\0")
    return h.hexdigest()


def check_all_or_nothing(ids: Collection[str], kit: course.Course) -> None:
    """GradeError (one line) when ``ids`` name an exercise the kit does not have."""
    unknown = set(ids) - {e.id for e in kit.exercises}
    if unknown:
        raise GradeError(f"--all-or-nothing names unknown exercises: {', '.join(sorted(unknown))}")


# -- grading a class: plan -> run -> score -> write ---------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """What a grading will do, checked before anything is written: the kit (its manifest, and with
    it every exercise's points, checked once when it is read), how submissions run, the hand-ins."""

    kit_root: Path
    kit: course.Course
    out: Path
    mode: str  # "fork" or "subprocess"
    why_no_jail: str | None  # None: each worker runs in a bubblewrap jail
    isolation: str  # as the CSV, the summary and feedback say it
    limits: str
    overrides: list[gradebook.OverrideRow]
    subs: list[sources.Submission]
    roster: dict[str, str] | None

    @property
    def cache_dir(self) -> Path:
        return self.out / ".cache"


@dataclass(frozen=True)
class PreparedKit:
    """The kit every submission is graded with (prepared_kit), and how its tests run."""

    template: Path
    kit_hash: str
    expected: dict[str, list[str]]  # exercise id -> the test ids the pristine kit collects
    declared: Declared
    order: list[str]
    manifest: dict[str, Any]
    test_files: list[str]
    standin: Path | None
    hub_cache: str | None
    jail_spec: dict[str, Any] | None
    test_limits: str  # JSON: test file -> seconds each of its tests may run


def plan(paths: list[Path], opts: Options, roster: dict[str, str] | None = None) -> Plan:
    """Every check that needs no test run, before anything is written: GradeError (or
    GradebookError) saying what is wrong."""
    kit_root = Path(opts.kit_root).resolve()
    kit = course.load(kit_root / "exercises" / "course.toml")  # checks every exercise's points
    check_all_or_nothing(opts.all_or_nothing, kit)
    mode = opts.runner
    if mode == "auto":
        mode = "fork" if runner.fork_available() else "subprocess"
    if mode == "fork" and not runner.fork_available():
        raise GradeError("--runner fork needs Linux; use --runner subprocess")
    why_not = jail.unavailable() if mode == "fork" else "the subprocess runner does not use the jail"
    if why_not and opts.require_jail:
        raise GradeError(f"--require-jail: no jail for the submissions here: {why_not}")
    # Absolute: the kit's collecting run builds the stand-in weights from another folder.
    out = Path(opts.out).resolve()
    if out.exists() and not out.is_dir():
        raise GradeError(f"--out must be a folder for grades.csv, grades.json and feedback/; {out} is a file")
    if not opts.replace:
        gradebook.read(out)  # one that cannot be merged stops the run before any work
    overrides = gradebook.read_overrides(out / gradebook.OVERRIDES_CSV, kit)
    subs = load_submissions(paths, kit, kit_root, roster)
    return Plan(
        kit_root=kit_root,
        kit=kit,
        out=out,
        mode=mode,
        why_no_jail=why_not,
        isolation=f"none ({why_not})" if why_not else "bubblewrap",
        limits=NO_PROCESS_LIMIT if why_not else JAIL_LIMITS,
        overrides=overrides,
        subs=subs,
        roster=roster,
    )


def prepare(plan: Plan, opts: Options, work: Path) -> PreparedKit:
    """The prepared kit (built in ``work``, or from the cache in --out), its extra tests checked."""
    kit = plan.kit
    template = workspace.build_template(plan.kit_root, work / "template", opts.extra_tests)
    workspace.check_extra_tests(template, kit)
    kit_hash = workspace.kit_hash(template)
    standin = plan.cache_dir / "standin" if opts.weights == "standin" else None
    template, expected, declared, order, manifest = prepared_kit(
        template, kit, plan.cache_dir, kit_hash, opts.weights, standin
    )
    check_function_points(kit, expected, declared)
    if opts.extra_tests is not None:
        check_extra_tests(template, kit, plan.kit_root, work / "extra-check", opts.weights, standin)
    test_files = [e.tests for e in kit.exercises] + workspace.extra_test_files(template)
    hub_cache = _hub_cache(opts.weights)
    jail_spec = (
        None
        if plan.why_no_jail
        else {
            "kit": str(template),
            "standin": str(standin) if standin else None,
            "hub": hub_cache,
            "exclude": [str(plan.kit_root), str(plan.out)],
        }
    )
    # Each test's limit, by its file: the exercise's `timeout` in the manifest.
    test_limits = json.dumps(
        {
            f: opts.test_timeout or e.timeout
            for f in test_files
            for e in [workspace.exercise_of_file(f, kit)]
            if e is not None
        }
    )
    return PreparedKit(
        template=template,
        kit_hash=kit_hash,
        expected=expected,
        declared=declared,
        order=order,
        manifest=manifest,
        test_files=test_files,
        standin=standin,
        hub_cache=hub_cache,
        jail_spec=jail_spec,
        test_limits=test_limits,
    )


Finished = Callable[[sources.Submission, dict[str, Any] | None, bool], None]


def run(plan: Plan, prepared: PreparedKit, opts: Options, work: Path, finished: Finished) -> None:
    """Each submission's tests run (or its run taken from the signed cache), in parallel; calls
    ``finished(submission, run or None, cached)`` as each one ends (None: nothing to run)."""
    jobs: list[tuple[object, dict[str, Any]]] = []
    for sub in plan.subs:
        key = _run_key(prepared.kit_hash, sub, opts, plan.isolation)
        cached = plan.cache_dir / "runs" / f"{key}.json"
        record = (
            integrity.verified(f"run:{key}", cached.read_text())
            if cached.is_file() and not opts.force
            else None
        )
        if sub.refused or not sub.files:
            finished(sub, None, False)
        elif record is not None:
            finished(sub, record, True)
        else:
            jobs.append(((sub, cached, key, integrity.plan(prepared.test_files)), {}))
    runner.run_all(
        jobs,
        workers=min(opts.jobs, max(1, len(jobs))),
        mode=plan.mode,
        template=prepared.template,
        prepare=functools.partial(_job, plan, prepared, opts),
        done=functools.partial(_ran, plan, prepared, finished),
        log_dir=work,
        jail_spec=prepared.jail_spec,
    )


def _job(
    plan: Plan, prepared: PreparedKit, opts: Options, key: Any, _given: object, folder: Path
) -> dict[str, Any]:
    """The runner's job for one submission, its workspace to be built in ``folder``."""
    sub, _, _, sentinels = key
    jailed = prepared.jail_spec is not None
    inside = Path(folder)
    env = workspace.env(
        inside, opts.weights, jail.HUB if jailed and prepared.hub_cache else prepared.hub_cache
    )
    env[runner.SENTINELS_ENV] = json.dumps(sentinels)
    env[runner.TIMEOUTS_ENV] = prepared.test_limits
    if prepared.declared.hidden:
        env[runner.HIDE_ENV] = workspace.EXTRA_DIR
    standin = prepared.standin
    return {
        "dir": str(inside),
        "workspace": str(inside / "kit"),
        "test_files": prepared.test_files,
        "template": jail.KIT if jailed else str(prepared.template),
        "standin": (jail.STANDIN if jailed else str(standin)) if standin else None,
        "files": {p: base64.b64encode(c).decode() for p, c in sub.files.items()},
        "manifest": prepared.manifest,
        "env": env,
        "timeout": opts.timeout,
        "memory_mb": opts.memory_mb,
        "file_mb": opts.file_mb,
        "drop_paths": [jail.KIT] if jailed else [str(plan.kit_root), str(prepared.template)],
    }


def _ran(
    plan: Plan, prepared: PreparedKit, finished: Finished, key: Any, _given: object, record: dict[str, Any]
) -> None:
    """One submission's run as the runner returns it: checked for forgery, cached signed."""
    sub, cached, run_key, sentinels = key
    if record.get("kit_changed"):
        raise GradeError(
            f"the prepared kit under {plan.cache_dir} changed while grading: "
            f"{record['kit_changed']}. A submission graded before {sub.id} wrote into it "
            f"(isolation: {plan.isolation}); no grades were written. Delete {plan.cache_dir} "
            f"and grade again, where bubblewrap runs"
        )
    if not record.get("worker_died"):
        forged = integrity.check(record["sequence"], record["record_meta"], sentinels, prepared.order)
        record = integrity.strip(record, sentinels)
        if forged:
            record["tampered"] = forged
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_text(integrity.sign(f"run:{run_key}", record))
    else:
        record = integrity.strip(record, sentinels)
    finished(sub, record, False)


def _scored(
    plan: Plan,
    prepared: PreparedKit,
    opts: Options,
    results: dict[str, SubmissionResult],
    progress: Callable[[SubmissionResult], None] | None,
    sub: sources.Submission,
    record: dict[str, Any] | None,
    cached: bool,
) -> None:
    """A submission that finished running: scored, kept in ``results``, its row in the partial CSV."""
    result = score(sub, record, plan.kit, prepared.expected, prepared.declared, opts, cached)
    results[sub.id] = replace(result, isolation=plan.isolation, limits=plan.limits)
    gradebook.append_partial(plan.out, report.csv_rows([results[sub.id]], plan.kit))
    if progress:
        progress(results[sub.id])


def write(
    plan: Plan,
    prepared: PreparedKit,
    opts: Options,
    graded: list[SubmissionResult],
    notes: list[str],
    run_id: str,
) -> tuple[list[SubmissionResult], dict[str, Any]]:
    """The gradebook in --out with ``graded`` merged in, and everything written from it: grades.csv,
    grades.json, feedback/, the LMS exports, similar.csv, report.html. Returns the gradebook's
    rows (overrides applied) and the run's meta."""
    kit, kit_root, out = plan.kit, plan.kit_root, plan.out
    with gradebook.Lock(out):  # read, merge and write: another run into this --out waits
        previous = [] if opts.replace else gradebook.rows_of(gradebook.read(out))
        merged, added, replaced, kept = gradebook.merge(previous, graded)
        rows, unmatched = gradebook.apply(merged, plan.overrides)
        handed_in = {Path(s.source).name for s in plan.subs} | {
            Path(s.source).name.removesuffix(".zip") for s in plan.subs
        }
        missing = {i for n, i in (plan.roster or {}).items() if n not in handed_in} - {r.id for r in rows}
        if unmatched:
            notes.append(
                f"{gradebook.OVERRIDES_CSV} names ids with no row in the gradebook: {', '.join(unmatched)}"
            )
        meta: dict[str, Any] = {
            "course": kit.title,
            "kit_version": facekit.__version__,
            "weights": opts.weights,
            "roster_without_submission": sorted(missing),
            "timeout_s": opts.timeout,
            "memory_mb": opts.memory_mb,
            "max_total": report.max_total(kit),
            "isolation": plan.isolation,
            "limits": plan.limits,
            "all_or_nothing": sorted(opts.all_or_nothing),
            "exercises": {
                e.id: {"points": e.points, "tests": len(prepared.expected[e.id])} for e in kit.exercises
            },
            "formula": report.FORMULA,
            "due": opts.due.isoformat(timespec="seconds") if opts.due else None,
            "late_percent_per_day": opts.late_percent if opts.due else None,
            "run": {"id": run_id, "finished": gradebook.now(), "graded": [r.id for r in graded]},
            "gradebook": {"added": added, "replaced": replaced, "kept": kept, "replace": opts.replace},
            "notes": notes,
            "rows": len(rows),
        }
        report.write(out, rows, kit, meta, {e.id: mistakes.known(kit_root, e) for e in kit.exercises})
        exercise_of = {e.stub: e.id for e in kit.exercises}
        shipped = {
            e.stub: (kit_root / e.stub).read_bytes() for e in kit.exercises if (kit_root / e.stub).is_file()
        }
        pairs = gradebook.similar(rows, {s.id: s.files for s in plan.subs}, shipped, exercise_of)
        meta["similar"] = len(pairs)
        gradebook.write_atomic(out / "similar.csv", gradebook.similar_csv(pairs))
        gradebook.write_atomic(
            out / "canvas.csv", gradebook.canvas_csv(rows, kit.title, report.max_total(kit))
        )
        gradebook.write_atomic(out / "moodle.csv", gradebook.moodle_csv(rows, kit.title))
        classreport.write(
            out, kit, kit_root
        )  # report.html from grades.json as written: never stale beside it
    gradebook.finish(out)
    return rows, meta


def grade(
    paths: list[Path],
    opts: Options,
    roster: dict[str, str] | None = None,
    progress: Callable[[SubmissionResult], None] | None = None,
) -> tuple[list[SubmissionResult], dict[str, Any], float]:
    """Grade ``paths``: plan, run, score, write (grades.csv, grades.json, feedback/, ... into
    ``opts.out``). Returns (results, meta, seconds). ``progress(result)`` is called as each one
    finishes."""
    started = time.monotonic()
    planned = plan(paths, opts, roster)
    planned.out.mkdir(parents=True, exist_ok=True)
    run_id = gradebook.run_id()
    notes: list[str] = []
    results: dict[str, SubmissionResult] = {}
    work = Path(tempfile.mkdtemp(prefix="facekit-grade-"))
    try:
        prepared = prepare(planned, opts, work)
        # From here on the gradebook is being updated: a run that dies now leaves it marked.
        notes += [n for n in [gradebook.start(planned.out, run_id, report.csv_header(planned.kit))] if n]
        run(
            planned,
            prepared,
            opts,
            work,
            functools.partial(_scored, planned, prepared, opts, results, progress),
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    graded = [results[s.id] for s in planned.subs]
    rows, meta = write(planned, prepared, opts, graded, notes, run_id)
    written = {r.id: r for r in rows}  # as the gradebook has them: the instructor's overrides in
    return [written[r.id] for r in graded], meta, time.monotonic() - started


def _submitted_at(sub: sources.Submission) -> tuple[datetime | None, str]:
    """When a submission was handed in, and where that comes from: submission.json's timestamp
    (the student's clock), a git repository's last commit time, else the file's modification time."""
    stamp = sub.meta.get("timestamp")
    if isinstance(stamp, str):
        try:
            value = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
            return (value if value.tzinfo else value.astimezone()), "submission.json"
        except ValueError:
            pass
    path = Path(sub.source)
    if sub.meta.get("git_commit"):
        import subprocess

        shown = subprocess.run(
            ["git", "-C", str(path), "show", "-s", "--format=%ct", sub.meta["git_commit"]],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if shown.returncode == 0 and shown.stdout.strip().isdigit():
            return datetime.fromtimestamp(int(shown.stdout), timezone.utc), "the git commit"
    try:
        if path.is_dir():
            times = [(path / f).stat().st_mtime for f in sub.files if (path / f).is_file()]
            mtime = max(times) if times else path.stat().st_mtime
        else:
            mtime = path.stat().st_mtime
    except OSError:
        return None, ""
    return datetime.fromtimestamp(mtime, timezone.utc), "the file's modification time"


def score(
    sub: sources.Submission,
    run: dict[str, Any] | None,
    kit: course.Course,
    expected: dict[str, list[str]],
    declared: Declared,
    opts: Options,
    cached: bool,
) -> SubmissionResult:
    """One submission's result from its run's record (None: nothing ran): status, scores, each
    test's outcome with what the pristine kit declares of it, a hidden test's words withheld."""
    status, reason = report.status_of(run if sub.files else None, sub.refused, opts.timeout)
    if status == "ok" and not reason:  # graded, but not all of it: say which modules and why
        reason = report.not_graded(kit, sub.files, sub.skipped)
    outcomes = records.outcomes_of(run if not sub.refused else None)
    if run and run.get("tampered"):
        # A forged record: nothing in it counts. The instructor reviews the hand-in.
        status, reason = "tampered", f"{run['tampered']}: review this hand-in"
        outcomes = {}
    exercises, tests = report.score(outcomes, expected, kit, opts.all_or_nothing, declared.functions)
    broad = set(declared.broad)
    hidden, secrets = declared.hidden, declared.secrets
    for nodeid, test in tests.items():
        exercise = workspace.exercise_of_file(nodeid.split("::")[0], kit)
        tests[nodeid] = replace(
            test,
            exercise=exercise.id if exercise else None,
            function=declared.functions.get(nodeid),  # as the pristine kit declares it
            broad=nodeid in broad,
            visibility=hidden.get(nodeid, "visible"),
            # A student's message may quote a hidden test (its code read its file): not shown.
            message=_withhold(test.message, secrets, hidden),
            detail=_withhold(test.detail, secrets, hidden),
        )
    submitted_at, source = _submitted_at(sub) if opts.due else (None, "")
    result = SubmissionResult(
        id=sub.id,
        source=sub.source,
        status=status,
        reason=_withhold(reason, secrets, hidden) or "",
        seconds=float(run["seconds"]) if run else 0.0,
        cached=cached,
        total=0.0,
        max_total=report.max_total(kit),
        exercises=exercises,
        late=gradebook.late(submitted_at, opts.due, opts.late_percent, source),
        files=sorted(sub.files),
        fingerprints=gradebook.fingerprints(sub.files),
        ignored=list(sub.ignored),
        warnings=list(sub.warnings),
        submitted={
            k: sub.meta.get(k) for k in ("kit_version", "timestamp", "done", "git_commit") if k in sub.meta
        },
        tests=tests,
    )
    return gradebook.total(result)  # from the unrounded exercise scores, less any late penalty
