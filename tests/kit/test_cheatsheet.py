"""CHEATSHEET.md works as printed: every ```python block runs, offline, on the stand-in weights.

Blocks run top to bottom in one namespace per section (a "## " heading), so a block may use
what earlier blocks of its section defined; sections never see each other. Each block is one
test, named after its section and its place in it (``models-timm-2``). A block's working
directory is a temporary folder of its section, and what it changes in os.environ, the hub
settings or torch's random state is undone afterwards. Code is compiled under the cheatsheet's
own file name and line numbers, so a traceback shows the markdown lines that failed.
"""

from __future__ import annotations

import ast
import os
import re
import textwrap
from dataclasses import dataclass, field
from unittest import mock

import pytest
import torch

from facekit import course

CHEATSHEET = course.repo_root() / "CHEATSHEET.md"
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>```+)\s*(?P<lang>[^`\s]*)\s*$")
TOP = "(before the first heading)"


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: "Models (timm)" -> "models-timm"."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return re.sub(r" ", "-", text)


@dataclass(frozen=True)
class Block:
    section: str
    index: int  # 1-based, within its section
    line: int  # line of the block's first code line in CHEATSHEET.md
    code: str

    @property
    def id(self) -> str:
        return f"{slug(self.section)}-{self.index}"

    @property
    def where(self) -> str:
        return f"{self.id} (CHEATSHEET.md line {self.line})"

    def compile(self):
        # Blank lines in front keep the file's line numbers in tracebacks and SyntaxErrors.
        return compile("\n" * (self.line - 1) + self.code, str(CHEATSHEET), "exec")


@dataclass
class Cheatsheet:
    sections: list[str] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def parse(text: str) -> Cheatsheet:
    """Sections ("## " headings outside code) and their ```python blocks, in order."""
    sheet = Cheatsheet()
    section, fence, lang, start, body, counts = TOP, None, "", 0, [], {}
    for number, line in enumerate(text.splitlines(), 1):
        match = FENCE.match(line)
        if fence is None:
            if match:
                fence, lang, start, body = match["fence"], match["lang"].lower(), number, []
            elif line.startswith("## "):
                section = line[3:].strip()
                sheet.sections.append(section)
        elif match and not match["lang"] and len(match["fence"]) >= len(fence):
            if lang == "python":
                counts[section] = counts.get(section, 0) + 1
                code = textwrap.dedent("\n".join(body)) + "\n"
                sheet.blocks.append(Block(section, counts[section], start + 1, code))
            elif lang in ("py", "python3", "pycon"):
                sheet.problems.append(f"line {start}: write ```python (not ```{lang}) so the block "
                                      f"is tested, or ```text if it must not run")
            fence = None
        else:
            body.append(line)
    if fence is not None:
        sheet.problems.append(f"line {start}: a ``` fence is never closed")
    return sheet


SHEET = parse(CHEATSHEET.read_text(encoding="utf-8"))


class SectionRun:
    """One section's namespace, working folder and the outcome of each block run so far."""

    def __init__(self, section: str, workdir):
        self.namespace: dict = {"__name__": "cheatsheet"}
        self.workdir = workdir
        self.outcomes: dict[int, BaseException | None] = {}  # block index -> error or None
        self.blocks = [b for b in SHEET.blocks if b.section == section]

    def run(self, block: Block) -> BaseException | None:
        if block.index not in self.outcomes:
            self.outcomes[block.index] = _execute(block, self.namespace, self.workdir)
        return self.outcomes[block.index]


def _execute(block: Block, namespace: dict, workdir) -> BaseException | None:
    __tracebackhide__ = True  # a failure's traceback starts at the CHEATSHEET.md line
    from huggingface_hub import constants

    cwd = os.getcwd()
    with mock.patch.dict(os.environ), \
            mock.patch.multiple(constants, HF_HUB_CACHE=constants.HF_HUB_CACHE,
                                HF_HUB_OFFLINE=constants.HF_HUB_OFFLINE), \
            torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)  # the same numbers every run, so a failure reproduces
        try:
            code = block.compile()
            os.chdir(workdir)
            exec(code, namespace)
        except Exception as err:  # kept, and raised again in the block's own test
            return err
        finally:
            os.chdir(cwd)
    return None


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
