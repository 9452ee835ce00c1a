"""The HTTP API's handlers: plain functions over the core, independent of any host.

Each takes a validated request model and an `ApiContext` (how to get the engine, where the
checkpoints are) and returns a JSON-ready dict, or raises a FaceSwapLabError whose
`.http_status` says the status (400 bad input, 422 no face, 451 blocked, 503 model missing).
They keep no state of their own, so concurrent calls are safe (the engine's session cache is
the only shared state, and it is locked). Post-processing is part of `swap_image`, so it
works wherever the API is served.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from .. import __version__
from ..engine import Engine
from ..errors import ImageError, OptionsError
from ..imageio import decode_base64_image, encode_image_base64
from ..options import PostOptions
from ..options import forms
from ..options.meta import API
from ..pipeline import swap_image
from . import guard
from . import models as m

API_VERSION = 1


@dataclass
class ApiContext:
    engine: Callable[[], Engine]
    checkpoints_dir: Callable[[], Optional[Path]] = lambda: None
    resolve_checkpoint: Optional[Callable[[str], str]] = None
    list_checkpoints: Optional[Callable[[], list[dict[str, Any]]]] = None
    # Set by hosts whose engine may download (the web-ui): a request never makes the server
    # reach the internet; the missing-model message ends with this reason.
    no_downloads: Optional[str] = None


def _resolver(ctx: ApiContext) -> Callable[[str], str]:
    """Checkpoint names only (never server paths), looked up in the context's folder."""

    def resolve(name: str) -> str:
        if "/" in name or "\\" in name or name.startswith("."):
            raise OptionsError(f"checkpoint: give a checkpoint name (see GET /checkpoints), not a path: {name!r}")
        if ctx.resolve_checkpoint is not None:
            return ctx.resolve_checkpoint(name)
        folder = ctx.checkpoints_dir()
        if folder is not None:
            return str(Path(folder) / (name if name.endswith(".safetensors") else name + ".safetensors"))
        return name

    return resolve


def _image(b64: str, what: str) -> Any:
    if not isinstance(b64, str):
        raise ImageError(f"{what} must be a base64 string")
    return decode_base64_image(b64, what=what)


def _fmt(fmt: str) -> str:
    f = (fmt or "png").lower().strip(".")
    if f not in ("png", "jpg", "jpeg", "webp"):
        raise OptionsError(f"format must be png, jpg or webp, got {fmt!r}")
    return f


def version() -> dict[str, Any]:
    return {
        "version": __version__,
        "api": API_VERSION,
        "unit_fields": [c.name for c in forms.unit_controls(API)],
        "postprocessing_fields": [c.name for c in forms.post_controls(API)],
    }


def names(ctx: ApiContext) -> guard.Names:
    """What each model field may name, for one request (see guard.py)."""
    return guard.Names(ctx.engine(), lambda: [c["name"] for c in checkpoints(ctx)["checkpoints"]])


def check_unit(data: dict[str, Any], index: int, listed: Optional[guard.Names]) -> None:
    """The API's own checks of one unit, before anything is decoded or opened: model fields
    take listed names only, index lists are capped, and mask regions need a parser (the form
    helper drops them silently for the UI's sake; a request that asks for them is told)."""
    where = f"unit {index + 1}: "
    guard.check_fields(data, guard.UNIT_MODEL_FIELDS, where, listed)
    guard.check_indices(data.get("faces"), "faces", where)
    guard.check_index(data.get("source_face_index"), where + "source_face_index")
    if data.get("mask_regions") and forms.is_none_choice(data.get("parser")):
        raise OptionsError(f"{where}mask_regions needs a face parser: set parser (see GET /faceswaplab/v1/models)")


def unit_from_model(unit: Any, index: int, ctx: ApiContext, listed: Optional[guard.Names] = None) -> Any:
    data = m.dump(unit)
    check_unit(data, index, listed)
    data["source_images"] = [_image(s, f"unit {index + 1}: source image {k + 1}") for k, s in enumerate(data.get("source_images") or [])]
    if data.get("reference_image"):
        data["reference_image"] = _image(data["reference_image"], f"unit {index + 1}: reference image")
    return forms.unit_options(data, where=f"unit {index + 1}", resolve_checkpoint=_resolver(ctx))


def swap(req: m.SwapRequest, ctx: ApiContext) -> dict[str, Any]:
    fmt = _fmt(req.format)
    if not req.units:
        raise OptionsError("units: give at least one unit (source_images or checkpoint)")
    listed = names(ctx)
    for i, u in enumerate(req.units):  # every name checked before any image is decoded
        check_unit(m.dump(u), i, listed)
    post_data = m.dump(req.postprocessing) if req.postprocessing else None
    if post_data:
        guard.check_fields(post_data, guard.POST_MODEL_FIELDS, PostOptions.WHERE + ".", listed)
    target = _image(req.image, "image")
    units = [unit_from_model(u, i, ctx, listed) for i, u in enumerate(req.units)]
    post = PostOptions.from_dict(post_data)
    engine = ctx.engine()
    result = swap_image(target, units, post, engine=engine)  # post-processing is the pipeline's last step
    report = result.report.to_dict()
    report["summary"] = result.report.summary() if result.report.swapped else result.report.nothing_swapped_reason()
    roots = guard.server_roots(engine, ctx.checkpoints_dir())
    report["summary"] = guard.scrub(report["summary"], roots)  # file names only, never server paths
    report["warnings"] = [guard.scrub(w, roots) for w in report["warnings"]]
    img = encode_image_base64(result.image.rgb, result.image.alpha, result.image.meta, fmt=fmt)
    return {"images": [img], "report": report}


def build(req: m.BuildRequest, ctx: ApiContext) -> dict[str, Any]:
    """With a name: saved into the context's folder by `build_checkpoint`, as the CLI and the
    tab save; without one: the file's bytes come back (base64) and nothing is written."""
    import base64

    from ..checkpoints.build import build_checkpoint, build_identity, embedding_model_sha256
    from ..checkpoints.format import encode_checkpoint
    from ..checkpoints.library import renamed_note, sanitize_name

    if not req.images:
        raise OptionsError("images: give at least one photo")
    guard.check_index(req.face_index, "face_index")
    engine = ctx.engine()
    imgs = [_image(s, f"photo {i + 1}") for i, s in enumerate(req.images)]
    if req.name is not None:
        sanitize_name(req.name)
    opts: dict[str, Any] = {"face_index": req.face_index, "gender": req.gender, "blend_method": req.blend_method}
    if req.name:
        res = build_checkpoint(engine, imgs, req.name, output_dir=ctx.checkpoints_dir(), overwrite=req.overwrite, **opts)
        d = res.to_dict()
        keys = ("samples", "gender", "age", "used", "skipped", "name")
        note = renamed_note(req.name, res.path)
        return {**{k: d[k] for k in keys}, "checkpoint": None, "warnings": list(res.warnings) + ([note] if note else [])}
    ident, used, skipped = build_identity(engine, imgs, **opts)
    data = encode_checkpoint(
        ident, name="checkpoint", blend_method=req.blend_method, embedding_model_sha256=embedding_model_sha256(engine)
    )
    return {
        "samples": ident.samples, "gender": ident.gender, "age": ident.age, "used": used, "skipped": skipped,
        "name": None, "checkpoint": base64.b64encode(data).decode("ascii"),
    }  # fmt: skip


def checkpoints(ctx: ApiContext) -> dict[str, Any]:
    if ctx.list_checkpoints is not None:
        return {"checkpoints": ctx.list_checkpoints()}
    from ..checkpoints.library import list_checkpoints

    folder = ctx.checkpoints_dir()
    if folder is not None:
        infos = list_checkpoints(None, folder=folder)
    else:
        infos = list_checkpoints(ctx.engine().store)
    items = []
    roots = guard.server_roots(None, folder)
    for info in infos:
        d = info.to_dict()
        d.pop("path", None)  # server paths stay on the server
        if d.get("error"):
            d["error"] = guard.scrub(d["error"], roots)
        items.append(d)
    return {"checkpoints": items}


def compare(req: m.CompareRequest, ctx: ApiContext) -> dict[str, Any]:
    from ..checkpoints.format import load_checkpoint
    from ..checkpoints.library import resolve_checkpoint
    from ..compare import compare_faces

    guard.check_index(req.index_a, "index_a")
    guard.check_index(req.index_b, "index_b")
    listed = names(ctx)
    for label in ("a", "b"):
        listed.check(getattr(req, f"checkpoint_{label}"), f"checkpoint_{label}", "checkpoints", "")
    engine = ctx.engine()

    def side(img: Optional[str], ck: Optional[str], label: str) -> Any:
        if (img is None) == (ck is None):
            raise OptionsError(f"give exactly one of image_{label} or checkpoint_{label}")
        if img is not None:
            return _image(img, f"image {label.upper()}")  # compare_faces runs the content filter
        path = _resolver(ctx)(str(ck))
        return load_checkpoint(resolve_checkpoint(path, engine.store))

    a = side(req.image_a, req.checkpoint_a, "a")
    b = side(req.image_b, req.checkpoint_b, "b")
    res = compare_faces(engine, a, b, index_a=req.index_a, index_b=req.index_b)
    return res.to_dict()


def extract(req: m.ExtractRequest, ctx: ApiContext) -> dict[str, Any]:
    from ..extract import extract_faces

    from ..options import UnitOptions
    from ..options.meta import coerce, options_of

    fmt = _fmt(req.format)
    meta = {o.name: o.meta for o in options_of(UnitOptions)}["min_face_size"]
    min_size = coerce("min_size", meta, req.min_size)  # checked as the unit's min_face_size is
    if req.aligned_size is not None:
        from ..extract import check_aligned_size

        check_aligned_size(req.aligned_size)  # before the image is decoded
    engine = ctx.engine()
    loaded = _image(req.image, "image")  # extract_faces runs the content filter
    faces = extract_faces(engine, loaded, aligned_size=req.aligned_size, margin=req.margin, min_face_size=min_size)
    return {
        "faces": [
            {"index": f.index, "image": encode_image_base64(f.rgb, fmt=fmt), **f.face.summary()}
            for f in faces
        ]
    }


def detect(req: m.DetectRequest, ctx: ApiContext) -> dict[str, Any]:
    from ..analysis.selection import sort_faces

    engine = ctx.engine()
    loaded, faces = engine.analyse(_image(req.image, "image"), attributes=req.attributes)
    ordered = sort_faces(faces, "left-right")
    return {
        "width": loaded.width,
        "height": loaded.height,
        "faces": [{"index": i, **f.summary()} for i, f in enumerate(ordered)],
    }


def models(ctx: ApiContext) -> dict[str, Any]:
    """The names each model field takes (what the 400 for an unknown name points at)."""
    listed = names(ctx)
    units = {f: listed.of(k) for f, k in guard.UNIT_MODEL_FIELDS.items() if f in version()["unit_fields"]}
    post = {f: listed.of(k) for f, k in guard.POST_MODEL_FIELDS.items()}
    return {"unit": units, "postprocessing": post}


__all__ = ["ApiContext", "version", "models", "check_unit", "names", "swap", "build", "checkpoints", "compare", "extract", "detect"]
