"""CHEATSHEET.md works as printed: every ```python block runs, offline, on the stand-in weights.

Blocks run top to bottom in one namespace per section (a "## " heading), so a block may use
what earlier blocks of its section defined; sections never see each other. Each block is one
test, named after its section and its place in it (``models-timm-2``). A block's working
directory is a temporary folder of its section, and what it changes in os.environ, the hub
settings or torch's random state is undone afterwards. Code is compiled under the cheatsheet's
own file name and line numbers, so a traceback shows the markdown lines that failed. What each
print call prints is compared with the comment at the end of its line (snippets.OUTPUT_COMMENT).
The parsing and running live in snippets.py, shared with the exercises' recipes (test_teaching.py).
"""

from __future__ import annotations

import ast

import pytest
from snippets import OUTPUT_COMMENT, Block, output_mismatches, parse, slug
from snippets import execute as _execute

from facekit import course

CHEATSHEET = course.repo_root() / "CHEATSHEET.md"


SHEET = parse(CHEATSHEET.read_text(encoding="utf-8"))


class SectionRun:
    """One section's namespace, working folder and the outcome of each block run so far."""

    def __init__(self, section: str, workdir):
        self.namespace: dict = {"__name__": "cheatsheet"}
        self.workdir = workdir
        self.outcomes: dict[int, BaseException | None] = {}  # block index -> error or None
        self.printed: dict[int, list[str]] = {}  # source line -> what print wrote there
        self.blocks = [b for b in SHEET.blocks if b.section == section]

    def run(self, block: Block) -> BaseException | None:
        if block.index not in self.outcomes:
            self.outcomes[block.index] = _execute(block, self.namespace, self.workdir, self.printed)
        return self.outcomes[block.index]


@pytest.fixture(scope="module")
def section_runs(tmp_path_factory):
    runs: dict[str, SectionRun] = {}

    def get(section: str) -> SectionRun:
        if section not in runs:
            runs[section] = SectionRun(section, tmp_path_factory.mktemp(slug(section) or "top"))
        return runs[section]

    return get


@pytest.mark.parametrize("block", SHEET.blocks, ids=[b.id for b in SHEET.blocks])
def test_python_block_runs(block, section_runs):
    __tracebackhide__ = True
    run = section_runs(block.section)
    # The earlier blocks of the section first (already done unless this test was picked alone).
    for earlier in run.blocks[: block.index - 1]:
        already_reported = earlier.index in run.outcomes
        error = run.run(earlier)
        if error is not None:
            message = f"it builds on {earlier.where}, which failed: {type(error).__name__}: {error}"
            if already_reported:
                pytest.skip(message)
            pytest.fail(message, pytrace=False)
    error = run.run(block)
    if error is not None:
        raise error
    wrong = output_mismatches(block, run.printed)
    assert not wrong, f"{block.where}: output comments ({OUTPUT_COMMENT}) that are wrong:\n" + "\n".join(
        wrong
    )


def test_every_python_block_compiles():
    errors = []
    for block in SHEET.blocks:
        try:
            block.compile()
        except SyntaxError as err:
            errors.append(f"{block.id}: CHEATSHEET.md line {err.lineno}: {err.msg}")
    assert not errors, "python blocks that are not valid Python:\n" + "\n".join(errors)


def test_fences_are_closed_and_python_blocks_marked_python():
    problems = SHEET.problems
    assert not problems, "\n".join(problems)
    # The cheatsheet promises that every block runs: no tag (```python signature) may stop one.
    tagged = [f"{b.where}: ```python {b.tag}" for b in SHEET.blocks if b.tag]
    assert not tagged, "blocks that would not run; use ```text for an illustration:\n" + "\n".join(tagged)


def test_every_section_has_a_python_block():
    assert SHEET.sections, "CHEATSHEET.md has no '## ' section headings"
    duplicates = sorted({s for s in SHEET.sections if SHEET.sections.count(s) > 1})
    assert not duplicates, f"section headings must be unique (they name the tests): {duplicates}"
    with_code = {b.section for b in SHEET.blocks}
    empty = [s for s in SHEET.sections if s not in with_code]
    assert not empty, f"sections without a ```python block: {empty}"


def test_contents_list_links_every_section():
    text = CHEATSHEET.read_text(encoding="utf-8")
    unlisted = [s for s in SHEET.sections if f"](#{slug(s)})" not in text]
    assert not unlisted, f"add these sections to the list at the top: {unlisted}"


def test_cheatsheet_does_not_solve_the_exercises():
    """Building blocks only: no block defines a function a student has to write."""
    wanted = {name for exercise in course.load().exercises for name in exercise.functions}
    defined = []
    for block in SHEET.blocks:
        try:
            tree = ast.parse(block.code)
        except SyntaxError:
            continue  # test_every_python_block_compiles reports it
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in wanted:
                defined.append(f"{block.where}: def {node.name}")
    assert not defined, "the cheatsheet must not contain exercise solutions:\n" + "\n".join(defined)
