"""What ``facekit app`` and ``facekit embed`` share: the selected tree's Exercise 06 and model,
the app's config file, the store and input checks, and the stand-in note.

The checks are facekit/camera/inputs.py's (the web page makes the same ones); here their
InputError becomes a one-line CommandError, and a bad config file a UsageError.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar

from facekit import app_parts, trees
from facekit.camera import config as app_config
from facekit.camera import inputs
from facekit.cli.context import Context, header
from facekit.errors import CommandError, UsageError

if TYPE_CHECKING:
    import torch

EXERCISE = app_parts.APP  # the capstone: one name for it, app_parts'
_P = ParamSpec("_P")
_R = TypeVar("_R")


class LoginAnswer(Protocol):
    """What Exercise 06's ``login`` returns (its LoginResult), as far as the verdict line reads it."""

    @property
    def name(self) -> str: ...
    @property
    def accepted(self) -> bool: ...
    @property
    def score(self) -> float: ...
    @property
    def threshold(self) -> float: ...


def exercise(ctx: Context) -> ModuleType:
    return trees.load_exercise(EXERCISE, ctx.target)


def app_constants(ctx: Context, *names: str) -> dict[str, Any]:
    """Exercise 06's constants read from its source (no import, so no torch): for usage checks.

    Any: each is whatever literal (ast.literal_eval) the exercise's source assigns to it."""
    return trees.constants(ctx.root / ctx.exercise(EXERCISE).source(ctx.target), *names)


def config(args: argparse.Namespace) -> app_config.AppConfig:
    """The config file (--config, or ./facekit-app.toml if present) with the options given on top.

    Read in ``check_args`` too, so that a wrong file answers before torch is imported.
    """
    resolved = vars(args).get("_resolved_config")
    if resolved is None:  # once per command: check_args, the header, the threshold, the store
        try:
            resolved = app_config.resolve(args)
        except app_config.ConfigError as err:
            raise UsageError(str(err)) from None
        args._resolved_config = resolved
    return resolved


def threshold(args: argparse.Namespace, default: float) -> float:
    """--threshold, else the config file's threshold, else ``default`` (the exercise's)."""
    value = config(args).threshold
    return default if value is None else value


def store_path(args: argparse.Namespace) -> Path:
    """--store, else the config file's store, else DEFAULT_STORE in the current folder; a folder
    or an unknown suffix is one line naming the path."""
    return _checked(inputs.check_store_path, _absolute(config(args).store))


def _absolute(path: str | Path) -> Path:
    # Every message then says which folder's store it is (the default is in the current folder).
    path = Path(path)
    return path if path.is_absolute() else Path.cwd() / path


def existing_store(args: argparse.Namespace) -> Path:
    """login and identify read a store: a missing file is a mistake (a new one would be empty)."""
    return _checked(inputs.check_store_path, _absolute(config(args).store), must_exist=True)


def require_inputs(paths: Iterable[str | Path]) -> None:
    """Say which input files are missing, or are folders, before the model loads (a second or more)."""
    _checked(inputs.check_image_files, paths)


def _checked(check: Callable[_P, _R], *args: _P.args, **kwargs: _P.kwargs) -> _R:
    try:
        return check(*args, **kwargs)
    except inputs.InputError as err:
        raise CommandError(str(err)) from None


def app_header(ctx: Context, store: Path | None, config_file: Path | None = None) -> None:
    extra = {"store": str(store)} if store is not None else {}
    if config_file is not None:
        extra["config"] = str(config_file)
    header(ctx, title=False, **extra)


def model(ctx: Context) -> torch.nn.Module:
    """The tree's Exercise 02 model on the selected weights (stand-in: built once, offline)."""
    from facekit import hub_switch

    ctx.term.status("loading the model ...")
    hub_switch.activate_weights(ctx.weights)
    # The exercise whose build_model the app runs: the manifest's first with one.
    maker = next(e for e in ctx.course.exercises if "build_model" in e.functions)
    built = trees.load_exercise(maker.id, ctx.target).build_model()
    ctx.term.clear_status()
    return built


def login_verdict(ctx: Context, result: LoginAnswer) -> None:
    """The yes/no line of a login: "alice: yes (best score 0.9312 >= threshold 0.5000)"."""
    t = ctx.term
    # As many decimals as the threshold has (4 at least), so "<" never shows two equal numbers.
    digits = max(4, len(f"{result.threshold:g}".partition(".")[2]))
    score, limit = f"{result.score:.{digits}f}", f"{result.threshold:.{digits}f}"
    if result.accepted:
        t.line(f"{result.name}: {t.style('yes', 'green', 'bold')} (best score {score} >= threshold {limit})")
    else:
        t.line(f"{result.name}: {t.style('no', 'red', 'bold')} (best score {score} < threshold {limit})")


def threshold_warning(ctx: Context, threshold: float | None) -> None:
    """In yellow, as loud as a server open to the network: a threshold below 0 accepts nearly anyone."""
    text = app_config.threshold_warning(threshold)
    if text:
        ctx.term.wrap(ctx.term.style(text, "yellow"))


def standin_note(ctx: Context, what: str) -> None:
    if ctx.weights != "standin":
        return
    t = ctx.term
    t.line()
    t.wrap(
        t.style(
            f"Stand-in weights (seeded random, NOT pretrained): {what} To them any two "
            f"images look alike: scores sit near 1. For real answers: `facekit download`, "
            f"then add --weights hub.",
            "yellow",
        )
    )


def app_errors(ex: ModuleType, call: Callable[[], _R]) -> _R:
    """Run ``call()``: a stub's NotImplementedError and the app's own errors become one line."""
    try:
        return call()
    except NotImplementedError as err:  # a stub (of any exercise): its message names the file
        raise CommandError(f"{err} `facekit list` shows what is left.") from err
    except (ValueError, OSError, ex.UnknownPersonError) as err:
        # The app's own errors are written for people (expected vs given): one line.
        raise CommandError(inputs.error_text(err)) from err
