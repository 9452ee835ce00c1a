"""`python -m faceswaplab`: the command line over the same core as every other front end."""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING, Sequence

from .. import __version__

if TYPE_CHECKING:
    from . import common

VERSION_TEXT = f"FaceSwapLab {__version__}"


def build_parser() -> "common.ArgumentParser":
    from . import batch_cmds, checkpoint_cmds, common, doctor_cmd, models_cmd, serve_cmd, swap_cmd, ui_cmd, video_cmd

    parser = common.ArgumentParser(prog="python -m faceswaplab", description="FaceSwapLab face swapping engine")
    parser.add_argument("--version", action="version", version=VERSION_TEXT)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for mod in (swap_cmd, checkpoint_cmds, batch_cmds, models_cmd, doctor_cmd, ui_cmd, serve_cmd, video_cmd):
        mod.register(sub)
    for p in sub.choices.values():
        p.__class__ = common.ArgumentParser
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv == ["--version"]:  # answered before any command module (numpy, cv2, ORT) is imported
        print(VERSION_TEXT)
        return 0
    from . import common

    common.setup_logging("--debug" in argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except common.UsageError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return common.EXIT_BAD_INPUT
    # Third-party libraries sometimes print to stdout (insightface's swapper does); in the
    # CLI, stdout belongs to --json, so anything else goes to stderr.
    with contextlib.redirect_stdout(sys.stderr):
        return common.run_guarded(args.func, args)
