"""The HTTP API's handlers: plain functions over the core, independent of any host.

Each takes a validated request model and an `ApiContext` (how to get the engine, where the
checkpoints are, an optional host post-processor) and returns a JSON-ready dict, or raises
a FaceSwapLabError whose `.http_status` says the status (400 bad input, 422 no face,
451 blocked, 503 model missing). They keep no state of their own, so concurrent calls are
safe (the engine's session cache is the only shared state, and it is locked).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from .. import __version__, safety
from ..engine import Engine
from ..errors import BlockedError, ImageError, OptionsError
from ..imageio import decode_base64_image, encode_image_base64
from ..pipeline import swap_image
from ..ui import spec
from . import models as m

API_VERSION = 1


@dataclass
class ApiContext:
    engine: Callable[[], Engine]
    checkpoints_dir: Callable[[], Optional[Path]] = lambda: None
    resolve_checkpoint: Optional[Callable[[str], str]] = None
    list_checkpoints: Optional[Callable[[], list[dict[str, Any]]]] = None
    # Host post-processing (web-ui restorers/upscalers); None: refused with a message.
    postprocess: Optional[Callable[[Any, spec.PostOptions], tuple[Any, list[str]]]] = None


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


def _check_allowed(engine: Engine, rgb: Any) -> None:
    verdict = safety.check_image(rgb, engine.options.nsfw_threshold, detector=engine.nsfw_detector)
    if verdict.blocked:
        raise BlockedError(verdict.reason or "blocked by the content filter")


def version() -> dict[str, Any]:
    return {
        "version": __version__,
        "api": API_VERSION,
        "unit_fields": [n for n in spec.unit_field_names() if n != "source_image"],
        "postprocessing_fields": list(spec.post_field_names()),
    }


def unit_from_model(unit: Any, index: int, ctx: ApiContext) -> Any:
    data = m.dump(unit)
    data["source_images"] = [_image(s, f"unit {index + 1}: source image {k + 1}") for k, s in enumerate(data.get("source_images") or [])]
    if data.get("reference_image"):
        data["reference_image"] = _image(data["reference_image"], f"unit {index + 1}: reference image")
    return spec.unit_options(data, where=f"unit {index + 1}", resolve_checkpoint=_resolver(ctx))


def swap(req: m.SwapRequest, ctx: ApiContext) -> dict[str, Any]:
    fmt = _fmt(req.format)
    target = _image(req.image, "image")
    if not req.units:
        raise OptionsError("units: give at least one unit (source_images or checkpoint)")
    units = [unit_from_model(u, i, ctx) for i, u in enumerate(req.units)]
    post = spec.PostOptions.from_dict({k: v for k, v in m.dump(req.postprocessing).items() if v is not None} if req.postprocessing else None)
    if post.active and ctx.postprocess is None:
        raise OptionsError("postprocessing needs the web-ui's restorers/upscalers; it is not available here")
    engine = ctx.engine()
    result = swap_image(target, units, engine=engine)
    report = result.report.to_dict()
    rgb = result.image.rgb
    if post.active and result.report.swapped and ctx.postprocess is not None:
        rgb, notes = ctx.postprocess(rgb, post)
        report["postprocessing"] = notes
    report["summary"] = result.report.summary() if result.report.swapped else result.report.nothing_swapped_reason()
    alpha = result.image.alpha if rgb.shape[:2] == result.image.rgb.shape[:2] else None
    img = encode_image_base64(rgb, alpha, result.image.meta, fmt=fmt)
    return {"images": [img], "report": report}


def build(req: m.BuildRequest, ctx: ApiContext) -> dict[str, Any]:
    import base64

    from ..checkpoints import build_identity, encode_checkpoint, sanitize_name, save_checkpoint

    if not req.images:
        raise OptionsError("images: give at least one photo")
    engine = ctx.engine()
    imgs = [_image(s, f"photo {i + 1}") for i, s in enumerate(req.images)]
    for img in imgs:
        _check_allowed(engine, img.rgb)
    if req.name is not None:
        sanitize_name(req.name)
    ident, used, skipped = build_identity(
        engine, imgs, face_index=req.face_index, gender=req.gender, blend_method=req.blend_method
    )
    out: dict[str, Any] = {
        "samples": ident.samples, "gender": ident.gender, "age": ident.age, "used": used, "skipped": skipped,
    }  # fmt: skip
    if req.name:
        folder = ctx.checkpoints_dir()
        if folder is None:
            from ..checkpoints import checkpoint_folder

            folder = checkpoint_folder(engine.store)
        path = save_checkpoint(ident, folder, req.name, overwrite=req.overwrite, blend_method=req.blend_method)
        out["name"] = path.name[: -len(".safetensors")]
        out["checkpoint"] = None
    else:
        data = encode_checkpoint(ident, name="checkpoint", blend_method=req.blend_method)
        out["name"] = None
        out["checkpoint"] = base64.b64encode(data).decode("ascii")
    return out


def checkpoints(ctx: ApiContext) -> dict[str, Any]:
    if ctx.list_checkpoints is not None:
        return {"checkpoints": ctx.list_checkpoints()}
    from ..checkpoints import list_checkpoints

    folder = ctx.checkpoints_dir()
    if folder is not None:
        infos = list_checkpoints(None, folder=folder)
    else:
        infos = list_checkpoints(ctx.engine().store)
    items = []
    for info in infos:
        d = info.to_dict()
        d.pop("path", None)  # server paths stay on the server
        items.append(d)
    return {"checkpoints": items}


def compare(req: m.CompareRequest, ctx: ApiContext) -> dict[str, Any]:
    from ..checkpoints import compare_faces

    engine = ctx.engine()

    def side(img: Optional[str], ck: Optional[str], label: str) -> Any:
        if (img is None) == (ck is None):
            raise OptionsError(f"give exactly one of image_{label} or checkpoint_{label}")
        if img is not None:
            loaded = _image(img, f"image {label.upper()}")
            _check_allowed(engine, loaded.rgb)
            return loaded
        from ..checkpoints import load_checkpoint, resolve_checkpoint

        path = _resolver(ctx)(str(ck))
        return load_checkpoint(resolve_checkpoint(path, engine.store))

    a = side(req.image_a, req.checkpoint_a, "a")
    b = side(req.image_b, req.checkpoint_b, "b")
    res = compare_faces(engine, a, b, index_a=req.index_a, index_b=req.index_b)
    return res.to_dict()


def extract(req: m.ExtractRequest, ctx: ApiContext) -> dict[str, Any]:
    from ..checkpoints import extract_faces

    fmt = _fmt(req.format)
    engine = ctx.engine()
    loaded = _image(req.image, "image")
    _check_allowed(engine, loaded.rgb)
    faces = extract_faces(engine, loaded, aligned_size=req.aligned_size, margin=req.margin, min_face_size=req.min_face_size)
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


__all__ = ["ApiContext", "version", "swap", "build", "checkpoints", "compare", "extract", "detect", "dataclasses"]
