"""The pipeline's last step: post-processing of the whole swapped image (PostOptions).

1. A restorer restores EVERY face of the result, each in its own FFHQ alignment at the
   restorer's size: one warp in, one warp back inside the face's ROI under a soft box mask,
   with the faces found by the engine's analysis of the result (the same detector settings
   as the swap). A host restorer that exposes no network (`ImageRestorer`) restores the
   whole image itself instead.
2. An upscaler scales the whole image (and its alpha) by `scale`: an interpolation
   (`lanczos`, `cubic`) directly, a network upscaler at the next whole factor and then down
   to the exact size.

Models are the engine's: `engine.restorer(name)` / `engine.upscaler(name)`, so the CLI, batch,
dataset, the app, the API and the web-ui (host networks registered as `webui:<name>`) all
post-process the same way. Every model is resolved before any pixel changes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from . import geometry
from .compose import box_mask, paste_aligned
from .enhance.interfaces import is_aligned_restorer
from .imageio import LoadedImage
from .options import PostOptions

if TYPE_CHECKING:
    from .engine import Engine

# The soft edge of a restored face in FFHQ space (fractions of the crop): the FFHQ crop holds
# the whole head with margin, so a narrow inset and a wide feather hide the seam.
MASK_EROSION = 0.05
MASK_BLUR = 0.15


@dataclass
class PostModels:
    restorer: Any = None
    upscaler: Any = None


def resolve(engine: "Engine", post: PostOptions | None) -> PostModels:
    """The restorer and upscaler `post` names (ModelMissingError / OptionsError when absent)."""
    if post is None or not post.active:
        return PostModels()
    return PostModels(
        restorer=engine.restorer(post.restorer) if post.restores and post.restorer else None,
        upscaler=engine.upscaler(post.upscaler) if post.upscales and post.upscaler else None,
    )


def restore_faces(engine: "Engine", rgb: np.ndarray, restorer: Any, post: PostOptions) -> tuple[np.ndarray, str]:
    """Every face of `rgb` restored (a new array) and a note saying what ran."""
    weight, v = post.codeformer_weight, post.restorer_visibility
    name = getattr(restorer, "name", "restorer")
    if not is_aligned_restorer(restorer):
        restored = np.asarray(restorer.restore_image(np.ascontiguousarray(rgb), weight))
        if restored.shape[:2] != rgb.shape[:2]:
            raise RuntimeError(f"restorer {name} returned shape {restored.shape}, expected {rgb.shape}")
        out = restored[..., :3].astype(np.float32)
        if v < 1.0:
            out = cv2.addWeighted(rgb.astype(np.float32), 1.0 - v, out, v, 0.0)
        return np.clip(np.rint(out), 0, 255).astype(np.uint8), f"post: {name} restored the whole image (visibility {v:g})"
    _, faces = engine.analyse(rgb, what="swapped image")
    r = int(restorer.size)
    mask = box_mask(r, MASK_EROSION, MASK_BLUR)
    out = rgb.copy()
    for face in faces:
        m = geometry.ffhq_matrix(face.kps, r)
        crop = geometry.warp_to_aligned(out, m, r)
        restored = np.asarray(restorer.restore(crop, weight))
        if restored.shape[:2] != (r, r) or restored.ndim != 3:
            raise RuntimeError(f"restorer {name} returned shape {restored.shape}, expected ({r}, {r}, 3)")
        face_img = restored[..., :3].astype(np.float32)
        if v < 1.0:
            face_img = cv2.addWeighted(crop.astype(np.float32), 1.0 - v, face_img, v, 0.0)
        paste_aligned(out, face_img, m, mask)
    extra = f", weight {weight:g}" if getattr(restorer, "codeformer", False) else ""
    return out, f"post: restored {len(faces)} face(s) with {name} at {r} (visibility {v:g}{extra})"


def upscale_image(
    rgb: np.ndarray, alpha: np.ndarray | None, upscaler: Any, post: PostOptions
) -> tuple[np.ndarray, np.ndarray | None, str]:
    """The whole image (and alpha) scaled by `post.scale`: round(w * scale) x round(h * scale)."""
    h, w = rgb.shape[:2]
    size = (max(1, int(round(w * post.scale))), max(1, int(round(h * post.scale))))
    name = getattr(upscaler, "name", "upscaler")
    interp = getattr(upscaler, "interpolation", None)
    if interp is not None:
        big = cv2.resize(rgb, size, interpolation=int(interp))
    else:
        k = max(2, math.ceil(post.scale - 1e-6))
        big = np.asarray(upscaler.upscale(np.ascontiguousarray(rgb), k))
        if big.ndim != 3 or big.shape[2] < 3:
            raise RuntimeError(f"upscaler {name} returned an array of shape {big.shape}, expected H x W x 3")
        big = np.clip(np.rint(big[..., :3]), 0, 255).astype(np.uint8) if big.dtype != np.uint8 else big[..., :3]
        if (big.shape[1], big.shape[0]) != size:
            shrink = big.shape[1] > size[0]
            big = cv2.resize(big, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LANCZOS4)
    v = post.upscaler_visibility
    if v < 1.0:
        base = cv2.resize(rgb, size, interpolation=cv2.INTER_LANCZOS4)
        big = cv2.addWeighted(base, 1.0 - v, np.ascontiguousarray(big), v, 0.0)
    if alpha is not None:
        alpha = cv2.resize(alpha, size, interpolation=cv2.INTER_LINEAR)
    note = f"post: upscaled x{post.scale:g} with {name} to {size[0]}x{size[1]}"
    return np.ascontiguousarray(big), alpha, note + (f" (visibility {v:g})" if v < 1.0 else "")


def apply(
    engine: "Engine", image: LoadedImage, post: PostOptions, models: PostModels | None = None
) -> tuple[LoadedImage, list[str]]:
    """`image` post-processed (a new LoadedImage with the same metadata) and the notes."""
    models = models or resolve(engine, post)
    rgb, alpha, notes = image.rgb, image.alpha, []
    if models.restorer is not None:
        rgb, note = restore_faces(engine, rgb, models.restorer, post)
        notes.append(note)
    if models.upscaler is not None:
        rgb, alpha, note = upscale_image(rgb, alpha, models.upscaler, post)
        notes.append(note)
    if not notes:
        return image, notes
    out = LoadedImage(rgb=rgb, alpha=alpha, meta=image.meta, source=image.source, warnings=image.warnings)
    return out, notes


__all__ = ["PostModels", "resolve", "apply", "restore_faces", "upscale_image", "MASK_EROSION", "MASK_BLUR"]
