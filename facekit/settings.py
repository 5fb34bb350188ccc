"""Which tree runs (exercises or solutions) and which weights it runs on: the run's ``Choice``.

A Choice is decided once, where a run starts (the CLI's parser, pytest's configure, a
notebook's setup cell), by ``read_choice``, the one reader of ``KIT_TARGET``, ``KIT_WEIGHTS``
and ``KIT_STANDIN_CACHE``; from there it is passed on as an argument. The environment carries
it only across a process boundary: ``child_env`` builds a child's environment (a subprocess,
a notebook kernel, a forked child) and ``enter_env`` installs one in a forked child; they are
the only places that write those variables. So ``--target``/``KIT_TARGET`` and
``--weights``/``KIT_WEIGHTS`` mean the same everywhere, and every run describes its choice with
the same ``code: ... / weights: ...`` lines (``header``).

This is the ground floor: it imports no other facekit module. Pointing huggingface_hub at the
stand-in cache in a process that imported it already is facekit.hub_switch; importing an
exercise, facekit.trees.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

TARGETS = ("exercises", "solutions")
TARGET_ENV = "KIT_TARGET"
WEIGHTS_ENV = "KIT_WEIGHTS"
STANDIN_CACHE_ENV = "KIT_STANDIN_CACHE"
HUB_CACHE_ENV = "HF_HUB_CACHE"  # huggingface_hub's own variables, read when it is imported
HUB_OFFLINE_ENV = "HF_HUB_OFFLINE"
WEIGHTS = ("standin", "hub")
DEFAULT_TARGET = "exercises"
DEFAULT_WEIGHTS = "standin"
# Written into the stand-in checkpoint (facekit.standin) and shown wherever they are used.
STANDIN_LABEL = "stand-in weights (seeded random, NOT pretrained)"


@dataclass(frozen=True)
class Weights:
    """The weights a run uses: ``mode`` "standin" (the kit's seeded random checkpoint in the
    hub cache ``cache``, always offline) or "hub" (huggingface_hub's own cache ``cache``, offline
    when HF_HUB_OFFLINE said so)."""

    mode: str
    cache: Path
    offline: bool

    def describe(self) -> str:
        if self.mode == "standin":
            return f"{STANDIN_LABEL}, offline"
        network = "offline" if self.offline else "network allowed"
        return f"real pretrained weights from the Hugging Face Hub ({network}, cache {self.cache})"


@dataclass(frozen=True)
class Choice:
    """The tree under test and the weights: decided once per run, then passed as an argument."""

    target: str
    weights: Weights


def resolve_target(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """``explicit`` (--target), else KIT_TARGET, else the default; ValueError naming both when unknown."""
    env = os.environ if environ is None else environ
    return check_target(explicit or env.get(TARGET_ENV) or DEFAULT_TARGET)


def check_target(target: str) -> str:
    """``target`` when it names a tree; ValueError naming the choices and how they are made."""
    if target not in TARGETS:
        raise ValueError(
            f"target must be one of {', '.join(TARGETS)} (--target or {TARGET_ENV}); got {target!r}"
        )
    return target


def resolve_weights(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """``explicit`` (--weights), else KIT_WEIGHTS, else the default; ValueError naming both when unknown."""
    env = os.environ if environ is None else environ
    weights = explicit or env.get(WEIGHTS_ENV) or DEFAULT_WEIGHTS
    if weights not in WEIGHTS:
        raise ValueError(
            f"weights must be one of {', '.join(WEIGHTS)} (--weights or {WEIGHTS_ENV}); got {weights!r}"
        )
    return weights


def read_choice(
    target: str | None = None,
    weights: str | None = None,
    standin_cache: Path | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    default_target: str = DEFAULT_TARGET,
    new_standin_cache: Callable[[], Path] | None = None,
) -> Choice:
    """The run's Choice: the explicit values given (command-line options), else the environment.

    The one reader of the kit's variables, called once where a run starts. The tree is
    ``target``, else KIT_TARGET, else ``default_target``. Stand-in weights live in
    ``standin_cache``, else KIT_STANDIN_CACHE, else ``new_standin_cache()`` when given (pytest:
    a fresh folder per run), else the default folder; hub weights in huggingface_hub's cache,
    as huggingface_hub read HF_HOME/HF_HUB_CACHE/HF_HUB_OFFLINE.
    """
    env = os.environ if environ is None else environ
    target = resolve_target(target or env.get(TARGET_ENV) or default_target, env)
    mode = resolve_weights(weights, env)
    if mode == "standin":
        named = standin_cache or env.get(STANDIN_CACHE_ENV)
        if named:
            cache = Path(named)
        else:
            cache = new_standin_cache() if new_standin_cache else default_standin_cache(env)
        return Choice(target, Weights("standin", cache, True))
    # huggingface_hub's own reading of its variables (HF_HOME, the legacy names, what counts as
    # true); imported only for hub weights: the stand-in path never needs it.
    from huggingface_hub import constants

    return Choice(target, Weights("hub", Path(constants.HF_HUB_CACHE), bool(constants.HF_HUB_OFFLINE)))


def child_env(root: Path, choice: Choice, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a process that runs the kit at ``root`` on ``choice`` (a subprocess, a
    notebook kernel, a forked child): ``base`` (default: this process's) plus the choice.

    The only builder of a child's environment. The child's huggingface_hub reads HF_HUB_CACHE and
    HF_HUB_OFFLINE when it is imported, so a fresh process uses the chosen weights with nothing
    patched. ``root`` goes first on PYTHONPATH, so a copy of the kit is run as itself, ahead of
    whatever kit is installed.
    """
    env = dict(os.environ if base is None else base)
    weights = choice.weights
    env[TARGET_ENV] = choice.target
    env[WEIGHTS_ENV] = weights.mode
    if weights.mode == "standin":
        env[STANDIN_CACHE_ENV] = str(weights.cache)
    env[HUB_CACHE_ENV] = str(weights.cache)
    if weights.offline:
        env[HUB_OFFLINE_ENV] = "1"
    else:
        env.pop(HUB_OFFLINE_ENV, None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH")) if p)
    return env


def enter_env(env: Mapping[str, str]) -> None:
    """Make ``env`` this process's whole environment: in a forked child only, right after the fork
    (a process boundary). The only writer of os.environ in the kit."""
    os.environ.clear()
    os.environ.update(env)


def default_standin_cache(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    base = env.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "facekit" / "standin-hub"


def header(choice: Choice, code: str | None = None, with_env: bool = False) -> list[tuple[str, str]]:
    """The run's description, the same everywhere: ``[("code", ...), ("weights", ...)]``.

    ``code`` names the file or folder (default: ``target/``); ``with_env`` adds the variable
    that chose each (notebooks, where there is no command line).
    """
    target, weights = choice.target, choice.weights
    who = "your code" if target == "exercises" else "the reference solutions"
    code_text = f"{code or target + '/'} ({who}" + (f"; {TARGET_ENV}={target})" if with_env else ")")
    weights_text = weights.describe() + (f" ({WEIGHTS_ENV}={weights.mode})" if with_env else "")
    return [("code", code_text), ("weights", weights_text)]
