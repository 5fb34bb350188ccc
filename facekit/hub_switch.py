"""Pointing huggingface_hub at the run's weights: the stand-in cache, or the real one.

The simple way needs nothing here: a child process gets HF_HUB_CACHE and HF_HUB_OFFLINE in its
environment (facekit.settings.child_env) and huggingface_hub reads them when it is imported.
A process that imported huggingface_hub before its run chose the weights (``pytest`` run
directly, whose plugins may import it; the warm worker and its forked children; a notebook
kernel whose setup cell runs again; ``facekit try`` and ``app`` in a test) has to patch the
two values huggingface_hub reads at every call, ``constants.HF_HUB_CACHE`` and
``constants.HF_HUB_OFFLINE``: that is ``pointed_at``, the one place that does it, for the
length of a ``with`` block, after which they are what they were. It never writes the
environment: children get theirs from child_env.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

from facekit import hub, standin
from facekit.settings import Weights


def standin_ready(cache: Path) -> bool:
    """True when ``cache`` holds an intact stand-in checkpoint; a damaged one is removed."""
    # huggingface_hub is imported where it is used, as in facekit.hub: `import facekit.notebooks`
    # (a notebook's first cell) must work before it is needed, and costs nothing.
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(standin.MODEL_ID, standin.FILENAME, cache_dir=str(cache))
    if not isinstance(found, str):
        return False
    try:
        hub.verify_cached_file(Path(found), standin.MODEL_ID)
        return True
    except hub.CorruptWeightsError:
        shutil.rmtree(standin.repo_folder(cache), ignore_errors=True)
        return False


def build_standin(weights: Weights) -> None:
    """Stand-in weights: build their cache unless it is there and intact (a damaged one is
    rebuilt). Hub weights: nothing to build."""
    if weights.mode == "standin" and not standin_ready(weights.cache):
        standin.build_cache(weights.cache)


@contextlib.contextmanager
def pointed_at(weights: Weights) -> Iterator[Weights]:
    """huggingface_hub uses ``weights``' cache (and is offline if they are) inside the block.

    Hub weights read from huggingface_hub itself (settings.read_choice) leave it as it is.
    """
    from huggingface_hub import constants

    saved = constants.HF_HUB_CACHE, constants.HF_HUB_OFFLINE
    if saved == (str(weights.cache), weights.offline):  # a child started by child_env: nothing to do
        yield weights
        return
    constants.HF_HUB_CACHE = str(weights.cache)
    constants.HF_HUB_OFFLINE = weights.offline
    try:
        yield weights
    finally:
        constants.HF_HUB_CACHE, constants.HF_HUB_OFFLINE = saved
