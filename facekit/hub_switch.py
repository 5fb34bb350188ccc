"""Point huggingface_hub at the stand-in weights' cache, or back at the real one.

huggingface_hub reads HF_HUB_CACHE and HF_HUB_OFFLINE once, at import; its constants module
is read again at every call, so both are patched (the environment also reaches notebook
kernels and subprocesses). ``activate_weights`` builds the stand-in cache on first use and
rebuilds it when damaged. Which weights to use is decided in facekit.settings.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from facekit.settings import STANDIN_CACHE_ENV, WeightsInUse, resolve_weights, standin_cache_dir

_HUB_VARS = ("HF_HUB_CACHE", "HF_HUB_OFFLINE")
_real_hub: dict | None = None  # the hub settings from before the stand-in cache took over


def standin_ready(cache: Path) -> bool:
    """True when ``cache`` holds an intact stand-in checkpoint; a damaged one is removed."""
    from huggingface_hub import try_to_load_from_cache

    from facekit import hub, standin

    found = try_to_load_from_cache(standin.MODEL_ID, standin.FILENAME, cache_dir=str(cache))
    if not isinstance(found, str):
        return False
    try:
        hub.verify_cached_file(Path(found), standin.MODEL_ID)
        return True
    except hub.CorruptWeightsError:
        shutil.rmtree(standin.repo_folder(cache), ignore_errors=True)
        return False


def _point_hub_at(cache: Path, offline: bool) -> None:
    global _real_hub
    from huggingface_hub import constants

    if _real_hub is None:
        _real_hub = {
            "env": {k: os.environ.get(k) for k in _HUB_VARS},
            "constants": (constants.HF_HUB_CACHE, constants.HF_HUB_OFFLINE),
        }
    os.environ["HF_HUB_CACHE"] = str(cache)
    if offline:
        os.environ["HF_HUB_OFFLINE"] = "1"
    constants.HF_HUB_CACHE = str(cache)
    constants.HF_HUB_OFFLINE = constants.HF_HUB_OFFLINE or offline


def _restore_real_hub() -> None:
    """Undo _point_hub_at: after stand-in weights, "hub" means the real cache again."""
    global _real_hub
    if _real_hub is None:
        return
    from huggingface_hub import constants

    for key, value in _real_hub["env"].items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    constants.HF_HUB_CACHE, constants.HF_HUB_OFFLINE = _real_hub["constants"]
    _real_hub = None


def activate_weights(
    mode: str | None = None, standin_cache: Path | None = None, build: bool = True
) -> WeightsInUse:
    """Point huggingface_hub at the stand-in cache (built on first use) or leave it on the real one.

    ``build=False``: point it there but build nothing yet (the harness builds the cache only for
    a run whose tests read the weights: building imports timm)."""
    mode = resolve_weights(mode)
    if mode == "hub":
        from huggingface_hub import constants

        _restore_real_hub()
        return WeightsInUse("hub", Path(constants.HF_HUB_CACHE), bool(constants.HF_HUB_OFFLINE))
    from facekit import standin

    cache = standin_cache_dir(standin_cache)
    os.environ[STANDIN_CACHE_ENV] = str(cache)
    _point_hub_at(cache, offline=True)
    if build and not standin_ready(cache):  # missing, or damaged (and removed): build it afresh
        standin.build_cache(cache)
    return WeightsInUse("standin", cache, True)
