"""MkDocs hooks: the pages that are made from the kit itself at build time, so they cannot drift.

- The exercise READMEs and the CHEATSHEET are included where students read them (not copied
  into docs/): each becomes a page, with its relative links rewritten to the pages they now
  are (another exercise, the CHEATSHEET) or, for a file of the kit (a stub, a test), to its path
  in the kit as code: the site has no copy of the code to link to.
- ``<!-- facekit:cli -->`` becomes every ``facekit`` command and option, read from the parser's
  own table (facekit/cli/parser.py: COMMANDS and build()).
- ``<!-- facekit:manifest-keys -->`` and ``<!-- facekit:catalogue-keys -->`` become the keys the
  manifest and the catalogue of mistakes accept, read from facekit.course and facekit.mistakes;
  a key without a description here fails the build.

Nothing here imports torch: the site builds in a few seconds.
"""

from __future__ import annotations

import argparse
import posixpath
import re
import sys
from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # mkdocs run from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT))

from facekit import course, mistakes, scaffold
from facekit.cli import parser as cli_parser

CHEATSHEET_PAGE = "students/cheatsheet.md"
_LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)")
_IMAGES = (".png", ".jpg", ".jpeg", ".gif", ".svg")


def included_pages() -> dict[str, str]:
    """The kit's own Markdown files that are pages of the site: {path in the kit: page}."""
    pages = {
        e.readme: f"exercises/{e.id}.md" for e in course.load(ROOT / "exercises" / "course.toml").exercises
    }
    pages["CHEATSHEET.md"] = CHEATSHEET_PAGE
    return pages


def rewrite_links(text: str, source: str, page: str, pages: dict[str, str], assets: dict[str, str]) -> str:
    """``text`` of the kit's file ``source``, shown as the site's ``page``: each relative link
    points at the page or asset its target now is, or names the kit's file as code."""

    def replace(match: re.Match) -> str:
        bang, label, target = match.groups()
        if re.match(r"[a-z]+:|#", target):  # a URL, or an anchor of this page
            return match.group(0)
        path, _, anchor = target.partition("#")
        in_kit = posixpath.normpath(posixpath.join(posixpath.dirname(source), path))
        where = pages.get(in_kit)
        if where is None and bang and in_kit.lower().endswith(_IMAGES) and (ROOT / in_kit).is_file():
            where = assets.setdefault(in_kit, f"assets/kit/{in_kit}")
        if where is None:
            if not (ROOT / in_kit).exists():
                raise ValueError(f"{source} links to {target}, which is not in the kit")
            return f"{label} (`{in_kit}`)" if label.strip("`") != in_kit else f"`{in_kit}`"
        relative = posixpath.relpath(where, posixpath.dirname(page))
        return f"{bang}[{label}]({relative}{'#' + anchor if anchor else ''})"

    return _LINK.sub(replace, text)


def exercise_pages() -> list[tuple[str, str]]:
    """(title, page) of each exercise, in manifest order."""
    exercises = course.load(ROOT / "exercises" / "course.toml").exercises
    return [(f"{e.id[2:4]} {e.title}", f"exercises/{e.id}.md") for e in exercises]


def on_config(config):
    # The Exercises section of the nav lists the manifest's exercises: `facekit new` adds one.
    for section in config["nav"] or ():
        if isinstance(section, dict) and "Exercises" in section:
            section["Exercises"] = [*section["Exercises"], *({t: p} for t, p in exercise_pages())]
    return config


def on_files(files, config):
    pages = included_pages()
    assets: dict[str, str] = {}
    for source, page in pages.items():
        text = (ROOT / source).read_text(encoding="utf-8")
        note = f"<!-- included from {source} by docs/hooks.py: edit that file -->\n"
        files.append(
            File.generated(config, page, content=note + rewrite_links(text, source, page, pages, assets))
        )
    for source, asset in assets.items():
        files.append(File.generated(config, asset, content=(ROOT / source).read_bytes()))
    return files


def on_page_markdown(markdown, page, config, files):
    for marker, make in (
        ("<!-- facekit:cli -->", cli_reference),
        ("<!-- facekit:exercises -->", exercise_table),
        ("<!-- facekit:manifest-keys -->", manifest_keys),
        ("<!-- facekit:catalogue-keys -->", catalogue_keys),
    ):
        if marker in markdown:
            markdown = markdown.replace(marker, make())
    return markdown


def exercise_table() -> str:
    """The manifest's exercises: number, page, the functions a student writes."""
    kit = course.load(ROOT / "exercises" / "course.toml")
    return scaffold.exercise_table(kit.exercises, lambda e: f"{e.id}.md")  # the README's, too


# -- the command reference -------------------------------------------------------------------------


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")


def _argument_rows(parser: argparse.ArgumentParser) -> list[str]:
    rows = []
    for action in parser._actions:  # argparse keeps no public list of a parser's arguments
        if (
            isinstance(action, (argparse._HelpAction, argparse._SubParsersAction))
            or action.help == argparse.SUPPRESS
        ):
            continue
        if action.option_strings:
            name = ", ".join(f"`{o}`" for o in action.option_strings)
            if action.nargs != 0:
                metavar = action.metavar or (
                    f"{{{','.join(action.choices)}}}" if action.choices else action.dest.upper()
                )
                name += f" `{metavar}`" if action.nargs != "?" else f" `[{metavar}]`"
        else:
            name = f"`{action.metavar or action.dest}`"
            name += {"?": " (optional)", "*": " (any number)", "+": " (one or more)"}.get(action.nargs, "")
        # Choices show in the option's metavar; a positional's are said in words.
        choices = (
            f" One of: {', '.join(f'`{c}`' for c in action.choices)}."
            if action.choices and not action.option_strings
            else ""
        )
        rows.append(f"| {name} | {_cell(action.help)}{choices} |")
    return rows


def _section(parser: argparse.ArgumentParser, title: str, level: str, description: str | None) -> list[str]:
    usage = " ".join(parser.format_usage().split()).removeprefix("usage: ")
    lines = [
        f"{level} `{title}`",
        "",
        _cell(description) if description else "",
        "",
        "```text",
        usage,
        "```",
        "",
    ]
    rows = _argument_rows(parser)
    if rows:
        lines += ["| argument | what |", "|---|---|", *rows, ""]
    return lines


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def cli_reference() -> str:
    """Every command of facekit/cli/parser.py, its usage and each argument's help, in table order."""
    top = cli_parser.build()
    commands = _subparsers(top)
    lines = ["| command | what it does |", "|---|---|"]
    lines += [f"| [`facekit {c.name}`](#facekit-{c.name}) | {_cell(c.help)} |" for c in cli_parser.COMMANDS]
    lines += ["", *_section(top, "facekit", "##", top.description), top.epilog or "", ""]
    for command in cli_parser.COMMANDS:
        sub = commands[command.name]
        lines += _section(sub, f"facekit {command.name}", "##", sub.description)
        for action_name, action in _subparsers(sub).items():
            lines += _section(action, f"facekit {command.name} {action_name}", "###", action.description)
    return "\n".join(lines)


# -- the manifest's and the catalogue's keys -------------------------------------------------------

MANIFEST_KEYS = {
    "id": "the exercise's id, `exNN_name`: its folder under `exercises/` and `solutions/`",
    "title": "its title, as the exercise table and `facekit list` show it",
    "functions": "the functions (or classes) the student writes, in the order `facekit check` takes them",
    "hints": "per function, a list of hints from a nudge to a near-answer (`facekit hint EXERCISE [FUNCTION]`)",
    "module": "the stub's module name when it is not the id without `exNN_` (`images` for `ex01_images`)",
    "weights": "the Hub files the exercise loads, `repo_id/filename` (`facekit download` fetches them)",
    "points": f"its points in grading (default {course.DEFAULT_POINTS})",
    "timeout": f"seconds each of its tests may run when graded (default {course.DEFAULT_TEST_TIMEOUT:g})",
    "function_points": "optional, points per function (`{ load_image = 4, preprocess = 6 }`, every function "
    "named): grading scores each function by its own tests, and `points` is their sum",
    "readme": "the exercise's README (default `exercises/<id>/README.md`)",
    "stub": "the file the student edits (default `exercises/<id>/<module>.py`)",
    "reference": "the reference solution (default `solutions/<id>/<module>.py`)",
    "tests": "its test module (default `tests/test_<id>.py`)",
    "notebook": "its notebook (default `notebooks/<id>.ipynb`)",
}

CATALOGUE_KEYS = {
    "id": "the mistake's id, unique in its file",
    "says": "the mistake in a student's words; `facekit check` and the feedback quote it",
    "find": "text that occurs exactly once in the reference",
    "replace": "what it becomes: the mistake, planted",
    "test": "the test that must fail (a test function, all its parameters, or a node id tail)",
    "words": "words (case-insensitive) its failure message must contain: the function's name and what differs",
    "file": "the reference file patched (default: the exercise's reference)",
    "shares": "ids of entries whose signature this one truly shares: a failure matching both shows both, as possibilities",
    "includes": "ids of entries whose mistake this patch makes as well: their signatures may match its failures",
}


def _keys_table(keys: list[str], described: dict[str, str], required: tuple[str, ...], where: str) -> str:
    missing = [k for k in keys if k not in described]
    if missing:
        raise ValueError(f"docs/hooks.py describes no {', '.join(missing)}: {where} accepts it; add a line")
    stale = [k for k in described if k not in keys]
    if stale:
        raise ValueError(f"docs/hooks.py describes {', '.join(stale)}, which {where} no longer accepts")
    rows = [f"| `{k}` | {'yes' if k in required else 'no'} | {described[k]} |" for k in keys]
    return "\n".join(["| key | required | what |", "|---|---|---|", *rows])


def manifest_keys() -> str:
    return _keys_table(list(course.ALLOWED), MANIFEST_KEYS, course.REQUIRED, "facekit/course.py (ALLOWED)")


def catalogue_keys() -> str:
    return _keys_table(
        [*mistakes._REQUIRED, "file", "shares", "includes"],
        CATALOGUE_KEYS,
        mistakes._REQUIRED,
        "facekit/mistakes.py",
    )
