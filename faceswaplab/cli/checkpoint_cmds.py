"""`python -m faceswaplab build | compare | extract | faces`: face checkpoints and face tools.

stdout carries only the result a script wants (the checkpoint path, the similarity number,
the written crop paths, or JSON with --json); progress, warnings and summaries go to stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Iterable

from ..checkpoints.build import build_checkpoint
from ..checkpoints.format import BLEND_METHODS
from ..checkpoints import library
from ..checkpoints.library import checkpoint_folder, list_checkpoints
from ..compare import compare_faces
from ..engine import Engine
from ..errors import NoFaceError
from ..extract import check_aligned_size, extract_faces
from ..imageio import save_image
from ..options import UnitOptions
from . import common


def register(sub: argparse._SubParsersAction) -> None:
    _register_build(sub)
    _register_compare(sub)
    _register_extract(sub)
    _register_faces(sub)


def _common_tail(p: argparse.ArgumentParser, json_help: str) -> None:
    common.add_engine_args(p)
    p.add_argument("--json", action="store_true", help=json_help)
    common.add_quiet_arg(p)
    p.add_argument("--debug", action="store_true", help="show tracebacks")


# --------------------------------------------------------------------------- build


def _register_build(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "build",
        help="build a face checkpoint from one or more photos of a person",
        description=(
            "Blend one face from each photo into one identity and save it as <name>.safetensors "
            "(default folder: <models dir>/faces/). Prints the checkpoint's path on stdout."
        ),
    )
    p.add_argument("images", nargs="+", metavar="IMG", help="photos of the person (one face is taken from each)")
    p.add_argument("--name", required=True, help="checkpoint name (sanitised into a safe file name)")
    p.add_argument("--output-dir", metavar="DIR", help="where to write it (default: <models dir>/faces/)")
    p.add_argument("--gender", choices=("auto", "female", "male"), default="auto", help="auto: majority of the photos")
    p.add_argument("--face-index", type=int, metavar="N", help="take the N-th face from the left (default: the largest face)")
    p.add_argument("--blend", choices=BLEND_METHODS, default="mean", help="how embeddings are combined (default mean)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing checkpoint of that name (default: add _1, _2...)")
    p.add_argument("--preview", metavar="IMG", help="swap the new identity into this image and save <name>.png beside it")
    _common_tail(p, "print the result as JSON on stdout")
    p.set_defaults(func=run_build)


def _progress(enabled: bool) -> Any:
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # progress is a nicety
        return None

    def wrap(items: Iterable[Any]) -> Iterable[Any]:
        return tqdm(items, desc="analysing photos", unit="img", file=sys.stderr, leave=False, disable=None)

    return wrap


def run_build(args: argparse.Namespace) -> int:
    common.check_option(args.face_index is None or args.face_index >= 0, "--face-index starts at 0")
    engine = Engine(common.engine_options(args))
    result = build_checkpoint(
        engine,
        list(args.images),
        args.name,
        output_dir=args.output_dir,
        face_index=args.face_index,
        gender=args.gender,
        blend_method=args.blend,
        overwrite=args.overwrite,
        preview=args.preview,
        progress=_progress(not args.json),
    )
    note = library.renamed_note(args.name, result.path)
    if note:
        result.warnings.append(note)
    for s in result.skipped:
        common.warn(args, f"skipped: {s}")
    for w in result.warnings:
        common.warn(args, w)
    if args.json:
        data = result.to_dict()
        data["warnings"] = list(dict.fromkeys(list(data["warnings"]) + common.logged_warnings()))
        common.emit_json(data)
    elif args.quiet:
        common.say(str(result.path))
    else:
        ident = result.identity
        print(
            f"face checkpoint from {ident.samples} photo(s) ({len(result.skipped)} skipped), "
            f"gender {ident.gender or 'unknown'}, age {ident.age if ident.age is not None else 'unknown'} -> {result.path}"
            + (f"; preview {result.preview}" if result.preview else ""),
            file=sys.stderr,
        )
        common.say(str(result.path))
    return common.EXIT_OK


# --------------------------------------------------------------------------- compare


def _register_compare(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare",
        help="similarity of two faces (images or checkpoints)",
        description=(
            "Cosine similarity (0..1) of the identity embeddings of A and B. Each is an image "
            "(its first face from the left, or --index-a/--index-b) or a face checkpoint (name "
            "or .safetensors path). Prints only the number on stdout."
        ),
    )
    p.add_argument("a", metavar="A", help="image or face checkpoint")
    p.add_argument("b", metavar="B", help="image or face checkpoint")
    p.add_argument("--index-a", type=int, default=0, metavar="N", help="which face of image A, left to right (default 0)")
    p.add_argument("--index-b", type=int, default=0, metavar="N", help="which face of image B, left to right (default 0)")
    _common_tail(p, "print details as JSON on stdout")
    p.set_defaults(func=run_compare)


def run_compare(args: argparse.Namespace) -> int:
    common.check_option(args.index_a >= 0 and args.index_b >= 0, "face indices start at 0")
    engine = Engine(common.engine_options(args))
    result = compare_faces(engine, args.a, args.b, index_a=args.index_a, index_b=args.index_b)
    if args.json:
        common.emit_json(result.to_dict())
    else:
        common.say(f"{result.similarity:.4f}")
    return common.EXIT_OK


# --------------------------------------------------------------------------- extract


def _register_extract(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "extract",
        help="save every detected face as a crop",
        description=(
            "Write each face of each image as <image name>_face<N>.png (N left to right): an "
            "aligned square crop with --aligned SIZE, else the face box grown by --margin. "
            "Prints the written paths on stdout."
        ),
    )
    p.add_argument("images", nargs="+", metavar="IMG")
    p.add_argument("--output-dir", required=True, metavar="DIR")
    p.add_argument(
        "--aligned", type=int, metavar="SIZE", help="aligned crops of SIZE px (a multiple of 112 or 128: 112, 128, 224, 256, 512...)"
    )
    p.add_argument("--margin", type=float, default=0.2, metavar="X", help="box crops: margin as a fraction of the face box (default 0.2)")
    p.add_argument("--min-face-size", type=int, default=0, metavar="PX", help="skip faces smaller than this")
    _common_tail(p, "print the written files as JSON on stdout")
    p.set_defaults(func=run_extract)


def run_extract(args: argparse.Namespace) -> int:
    if args.aligned is not None:
        check_aligned_size(args.aligned)
    args.min_face_size = common.check_like_option(UnitOptions, "min_face_size", args.min_face_size)
    engine = Engine(common.engine_options(args))
    out_dir = Path(args.output_dir)
    written: list[dict[str, Any]] = []
    empty: list[str] = []
    stems: dict[str, int] = {}
    for img in args.images:
        crops = extract_faces(engine, img, aligned_size=args.aligned, margin=args.margin, min_face_size=args.min_face_size)
        if not crops:
            empty.append(img)
            common.warn(args, f"no face found in {img}")
            continue
        stem = Path(img).stem or "image"
        seen = stems.get(stem, 0)
        stems[stem] = seen + 1
        if seen:  # two inputs with the same name (a/x.jpg, b/x.jpg): keep both
            stem = f"{stem}_{seen + 1}"
        for c in crops:
            path = out_dir / f"{stem}_face{c.index}.png"
            save_image(path, c.rgb, mark_edited=False)
            written.append({"source": img, "face": c.index, "path": str(path), "bbox": [round(float(v), 1) for v in c.face.bbox]})
            if not args.json:
                common.say(str(path))
    failure = NoFaceError("no face found in any of the images; nothing written") if not written else None
    if args.json:
        data: dict[str, Any] = {"written": written, "no_face": empty, "warnings": common.logged_warnings()}
        if failure is not None:
            data["error"] = {"message": failure.message, "exit_code": failure.exit_code}
        common.emit_json(data)
        args.json_done = True
    elif not args.quiet:
        print(f"{len(written)} face(s) from {len(args.images) - len(empty)} image(s) -> {out_dir}", file=sys.stderr)
    if failure is not None:
        raise failure
    return common.EXIT_OK


# --------------------------------------------------------------------------- faces (list)


def _register_faces(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("faces", help="list the face checkpoints in <models dir>/faces/")
    p.add_argument("--models-dir", metavar="DIR")
    p.add_argument("--json", action="store_true")
    p.add_argument("--debug", action="store_true")
    p.set_defaults(func=run_faces)


def run_faces(args: argparse.Namespace) -> int:
    from ..models.store import ModelStore, resolve_models_dir

    store = ModelStore(resolve_models_dir(args.models_dir))
    infos = list_checkpoints(store)
    if args.json:
        common.emit_json({"folder": str(checkpoint_folder(store)), "checkpoints": [i.to_dict() for i in infos]})
        return common.EXIT_OK
    print(f"face checkpoints in {checkpoint_folder(store)}:", file=sys.stderr)
    for i in infos:
        if i.ok:
            extra = f"{i.samples} sample(s)" + (", older format" if i.legacy else "") + (f", {i.created}" if i.created else "")
            common.say(f"{i.name}\t{extra}")
        else:
            print(f"  refused {i.path.name}: {i.error}", file=sys.stderr)
    if not infos:
        print("  none (build one with: python -m faceswaplab build --name NAME IMG [IMG ...])", file=sys.stderr)
    return common.EXIT_OK
