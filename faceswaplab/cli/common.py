"""Shared CLI plumbing: the unit and engine flags every command uses, units files, and the
error -> exit code mapping (expected errors: one line on stderr, never a traceback)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any, Callable

from ..errors import BadInputError, FaceSwapLabError, OptionsError
from ..options import GENDERS, MASK_REGION_NAMES, SORT_ORDERS, EngineOptions, UnitOptions

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_MODEL, EXIT_NO_FACE, EXIT_BLOCKED = 0, 1, 2, 3, 4, 5

log = logging.getLogger("faceswaplab")


class UsageError(BadInputError):
    pass


class ArgumentParser(argparse.ArgumentParser):
    """argparse exits with 2 on usage errors already; keep its message to one line."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        self.print_usage(sys.stderr)
        raise UsageError(f"{self.prog}: {message}")


def add_engine_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("engine")
    g.add_argument("--models-dir", metavar="DIR", help="models directory (else $FACESWAPLAB_MODELS, else the per-user default)")
    g.add_argument("--det-size", type=int, default=640, metavar="N", help="detector input size (default 640)")
    g.add_argument("--det-thresh", type=float, default=0.5, metavar="X", help="detection score threshold (default 0.5)")
    g.add_argument("--no-det-retry", action="store_true", help="do not retry at a smaller det size when no face is found")
    g.add_argument("--providers", default="cpu", metavar="LIST", help="execution providers, e.g. cuda,cpu (default cpu)")
    g.add_argument("--threads", type=int, default=0, metavar="N", help="ONNX Runtime intra-op threads (0: automatic)")
    g.add_argument("--nsfw-threshold", type=float, default=0.5, metavar="X", help="content filter threshold, 0.3-0.9 (default 0.5)")
    g.add_argument("--swapper", default="inswapper_128.onnx", metavar="FILE", help="swapper model file in the models dir")


def engine_options(args: argparse.Namespace) -> EngineOptions:
    return EngineOptions(
        models_dir=args.models_dir,
        det_size=args.det_size,
        det_thresh=args.det_thresh,
        det_retry=not args.no_det_retry,
        providers=args.providers,
        threads=args.threads,
        nsfw_threshold=args.nsfw_threshold,
        swapper=args.swapper,
    )


def add_unit_args(p: argparse.ArgumentParser, with_source: bool = True) -> None:
    g = p.add_argument_group("unit (which identity goes into which faces)")
    if with_source:
        g.add_argument("--source", action="extend", nargs="+", default=[], metavar="IMG", help="source photo(s); several are blended")
        g.add_argument("--face", metavar="NAME_OR_PATH", help="a face checkpoint (.safetensors) by name or path")
        g.add_argument("--source-face-index", type=int, default=0, metavar="N", help="which face of the source photo (left to right, default 0)")
    g.add_argument("--faces", default="0", metavar="LIST", help="target faces: 'all' or indices like 0,2 (default 0)")
    g.add_argument("--sort", choices=SORT_ORDERS, default="left-right", help="order the indices refer to")
    g.add_argument("--gender", choices=GENDERS, default="any", help="only swap faces of this gender ('same' as the source)")
    g.add_argument("--reference", metavar="IMG", help="only swap faces similar to the face in this image")
    g.add_argument("--reference-threshold", type=float, default=0.5, metavar="X")
    g.add_argument("--min-similarity", type=float, default=0.0, metavar="X", help="revert swapped faces below this similarity")
    g.add_argument("--min-face-size", type=int, default=16, metavar="PX", help="skip faces smaller than this (default 16 px)")
    g.add_argument("--mask-erosion", type=float, default=0.1, metavar="X", help="mask inset as a fraction of the face (default 0.1)")
    g.add_argument("--mask-blur", type=float, default=0.1, metavar="X", help="mask feather as a fraction of the face (default 0.1)")
    e = p.add_argument_group("enhancement (in aligned space, before the single warp back)")
    e.add_argument("--boost", type=int, choices=(1, 2, 4), default=1, help="run the 128 model at 128*N by polyphase subsampling")
    e.add_argument("--restorer", metavar="NAME_OR_PATH", help="face restorer ONNX file (in <models dir>/restorers/)")
    e.add_argument("--restorer-visibility", type=float, default=1.0, metavar="X")
    e.add_argument("--codeformer-weight", type=float, default=0.5, metavar="X")
    e.add_argument("--upscale", metavar="NAME", help="upscale the aligned face before restoration (lanczos)")
    e.add_argument("--parser", metavar="NAME_OR_PATH", help="face parsing ONNX file (in <models dir>/parsers/)")
    e.add_argument("--mask-regions", metavar="LIST", help=f"regions kept swapped: {','.join(MASK_REGION_NAMES)}")
    e.add_argument("--keep-mouth", action="store_true", help="keep the target's original mouth (needs --parser)")
    e.add_argument("--color-correction", type=float, default=0.0, metavar="X")
    e.add_argument("--sharpen", type=float, default=0.0, metavar="X")


UNIT_ARG_NAMES = (
    "faces", "sort", "gender", "reference_threshold", "min_similarity", "min_face_size", "mask_erosion", "mask_blur",
    "boost", "restorer", "restorer_visibility", "codeformer_weight", "upscale", "parser", "mask_regions",
    "keep_mouth", "color_correction", "sharpen",
)  # fmt: skip


def unit_from_args(args: argparse.Namespace, with_source: bool = True) -> UnitOptions:
    data: dict[str, Any] = {name: getattr(args, name) for name in UNIT_ARG_NAMES}
    if data["mask_regions"] is None:
        data["mask_regions"] = ()
    data["reference_image"] = args.reference
    if with_source:
        data["source_images"] = list(args.source)
        data["face"] = args.face
        data["source_face_index"] = args.source_face_index
    return UnitOptions.from_dict(data, where="options")


def units_from_args(args: argparse.Namespace) -> list[UnitOptions]:
    """The units of a command: a units file, or one unit from --source/--face and the flags."""
    if getattr(args, "units", None):
        if args.source or args.face:
            raise BadInputError("give either --units FILE.json or --source/--face, not both")
        return load_units_file(args.units)
    if not args.source and not args.face:
        raise BadInputError("nothing to swap in: give --source IMG (one or more) or --face NAME_OR_PATH")
    return [unit_from_args(args)]


def load_units_file(path: str) -> list[UnitOptions]:
    """A JSON list of units (or {"units": [...]}) with the HTTP API's named fields.

    Relative image paths are taken relative to the units file's folder, so a units file and
    its photos can be moved together.
    """
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInputError(f"units file not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BadInputError(f"units file {path} is not valid JSON: {e}") from None
    if isinstance(data, dict) and "units" in data:
        data = data["units"]
    if not isinstance(data, list) or not data:
        raise BadInputError(f"units file {path} must hold a non-empty list of units")
    base = p.resolve().parent
    units = []
    for i, item in enumerate(data):
        if isinstance(item, dict):
            item = dict(item)
            for key in ("source_images", "source"):
                if key in item:
                    v = item[key]
                    vs = [v] if isinstance(v, str) else list(v or [])
                    item[key] = [str(base / s) if not Path(s).is_absolute() else s for s in vs]
            for key in ("reference_image",):
                if isinstance(item.get(key), str):
                    item[key] = str(base / item[key])
        units.append(UnitOptions.from_dict(item, where=f"{path}: unit {i + 1}"))
    return units


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (so redirections and test capture work)."""

    def __init__(self) -> None:
        super().__init__()

    @property  # type: ignore[override]
    def stream(self):  # noqa: D401
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def setup_logging(debug: bool) -> None:
    """Warnings from the core (provider fallback, custom model files) go to stderr."""
    logger = logging.getLogger("faceswaplab")
    logger.setLevel(logging.DEBUG if debug else logging.WARNING)
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        logger.addHandler(handler)


def run_guarded(func: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a command: expected errors -> one line on stderr and their exit code."""
    try:
        return func(args)
    except FaceSwapLabError as e:
        if getattr(args, "debug", False):
            log.exception("details")
        print(f"error: {e.message}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # an internal bug: say so, show the traceback only with --debug
        if getattr(args, "debug", False):
            raise
        print(
            f"internal error: {type(e).__name__}: {e} (run again with --debug for details and report it)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def emit_json(data: Any) -> None:
    sys.__stdout__.write(json.dumps(data, indent=2, default=_json_default) + "\n")
    sys.__stdout__.flush()


def say(text: str) -> None:
    """One line on the real stdout (main() points sys.stdout at stderr while a command runs),
    for the machine-readable result of a command: a similarity, a written path."""
    sys.__stdout__.write(f"{text}\n")
    sys.__stdout__.flush()


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def check_option(cond: bool, message: str) -> None:
    if not cond:
        raise OptionsError(message)
