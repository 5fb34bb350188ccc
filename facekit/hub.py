"""Fetching model weights from the Hugging Face Hub, cache first, with errors a person can act on.

Everything here goes through huggingface_hub, so HF_HOME, HF_HUB_CACHE and HF_HUB_OFFLINE
mean what they mean for every other Hugging Face tool.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from facekit.errors import CorruptWeightsError, WeightsNotFoundError  # noqa: F401 - raised here

FETCH_HINT = "python -m facekit download"


def cache_dir() -> Path:
    # Read at call time: tests and `facekit --weights standin` repoint it after import.
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def is_offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def _not_found(repo_id: str, filename: str, why: str) -> WeightsNotFoundError:
    return WeightsNotFoundError(
        f"The weights of {repo_id} ({filename}) are not in the Hugging Face cache "
        f"({cache_dir()}) and {why}. Fetch them once on a machine with network access: "
        f"`{FETCH_HINT}` (or `hf download {repo_id} {filename}`), then copy that cache "
        f"folder here or point HF_HUB_CACHE at it."
    )


def cached_file(repo_id: str, filename: str, revision: str | None = None) -> Path | None:
    """The path of ``filename`` in the local cache, or None; never touches the network."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, filename, revision=revision)
    return Path(found) if isinstance(found, str) else None


def download(
    repo_id: str, filename: str, *, revision: str | None = None, force: bool = False, verify: bool = True
) -> Path:
    """``hf_hub_download`` that trusts the cache first and explains failures.

    A cached file is returned without a network round trip (hf_hub_download would first
    ask the hub whether ``main`` moved, which can hang for many seconds on a bad network).
    When the file is missing and the hub is offline or unreachable, the error names the
    model and how to fetch it. With ``verify``, the file's content is checked against the
    hash the hub cache stores it under, because safetensors loads flipped bytes silently.
    """
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    path = None if force else cached_file(repo_id, filename, revision)
    if path is None:
        if is_offline():
            raise _not_found(repo_id, filename, "the hub is offline (HF_HUB_OFFLINE=1)")
        try:
            path = Path(hf_hub_download(repo_id, filename, revision=revision, force_download=force))
        except LocalEntryNotFoundError as err:
            # huggingface_hub's own text blames "your connection" even when the hub was reached.
            raise _not_found(
                repo_id, filename, f"the hub could not be reached ({err.__class__.__name__})"
            ) from err
    if verify:
        verify_cached_file(path, repo_id)
    return path


def git_blob_sha1(path: Path) -> str:
    """git's object id of a file: sha1 of "blob <size>\\0" and its bytes."""
    digest = hashlib.sha1(b"blob %d\0" % path.stat().st_size)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def expected_hash(path: Path) -> str | None:
    """The content hash the hub cache names this file's blob after, if it keeps one.

    Large (LFS) files are stored as ``blobs/<sha256>``, small ones as ``blobs/<git sha1>``.
    Without symlinks (some Windows setups) the snapshot holds a plain copy and no hash.
    """
    blob = Path(path).resolve()
    if blob.parent.name != "blobs":
        return None
    return blob.name if re.fullmatch(r"[0-9a-f]{64}|[0-9a-f]{40}", blob.name) else None


def verify_cached_file(path: Path, repo_id: str = "") -> None:
    """Raise CorruptWeightsError when a cached file's content does not match its blob hash."""
    expected = expected_hash(path)
    if expected is None:
        return  # Nothing to compare with: a copy outside the blob layout.
    actual = _sha256(Path(path)) if len(expected) == 64 else git_blob_sha1(Path(path))
    if actual != expected:
        model = f" of {repo_id}" if repo_id else ""
        raise CorruptWeightsError(
            f"The cached file {path}{model} is corrupted: its content hash is {actual[:12]}..., "
            f"the hub published {expected[:12]}... (a truncated or damaged download). "
            f"Download it again: `{FETCH_HINT} --force`."
        )
