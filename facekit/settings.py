"""Which tree runs (exercises or solutions) and which weights it runs on.

The pytest harness, the notebooks and the ``facekit`` command all go through here, so
``--target``/``KIT_TARGET`` and ``--weights``/``KIT_WEIGHTS`` mean the same everywhere.
"""

from __future__ import annotations

import importlib
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from facekit import course

TARGET_ENV = "KIT_TARGET"
WEIGHTS_ENV = "KIT_WEIGHTS"
STANDIN_CACHE_ENV = "KIT_STANDIN_CACHE"
WEIGHTS = ("standin", "hub")
DEFAULT_TARGET = "exercises"
DEFAULT_WEIGHTS = "standin"


def resolve_target(explicit: str | None = None) -> str:
    target = explicit or os.environ.get(TARGET_ENV) or DEFAULT_TARGET
    if target not in course.TARGETS:
        raise ValueError(f"target must be one of {', '.join(course.TARGETS)} "
                         f"(--target or {TARGET_ENV}); got {target!r}")
    return target


def resolve_weights(explicit: str | None = None) -> str:
    weights = explicit or os.environ.get(WEIGHTS_ENV) or DEFAULT_WEIGHTS
    if weights not in WEIGHTS:
        raise ValueError(f"weights must be one of {', '.join(WEIGHTS)} "
                         f"(--weights or {WEIGHTS_ENV}); got {weights!r}")
    return weights


def load_exercise(exercise_id: str, target: str | None = None) -> ModuleType:
    """Import an exercise from the selected tree: ``load_exercise("ex02_embeddings")``."""
    root = str(course.repo_root())
    if root not in sys.path:  # the trees are importable from a checkout even without install
        sys.path.insert(0, root)
    return importlib.import_module(course.load().get(exercise_id).module(resolve_target(target)))


def default_standin_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "facekit" / "standin-hub"


def standin_cache_dir(explicit: Path | None = None) -> Path:
    """Where the stand-in hub cache lives: the one given, KIT_STANDIN_CACHE, or the default."""
    return Path(explicit or os.environ.get(STANDIN_CACHE_ENV) or default_standin_cache())


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


def child_env(root: Path, target: str, weights: str, base: dict | None = None) -> dict:
    """The environment of a process that runs the kit at ``root`` (a subprocess, a kernel).

    ``root`` goes first on PYTHONPATH, so a copy of the kit is run as itself, ahead of
    whatever kit is installed.
    """
    env = dict(os.environ if base is None else base)
    env[TARGET_ENV] = resolve_target(target)
    env[WEIGHTS_ENV] = resolve_weights(weights)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH")) if p)
    return env


@dataclass(frozen=True)
class WeightsInUse:
    mode: str
    cache: Path
    offline: bool

    def describe(self) -> str:
        from facekit import standin

        if self.mode == "standin":
            return f"{standin.LABEL}, offline"
        network = "offline" if self.offline else "network allowed"
        return f"real pretrained weights from the Hugging Face Hub ({network}, cache {self.cache})"


_HUB_VARS = ("HF_HUB_CACHE", "HF_HUB_OFFLINE")
_real_hub: dict | None = None  # the hub settings from before the stand-in cache took over


def _point_hub_at(cache: Path, offline: bool) -> None:
    # huggingface_hub reads these variables once, at import; its constants module is read
    # again at every call, so patch both (the env also reaches notebook kernels and subprocesses).
    global _real_hub
    from huggingface_hub import constants

    if _real_hub is None:
        _real_hub = {"env": {k: os.environ.get(k) for k in _HUB_VARS},
                     "constants": (constants.HF_HUB_CACHE, constants.HF_HUB_OFFLINE)}
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


def activate_weights(mode: str | None = None, standin_cache: Path | None = None) -> WeightsInUse:
    """Point huggingface_hub at the stand-in cache (built on first use) or leave it on the real one."""
    mode = resolve_weights(mode)
    if mode == "hub":
        from huggingface_hub import constants

        _restore_real_hub()
        return WeightsInUse("hub", Path(constants.HF_HUB_CACHE), bool(constants.HF_HUB_OFFLINE))
    from facekit import standin

    cache = standin_cache_dir(standin_cache)
    os.environ[STANDIN_CACHE_ENV] = str(cache)
    _point_hub_at(cache, offline=True)
    if not standin_ready(cache):  # missing, or damaged (and removed): build it afresh
        standin.build_cache(cache)
    return WeightsInUse("standin", cache, True)
