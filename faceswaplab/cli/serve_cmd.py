"""`python -m faceswaplab serve`: the headless HTTP API (uvicorn + FastAPI), the same
/faceswaplab/v1 routes the web-ui mounts, with auth and limits of its own.

Why it refuses to start open on a network address: the API runs models on this machine for
anyone who can reach it. Without auth it listens on loopback only, unless the operator says
so explicitly with --allow-no-auth (e.g. behind an authenticating proxy).
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import BadInputError, OptionsError
from . import common

if TYPE_CHECKING:
    from ..engine import Engine

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7870
DEFAULT_MAX_REQUEST_MB = 64.0
INSTALL_HINT = 'pip install ".[serve]" (or: pip install -r requirements-serve.txt)'

log = logging.getLogger("faceswaplab")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="serve the HTTP API (/faceswaplab/v1, docs at /docs)",
        description="Serve the FaceSwapLab HTTP API with uvicorn: the /faceswaplab/v1 routes (swap, build, "
        "checkpoints, compare, extract, detect, models, version) and their OpenAPI docs at /docs. It listens on "
        f"{DEFAULT_HOST} unless --host says otherwise; a network address needs --auth (or --allow-no-auth). "
        f"Needs fastapi and uvicorn ({INSTALL_HINT}).",
    )
    g = p.add_argument_group("server")
    g.add_argument("--host", default=DEFAULT_HOST, metavar="ADDR", help=f"address to listen on (default {DEFAULT_HOST})")
    g.add_argument("--port", type=int, default=DEFAULT_PORT, metavar="N", help=f"port (default {DEFAULT_PORT})")
    who = g.add_mutually_exclusive_group()
    who.add_argument("--auth", metavar="USER:PASS", help="HTTP Basic auth (comma-separated for several users)")
    who.add_argument("--auth-file", metavar="FILE", help="HTTP Basic users from a file: USER:PASS, one a line")
    g.add_argument(
        "--max-request-mb", type=float, default=DEFAULT_MAX_REQUEST_MB, metavar="MB",
        help=f"larger request bodies get 413 before they are read (default {DEFAULT_MAX_REQUEST_MB:g})",
    )  # fmt: skip
    g.add_argument(
        "--max-concurrent", type=int, default=None, metavar="N",
        help="work requests (swap, build, ...) running at once (default: the number of CPU cores)",
    )  # fmt: skip
    g.add_argument(
        "--max-queue", type=int, default=None, metavar="N",
        help="work requests waiting beyond those; more get 503 with Retry-After (default: 2 x --max-concurrent)",
    )  # fmt: skip
    g.add_argument(
        "--allow-no-auth", action="store_true", help="listen on a non-loopback address without auth (not recommended)"
    )
    g.add_argument(
        "--allow-download", action="store_true",
        help="let a request fetch a missing model file on first use (by default the server never reaches the "
        "internet because of a request: fetch models beforehand with `faceswaplab models download`)",
    )  # fmt: skip
    common.add_engine_args(p)
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    p.set_defaults(func=run)


# Why a request gets 503 for a missing model instead of a download (the missing-model message ends with it).
NO_DOWNLOAD_REASON = "the API server does not download on a request; fetch it as said, or start serve with --allow-download"


def engine_for(args: argparse.Namespace) -> "Engine":
    """The server's one engine. A request must not make the server reach the internet, so it is
    offline unless the operator started it with --allow-download (and not --offline)."""
    from ..engine import Engine
    from ..models.first_run import Fetcher

    engine = Engine(common.engine_options(args))
    if not args.allow_download:
        engine.store.fetcher = Fetcher(offline=True, reason=NO_DOWNLOAD_REASON)
    return engine


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def credentials_from(args: argparse.Namespace) -> dict[str, str]:
    from ..api.auth import parse_credentials

    if args.auth_file:
        try:
            text = Path(args.auth_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise BadInputError(f"--auth-file {args.auth_file}: cannot read it ({getattr(e, 'strerror', None) or e})") from None
        lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
        creds = parse_credentials(",".join(lines), "--auth-file")
        if not creds:
            raise OptionsError(f"--auth-file {args.auth_file}: no USER:PASS line in it")
        return creds
    return parse_credentials(args.auth, "--auth")


def check_args(args: argparse.Namespace) -> tuple[dict[str, str], int, int]:
    """(credentials, max_concurrent, max_queue), or the one line saying what is wrong."""
    common.check_option(1 <= args.port <= 65535, f"--port must be from 1 to 65535, got {args.port}")
    common.check_option(args.max_request_mb > 0, f"--max-request-mb must be above 0, got {args.max_request_mb:g}")
    concurrent = args.max_concurrent if args.max_concurrent is not None else (os.cpu_count() or 1)
    common.check_option(concurrent >= 1, f"--max-concurrent must be 1 or more, got {concurrent}")
    queue = args.max_queue if args.max_queue is not None else 2 * concurrent
    common.check_option(queue >= 0, f"--max-queue must be 0 or more, got {queue}")
    creds = credentials_from(args)
    if not creds and not is_loopback(args.host) and not args.allow_no_auth:
        raise OptionsError(
            f"refusing to serve on {args.host} without auth: anyone on the network could use it; "
            "give --auth USER:PASS (or --auth-file FILE), or --allow-no-auth if a proxy authenticates"
        )
    return creds, concurrent, queue


def run(args: argparse.Namespace) -> int:
    creds, concurrent, queue = check_args(args)
    try:
        import fastapi  # noqa: F401
        import uvicorn
    except ImportError as e:
        raise BadInputError(f"serve needs fastapi and uvicorn ({e.name} is missing): {INSTALL_HINT}") from None
    from ..api.handlers import ApiContext
    from ..api.server import build_app
    from ..checkpoints.library import checkpoint_folder

    engine = engine_for(args)
    faces = Path(engine.options.faces_dir) if engine.options.faces_dir else checkpoint_folder(engine.store)
    ctx = ApiContext(engine=lambda: engine, checkpoints_dir=lambda: faces)
    app = build_app(ctx, credentials=creds, max_request_mb=args.max_request_mb, max_concurrent=concurrent, max_queue=queue)
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(
        f"FaceSwapLab API on http://{shown}:{args.port}/faceswaplab/v1 (docs: /docs); "
        f"{'auth on' if creds else 'no auth'}, {concurrent} at a time, {queue} waiting, "
        f"bodies up to {args.max_request_mb:g} MB; "
        f"{'missing models are downloaded on first use' if args.allow_download else 'no model downloads'}",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.run(app, host=args.host.strip("[]"), port=args.port, log_level="debug" if args.debug else "warning")
    return common.EXIT_OK
