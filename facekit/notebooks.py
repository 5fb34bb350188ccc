"""The course notebooks: their setup cell, and checking and executing them.

In a notebook (first cell)::

    from facekit import notebooks
    ex = notebooks.setup("ex02_embeddings")   # tree and weights from KIT_TARGET / KIT_WEIGHTS

For instructors and the kit's tests (needs the ``dev`` extra: nbformat, nbclient, ipykernel)::

    notebooks.validate("notebooks/ex02_embeddings.ipynb")
    nb = notebooks.execute("notebooks/ex02_embeddings.ipynb", target="solutions", weights="standin")

``execute`` runs a copy in memory: the notebook file on disk is never rewritten.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import warnings
from pathlib import Path
from types import ModuleType

from facekit import course, hub_switch, settings, trees

KERNEL = "python3"
CELL_TIMEOUT = 300  # seconds per cell; the slowest course cell takes a few seconds on 2 CPU cores
_ERROR_LINES = 8  # of an error message, in NotebookExecutionError's text


class NotebookError(Exception):
    """A course notebook is broken; the message names the file."""


class InvalidNotebookError(NotebookError, ValueError):
    """The file is not a valid nbformat v4 notebook."""


class NotebookExecutionError(NotebookError, RuntimeError):
    """A cell failed (or timed out, or the kernel died) while executing a notebook.

    ``str()`` is short: the notebook, the cell and the error's last line. The kernel's full
    traceback, without colour codes, is in ``traceback``.
    """

    def __init__(self, path: Path, cell_number: int | None, source: str, error: str, traceback: str = ""):
        self.path = Path(path)
        self.cell_number = cell_number  # 1-based, counting every cell (markdown too)
        self.source = source
        self.error = error
        self.traceback = traceback
        where = f"cell {cell_number}" if cell_number else "before the first cell"
        first_line = next((line for line in source.splitlines() if line.strip()), "")
        if first_line:
            where += f" ({_shorten(first_line.strip(), 60)})"
        super().__init__(f"{self.path}: {where} failed: {error}")


_DEV_HINT = 'pip install -e ".[dev]"'


def _require_dev(module: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise ModuleNotFoundError(
            f"checking notebooks needs {module}, from the kit's dev extra: {_DEV_HINT}", name=module
        )


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- in a notebook ----------------------------------------------------------------------------


def setup(exercise_id: str) -> ModuleType:
    """The setup cell of a course notebook: pick the tree and the weights, say which, return the exercise.

    The tree comes from ``KIT_TARGET`` (``exercises``: the student's code, the default; or
    ``solutions``) and the weights from ``KIT_WEIGHTS`` (``standin``: seeded random weights,
    offline, the default; or ``hub``: the real pretrained weights). Running the cell again
    imports the exercise afresh, so edits to the student's file take effect without
    restarting the kernel.
    """
    exercise = course.load().get(exercise_id)
    target = settings.resolve_target()
    with warnings.catch_warnings():
        # huggingface_hub imports tqdm.auto, which warns in a kernel without ipywidgets;
        # progress bars then print as text, which is fine.
        warnings.filterwarnings("ignore", message="IProgress not found")
        weights = hub_switch.activate_weights()
    # Drop the exercise's modules so a re-run of the setup cell picks up edited code.
    package = exercise.module(target)
    for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
        del sys.modules[name]
    module = trees.load_exercise(exercise_id, target)

    print(f"{exercise.id}: {exercise.title}")
    for label, text in settings.header(target, weights, code=exercise.source(target), with_env=True):
        print(f"{label + ':':<9}{text}")
    if weights.mode == "standin":
        print(
            "         The numbers below only show that the code runs and has the right shapes;\n"
            "         they mean nothing about faces. Real pretrained weights: KIT_WEIGHTS=hub."
        )
    return module


# -- checking and executing --------------------------------------------------------------------


def validate(path: str | os.PathLike):
    """Read a notebook and check it against the nbformat v4 schema; return it (a NotebookNode).

    Raises InvalidNotebookError naming the file when it is not JSON, not version 4, or not valid.
    """
    _require_dev("nbformat")
    import nbformat

    path = Path(path)
    try:
        nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    except FileNotFoundError:
        raise InvalidNotebookError(f"{path}: notebook not found") from None
    except Exception as err:  # nbformat raises several kinds for unreadable JSON
        raise InvalidNotebookError(f"{path}: not a readable notebook: {err}") from err
    version = nb.get("nbformat")
    if version != 4:
        raise InvalidNotebookError(f"{path}: expected an nbformat 4 notebook; got nbformat {version}")
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as err:
        raise InvalidNotebookError(f"{path}: not a valid nbformat 4 notebook: {err.message}") from err
    return nb


def committed_outputs(nb) -> list[str]:
    """Which code cells carry outputs or execution counts (committed notebooks should have none).

    ``nb`` is a NotebookNode (``validate``'s result) or a path. Returns one line per such cell,
    e.g. ``"cell 3: 2 outputs, execution count 5"``; an empty list means the notebook is clean.
    """
    if isinstance(nb, (str, os.PathLike)):
        nb = validate(nb)
    found = []
    for number, cell in enumerate(nb.cells, 1):
        if cell.cell_type != "code":
            continue
        parts = []
        if cell.get("outputs"):
            parts.append(f"{len(cell.outputs)} output{'s' * (len(cell.outputs) != 1)}")
        if cell.get("execution_count") is not None:
            parts.append(f"execution count {cell.execution_count}")
        if parts:
            found.append(f"cell {number}: {', '.join(parts)}")
    return found


def kernel_env(
    target: str = "solutions",
    weights: str = "standin",
    standin_cache: str | os.PathLike | None = None,
    root: str | os.PathLike | None = None,
) -> dict[str, str]:
    """The environment a notebook kernel gets: this process's, plus the tree and weights chosen.

    For stand-in weights that is KIT_STANDIN_CACHE, HF_HUB_CACHE and HF_HUB_OFFLINE=1, set by
    ``hub_switch.activate_weights`` (which also builds the stand-in cache once, so kernels share
    it). This process's own environment and huggingface_hub settings are left as they were.
    The kit's ``root`` (default: this checkout) goes first on PYTHONPATH, so ``facekit`` and
    the trees import from it whether or not a kit is installed.
    """
    # Imported first, so its settings come from this process's own environment and can be restored.
    from huggingface_hub import constants

    saved_env = dict(os.environ)
    saved_hub = constants.HF_HUB_CACHE, constants.HF_HUB_OFFLINE
    try:
        hub_switch.activate_weights(weights, Path(standin_cache) if standin_cache else None)
        env = dict(os.environ)
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        constants.HF_HUB_CACHE, constants.HF_HUB_OFFLINE = saved_hub
    root = Path(root).resolve() if root else course.repo_root()
    return settings.child_env(root, target, weights, base=env)


def execute(
    path: str | os.PathLike,
    target: str = "solutions",
    weights: str = "standin",
    *,
    timeout: int = CELL_TIMEOUT,
    standin_cache: str | os.PathLike | None = None,
    root: str | os.PathLike | None = None,
):
    """Run a notebook top to bottom in a fresh kernel; return the executed copy (a NotebookNode).

    The kernel is the ``python3`` kernel of this Python environment, started in the
    notebook's folder, with ``KIT_TARGET=target`` and ``KIT_WEIGHTS=weights`` (see
    ``kernel_env``; ``root`` is the kit the kernel imports, by default this checkout).
    ``timeout`` is per cell, in seconds. The file on disk is not modified;
    write the result with ``nbformat.write`` to keep it.

    Raises InvalidNotebookError for a file that is not a valid v4 notebook and
    NotebookExecutionError, naming the notebook, the cell and the error's last line, when a
    cell raises, times out or the kernel dies.
    """
    _require_dev("nbclient")
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    path = Path(path).resolve()
    nb = validate(path)
    env = kernel_env(target, weights, standin_cache, root)
    started: list[int] = []  # index of the cell being executed, for the error message

    client = NotebookClient(
        nb,
        kernel_name=KERNEL,
        timeout=timeout,
        resources={"metadata": {"path": str(path.parent)}},
        on_cell_start=lambda cell, cell_index: started.append(cell_index),
    )
    # The kernel's stderr goes to a file: ipykernel's start-up chatter stays out of the
    # caller's output, and if the kernel dies its last words go into the error.
    with tempfile.TemporaryFile(mode="w+", prefix="facekit-kernel-") as log:
        try:
            client.execute(env=env, stderr=log)
            return nb
        except NoSuchKernel:
            raise NotebookError(
                f"{path}: no Jupyter kernel named {KERNEL!r} in this environment "
                f"({sys.executable}); install ipykernel: {_DEV_HINT}"
            ) from None
        except (CellExecutionError, CellTimeoutError, DeadKernelError) as err:
            log.seek(0)
            failure = err, log.read()
    failed, kernel_stderr = failure
    index = started[-1] if started else None
    source = nb.cells[index].source if index is not None else ""
    if isinstance(failed, CellExecutionError):
        message = f"{failed.ename}: {failed.evalue}".strip()
        lines = message.splitlines()
        if len(lines) > _ERROR_LINES:
            message = "\n".join(lines[:_ERROR_LINES] + ["..."])
        traceback = _strip_ansi(failed.traceback)
    elif isinstance(failed, CellTimeoutError):
        message, traceback = f"timed out after {timeout} s (the per-cell limit)", str(failed)
    else:
        last_words = " / ".join(kernel_stderr.strip().splitlines()[-3:])
        message = f"the kernel died ({failed})" + (f"; its last output: {last_words}" if last_words else "")
        traceback = kernel_stderr
    raise NotebookExecutionError(path, None if index is None else index + 1, source, message, traceback)


def _strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)
