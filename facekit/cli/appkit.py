"""What ``facekit app`` and ``facekit embed`` share: the selected tree's Exercise 06 and model,
the input checks, and the stand-in note."""

from __future__ import annotations

from pathlib import Path

from facekit import trees
from facekit.cli.context import Context, header
from facekit.cli.parser import DEFAULT_STORE
from facekit.errors import CommandError

EXERCISE = "ex06_app"


def exercise(ctx: Context):
    return trees.load_exercise(EXERCISE, ctx.target)


def app_constants(ctx: Context, *names: str) -> dict:
    """Exercise 06's constants read from its source (no import, so no torch): for usage checks."""
    return trees.constants(ctx.root / ctx.exercise(EXERCISE).source(ctx.target), *names)


def store_path(args) -> Path:
    given = getattr(args, "store", None)
    # The default is in the current folder; its absolute path, in every message, says which one.
    return Path(given) if given else Path.cwd() / DEFAULT_STORE


def existing_store(args) -> Path:
    """login and identify read a store: a missing file is a mistake (a new one would be empty)."""
    path = store_path(args)
    if not path.exists():
        raise CommandError(f"no store at {path}: register someone first "
                           f"(`facekit app register NAME IMAGE...`), or name the store with --store")
    return path


def require_inputs(paths) -> None:
    """Say which input files are missing before the model loads (a second or more)."""
    missing = [str(p) for p in paths if not Path(p).exists()]
    if missing:
        raise CommandError(f"no such file: {', '.join(missing)}")


def app_header(ctx: Context, store: Path | None) -> None:
    header(ctx, title=False, **({"store": str(store)} if store is not None else {}))


def model(ctx: Context):
    """The tree's Exercise 02 model on the selected weights (stand-in: built once, offline)."""
    from facekit import hub_switch

    ctx.term.status("loading the model ...")
    hub_switch.activate_weights(ctx.weights)
    built = trees.load_exercise("ex02_embeddings", ctx.target).build_model()
    ctx.term.clear_status()
    return built


def standin_note(ctx: Context, what: str) -> None:
    if ctx.weights != "standin":
        return
    t = ctx.term
    t.line()
    t.wrap(t.style(f"Stand-in weights (seeded random, NOT pretrained): {what} To them any two "
                   f"images look alike: scores sit near 1. For real answers: `facekit download`, "
                   f"then add --weights hub.", "yellow"))


def app_errors(ex, call):
    """Run ``call()``: a stub's NotImplementedError and the app's own errors become one line."""
    try:
        return call()
    except NotImplementedError as err:  # a stub (of any exercise): its message names the file
        raise CommandError(f"{err} `facekit list` shows what is left.") from err
    except (ValueError, OSError, ex.UnknownPersonError) as err:
        # The app's own errors are written for people (expected vs given): one line.
        raise CommandError(str(err)) from err
