"""One face: aligned swap, optional enhancement in aligned space, one warp back into its ROI.

The face is interpolated as few times as possible, every move between spaces being one
composed affine warp (geometry.py conventions):

    image --M_s--> swap crop (S * boost px, S and the template from the swapper's kind):
                   the swap, parsing masks, the original mouth
          --M_f . M_s^-1--> FFHQ-aligned restorer space (restorer's own size): restoration,
                            colour correction, sharpening
          --M_s^-1--> the image, inside the swap crop's ROI only, with a float mask; the
                      restorer's change (restored - what it was given) is added from FFHQ
                      space with M_f^-1, so the swapped face itself is resampled once.

Without a restorer the second step is skipped and the swap crop goes straight back. The
mask (box mask, min the parsing mask) is built once in swap-crop space and warped into the
image directly with M_s, so it never depends on the restorer's space.

The models come from a `SwapModels` (the Engine is one): this module sits below the engine
and never imports it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import cv2
import numpy as np

from .. import geometry
from ..compose import TOUCH_LEVEL, paste
from ..enhance import adjust, parsing
from ..enhance.interfaces import is_aligned_restorer
from ..enhance.upscale import upscale_aligned
from ..identity import mix_with_target
from ..models.registry import TYPICAL_RAW_NORM
from . import boost as polyphase
from .masks import FaceMasks, face_masks
from .swapper import Swapper

if TYPE_CHECKING:
    from ..analysis.face import Face
    from ..identity import Identity
    from ..options import EnhanceOptions, UnitOptions


class SwapModels(Protocol):
    """The models one face swap loads, by name (a missing file raises ModelMissingError)."""

    def swapper(self, name: str | None = None, kind: str | None = None) -> Swapper: ...

    def restorer(self, name: str) -> Any: ...

    def parser(self, name: str) -> parsing.FaceParser: ...

    def upscaler(self, name: str) -> Any: ...

    def occluders(self, name: str) -> list[Any]: ...

    def landmarks68(self) -> Any: ...


@dataclass
class SwapOutcome:
    roi: tuple[int, int, int, int] | None
    before: np.ndarray | None  # the ROI's pixels before the paste, to revert a rejected swap
    notes: list[str] = field(default_factory=list)
    target: np.ndarray | None = None  # the original aligned crop and the mask parts (previews)
    masks: FaceMasks | None = None


@dataclass
class _Models:
    restorer: Any = None
    parser: Any = None
    upscaler: Any = None
    occluders: list[Any] = field(default_factory=list)


def _models(source: SwapModels, enh: "EnhanceOptions") -> _Models:
    """Resolve every enhancement model up front: a missing file fails before any pixel changes."""
    return _Models(
        restorer=source.restorer(enh.restorer) if enh.restorer else None,
        parser=source.parser(enh.parser) if enh.parser else None,
        upscaler=source.upscaler(enh.upscale) if enh.upscale else None,
        occluders=source.occluders(enh.occluder) if enh.occluder else [],
    )


def unit_swapper_type(opts: "UnitOptions") -> str | None:
    """The unit's declared swapper kind, None for "auto" (the file name or signature says)."""
    return None if opts.swapper_type == "auto" else opts.swapper_type


def swap_face(source: SwapModels, rgb: np.ndarray, face: "Face", ident: "Identity", opts: "UnitOptions") -> SwapOutcome:
    """Swap `face` in `rgb` (modified in place) with the identity, inside the face's ROI only."""
    enh = opts.enhance
    swapper = source.swapper(opts.swapper, unit_swapper_type(opts))
    size = swapper.crop_size(enh.boost)
    m_s = swapper.matrix(face.kps, enh.boost)
    roi = geometry.roi_of_aligned(m_s, size, rgb.shape)
    if roi is None:
        return SwapOutcome(None, None)
    models = _models(source, enh)
    notes: list[str] = []

    # 1. the masks, from the original target (once, before the swap)
    target = geometry.warp_to_aligned(rgb, m_s, size)
    masks = face_masks(models, source, rgb, face, target, m_s, opts, notes)
    mask, mouth = masks.mask, masks.mouth

    # 2. the swap in aligned space (polyphase when boosted), the original mouth blended back
    embedding, raw_norm = mix_with_target(ident, face, opts.identity_strength)
    if swapper.kind.source.raw and ident.raw_norm is None:
        notes.append(
            f"{swapper.kind.family} takes a raw-scale embedding; this identity has none (a checkpoint "
            f"written before revision 2): used the typical norm {TYPICAL_RAW_NORM:g}"
        )
    if opts.identity_strength < 1.0:
        notes.append(f"identity strength {opts.identity_strength:g}")
    swapped = polyphase.swap_crop(swapper, target, swapper.latent(embedding, raw_norm), enh.boost)
    if enh.boost > 1:
        notes.insert(0, f"boost x{enh.boost}: swapped at {size} px")
    if mouth is not None:
        swapped += mouth[..., None] * (target.astype(np.float32) - swapped)
        notes.append("kept the original mouth")

    # 3. restoration in FFHQ space (or a host's whole-image fallback after the paste)
    face_img, m_face, interp = swapped, m_s, cv2.INTER_CUBIC
    reference, ref_mask = target, mask
    image_restorer = None
    restored_aligned = False
    restorer = models.restorer
    if restorer is not None and enh.restorer_visibility <= 0.0:
        notes.append(f"restorer {restorer.name} skipped: visibility 0")
        restorer = None
    restored: _Restored | None = None
    if restorer is not None and is_aligned_restorer(restorer):
        restored = _restore_aligned(rgb, face.kps, swapped, m_s, mask, restorer, models.upscaler, enh, notes)
        face_img, m_face, reference, ref_mask = restored.face, restored.m_face, restored.original, restored.mask
        restored_aligned = True
    elif restorer is not None:
        image_restorer = restorer

    # 4. colour and sharpness, in the final aligned space
    if enh.color_correction > 0.0:
        face_img = adjust.color_transfer(face_img, reference, ref_mask, enh.color_correction)
        notes.append(f"colour correction {enh.color_correction:g}")
    if enh.sharpen > 0.0:
        face_img = adjust.sharpen(face_img, enh.sharpen, sigma=geometry.matrix_scale(m_face))
        notes.append(f"sharpen {enh.sharpen:g}")

    # 5. upscaling straight into the image when nothing was restored
    if models.upscaler is not None and not restored_aligned:
        ratio = 1.0 / geometry.matrix_scale(m_face)
        face_img, m_face, interp, note = upscale_aligned(models.upscaler, face_img, m_face, ratio)
        notes.append(note)

    # 6. one warp back, inside the swap crop's ROI
    x0, y0, x1, y1 = roi
    before = rgb[y0:y1, x0:x1].copy()
    if restored is None:
        alpha = paste(rgb, face_img, m_face, mask, m_s, roi, interp)
    else:
        # The swapped face is resampled once, straight from its own crop; the restorer's
        # change (restored - what it was given, colour and sharpening included) is added
        # from FFHQ space. Pasting the restored face whole would resample the swap twice
        # (crop -> FFHQ -> image), ~3 dB lost on an identity round trip.
        alpha = paste(rgb, restored.base, restored.m_base, mask, m_s, roi, restored.base_interp)
        _add_delta(rgb, face_img - restored.given, m_face, alpha, roi)
    if image_restorer is not None:
        _restore_region(rgb, image_restorer, alpha, roi, enh)
        notes.append(
            f"restored with {image_restorer.name} on the image around the face "
            "(host whole-image restore: the face is found and aligned again)"
        )
    return SwapOutcome(roi, before, notes, target=target, masks=masks)


@dataclass
class _Restored:
    face: np.ndarray  # restored (and visibility-blended) face in FFHQ space
    m_face: np.ndarray  # image -> FFHQ space
    original: np.ndarray  # the original image in FFHQ space (colour reference)
    mask: np.ndarray  # the swap mask in FFHQ space
    given: np.ndarray  # what the restorer was given (the composite), to take its change
    base: np.ndarray  # the swapped face the change is added to, in its own space
    m_base: np.ndarray
    base_interp: int


def _restore_aligned(
    rgb: np.ndarray,
    kps: np.ndarray,
    swapped: np.ndarray,
    m_s: np.ndarray,
    mask: np.ndarray,
    restorer: Any,
    upscaler: Any,
    enh: "EnhanceOptions",
    notes: list[str],
) -> _Restored:
    """Move the swapped face into the restorer's FFHQ space with one warp, composite it over
    the original there (the restorer sees the whole head), restore, blend by visibility."""
    r = int(restorer.size)
    m_f = geometry.ffhq_matrix(kps, r)
    src, m_src, interp = swapped, m_s, cv2.INTER_CUBIC
    if upscaler is not None:
        ratio = geometry.matrix_scale(m_f) / geometry.matrix_scale(m_s)
        src, m_src, interp, note = upscale_aligned(upscaler, swapped, m_s, ratio)
        notes.append(note)
    face_f = cv2.warpAffine(
        np.ascontiguousarray(src, dtype=np.float32),
        geometry.compose(m_f, geometry.invert(m_src)),
        (r, r),
        flags=interp,
        borderMode=cv2.BORDER_REPLICATE,
    )
    mask_f = cv2.warpAffine(
        mask, geometry.compose(m_f, geometry.invert(m_s)), (r, r), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )
    np.clip(mask_f, 0.0, 1.0, out=mask_f)
    orig_f = geometry.warp_to_aligned(rgb, m_f, r).astype(np.float32)
    comp = cv2.blendLinear(orig_f, face_f, 1.0 - mask_f, mask_f)  # orig where the mask is 0
    np.clip(comp, 0.0, 255.0, out=comp)
    given = np.rint(comp).astype(np.uint8)
    restored = np.asarray(restorer.restore(given, enh.codeformer_weight))
    if restored.shape[:2] != (r, r) or restored.ndim != 3 or restored.shape[2] < 3:
        raise RuntimeError(f"restorer {restorer.name} returned shape {restored.shape}, expected ({r}, {r}, 3)")
    restored = restored[..., :3].astype(np.float32)
    v = enh.restorer_visibility
    out = restored if v >= 1.0 else cv2.addWeighted(comp, 1.0 - v, restored, v, 0.0)
    extra = []
    if getattr(restorer, "codeformer", False):
        extra.append(f"weight {enh.codeformer_weight:g}")
    if v < 1.0:
        extra.append(f"visibility {v:g}")
    notes.append(f"restored with {restorer.name} at {r}" + (f" ({', '.join(extra)})" if extra else ""))
    return _Restored(out, m_f, orig_f, mask_f, given.astype(np.float32), src, m_src, interp)


def _add_delta(rgb: np.ndarray, delta: np.ndarray, m_delta: np.ndarray, alpha: np.ndarray, roi: tuple[int, int, int, int]) -> None:
    """Add `alpha` x a change given in aligned space to the pasted face, where it was pasted."""
    touched = alpha > TOUCH_LEVEL
    if not touched.any():
        return
    x0, y0, x1, y1 = roi
    d = geometry.warp_from_aligned(np.ascontiguousarray(delta, dtype=np.float32), m_delta, roi)
    cur = rgb[y0:y1, x0:x1]
    out = np.clip(np.rint(cur.astype(np.float32) + alpha[..., None] * d), 0, 255).astype(np.uint8)
    cur[touched] = out[touched]


def _restore_region(rgb: np.ndarray, restorer: Any, alpha: np.ndarray, roi: tuple[int, int, int, int], enh: "EnhanceOptions") -> None:
    """Host fallback: restore a region around the face and blend it back with the face's own
    paste mask (times visibility), so nothing outside this face changes."""
    x0, y0, x1, y1 = roi
    h, w = rgb.shape[:2]
    pad = max(x1 - x0, y1 - y0) // 2  # context for the host's face detector
    cx0, cy0, cx1, cy1 = max(0, x0 - pad), max(0, y0 - pad), min(w, x1 + pad), min(h, y1 + pad)
    region = np.ascontiguousarray(rgb[cy0:cy1, cx0:cx1])
    restored = np.asarray(restorer.restore_image(region.copy(), enh.codeformer_weight))
    if restored.shape[:2] != region.shape[:2]:
        raise RuntimeError(f"restorer {restorer.name} returned shape {restored.shape}, expected {region.shape}")
    sub = restored[y0 - cy0 : y1 - cy0, x0 - cx0 : x1 - cx0, :3].astype(np.float32)
    a = alpha * np.float32(enh.restorer_visibility)
    touched = a > TOUCH_LEVEL
    if touched.any():
        cur = rgb[y0:y1, x0:x1]
        blended = cur.astype(np.float32) + a[..., None] * (sub - cur.astype(np.float32))
        out = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
        cur[touched] = out[touched]
