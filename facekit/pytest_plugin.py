"""The kit's pytest harness: one set of tests, run against the tree you choose.

    pytest                          # your code in exercises/, on stand-in weights
    pytest --target solutions       # the reference solutions (or KIT_TARGET=solutions)
    pytest --weights hub            # real pretrained weights (cached, or network allowed)
    # The instructor's check: also the kit's own tests, on every core (pytest-xdist, the dev
    # extra), each test module whole on one worker (its module fixtures run once).
    pytest --target solutions --kit -n auto --dist loadfile

A test that stops at a stub's NotImplementedError is reported as "not implemented" with
one line naming the function and the file to open, instead of a traceback.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path

import pytest

from facekit import course, hub_switch, settings, trees

TODO = "not implemented"
_KIT_DIR = course.repo_root() / "tests" / "kit"


def pytest_addoption(parser):
    group = parser.getgroup("facekit", "face-embeddings course kit")
    group.addoption(
        "--target",
        choices=settings.TARGETS,
        default=None,
        help=f"tree to test: exercises (your code, default) or solutions; env {settings.TARGET_ENV}",
    )
    group.addoption(
        "--weights",
        choices=settings.WEIGHTS,
        default=None,
        help=f"standin: seeded random weights, offline (default); hub: the real "
        f"pretrained weights from the Hugging Face cache; env {settings.WEIGHTS_ENV}",
    )
    group.addoption(
        "--kit", action="store_true", help="also run the kit's own checks in tests/kit (instructors, CI)"
    )


def pytest_configure(config):
    config.addinivalue_line("markers", "kit: a check of the kit as shipped (run with --kit)")
    config.addinivalue_line(
        "markers",
        "function(name, broad=False): the manifest function this "
        "test covers (a class name stands for its methods); facekit "
        "check groups results by it. broad=True: a whole-result "
        "comparison; facekit check shows a narrower failing test "
        "first (facekit.progress.shown_failure)",
    )
    in_tree = _exercise_folder(config)
    default_target = settings.DEFAULT_TARGET
    if in_tree:  # `pytest` inside exercises/ex02_embeddings/: that exercise's tests, that tree
        default_target, exercise = in_tree
        config.args[:] = [str(course.repo_root() / exercise.tests)]
    made: list[Path] = []

    def new_standin_cache() -> Path:
        # A fresh cache per run, so no earlier run's files (or damage) can leak in, unless
        # KIT_STANDIN_CACHE names one: `facekit check` keeps one (checked) across runs.
        made.append(Path(tempfile.mkdtemp(prefix="facekit-standin-")))
        return made[0]

    choice = settings.read_choice(
        config.getoption("--target"),
        config.getoption("--weights"),
        default_target=default_target,
        new_standin_cache=new_standin_cache,
    )
    if choice.weights.mode == "hub":
        _require_hub_weights()
    # This process may have imported huggingface_hub already (a plugin, the warm worker): its
    # settings are pointed at the choice until pytest_unconfigure (hub_switch says why).
    pointing = contextlib.ExitStack()
    pointing.enter_context(hub_switch.pointed_at(choice.weights))
    config.facekit = {
        "choice": choice,
        "target": choice.target,
        # The folder of the code under test, once: each failure's message is placed against it.
        "tree": (course.repo_root() / choice.target).resolve(),
        "weights": choice.weights,  # the stand-in cache is built in pytest_collection_finish
        "standin_dir": choice.weights.cache if choice.weights.mode == "standin" else None,
        "owns_standin_dir": bool(made),
        "pointing": pointing,
    }


def _require_hub_weights() -> None:
    """Once, before any test: the real weights are cached, or fetched now, or one message says how.

    Without this, every test that loads them would print huggingface_hub's own error.
    """
    from facekit import hub

    try:
        wanted = course.load().weights()
    except course.ManifestError:
        return  # facekit reports the manifest itself
    missing = [(repo, name) for repo, name in wanted if hub.cached_file(repo, name) is None]
    if not missing:
        return
    names = ", ".join(f"{repo}/{name}" for repo, name in missing)
    if hub.is_offline():
        why = "the hub is offline (HF_HUB_OFFLINE=1)"
    else:
        try:
            for repo, name in missing:
                hub.download(repo, name)
            return
        except hub.WeightsNotFoundError as err:
            why = f"downloading failed ({str(err).split(' and ', 1)[-1].split('.')[0]})"
    raise pytest.UsageError(
        f"--weights hub: the real pretrained weights {names} are not in the Hugging Face cache "
        f"({hub.cache_dir()}) and {why}. Fetch them once on a machine with network access: "
        f"`facekit download` (or `python -m facekit download`), then copy that cache folder here "
        f"and point HF_HUB_CACHE at it (HF_HUB_CACHE=/path/to/hub pytest --weights hub). "
        f"Without them, run on the stand-in weights: leave out --weights hub."
    )


def _exercise_folder(config) -> tuple[str, course.Exercise] | None:
    """(tree, exercise) when a plain ``pytest`` (no paths) runs inside an exercise's folder.

    pytest alone would look for tests there, find none and exit 5: the tests are in tests/.
    """
    if config.args_source is not pytest.Config.ArgsSource.INVOCATION_DIR:
        return None
    root = course.repo_root()
    try:
        parts = Path(config.invocation_params.dir).resolve().relative_to(root).parts
        exercises = course.load(root / "exercises" / "course.toml").exercises
    except (ValueError, course.ManifestError):
        return None
    if len(parts) < 2 or parts[0] not in settings.TARGETS:
        return None
    found = next((e for e in exercises if e.folder(parts[0]) == f"{parts[0]}/{parts[1]}"), None)
    return (parts[0], found) if found else None


def pytest_unconfigure(config):
    info = getattr(config, "facekit", None)
    if info:
        info["pointing"].close()  # huggingface_hub's settings as they were before this run
    if info and info["standin_dir"] and info["owns_standin_dir"]:
        shutil.rmtree(info["standin_dir"], ignore_errors=True)


def pytest_report_header(config):
    info = config.facekit
    return ["facekit: " + "; ".join(f"{label}: {text}" for label, text in settings.header(info["choice"]))]


def pytest_collection_modifyitems(session, config, items):
    """A ``@pytest.mark.function`` must name a function of its exercise: a typo is an error."""
    root = course.repo_root()
    try:
        by_tests = {e.tests: e for e in course.load(root / "exercises" / "course.toml").exercises}
    except course.ManifestError:
        return  # facekit reports the manifest itself
    for item in items:
        marker = item.get_closest_marker("function")
        try:
            relpath = Path(str(item.path)).resolve().relative_to(root).as_posix()
        except ValueError:
            continue
        exercise = by_tests.get(relpath)
        if marker is None or exercise is None:
            continue
        name = marker.args[0] if marker.args else None
        unknown = set(marker.kwargs) - {"broad"}
        if unknown:
            raise pytest.UsageError(
                f"{item.nodeid}: @pytest.mark.function takes broad=True, not {', '.join(sorted(unknown))}"
            )
        if name not in exercise.functions:
            raise pytest.UsageError(
                f"{item.nodeid}: @pytest.mark.function({name!r}) names no function "
                f"of {exercise.id} (its functions: {', '.join(exercise.functions)})"
            )


def pytest_collection_finish(session):
    """The stand-in weights, built now if a collected test reads them: building them imports
    timm and makes a model, seconds that Exercise 04's and 05's tests alone do not need."""
    info = getattr(session.config, "facekit", None)
    if info and info["weights"].mode == "standin" and needs_weights(session.items):
        hub_switch.build_standin(info["weights"])


def needs_weights(items) -> bool:
    """A test among ``items`` may read the model's weights: it uses the harness's checkpoint,
    or belongs to an exercise whose manifest entry lists weights, or to no exercise at all."""
    root = course.repo_root()
    try:
        without = {
            e.tests for e in course.load(root / "exercises" / "course.toml").exercises if not e.weights
        }
    except course.ManifestError:
        return True
    for item in items:
        if "checkpoint" in getattr(item, "fixturenames", ()):
            return True
        try:
            relpath = Path(str(item.path)).resolve().relative_to(root).as_posix()
        except ValueError:
            return True
        if relpath not in without:
            return True
    return False


def pytest_ignore_collect(collection_path, config):
    # The kit's own checks (stubs still raise NotImplementedError, ...) stop being true as a
    # student fills the stubs, so they never run in a student's plain `pytest`.
    if not config.getoption("--kit") and Path(collection_path) == _KIT_DIR:
        return True
    return None


# -- fixtures shared by the exercise tests -------------------------------------------------


@pytest.fixture(scope="session")
def kit_target(pytestconfig) -> str:
    """'exercises' or 'solutions': the tree under test."""
    return pytestconfig.facekit["target"]


@pytest.fixture(scope="session")
def weights_in_use(pytestconfig) -> settings.Weights:
    """The run's weights (settings.Weights: mode, cache, offline)."""
    return pytestconfig.facekit["weights"]


@pytest.fixture(scope="session")
def kit_choice(pytestconfig) -> settings.Choice:
    """The run's tree and weights, as chosen when it started; ``settings.child_env(root,
    kit_choice)`` is the environment of a child process that runs on the same."""
    return pytestconfig.facekit["choice"]


@pytest.fixture(scope="session")
def load_exercise(kit_target):
    """``load_exercise("ex02_embeddings")``: that exercise's module from the tree under test."""
    return lambda exercise_id: trees.load_exercise(exercise_id, kit_target)


@pytest.fixture(scope="session")
def sample_face():
    """The public-domain NASA astronaut portrait, cropped to the face (a PIL RGB image)."""
    from facekit import data

    return data.sample_face()


@pytest.fixture(scope="session")
def face_tensor(sample_face):
    """The sample face through timm's own eval transform for ConvNeXt-Atto: [3, 224, 224]."""
    from facekit import data

    return data.eval_transform()(sample_face)


@pytest.fixture(scope="session")
def checkpoint():
    """The ConvNeXt-Atto checkpoint this run uses (stand-in or real), read by the harness."""
    from safetensors.torch import load_file

    from facekit import hub, standin

    return load_file(hub.download(standin.MODEL_ID, standin.FILENAME))


@pytest.fixture(scope="session")
def embedder(checkpoint):
    """ConvNeXt-Atto without classifier, built by the harness with timm, not by a student.

    Tests of anything downstream of build_model() (compute_embedding, similarity, the app)
    use it, so they report on their own exercise even while build_model is still a stub.
    """
    import timm
    import torch

    with torch.device("meta"):  # skip the random init the checkpoint overwrites
        model = timm.create_model("convnext_atto", pretrained=False, num_classes=0)
    headless = {k: v for k, v in checkpoint.items() if not k.startswith("head.fc.")}
    model.load_state_dict(headless, strict=True, assign=True)
    return model.eval()


@pytest.fixture(scope="session")
def ex02_model(load_exercise):
    """The tree's ``build_model()``, built once per session."""
    build_model = load_exercise("ex02_embeddings").build_model
    try:
        return build_model()
    except RuntimeError as error:
        explained = state_dict_mismatch(error)
        if explained is None:
            raise
        pytest.fail(f"build_model() raised RuntimeError in load_state_dict: {explained}", pytrace=False)


def state_dict_mismatch(error: BaseException, shown: int = 4) -> str | None:
    """A strict ``load_state_dict`` failure in words a student can act on (its first line,
    "Error(s) in loading state_dict for ConvNeXt:", is all a one-line report shows); None
    for any other error."""
    import re

    text = str(error)
    if "Error(s) in loading state_dict" not in text:
        return None
    parts = []
    for label, meaning in (
        ("Unexpected", "in the checkpoint but not in the model"),
        ("Missing", "in the model but not in the checkpoint"),
    ):
        found = re.search(rf"{label} key\(s\) in state_dict: (.*?)\.\s*(?:\n|$)", text)
        if found:
            keys = [k.strip().strip('"') for k in found.group(1).split(",")]
            listed = ", ".join(keys[:shown]) + (f" and {len(keys) - shown} more" if len(keys) > shown else "")
            parts.append(f"{len(keys)} tensor(s) {meaning} ({listed})")
    sizes = re.findall(r"size mismatch for ([^:]+):", text)
    if sizes:
        parts.append(f"{len(sizes)} tensor(s) of another shape ({', '.join(sizes[:shown])})")
    advice = (
        "the classifier head.fc.* is in the checkpoint but not in a model built with "
        "num_classes=0: load with strict=False, then raise for anything missing or "
        "unexpected that is not head.fc.*"
    )
    return "; ".join(parts or [" ".join(text.split())[:300]]) + ". " + advice


# -- short reports for stubs ---------------------------------------------------------------


def _todo_origin(excinfo, tree: Path):
    """(function, file) when the error is a NotImplementedError raised in ``tree``, the tree under test."""
    if excinfo is None or not excinfo.errisinstance(NotImplementedError):
        return None
    for entry in reversed(excinfo.traceback):
        path = Path(str(entry.path)).resolve()
        if path.is_relative_to(tree):
            code = entry.frame.code.raw
            # The qualified name tells JsonFileStore.__init__ from SqliteStore.__init__.
            return getattr(code, "co_qualname", code.co_name), str(path.relative_to(course.repo_root()))
    return None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    origin = _todo_origin(call.excinfo, item.config.facekit["tree"])
    line = f"{origin[0]}() is not implemented yet ({origin[1]})" if origin else None
    if origin:
        # pytest would format the whole traceback (parsing each file in it, ~15 ms a test:
        # half the time of a first run on untouched stubs) only for this line to replace it.
        item._repr_failure_py = lambda excinfo, style=None: line
    try:
        outcome = yield
    finally:
        item.__dict__.pop("_repr_failure_py", None)
    report = outcome.get_result()
    if origin and report.failed:
        report.facekit_todo = origin
        report.longrepr = line


# -- the time of each phase of a kit check (--kit) -------------------------------------------

_phase_seconds: dict[str, float] = {}


def _phase(nodeid: str) -> str:
    """``tests/test_ex01_images.py::...`` -> "exercise tests"; a kit module or kit sub-folder by name."""
    path = nodeid.split("::")[0]
    parts = path.split("/")
    if len(parts) >= 3 and parts[:2] == ["tests", "kit"]:
        return "/".join(parts[1:3]) if len(parts) > 3 else f"kit/{parts[2]}"
    return "exercise tests"


def pytest_runtest_logreport(report):
    _phase_seconds[_phase(report.nodeid)] = _phase_seconds.get(_phase(report.nodeid), 0.0) + report.duration


def _print_phases(terminalreporter, workers: int) -> None:
    tr = terminalreporter
    tr.section("kit-check phases (setup, call and teardown time)", sep="-", bold=True)
    for phase, seconds in sorted(_phase_seconds.items(), key=lambda kv: -kv[1]):  # the slowest first
        tr.write_line(f"{seconds:7.1f} s  {phase}")
    total = sum(_phase_seconds.values())
    # Side by side on pytest-xdist's workers, the phases add up to more than the wall-clock time.
    tr.write_line(f"{total:7.1f} s  in all" + (f", summed over {workers} workers" if workers > 1 else ""))


def pytest_report_teststatus(report, config):
    if getattr(report, "facekit_todo", None):
        return TODO, "T", "NOT IMPLEMENTED"
    return None


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if config.getoption("--kit") and _phase_seconds:
        _print_phases(terminalreporter, int(getattr(config.option, "numprocesses", None) or 0))
    todo = terminalreporter.stats.get(TODO, [])
    if not todo:
        return
    tr = terminalreporter
    tr.section("not implemented yet", sep="-", yellow=True, bold=True)
    waiting: dict[tuple[str, str], int] = {}
    for report in todo:
        function, _ = report.facekit_todo
        tr.write_line(f"{report.head_line}: needs {function}()")
        waiting[report.facekit_todo] = waiting.get(report.facekit_todo, 0) + 1
    tr.write_line("")
    for (function, path), count in waiting.items():
        tests = f"{count} test{'s' * (count != 1)}"
        tr.write_line(f"{function}() is not implemented yet: open {path} ({tests})", yellow=True)
    tr.write_line(
        "Follow the TODO steps (the exercise's README explains them), then run "
        "pytest again. Stuck? Run `facekit hint`."
    )
