"""`python -m faceswaplab swap`: one target image, one or more units, one output file."""

from __future__ import annotations

import argparse
import sys

from ..engine import Engine
from ..errors import BlockedError, NoFaceError
from ..imageio import save_image
from ..pipeline import preflight, swap_image
from . import common


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("swap", help="swap faces in one image", description="Swap the source identity into faces of the target image.")
    p.add_argument("--target", required=True, metavar="IMG", help="the image whose faces are replaced")
    p.add_argument("--output", required=True, metavar="PATH", help="output file; the format follows its extension")
    p.add_argument("--units", metavar="FILE.json", help="several units (identities) as a JSON list with named fields")
    common.add_unit_args(p)
    common.add_post_args(p)
    common.add_engine_args(p)
    p.add_argument("--json", action="store_true", help="print the report as JSON on stdout (and nothing else there)")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    units = common.units_from_args(args)
    post = common.post_options(args)
    engine = Engine(common.engine_options(args))
    preflight(engine, units, post)
    result = swap_image(args.target, units, post, engine=engine)
    report = result.report
    if args.json:
        common.emit_json({"output": None if report.swapped == 0 else args.output, **report.to_dict()})
    for w in report.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if report.blocked:
        raise BlockedError(report.nothing_swapped_reason() + "; no output written")
    if report.swapped == 0:
        raise NoFaceError(report.nothing_swapped_reason() + "; no output written")
    save_image(args.output, result.image.rgb, alpha=result.image.alpha, meta=result.image.meta)
    if not args.json:
        print(f"{report.summary()} -> {args.output}", file=sys.stderr)
    return common.EXIT_OK
