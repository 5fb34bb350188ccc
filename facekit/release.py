"""The repository students clone: ``facekit release --out DIR`` (as nbgrader's generate_assignment
or otter's assign make one from the instructor's kit).

It holds what a student runs and reads: ``exercises/`` (the stubs, their READMEs, the manifest),
``facekit/``, the exercises' tests (``tests/test_*.py``), ``conftest.py``, ``pyproject.toml``,
``notebooks/``, ``CHEATSHEET.md``, ``.gitignore``, the local files its README links to, a README
for students (the kit's own, its "For students" part) and the catalogue of typical mistakes as
`facekit check` reads it: each mistake's id, words, test and file, never its find/replace text,
which quotes the reference. Not in it: ``solutions/`` (unless ``with_solutions``, for self-study),
``tests/kit/`` (the kit's own checks; its literal students are solved exercises), benchmarks,
CI, docs, and any file git ignores (hand-ins, grades, venvs). Then ``git init`` and one commit:
a repository ready to push. Nothing is written at ``out`` unless all of it is.
"""

from __future__ import annotations

import ast
import json
import os
import posixpath
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path, PurePosixPath

from facekit import course, mistakes

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# What a student's copy holds, as paths relative to the kit (a folder: everything under it).
TOP_FILES = ("conftest.py", "pyproject.toml", "CHEATSHEET.md", ".gitignore", "LICENSE", "LICENSE.md")
TOP_FOLDERS = ("exercises", "facekit", "notebooks")
# The catalogue's keys that quote the reference: never in a student's copy.
_REFERENCE_KEYS = ("find", "replace")
_SKIP = re.compile(
    r"(^|/)(__pycache__|\.pytest_cache|\.ipynb_checkpoints|\.facekit|[^/]*\.egg-info)(/|$)"
    r"|\.py[co]$|\.bak(\.\d+)?$"
)
COMMIT_MESSAGE = "The course, as released to students"


class ReleaseError(ValueError):
    """The release cannot be written (the destination is taken, the kit is incomplete)."""


def kit_files(root: Path) -> list[str]:
    """The kit's files, relative: those git tracks, else (not a checkout) all of them."""
    root = Path(root)
    # Tracked files only: an untracked scratch copy (a solved stub, a .bak of `facekit reset`)
    # never reaches students; a new exercise is released once it is committed.
    listed = (
        subprocess.run(["git", "-C", str(root), "ls-files", "-z", "--cached"], capture_output=True)
        if (root / ".git").exists()
        else None
    )
    if listed is not None and listed.returncode == 0:
        names = [n for n in listed.stdout.decode("utf-8", "surrogateescape").split("\0") if n]
    else:
        names = [
            p.relative_to(root).as_posix() for p in root.rglob("*") if ".git" not in p.relative_to(root).parts
        ]
    return sorted(
        n for n in names if (root / n).is_file() and not (root / n).is_symlink() and not _SKIP.search(n)
    )


def wanted(name: str, with_solutions: bool) -> bool:
    """Whether the kit's file ``name`` (relative, with ``/``) belongs in a student's copy."""
    parts = PurePosixPath(name).parts
    if len(parts) == 1:
        return name in TOP_FILES
    if parts[0] in TOP_FOLDERS or (with_solutions and parts[0] == "solutions"):
        return True
    return (
        parts[0] == "tests"
        and len(parts) == 2
        and (parts[1].startswith("test_") or parts[1] == "conftest.py")
    )


def student_catalogue(path: Path) -> str:
    """A catalogue of mistakes with what `facekit check` reads (id, says, test, words, file) and
    empty find/replace: the student sees which mistake a failure looks like, not its fix."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    out = [
        f"# Typical mistakes of {path.stem}, as `facekit check` names them (facekit/mistakes.py).",
        "# The student release: find/replace, which quote the reference, are left out.",
        "",
    ]
    for entry in data.get("mistake", []):
        out.append("[[mistake]]")
        for key, value in entry.items():
            out.append(f"{key} = {_toml_value('' if key in _REFERENCE_KEYS else value)}")
        out.append("")
    return "\n".join(out)


def _toml_value(value: object) -> str:
    """A TOML value: a JSON string or number is one; a table is written inline."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


STUDENT_SECTIONS = ("The exercises", "For students")  # the README's parts a student's copy keeps


def student_readme(text: str, with_solutions: bool) -> str:
    """The kit's README for a student: its title and first paragraph, the set-up commands, and its
    sections for students (STUDENT_SECTIONS) as they are: one source for both."""
    lines = text.splitlines()
    title = next((line for line in lines if line.startswith("# ")), "# The course")
    start = lines.index(title) + 1
    while start < len(lines) and not lines[start].strip():
        start += 1
    intro = []
    for line in lines[start:]:
        if not line.strip():
            break
        intro.append(line)
    sections, keep = [], False
    for line in lines:
        if line.startswith("## "):
            keep = line[3:].strip() in STUDENT_SECTIONS
        if keep:
            sections.append(line)
    what = (
        "It holds the reference solutions too (`solutions/`, `--target solutions`, `facekit solution`), "
        "for self-study: try each exercise before you look."
        if with_solutions
        else "The reference solutions and the instructor's checks are not in it: `--target solutions` "
        "and `facekit solution` are for the instructor's copy of the kit."
    )

    def para(paragraph: str) -> str:
        return textwrap.fill(paragraph, width=95, break_long_words=False, break_on_hyphens=False)

    setup = [
        "",
        para("This is your copy of the course. " + what),
        "",
        para(
            "Set up once (Python 3.10+, Linux or macOS; on Windows use `.venv\\Scripts\\` instead of "
            "`.venv/bin/`), then see what is done and what is not:"
        ),
        "",
        "```sh",
        "python3 -m venv .venv && .venv/bin/pip install -e .",
        ".venv/bin/pytest",
        "```",
        "",
        para(
            "Both run offline: the tests use **stand-in weights**, seeded random, not pretrained. "
            "Until you write a function, its tests say it is not implemented yet, and which file to open."
        ),
        "",
    ]
    return "\n".join([title, "", *intro, *setup, *sections]).rstrip() + "\n"


_LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)")


def _local_target(page: str, target: str) -> str | None:
    """A link's file, relative to the kit's root, from ``page`` (relative too); None for a URL or
    an anchor of the page itself."""
    path = target.split("#")[0]
    if not path or "://" in target or target.startswith("mailto:"):
        return None
    return posixpath.normpath(posixpath.join(posixpath.dirname(page), path))


def _bring_linked(tree: Path, kit_root: Path, page: str, with_solutions: bool, depth: int = 2) -> None:
    """Copy into ``tree`` the kit's files ``page`` links to or shows (the students' pages of docs/,
    their pictures; a kit file a student gets anyway), then the ones those pages link to; then turn
    each link to a file the release does not have into its text, so that no link is broken."""
    text = (tree / page).read_text(encoding="utf-8")
    for match in _LINK.finditer(text):
        target = _local_target(page, match.group(3))
        if target is None or target.startswith("..") or (tree / target).exists():
            continue
        source = kit_root / target
        parts = PurePosixPath(target).parts
        allowed = wanted(target, with_solutions) or (
            parts[0] == "docs" and "instructors" not in parts and "reference" not in parts
        )
        if allowed and source.is_file():
            (tree / target).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, tree / target)
            if target.endswith(".md") and parts[0] == "docs" and depth > 0:
                _bring_linked(tree, kit_root, target, with_solutions, depth - 1)

    def keep_or_unlink(match: re.Match) -> str:
        target = _local_target(page, match.group(3))
        if target is None or (not target.startswith("..") and (tree / target).exists()):
            return match.group(0)
        return match.group(2) if not match.group(1) else ""  # a picture not shipped: left out

    (tree / page).write_text(_LINK.sub(keep_or_unlink, text), encoding="utf-8")


def _functions(source: str) -> dict[str, tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """Every function and method of a module: qualified name -> (its body without the docstring,
    as ast.dump, and its node)."""
    found: dict[str, tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]] = {}

    def visit(node: ast.AST, prefix: str = "") -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = prefix + child.name
                if not isinstance(child, ast.ClassDef):
                    body = child.body[1:] if ast.get_docstring(child) is not None else child.body
                    found[name] = (ast.dump(ast.Module(body=body, type_ignores=[])), child)
                visit(child, name + ".")

    visit(ast.parse(source))
    return found


def reference_code(tree: Path, kit_root: Path, kit: course.Course) -> list[str]:
    """ "file: exercise.function" for each reference function of ``kit_root`` (two statements or
    more; a function the manifest lists, or any other its stub does not give as is) whose body is in a file of ``tree``: a Python
    file defining it (under any name), or a text (a README, a notebook, the manifest) quoting its
    whole source. Hints quote lines; a whole function is the answer."""
    tree = Path(tree)
    defined: dict[str, list[str]] = {}
    texts: dict[str, str] = {}
    for path in sorted(tree.rglob("*")):
        rel = path.relative_to(tree)
        if not path.is_file() or ".git" in rel.parts:
            continue
        try:
            texts[rel.as_posix()] = text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if path.suffix == ".py":
            try:
                for body, _ in _functions(text).values():
                    defined.setdefault(body, []).append(rel.as_posix())
            except (SyntaxError, ValueError):
                pass
    found = []
    for exercise in kit.exercises:
        reference_path = Path(kit_root) / exercise.reference
        if not reference_path.is_file():
            continue
        reference = reference_path.read_text(encoding="utf-8")
        stub = Path(kit_root) / exercise.stub
        given = (
            {q: b for q, (b, _) in _functions(stub.read_text(encoding="utf-8")).items()}
            if stub.is_file()
            else {}
        )
        for qualified, (body, node) in _functions(reference).items():
            # The student's functions (the manifest's) are the answers, wherever they are; a
            # helper the stub gives as is is not.
            answer = qualified.split(".")[0] in exercise.functions
            if (not answer and given.get(qualified) == body) or len(node.body) < 2:
                continue
            source = ast.get_source_segment(reference, node) or ""
            quoted = [n for n, t in texts.items() if not n.endswith(".py") and source and source in t]
            found += [f"{where}: {exercise.id}.{qualified}" for where in defined.get(body, []) + quoted]
    return sorted(set(found))


def build(kit_root: Path, out: Path, with_solutions: bool = False) -> dict:
    """Write the student repository at ``out`` (which must not exist, or be an empty folder).
    Returns {"files": count, "commit": sha, "out": path}."""
    kit_root, out = Path(kit_root).resolve(), Path(out).resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ReleaseError(
            f"--out {out} already exists and is not an empty folder: choose a new one "
            f"(a release is written whole, never over another)"
        )
    if out == kit_root or kit_root in out.parents:
        raise ReleaseError(f"--out {out} is inside the kit {kit_root}: write the release outside it")
    kit = course.load(kit_root / "exercises" / "course.toml")
    files = [n for n in kit_files(kit_root) if wanted(n, with_solutions)]
    missing = [e.stub for e in kit.exercises if e.stub not in files] + [
        e.tests for e in kit.exercises if e.tests not in files
    ]
    if missing:
        raise ReleaseError(f"the kit at {kit_root} lacks {', '.join(missing)}: release from a complete kit")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        for name in files:
            (partial / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(kit_root / name, partial / name)
        for exercise in kit.exercises:  # only what `facekit check` needs of the catalogue
            catalogue = mistakes.catalogue_path(kit_root, exercise.id)
            if catalogue.is_file():
                target = partial / catalogue.relative_to(kit_root)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(student_catalogue(catalogue), encoding="utf-8")
        readme = student_readme((kit_root / "README.md").read_text(encoding="utf-8"), with_solutions)
        (partial / "README.md").write_text(readme, encoding="utf-8")
        _bring_linked(partial, kit_root, "README.md", with_solutions)
        leaked = [] if with_solutions else reference_code(partial, kit_root, kit)
        if leaked:  # a solved stub, a copy of the reference: never in a student's repository
            raise ReleaseError(
                f"the release would hold reference code ({'; '.join(leaked[:3])}"
                f"{'; ...' if len(leaked) > 3 else ''}): put the stubs back as shipped"
            )
        commit = _commit(partial)
        if out.exists():
            out.rmdir()  # empty, checked above
        os.replace(partial, out)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    count = sum(1 for p in out.rglob("*") if p.is_file() and ".git" not in p.relative_to(out).parts)
    return {"files": count, "commit": commit, "out": out}


def _commit(repo: Path) -> str:
    """git init, add everything, one commit; the instructor's git identity, else facekit's."""

    def git(*args: str) -> subprocess.CompletedProcess:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
        if done.returncode != 0:
            raise ReleaseError(f"git {args[0]} failed in {repo}: {done.stderr.strip()[:300]}")
        return done

    try:
        git("init", "-q")
    except FileNotFoundError:
        raise ReleaseError("git is needed to make the release a repository; install git") from None
    git("symbolic-ref", "HEAD", "refs/heads/main")  # whatever init.defaultBranch says
    git("add", "-A")
    identity = []
    for key, fallback in (("user.name", "facekit release"), ("user.email", "facekit-release@localhost")):
        if not subprocess.run(
            ["git", "-C", str(repo), "config", key], capture_output=True, text=True
        ).stdout.strip():
            identity += ["-c", f"{key}={fallback}"]
    git(*identity, "commit", "-q", "-m", COMMIT_MESSAGE)
    return git("rev-parse", "HEAD").stdout.strip()
