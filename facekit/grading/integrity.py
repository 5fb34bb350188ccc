"""What the grader checks before it trusts anything a submission's run could have touched.

- **Sentinels**: per run, the grader plants tests of its own (facekit.grading.plugin), named
  at random, at the start of each test file and after the last test: in each place one that
  must pass and one that must fail. ``check`` reads the record as it came through the pipe,
  line by line, and finds it forged (``tampered``) when a sentinel came out otherwise, when
  one is missing while a test after it reported, when a test reported twice, out of the order
  pytest runs them, or is not a test of the kit, or when the record says twice that it
  collected or finished. This catches blanket forgery from inside the test process: a hook
  or a patched pytest that marks every report passed, lines written to the record's file
  descriptor ahead of the tests, a wrapped recorder. It cannot catch targeted forgery by code
  that finds the sentinels at run time and spares them.
- **Signed files**: what the grader keeps under ``--out/.cache`` (the cached runs, the prepared
  kit's list of files) carries an HMAC with a key kept outside ``--out``
  (``$XDG_CACHE_HOME/facekit/grading.key``, 0600); a file that does not verify is not used.
- **Manifest**: the sha256 of every file of the prepared kit, checked again where a copy of
  it is made for a submission, so a kit changed on disk is never graded with.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Set as AbstractSet
from pathlib import Path

KEY_FILE = "grading.key"
PASS, FAIL = "pass", "fail"


# -- sentinels ----------------------------------------------------------------------------------


def plan(test_files: list[str]) -> list[dict]:
    """Sentinels for one run: a must-pass and a must-fail at the start of each test file, and a
    pair after the last test. ``[{"name", "file" (None: at the end), "fail"}]``."""
    specs = []
    for file in [*test_files, None]:
        pair = [False, True]
        secrets.SystemRandom().shuffle(pair)
        for fail in pair:
            specs.append({"name": f"test_{secrets.token_hex(6)}", "file": file, "fail": fail})
    return specs


def check(sequence: list[tuple[str, str]], meta: dict, sentinels: list[dict], order: list[str]) -> str | None:
    """Why the record looks forged, or None.

    ``sequence``: (nodeid, outcome) of each test line, in the order the record has them;
    ``meta``: counts of its "collected" and "finished" lines and the finished exit status;
    ``order``: the kit's tests in the order pytest runs them (the pristine collection).
    """
    if meta.get("collected_lines", 0) > 1 or meta.get("finished_lines", 0) > 1:
        return "the record says more than once that the tests were collected or finished"
    files = list(dict.fromkeys(n.split("::")[0] for n in order))
    index = {f: i for i, f in enumerate(files)}
    # Each test's place: a file's sentinels before its first test, the end ones after all.
    place = {n: (index[n.split("::")[0]], 1, i) for i, n in enumerate(order)}
    specs = {s["name"]: s for s in sentinels}
    seen: set[str] = set()
    reported_files: set[str] = set()
    last = None
    for nodeid, outcome in sequence:
        file, name = nodeid.split("::")[0], nodeid.split("::")[-1]
        spec = specs.get(name) if "::" in nodeid else None
        if spec is not None:
            if spec["file"] is not None and spec["file"] != file:
                return f"the record reports a test the kit does not have: {nodeid}"
            spot = (index.get(spec["file"], len(files)), 0, 0)
        elif nodeid in place:
            spot = place[nodeid]
            reported_files.add(file)
        else:
            return f"the record reports a test the kit does not have: {nodeid}"
        if nodeid in seen:
            return f"the record reports {nodeid} twice"
        seen.add(nodeid)
        if last is not None and spot < last[1]:
            return f"the record reports {nodeid} after {last[0]}, which pytest runs later"
        last = (nodeid, spot)
        if spec is not None and outcome != ("failed" if spec["fail"] else "passed"):
            kind = "must fail" if spec["fail"] else "must pass"
            return f"a check test the grader planted ({kind}) was reported {outcome}"
    names = {nodeid.split("::")[-1] for nodeid in seen}
    for spec in sentinels:
        if spec["name"] in names:
            continue
        # A file's own are made only where the file collected, and run before its tests; the
        # ones at the end, before a run that finished normally (not interrupted) ends.
        if spec["file"] is not None and spec["file"] in reported_files:
            return (
                f"a check test the grader planted at the start of {spec['file']} did not report, "
                f"though that file's tests did"
            )
        if spec["file"] is None and meta.get("exitstatus") in (0, 1) and reported_files:
            return (
                "a check test the grader planted after the last test did not report, though the run finished"
            )
    return None


def strip(run: dict, sentinels: list[dict]) -> dict:
    """The run without the sentinels: what scores and statuses are made from."""
    names = {s["name"] for s in sentinels}

    def ours(nodeid: str) -> bool:
        return nodeid.split("::")[-1] in names

    run = dict(run)
    run["tests"] = {n: t for n, t in run["tests"].items() if not ours(n)}
    if run.get("collected") is not None:
        run["collected"] = [n for n in run["collected"] if not ours(n)]
    run.pop("sequence", None)
    run.pop("record_meta", None)
    return run


# -- signed files -------------------------------------------------------------------------------


def key_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "facekit" / KEY_FILE


def key() -> bytes:
    """The grader's HMAC key, made on first use (0600)."""
    path = key_path()
    try:
        return bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError):
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = secrets.token_hex(32)
    tmp = path.with_name(f"{KEY_FILE}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(fresh)
    try:
        os.link(tmp, path)  # the first one made wins, with two graders at once too
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return bytes.fromhex(path.read_text().strip())


def _mac(label: str, data: dict) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hmac.new(key(), label.encode() + b"\0" + text.encode(), hashlib.sha256).hexdigest()


def sign(label: str, data: dict) -> str:
    """``data`` as JSON with its HMAC; ``label`` (a cache key, a kit hash) binds it to its place."""
    return json.dumps({"data": data, "mac": _mac(label, data)})


def verified(label: str, text: str) -> dict | None:
    """The data of a signed file, or None when it does not verify (changed, moved, unsigned)."""
    try:
        wrapped = json.loads(text)
        data, mac = wrapped["data"], wrapped["mac"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(mac, str) or not hmac.compare_digest(mac, _mac(label, data)):
        return None
    return data


# -- the prepared kit ---------------------------------------------------------------------------


def manifest(folder: Path, skip: AbstractSet[str] = frozenset()) -> dict[str, str]:
    """{relative path: sha256} of every file under ``folder`` (but ``skip``); symbolic links
    and anything else that is not a plain file are listed as such."""
    folder = Path(folder)
    found = {}
    for root, dirs, files in os.walk(folder):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            path = Path(root, name)
            rel = path.relative_to(folder).as_posix()
            if rel in skip:
                continue
            if path.is_symlink() or not path.is_file():
                found[rel] = "not a plain file"
            else:
                found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def differences(expected: dict[str, str], found: dict[str, str]) -> list[str]:
    return sorted(
        set(expected) ^ set(found) | {p for p in expected if p in found and expected[p] != found[p]}
    )
