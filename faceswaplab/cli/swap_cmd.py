"""`python -m faceswaplab swap`: one target image, one or more units, one output file."""

from __future__ import annotations

import argparse
import os
import sys

from ..engine import Engine
from ..errors import BadInputError, BlockedError, NoFaceError
from ..imageio import save_image
from ..options.job import OutputOptions
from ..pipeline import preflight, swap_image
from . import common, flags


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("swap", help="swap faces in one image", description="Swap the source identity into faces of the target image.")
    p.add_argument("--target", required=True, metavar="IMG", help="the image whose faces are replaced")
    p.add_argument("--output", required=True, metavar="PATH", help="output file; the format follows its extension")
    p.add_argument("--overwrite", action="store_true", help="allow --output to be the --target file (replaces the input)")
    p.add_argument("--mask-preview", metavar="DIR",
                   help="write, per swapped face, the aligned crop with the combined mask and each mask part overlaid")
    p.add_argument("--units", metavar="FILE.json", help="several units (identities) as a JSON list with named fields")
    common.add_unit_args(p)
    common.add_post_args(p)
    common.add_engine_args(p)
    flags.add_flags(p, OutputOptions, "output")
    p.add_argument("--json", action="store_true", help="print the report as JSON on stdout (and nothing else there)")
    common.add_quiet_arg(p)
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    p.set_defaults(func=run)


def same_file(a: str, b: str) -> bool:
    """`a` and `b` name one file (links and `./` spellings included)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))


def _write_previews(folder: str, previews: list) -> None:
    from pathlib import Path

    out = Path(folder)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BadInputError(f"--mask-preview {folder}: cannot create the folder ({e.strerror or e})") from None
    for name, pic in previews:
        save_image(out / f"{name}.png", pic)


def run(args: argparse.Namespace) -> int:
    if same_file(args.output, args.target) and not args.overwrite:
        raise BadInputError(
            f"--output {args.output} is the --target file: the swap would replace your input; "
            "give another output path, or add --overwrite to replace it"
        )
    units = common.units_from_args(args)
    post = common.post_options(args)
    engine = Engine(common.engine_options(args))
    preflight(engine, units, post)
    result = swap_image(args.target, units, post, engine=engine, mask_preview=bool(args.mask_preview))
    if args.mask_preview:
        _write_previews(args.mask_preview, result.previews)
    report = result.report
    warnings = list(dict.fromkeys(report.warnings + common.logged_warnings()))
    for w in report.warnings:
        common.warn(args, w)
    failure = None
    if report.blocked:
        failure = BlockedError(report.nothing_swapped_reason() + "; no output written")
    elif report.swapped == 0:
        failure = NoFaceError(report.nothing_swapped_reason() + "; no output written")
    else:
        save_image(args.output, result.image.rgb, alpha=result.image.alpha, meta=result.image.meta,
                   png_compression=flags.options_from_args(OutputOptions, args).png_compression)
    if args.json:
        data = {"output": None if failure else args.output, **report.to_dict(), "warnings": warnings}
        if failure is not None:
            data["error"] = {"message": failure.message, "exit_code": failure.exit_code}
        common.emit_json(data)
        args.json_done = True  # the error (if any) is in this one JSON document
    if failure is not None:
        raise failure
    if not args.json and not args.quiet:
        print(f"{report.summary()} -> {args.output}", file=sys.stderr)
    return common.EXIT_OK
