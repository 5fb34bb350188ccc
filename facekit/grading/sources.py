"""Reading a submission: a zip from ``facekit submit``, a folder, or a git repository.

Only the manifest's student files (each exercise's stub module) are taken; everything else is
listed as ignored. Nothing is extracted: the wanted files are read into memory (at most
``MAX_FILE_BYTES`` each), so an archive entry like ``../../x`` can write nothing anywhere, and
an archive holding one is refused as a whole.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from facekit import course
from facekit.hub import git_blob_sha1

MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_LISTED = 40
_SKIP_DIRS = {".git", "__pycache__", ".venv", "venv", ".facekit", ".pytest_cache", ".ipynb_checkpoints"}


@dataclass
class Submission:
    id: str
    source: str
    files: dict[str, bytes] = field(default_factory=dict)  # manifest stub path -> content
    ignored: list[str] = field(default_factory=list)
    refused: str | None = None  # why the submission cannot be graded at all
    warnings: list[str] = field(default_factory=list)  # graded, but the instructor should know
    meta: dict = field(default_factory=dict)  # its submission.json, when it has one

    def digest(self) -> str:
        h = hashlib.sha256()
        for path in sorted(self.files):
            h.update(path.encode() + b"\0" + hashlib.sha256(self.files[path]).digest())
        return h.hexdigest()


def compile_problem(source: bytes, name: str) -> str | None:
    """Why ``source`` does not compile ("line 3: invalid syntax"), or None when it does."""
    try:
        with warnings.catch_warnings():  # an invalid escape is a warning, not a failure
            warnings.simplefilter("ignore")
            compile(source, name, "exec", dont_inherit=True)
    except SyntaxError as err:
        return f"line {err.lineno}: {err.msg}"
    except ValueError as err:  # a null byte
        return str(err)
    return None


def student_files(kit: course.Course) -> list[str]:
    """The files that are the student's: each exercise's stub module, in course order."""
    return [e.stub for e in kit.exercises]


def safe_id(text: str) -> str:
    """An id that is also a safe file name: letters, digits, ``._-`` (others become ``_``)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "submission"
    return cleaned[:100]


def default_id(path: Path) -> str:
    name = path.name
    return safe_id(name[:-4] if name.lower().endswith(".zip") else name)


def _unsafe(name: str) -> bool:
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or "\\" in name:
        return True
    return any(part == ".." for part in PurePosixPath(name).parts)


def _locate(names: set[str], wanted: list[str]) -> dict[str, str]:
    """For each wanted path, the name holding it: as is, under one top folder, or by file name."""
    found: dict[str, str] = {}
    prefixes = [""] + sorted({n.split("/", 1)[0] + "/" for n in names if "/" in n})
    for path in wanted:
        for prefix in prefixes:
            if prefix + path in names:
                found[path] = prefix + path
                break
        else:  # a flat upload (Gradescope): images.py at the top, if that name is unique
            base = PurePosixPath(path).name
            flat = [n for n in names if "/" not in n and n == base]
            if len(flat) == 1 and sum(PurePosixPath(p).name == base for p in wanted) == 1:
                found[path] = flat[0]
    return found


def _listing(ignored: list[str]) -> list[str]:
    ignored = sorted(ignored)
    if len(ignored) > MAX_LISTED:
        return ignored[:MAX_LISTED] + [f"... and {len(ignored) - MAX_LISTED} more"]
    return ignored


def _from_zip(path: Path, wanted: list[str], sub: Submission) -> None:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        sub.refused = f"not a readable zip archive: {err}"
        return
    with archive:
        infos = [i for i in archive.infolist() if not i.is_dir()]
        unsafe = [i.filename for i in infos if _unsafe(i.filename)]
        links = [i.filename for i in infos if (i.external_attr >> 16) & 0o170000 == 0o120000]
        if unsafe or links:
            bad = (unsafe or links)[0]
            what = "a path outside the archive" if unsafe else "a symbolic link"
            sub.refused = f"the archive holds {what} ({bad!r}); nothing was extracted"
            return
        names = {i.filename for i in infos}
        found = _locate(names, wanted)
        for path, name in found.items():
            info = archive.getinfo(name)
            if info.file_size > MAX_FILE_BYTES:
                sub.ignored.append(f"{name} (over {MAX_FILE_BYTES // 1024} KiB)")
                continue
            with archive.open(info) as member:
                sub.files[path] = member.read(MAX_FILE_BYTES + 1)[:MAX_FILE_BYTES]
        used = set(found.values())
        if "submission.json" in names:
            used.add("submission.json")
            try:
                import json

                sub.meta = json.loads(archive.read("submission.json")[:65536])
            except ValueError:
                sub.meta = {}
        sub.ignored += [n for n in names if n not in used]


def _from_git(path: Path, wanted: list[str], sub: Submission, ref: str = "HEAD") -> None:
    def git(*args):
        return subprocess.run(["git", "-C", str(path), *args], capture_output=True, timeout=60)

    head = git("rev-parse", "--verify", f"{ref}^{{commit}}")
    if head.returncode != 0:
        sub.refused = f"git repository without a commit at {ref}"
        return
    sub.meta = {"git_commit": head.stdout.decode().strip()}
    listed = git("ls-tree", "-r", ref)  # "<mode> blob <sha1>\t<path>" per file
    blobs = {}
    for line in listed.stdout.decode("utf-8", "replace").splitlines():
        meta, _, name = line.partition("\t")
        blobs[name] = meta.split()[-1] if meta else ""
    names = set(blobs)
    sub.meta["blobs"] = blobs
    found = _locate(names, wanted)
    for wanted_path, name in found.items():
        shown = git("show", f"{ref}:{name}")
        if shown.returncode == 0:
            sub.files[wanted_path] = shown.stdout[:MAX_FILE_BYTES]
    sub.ignored += [n for n in names if n not in set(found.values())]
    # A clone's working tree may hold work never committed: it is not graded, and says so.
    uncommitted = [w for w in wanted if (path / w).is_file()
                   and (path / w).read_bytes()[:MAX_FILE_BYTES] != sub.files.get(w)]
    if uncommitted:
        sub.warnings.append(f"uncommitted changes to {', '.join(uncommitted)} were not graded: the grade "
                            f"is of commit {sub.meta['git_commit'][:12]} (commit them, or hand in "
                            f"`facekit submit`'s zip)")


def _from_folder(path: Path, wanted: list[str], sub: Submission) -> None:
    names = set()
    for item in sorted(path.rglob("*")):
        rel = item.relative_to(path)
        if any(part in _SKIP_DIRS for part in rel.parts) or item.suffix == ".pyc":
            continue
        if item.is_symlink():
            sub.ignored.append(f"{rel.as_posix()} (symbolic link)")
            continue
        if item.is_file():
            names.add(rel.as_posix())
    found = _locate(names, wanted)
    for wanted_path, name in found.items():
        with open(path / name, "rb") as f:
            sub.files[wanted_path] = f.read(MAX_FILE_BYTES)
    sub.ignored += [n for n in names if n not in set(found.values())]


def read(path: Path, kit: course.Course, kit_root: Path | None = None, sub_id: str | None = None) -> Submission:
    """Read one submission; files the kit ships unchanged are not listed as ignored."""
    path = Path(path)
    wanted = student_files(kit)
    sub = Submission(id=sub_id or default_id(path), source=str(path))
    if path.is_file():
        _from_zip(path, wanted, sub)
    elif (path / ".git").exists():
        _from_git(path, wanted, sub)
    elif path.is_dir():
        _from_folder(path, wanted, sub)
    else:
        sub.refused = f"{path} is neither a zip archive nor a folder"
    blobs = sub.meta.pop("blobs", None)
    if kit_root is not None and sub.ignored and path.is_dir():
        # A student's clone holds the whole kit: list only what differs from the instructor's.
        if blobs is None:
            sub.ignored = [n for n in sub.ignored if not _same(path / n, Path(kit_root) / n)]
        else:
            sub.ignored = [n for n in sub.ignored if blobs.get(n) != _git_blob(Path(kit_root) / n)]
    sub.ignored = _listing(sub.ignored)
    return sub


def _same(a: Path, b: Path) -> bool:
    try:
        return a.is_file() and b.is_file() and a.stat().st_size == b.stat().st_size and a.read_bytes() == b.read_bytes()
    except OSError:
        return False


def _git_blob(path: Path) -> str | None:
    """git's object id of a file (facekit.hub.git_blob_sha1), None if unreadable."""
    try:
        return git_blob_sha1(path)
    except OSError:
        return None
