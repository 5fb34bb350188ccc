"""Reading a submission: a zip from ``facekit submit``, a folder, or a git repository.

Only the manifest's student files (each exercise's stub module) are taken; everything else is
listed as ignored. Nothing is extracted: the wanted files are read into memory (at most
``MAX_FILE_BYTES`` each), so an archive entry like ``../../x`` can write nothing anywhere, and
an archive holding one is refused as a whole. Every read is guarded: a damaged archive (a bad
CRC, an edited size, an encrypted or unsupported entry, corrupt compressed data), an entry
listed twice, or a file that cannot be read refuses that submission with the reason, and the
batch goes on. Windows' backslash separators (``exercises\\ex01_images\\images.py``) are read
as folders.
"""

from __future__ import annotations

import hashlib
import json
import lzma
import re
import subprocess
import warnings
import zipfile
import zlib
from collections import Counter
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
    skipped: dict[str, str] = field(default_factory=dict)  # a student file found but not taken: why

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
    """Whether an entry's name (its backslashes already read as ``/``) points outside the archive."""
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return True
    return any(part == ".." for part in PurePosixPath(name).parts)


def _entry_name(info: zipfile.ZipInfo) -> str:
    """An entry's path with ``/`` between folders: zips made by some Windows tools use ``\\``
    (Python's zipfile converts them only on Windows)."""
    return info.filename.replace("\\", "/")


def _damage(name: str, info: zipfile.ZipInfo, err: Exception) -> str:
    """Why reading entry ``name`` failed, in words an instructor can pass on."""
    again = "zip it again, or hand in the zip `facekit submit` writes"
    text = str(err)
    if isinstance(err, zipfile.BadZipFile) and "CRC" in text:
        return (
            f"bad CRC in {name}: its data does not match its checksum (a damaged or edited archive); {again}"
        )
    if isinstance(err, NotImplementedError):
        return f"unsupported compression (method {info.compress_type}) in {name}; {again} (deflate)"
    if isinstance(err, (zlib.error, lzma.LZMAError, EOFError)) or "decompress" in text.lower():
        return f"corrupt compressed data in {name} ({type(err).__name__}: {text}); {again}"
    return f"{name} cannot be read from the archive ({type(err).__name__}: {text}); {again}"


# What a damaged entry raises while it is read: zipfile's own errors, the decompressors' (zlib,
# bz2's OSError, lzma), an unsupported method, a truncated stream.
_READ_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    NotImplementedError,
    RuntimeError,
    zlib.error,
    lzma.LZMAError,
    EOFError,
    OSError,
    ValueError,
)


def _read_entry(
    archive: zipfile.ZipFile, name: str, info: zipfile.ZipInfo
) -> tuple[bytes | None, str | None]:
    """(the entry's bytes, None), or (None, why it cannot be read). At most MAX_FILE_BYTES + 1 are
    decompressed, whatever the archive claims."""
    if info.flag_bits & 0x1:
        return (
            None,
            f"encrypted: {name} needs a password; hand in the zip `facekit submit` writes, without a password",
        )
    try:
        with archive.open(info) as member:
            data = member.read(MAX_FILE_BYTES + 1)
    except _READ_ERRORS as err:
        return None, _damage(name, info, err)
    if len(data) <= MAX_FILE_BYTES and len(data) != info.file_size:
        return None, (
            f"{name}: the archive gives its size as {info.file_size} bytes, its data holds "
            f"{len(data)} (an edited or damaged archive); zip it again, or hand in the zip "
            f"`facekit submit` writes"
        )
    return data, None


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
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as err:
        sub.refused = f"not a readable zip archive: {err}"
        return
    with archive:
        infos = [i for i in archive.infolist() if not i.is_dir()]
        entries = {_entry_name(i): i for i in infos}
        unsafe = [i.filename for i in infos if _unsafe(_entry_name(i))]
        links = [i.filename for i in infos if (i.external_attr >> 16) & 0o170000 == 0o120000]
        if unsafe or links:
            bad = (unsafe or links)[0]
            what = "a path outside the archive" if unsafe else "a symbolic link"
            sub.refused = f"the archive holds {what} ({bad!r}); nothing was extracted"
            return
        names = set(entries)
        found = _locate(names, wanted)
        counts = Counter(_entry_name(i) for i in infos)
        twice = sorted(n for n in set(found.values()) | {"submission.json"} if counts[n] > 1)
        if twice:  # zipfile would take the last one, silently: which one the student meant is a guess
            sub.refused = (
                f"the archive holds {twice[0]} {counts[twice[0]]} times (duplicate entries): "
                f"which one counts is a guess; zip it again, or hand in the zip `facekit submit` writes"
            )
            return
        for wanted_path, name in found.items():
            info = entries[name]
            if info.file_size > MAX_FILE_BYTES:
                sub.ignored.append(f"{name} (over {MAX_FILE_BYTES // 1024} KiB)")
                sub.skipped[wanted_path] = f"is over {MAX_FILE_BYTES // 1024} KiB: not graded"
                continue
            data, problem = _read_entry(archive, name, info)
            if problem or data is None:  # (None, why) or (bytes, None): never both None
                sub.refused = problem
                sub.files.clear()
                return
            sub.files[wanted_path] = data
        used = set(found.values())
        if "submission.json" in names:
            used.add("submission.json")
            data, problem = _read_entry(archive, "submission.json", entries["submission.json"])
            sub.meta = _meta(data[:65536] if data else b"")
            if problem:
                sub.warnings.append(f"its submission.json was not read ({problem})")
        sub.ignored += [n for n in names if n not in used]


def _meta(data: bytes) -> dict:
    """A hand-in's submission.json (from `facekit submit`), {} when it is not a JSON object."""
    try:
        meta = json.loads(data)
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}


def _from_git(path: Path, wanted: list[str], sub: Submission, ref: str = "HEAD") -> None:
    def git(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(["git", "-C", str(path), *args], capture_output=True, timeout=60)

    head = git("rev-parse", "--verify", f"{ref}^{{commit}}")
    if head.returncode != 0:
        said = head.stderr.decode("utf-8", "replace")
        if "dubious ownership" in said:
            # git (>= 2.35.2) reads no repository owned by another user unless told to trust it.
            sub.refused = (
                f"git refuses to read it: the repository is owned by another user (git's "
                f'"dubious ownership"); grade a copy you own (cp -r), or trust it with '
                f"`git config --global --add safe.directory {path.resolve()}`"
            )
        else:
            first = next((line for line in said.splitlines() if line.strip()), "")
            sub.refused = f"git repository without a commit at {ref}" + (
                f" (git: {first.strip()})" if first else ""
            )
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
        if shown.returncode != 0:
            sub.refused = (
                f"git cannot show {name} at {ref}: {shown.stderr.decode('utf-8', 'replace').strip()[:200]}"
            )
            sub.files.clear()
            return
        if len(shown.stdout) > MAX_FILE_BYTES:
            sub.ignored.append(f"{name} (over {MAX_FILE_BYTES // 1024} KiB)")
            sub.skipped[wanted_path] = f"is over {MAX_FILE_BYTES // 1024} KiB: not graded"
            continue
        sub.files[wanted_path] = shown.stdout
    sub.ignored += [n for n in names if n not in set(found.values())]
    # A clone's working tree may hold work never committed: it is not graded, and says so.
    uncommitted = [
        w
        for w in wanted
        if (path / w).is_file() and (path / w).read_bytes()[:MAX_FILE_BYTES] != sub.files.get(w)
    ]
    if uncommitted:
        sub.warnings.append(
            f"uncommitted changes to {', '.join(uncommitted)} were not graded: the grade "
            f"is of commit {sub.meta['git_commit'][:12]} (commit them, or hand in "
            f"`facekit submit`'s zip)"
        )


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
        try:
            with open(path / name, "rb") as f:
                data = f.read(MAX_FILE_BYTES + 1)
        except OSError as err:
            sub.refused = f"{name} cannot be read: {err.strerror or err}"
            sub.files.clear()
            return
        if len(data) > MAX_FILE_BYTES:
            sub.ignored.append(f"{name} (over {MAX_FILE_BYTES // 1024} KiB)")
            sub.skipped[wanted_path] = f"is over {MAX_FILE_BYTES // 1024} KiB: not graded"
            continue
        sub.files[wanted_path] = data
    used = set(found.values())
    if "submission.json" in names:  # a `facekit submit` zip that was unzipped (Gradescope does)
        used.add("submission.json")
        try:
            with open(path / "submission.json", "rb") as f:
                sub.meta = _meta(f.read(65536))
        except OSError:
            sub.meta = {}
    sub.ignored += [n for n in names if n not in used]


def read(
    path: Path, kit: course.Course, kit_root: Path | None = None, sub_id: str | None = None
) -> Submission:
    """Read one submission; files the kit ships unchanged are not listed as ignored."""
    path = Path(path)
    wanted = student_files(kit)
    sub = Submission(id=sub_id or default_id(path), source=str(path))
    try:
        if path.is_file():
            _from_zip(path, wanted, sub)
        elif (path / ".git").exists():
            _from_git(path, wanted, sub)
        elif path.is_dir():
            _from_folder(path, wanted, sub)
        else:
            sub.refused = f"{path} is neither a zip archive nor a folder"
    except Exception as err:  # noqa: BLE001 - an archive is untrusted input: it refuses itself only
        # Whatever else reading one hand-in can raise (struct.error of a mangled header, say)
        # refuses that one; the batch goes on.
        sub.files.clear()
        sub.refused = f"cannot be read: {type(err).__name__}: {err}"
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
        return (
            a.is_file()
            and b.is_file()
            and a.stat().st_size == b.stat().st_size
            and a.read_bytes() == b.read_bytes()
        )
    except OSError:
        return False


def _git_blob(path: Path) -> str | None:
    """git's object id of a file (facekit.hub.git_blob_sha1), None if unreadable."""
    try:
        return git_blob_sha1(path)
    except OSError:
        return None
