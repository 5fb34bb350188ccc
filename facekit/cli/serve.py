"""``facekit app serve``: one local web page that registers and logs in with the browser's camera.

The page, its JSON endpoints and the server are facekit/camera/ (server.py, service.py); this
is the command: options and the config file checked before torch, then
facekit.camera.commands.serve until Ctrl-C. Needs the [app] extra (Flask).
"""

from __future__ import annotations

import argparse

from facekit.camera import commands as camera
from facekit.cli import appkit
from facekit.cli.context import Context


def check_args(args: argparse.Namespace) -> None:
    appkit.config(args)  # a wrong config file answers before torch is imported


def run(ctx: Context, args: argparse.Namespace) -> int:
    return camera.serve(ctx, args)
