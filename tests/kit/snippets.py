"""Code printed in the teaching text, found and run as printed: one mechanism for every text.

- ``parse(text, source)``: the ```python blocks of a markdown file (the CHEATSHEET, the
  exercises' READMEs), with their "## " sections; a block whose fence says ```python signature
  (a word of TAGS) is not run as it stands, and TAGS says what checks it instead.
- ``code_spans(text, source)`` and ``recipe(source, marker)``: the inline `code` a README, a
  stub's TODO comment or a manifest hint gives a student to copy (a TODO's comment lines are
  joined first, so a span may wrap).
- ``execute(block, namespace, workdir, printed)``: runs one, under the text's own file name and
  line numbers (a traceback shows the markdown or comment line that failed), with os.environ,
  the hub settings and torch's random state restored afterwards; what each ``print`` wrote is
  kept in ``printed`` by source line.
- ``output_mismatches(block, printed)``: the print lines whose trailing comment is not what
  they printed (the convention: OUTPUT_COMMENT).

Hints are read through ``facekit.course`` by ``hints_of`` only, so a change of the manifest's
hint format touches this one function.
"""

from __future__ import annotations

import ast
import dataclasses
import os
import re
import textwrap
import types
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import torch

from facekit import course

ROOT = course.repo_root()
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>```+)\s*(?P<lang>[^`\s]*)(?:[ \t]+(?P<tag>[^`\s]+))?\s*$")
TOP = "(before the first heading)"
# A ```python block runs as printed, unless its fence carries one of these words after
# "python" (GitHub still highlights it as Python). Each says why it cannot run, and what the
# tests check instead.
TAGS = {
    "signature": "a function's signature as the stub declares it, with no body: it cannot run; "
    "test_figures compares its parameters, defaults and annotations with the stub's",
    "outline": "a function's outline with `...` where the student's own code goes: it cannot run; "
    "test_figures finds each of its complete lines in the exercise's literal student "
    "(course/<id>/literal), which passes the exercise's tests",
}
# The one convention for output in comments: a `# ` comment at the end of a line that calls
# print(...) shows what that call prints: the output, or the output, ": " (colon and space) and
# a remark. "..." stands for any text (what differs from run to run, or is too long to show);
# runs of spaces and line breaks count as one space. A remark that is not output goes on a
# line of its own. CHEATSHEET.md says so at its top.
OUTPUT_COMMENT = (
    "a `# ` comment after print(...) is its output, or its output, `: ` and a remark; `...` is any text"
)
HINT = "hint:"  # a source "hint:ex01_images" stands for that exercise's hints in the manifest


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: "Models (timm)" -> "models-timm"."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return re.sub(r" ", "-", text)


@dataclass(frozen=True)
class Block:
    section: str
    index: int  # 1-based, within its section
    line: int  # line of the block's first code line in its file
    code: str
    source: str = "CHEATSHEET.md"  # relative to the kit's root, or "hint:<exercise id>"
    tag: str = ""  # a word of TAGS after ```python: the block is not run as it stands

    @property
    def id(self) -> str:
        return f"{slug(self.section)}-{self.index}"

    @property
    def where(self) -> str:
        return f"{self.id} ({self.source} line {self.line})"

    def compile(self):
        # Blank lines in front keep the file's line numbers in tracebacks and SyntaxErrors.
        return compile("\n" * (self.line - 1) + self.code, str(ROOT / self.source), "exec")


@dataclass
class Sheet:
    sections: list[str] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def parse(text: str, source: str = "CHEATSHEET.md") -> Sheet:
    """Sections ("## " headings outside code) and their ```python blocks, in order."""
    sheet = Sheet()
    section, fence, lang, tag, start = TOP, None, "", "", 0
    body: list[str] = []
    counts: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        match = FENCE.match(line)
        if fence is None:
            if match:
                fence, lang, start, body = match["fence"], match["lang"].lower(), number, []
                tag = match["tag"] or ""
            elif line.startswith("## "):
                section = line[3:].strip()
                sheet.sections.append(section)
        elif match and not match["lang"] and not match["tag"] and len(match["fence"]) >= len(fence):
            if lang == "python":
                counts[section] = counts.get(section, 0) + 1
                code = textwrap.dedent("\n".join(body)) + "\n"
                sheet.blocks.append(Block(section, counts[section], start + 1, code, source, tag))
                if tag and tag not in TAGS:
                    sheet.problems.append(
                        f"line {start}: ```python {tag}: unknown tag; the tags "
                        f"that stop a block from running are {sorted(TAGS)}"
                    )
            elif lang in ("py", "python3", "pycon"):
                sheet.problems.append(
                    f"line {start}: write ```python (not ```{lang}) so the block "
                    f"is tested, or ```text if it must not run"
                )
            fence = None
        else:
            body.append(line)
    if fence is not None:
        sheet.problems.append(f"line {start}: a ``` fence is never closed")
    return sheet


def hints_of(exercise_id: str, function: str | None = None) -> list[str]:
    """The hint texts of one exercise's ``function``, in order, or of all its functions (in the
    manifest's order of its functions), from the manifest (the one place that reads them)."""
    exercise = course.load().get(exercise_id)
    if function is not None:
        if function not in exercise.functions:
            raise ValueError(
                f"{exercise_id} has no function {function!r}; its functions: {', '.join(exercise.functions)}"
            )
        return list(exercise.hints.get(function, ()))
    return [hint for _, hint in exercise.all_hints()]


def teaching_text(source: str) -> list[tuple[int, str]]:
    """(line, text) pieces a student reads in ``source``: a markdown file, a stub's comments
    and docstrings (``#`` markers dropped), or ``hint:<exercise id>`` (one piece per hint)."""
    if source.startswith(HINT):
        return [(number, hint) for number, hint in enumerate(hints_of(source[len(HINT) :]), 1)]
    lines = (ROOT / source).read_text(encoding="utf-8").splitlines()
    if source.endswith(".py"):
        lines = [re.sub(r"^\s*#\s?", "", line) if line.lstrip().startswith("#") else line for line in lines]
    return [(1, "\n".join(lines))]


_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.S)


def code_spans(source: str) -> list[Block]:
    """Every inline `code` span of ``source``, as a Block (its line: where the span starts)."""
    spans: list[Block] = []
    for _number, text in teaching_text(source):
        file, first_line = source, 1
        if source.startswith(HINT):
            file = str(course.MANIFEST.relative_to(ROOT))
            manifest = course.MANIFEST.read_text(encoding="utf-8").splitlines()
            first_line = next((i for i, line in enumerate(manifest, 1) if text[:40] in line), 1)
        for match in _SPAN.finditer(text):
            code = " ".join(match[2].split())  # a span may wrap over lines
            line = first_line + text.count("\n", 0, match.start())
            spans.append(Block("span", len(spans) + 1, line, code + "\n", file))
    return spans


def recipe(source: str, *markers: str) -> Block:
    """The one code span of ``source`` holding every marker: the recipe a student copies.

    Fails when none or several do, so a recipe that is reworded away, or given twice in two
    versions, is noticed."""
    found = [b for b in code_spans(source) if all(m in b.code for m in markers)]
    assert found, (
        f"{source} gives no `code` span with {' and '.join(map(repr, markers))}: "
        f"write the recipe a student should copy, in backticks"
    )
    assert len(found) == 1, (
        f"{source} gives {len(found)} code spans with "
        f"{' and '.join(map(repr, markers))}; keep one recipe: " + " | ".join(b.code.strip() for b in found)
    )
    return found[0]


def _recording_print(block: Block, printed: dict[int, list[str]]):
    """A print that also keeps its text under the block's line that called it."""
    import builtins
    import io
    import sys

    filename = str(ROOT / block.source)

    def record(*args, **kwargs):
        if kwargs.get("file") not in (None, sys.stdout):
            return builtins.print(*args, **kwargs)
        buffer = io.StringIO()
        builtins.print(*args, **{**kwargs, "file": buffer})
        builtins.print(buffer.getvalue(), end="")
        frame: types.FrameType | None = sys._getframe(1)
        while frame is not None and frame.f_code.co_filename != filename:
            frame = frame.f_back
        if frame is not None:
            printed.setdefault(frame.f_lineno, []).append(buffer.getvalue())

    return record


def output_claims(block: Block) -> dict[tuple[int, int], str]:
    """{(first line, last line) of a print(...) call: the output its trailing comment claims}."""
    import io
    import tokenize

    comments = {}
    for token in tokenize.generate_tokens(io.StringIO(block.code).readline):
        if token.type == tokenize.COMMENT:
            comments[token.start[0] + block.line - 1] = token.string[1:].strip()
    claims = {}
    for node in ast.walk(ast.parse(block.code)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
            first = node.lineno + block.line - 1
            last = (node.end_lineno or node.lineno) + block.line - 1
            if last in comments:
                claims[(first, last)] = comments[last]
    return claims


def _normal(text: str) -> str:
    return " ".join(text.split())


def output_mismatches(block: Block, printed: dict[int, list[str]]) -> list[str]:
    """The print calls of ``block`` whose comment is not what they printed (OUTPUT_COMMENT)."""
    problems = []
    for (first, last), claim in sorted(output_claims(block).items()):
        lines = [text for line in range(first, last + 1) for text in printed.get(line, [])]
        if not lines:
            problems.append(
                f"{block.source} line {last}: the comment says it prints {claim!r}, "
                f"but the line never printed"
            )
            continue
        shown = _normal("".join(lines))
        # The whole comment, or what comes before one of its ": ", is the output.
        outputs = [claim] + [claim[: at.start()] for at in re.finditer(": ", claim)]
        patterns = [
            ".*?".join(re.escape(_normal(piece)) for piece in output.split("...")) for output in outputs
        ]
        if not any(re.fullmatch(pattern, shown, re.S) for pattern in patterns):
            problems.append(f"{block.source} line {last}: the comment says {claim!r}; it printed {shown!r}")
    return problems


def execute(
    block: Block, namespace: dict, workdir, printed: dict[int, list[str]] | None = None
) -> BaseException | None:
    """Run ``block`` in ``namespace`` inside ``workdir``; the error it raised, or None. With
    ``printed``, what each print call wrote is added to it under the source line of the call."""
    __tracebackhide__ = True  # a failure's traceback starts at the text's own line
    from huggingface_hub import constants

    cwd = os.getcwd()
    if printed is not None:
        namespace["print"] = _recording_print(block, printed)
    with (
        mock.patch.dict(os.environ),
        mock.patch.multiple(
            constants, HF_HUB_CACHE=constants.HF_HUB_CACHE, HF_HUB_OFFLINE=constants.HF_HUB_OFFLINE
        ),
        torch.random.fork_rng(devices=[]),
    ):
        torch.manual_seed(0)  # the same numbers every run, so a failure reproduces
        try:
            code = block.compile()
            os.chdir(workdir)
            exec(code, namespace)
        except Exception as err:  # kept, and raised again by the caller
            return err
        finally:
            os.chdir(cwd)
            namespace.pop("print", None)
    return None


def run(block: Block, workdir: Path | str = ".", **inputs) -> dict:
    """Run ``block`` with ``inputs`` as its variables; its namespace afterwards, with the value
    of a block that is one expression under ``"_"``. Raises what the block raised."""
    __tracebackhide__ = True
    namespace = {"__name__": "recipe", **inputs}
    try:
        ast.parse(block.code, mode="eval")
        block = dataclasses.replace(block, code="_ = " + block.code)
    except SyntaxError:
        pass  # statements, not an expression
    error = execute(block, namespace, workdir)
    if error is not None:
        raise error
    return namespace
