"""The course notebooks: every notebook the manifest lists is valid, clean, and runs.

Each notebook runs top to bottom in a fresh kernel against the reference solutions, offline,
on stand-in weights. A kernel start plus the torch import costs several seconds on a small
machine, so each notebook is executed once, by one test.
"""

from __future__ import annotations

import json

import pytest

from facekit import course, notebooks, standin

ROOT = course.repo_root()
WITH_NOTEBOOK = [exercise for exercise in course.load().exercises if exercise.notebook]
by_exercise = pytest.mark.parametrize("exercise", WITH_NOTEBOOK, ids=lambda e: e.id)


@pytest.fixture(scope="module")
def standin_cache(pytestconfig, tmp_path_factory):
    """The session's stand-in cache (already built), or a fresh one when the run uses --weights hub."""
    return pytestconfig.facekit["standin_dir"] or tmp_path_factory.mktemp("standin-hub")


# -- every notebook in the manifest ---------------------------------------------------------


@by_exercise
def test_notebook_is_valid_v4_without_outputs(exercise):
    path = ROOT / exercise.notebook
    assert path.is_file(), f"the manifest lists {exercise.notebook}, which does not exist"
    nb = notebooks.validate(path)
    assert nb.nbformat == 4
    leftovers = notebooks.committed_outputs(nb)
    assert not leftovers, (
        f"{exercise.notebook} was committed with outputs ({'; '.join(leftovers)}): "
        f"clear all outputs before committing"
    )


@by_exercise
def test_notebook_runs_against_the_solutions_on_standin_weights(exercise, standin_cache):
    path = ROOT / exercise.notebook
    before = path.read_bytes()
    try:
        nb = notebooks.execute(path, target="solutions", weights="standin", standin_cache=standin_cache)
    except notebooks.NotebookError as err:
        pytest.fail(str(err), pytrace=False)
    assert path.read_bytes() == before, "executing a notebook must not write into the notebook file"
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code and all(cell.execution_count is not None for cell in code)
    printed = "".join(
        output.get("text", "") for cell in code for output in cell.outputs if output.output_type == "stream"
    )
    assert standin.LABEL in printed, (
        "the notebook must say which weights it runs on: start it with notebooks.setup(exercise_id)"
    )


# -- facekit.notebooks itself -----------------------------------------------------------------


def _write(path, cells, nbformat_version=4):
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    nb = new_notebook(
        cells=[new_markdown_cell(c[1:]) if c.startswith("#") else new_code_cell(c) for c in cells]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_a_failing_cell_is_reported_by_file_cell_and_last_line(tmp_path, standin_cache):
    path = _write(
        tmp_path / "broken.ipynb",
        [
            "#A title",
            "import os\nprint(os.environ['KIT_TARGET'], os.environ['KIT_WEIGHTS'])",
            "def deep(n):\n    return deep(n - 1) if n else int('not a number')\n\ndeep(50)",
            "print('never reached')",
        ],
    )
    before = path.read_bytes()
    with pytest.raises(notebooks.NotebookExecutionError) as info:
        notebooks.execute(path, target="solutions", weights="standin", standin_cache=standin_cache)
    message = str(info.value)
    assert str(path) in message and "cell 3" in message
    assert "ValueError: invalid literal for int() with base 10: 'not a number'" in message
    assert len(message.splitlines()) == 1, f"a one-line summary, not a traceback: {message!r}"
    assert "deep(n - 1)" in info.value.traceback  # the full traceback is still there
    assert path.read_bytes() == before


def test_the_kernel_gets_the_chosen_tree_and_standin_weights_and_the_caller_keeps_its_own(
    tmp_path, standin_cache, monkeypatch
):
    import os

    from huggingface_hub import constants

    # The caller uses another hub cache, online: executing a notebook must leave that alone.
    callers_cache = str(tmp_path / "callers-hub-cache")
    monkeypatch.setenv("HF_HUB_CACHE", callers_cache)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", callers_cache)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    code = (
        "import json, os\nprint(json.dumps({k: os.environ.get(k) for k in "
        "['KIT_TARGET', 'KIT_WEIGHTS', 'KIT_STANDIN_CACHE', 'HF_HUB_CACHE', 'HF_HUB_OFFLINE']}))\n"
        "print(json.dumps(os.getcwd()))"
    )
    path = _write(tmp_path / "env.ipynb", [code])
    environ_before = dict(os.environ)
    nb = notebooks.execute(path, target="exercises", weights="standin", standin_cache=standin_cache)
    assert dict(os.environ) == environ_before
    assert (constants.HF_HUB_CACHE, constants.HF_HUB_OFFLINE) == (callers_cache, False)
    env_line, cwd_line = nb.cells[0].outputs[0].text.splitlines()
    assert json.loads(env_line) == {
        "KIT_TARGET": "exercises",
        "KIT_WEIGHTS": "standin",
        "KIT_STANDIN_CACHE": str(standin_cache),
        "HF_HUB_CACHE": str(standin_cache),
        "HF_HUB_OFFLINE": "1",
    }
    assert json.loads(cwd_line) == str(tmp_path), "the kernel runs in the notebook's folder"


def test_validate_names_the_file_it_rejects(tmp_path):
    not_json = tmp_path / "not_json.ipynb"
    not_json.write_text("{ this is not json")
    with pytest.raises(notebooks.InvalidNotebookError, match="not_json.ipynb"):
        notebooks.validate(not_json)

    bad_cell = tmp_path / "bad_cell.ipynb"
    _write(bad_cell, ["print(1)"])
    data = json.loads(bad_cell.read_text())
    data["cells"][0]["cell_type"] = "poem"
    bad_cell.write_text(json.dumps(data))
    with pytest.raises(notebooks.InvalidNotebookError, match="bad_cell.ipynb"):
        notebooks.validate(bad_cell)

    old = tmp_path / "old.ipynb"
    old.write_text(json.dumps({"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": []}))
    with pytest.raises(notebooks.InvalidNotebookError, match=r"old.ipynb.*nbformat 4.*nbformat 3"):
        notebooks.validate(old)

    with pytest.raises(notebooks.InvalidNotebookError, match="missing.ipynb"):
        notebooks.validate(tmp_path / "missing.ipynb")


def test_committed_outputs_finds_outputs_and_execution_counts(tmp_path):
    import nbformat

    path = _write(tmp_path / "clean.ipynb", ["#Title", "1 + 1", "print(2)"])
    assert notebooks.committed_outputs(path) == []
    nb = nbformat.read(path, as_version=4)
    nb.cells[1].execution_count = 7
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", name="stdout", text="2\n")]
    assert notebooks.committed_outputs(nb) == ["cell 2: execution count 7", "cell 3: 1 output"]
