"""Which tree runs (exercises or solutions) and which weights it runs on, and how that is said.

The pytest harness, the notebooks and the ``facekit`` command all go through here, so
``--target``/``KIT_TARGET`` and ``--weights``/``KIT_WEIGHTS`` mean the same everywhere, and
every one of them describes the choice with the same ``code: ... / weights: ...`` lines
(``header``). Nothing here imports torch or touches huggingface_hub's settings: switching
the hub to the stand-in weights is facekit.hub_switch, importing an exercise facekit.trees.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

TARGETS = ("exercises", "solutions")
TARGET_ENV = "KIT_TARGET"
WEIGHTS_ENV = "KIT_WEIGHTS"
STANDIN_CACHE_ENV = "KIT_STANDIN_CACHE"
WEIGHTS = ("standin", "hub")
DEFAULT_TARGET = "exercises"
DEFAULT_WEIGHTS = "standin"


def resolve_target(explicit: str | None = None) -> str:
    target = explicit or os.environ.get(TARGET_ENV) or DEFAULT_TARGET
    if target not in TARGETS:
        raise ValueError(
            f"target must be one of {', '.join(TARGETS)} (--target or {TARGET_ENV}); got {target!r}"
        )
    return target


def resolve_weights(explicit: str | None = None) -> str:
    weights = explicit or os.environ.get(WEIGHTS_ENV) or DEFAULT_WEIGHTS
    if weights not in WEIGHTS:
        raise ValueError(
            f"weights must be one of {', '.join(WEIGHTS)} (--weights or {WEIGHTS_ENV}); got {weights!r}"
        )
    return weights


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


def default_standin_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "facekit" / "standin-hub"


def standin_cache_dir(explicit: Path | None = None) -> Path:
    """Where the stand-in hub cache lives: the one given, KIT_STANDIN_CACHE, or the default."""
    return Path(explicit or os.environ.get(STANDIN_CACHE_ENV) or default_standin_cache())


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


def weights_in_use(mode: str) -> WeightsInUse:
    """What ``mode`` means now, without switching anything (stand-in: no hub import)."""
    if resolve_weights(mode) == "standin":
        return WeightsInUse("standin", standin_cache_dir(), True)
    from facekit import hub

    return WeightsInUse("hub", hub.cache_dir(), hub.is_offline())


def header(
    target: str, weights: WeightsInUse, code: str | None = None, with_env: bool = False
) -> list[tuple[str, str]]:
    """The run's description, the same everywhere: ``[("code", ...), ("weights", ...)]``.

    ``code`` names the file or folder (default: ``target/``); ``with_env`` adds the variable
    that chose each (notebooks, where there is no command line).
    """
    who = "your code" if target == "exercises" else "the reference solutions"
    code_text = f"{code or target + '/'} ({who}" + (f"; {TARGET_ENV}={target})" if with_env else ")")
    weights_text = weights.describe() + (f" ({WEIGHTS_ENV}={weights.mode})" if with_env else "")
    return [("code", code_text), ("weights", weights_text)]


def __getattr__(name: str):
    # tests/test_ex04_storage.py's child process calls settings.load_exercise; it lives in
    # facekit.trees now (imported lazily here: trees imports this module).
    if name == "load_exercise":
        from facekit.trees import load_exercise

        return load_exercise
    raise AttributeError(f"module 'facekit.settings' has no attribute {name!r}")
