"""`python -m faceswaplab ui`: the standalone app (gradio), on the same core and the same UI
parts as the web-ui extension. gradio is imported only when the command runs, so the rest of
the CLI works (and starts fast) without it."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..options.forms import DEFAULT_UNITS, MAX_UNITS
from . import common

DEFAULT_HOST = "127.0.0.1"  # the app is for this computer unless --host says otherwise
DEFAULT_PORT = 7860
INSTALL_HINT = "pip install -r requirements-app.txt"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ui",
        help="start the app (a local web page: swap, checkpoints, compare, extract, batch, dataset)",
        description="Start the FaceSwapLab app, a gradio web page served on this computer. It needs gradio "
        f"({INSTALL_HINT}). It listens on {DEFAULT_HOST} only unless --host says otherwise, and never opens a "
        "public link unless --share is given.",
    )
    p.add_argument("--host", default=DEFAULT_HOST, metavar="ADDR", help=f"address to listen on (default {DEFAULT_HOST}; 0.0.0.0: every network interface)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, metavar="N", help=f"port (default {DEFAULT_PORT})")
    p.add_argument("--share", action="store_true", help="also open a public gradio.live link (off by default)")
    p.add_argument(
        "--units", type=int, default=DEFAULT_UNITS, metavar="N",
        help=f"face units on the Swap tab (1-{MAX_UNITS}, default {DEFAULT_UNITS})",
    )  # fmt: skip
    p.add_argument(
        "--output-dir", "--output-root", dest="output_dir", metavar="DIR", default="faceswaplab-output",
        help="default folder for batch, dataset and video outputs (default ./faceswaplab-output); on a "
        "non-loopback --host, typed output folders must be inside it",
    )  # fmt: skip
    p.add_argument(
        "--input-root", metavar="DIR", default=".",
        help="on a non-loopback --host, typed input folders and video files must be inside it (default: the "
        "current folder)",
    )  # fmt: skip
    p.add_argument(
        "--allow-server-paths", action="store_true",
        help="on a non-loopback --host, let the page type any server folder or file and any model path "
        "(off: folders stay inside --input-root / --output-root, dropdowns take listed names only)",
    )  # fmt: skip
    p.add_argument("--auth", metavar="USER:PASS", help="require this login (gradio's auth; several: comma-separated)")
    p.add_argument(
        "--allow-no-auth", action="store_true",
        help="listen on a non-loopback --host without --auth (anyone on the network can use the app and its folders)",
    )  # fmt: skip
    common.add_engine_args(p)
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    p.set_defaults(func=run)


def _no_proxy_for_local() -> None:
    """gradio checks that the page answers on the local address; an HTTP(S)_PROXY setting
    must not send that check (or the browser test's requests) through a proxy."""
    local = ["127.0.0.1", "localhost"]
    for key in ("NO_PROXY", "no_proxy"):
        have = [h.strip() for h in os.environ.get(key, "").split(",") if h.strip()]
        os.environ[key] = ",".join(have + [h for h in local if h not in have])


def check_auth(args: argparse.Namespace) -> dict[str, str]:
    """--auth as {user: password}; on a non-loopback --host without it, the one line (exit 2)
    saying why the app will not start, unless --allow-no-auth (the same rule as `serve`)."""
    from ..api.auth import parse_credentials
    from .serve_cmd import is_loopback

    creds = parse_credentials(args.auth, "--auth")
    if not creds and not is_loopback(args.host) and not args.allow_no_auth:
        from ..errors import OptionsError

        raise OptionsError(
            f"refusing to start the app on {args.host} without auth: anyone on the network could use it and its "
            "folders; give --auth USER:PASS, or --allow-no-auth if a proxy authenticates"
        )
    return creds


def confinement(args: argparse.Namespace) -> "object | None":
    """The limits on what the page may name (`ui.confine`): on a non-loopback --host unless
    --allow-server-paths; None on 127.0.0.1 (the browser's user is the server's user)."""
    from .serve_cmd import is_loopback

    if is_loopback(args.host) or args.allow_server_paths:
        return None
    from ..ui.confine import Confinement

    root = Path(os.path.expanduser(args.input_root))
    common.check_option(root.is_dir(), f"--input-root must be an existing folder, got {args.input_root}")
    return Confinement.of(root, Path(os.path.abspath(os.path.expanduser(args.output_dir))))


def run(args: argparse.Namespace) -> int:
    common.check_option(1 <= args.port <= 65535, f"--port must be from 1 to 65535, got {args.port}")
    common.check_option(1 <= args.units <= MAX_UNITS, f"--units must be from 1 to {MAX_UNITS}, got {args.units}")
    creds = check_auth(args)
    confine = confinement(args)
    from ..ui import app

    app.disable_analytics()
    _no_proxy_for_local()
    app.require_gradio(INSTALL_HINT)  # before anything heavy: a missing gradio is one line, exit 2
    from ..engine import Engine

    engine = Engine(common.engine_options(args))
    app.launch(
        engine,
        host=args.host,
        port=args.port,
        share=args.share,
        n_units=args.units,
        output_root=Path(os.path.abspath(os.path.expanduser(args.output_dir))),
        auth=sorted(creds.items()) or None,
        confine=confine,
    )
    return common.EXIT_OK
