"""The one mask a face is pasted with, built from its parts in the swap crop's space.

Order and combination (docs/options.md shows it to users): the box mask (erosion, blur),
the parser's regions, the landmark areas and the occluder's visibility are each a soft
0..1 mask in the swap crop (S * boost px); the face is pasted with their MINIMUM, so every
part can only take area away, and each part's soft edge lies inside the area it keeps. The
target's own mouth (keep-mouth) comes from the parser when there is one, else from the 68
landmarks. Every part is computed on the ORIGINAL target (before the swap).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from .. import geometry
from ..compose import box_mask, feather
from ..enhance import occlusion, parsing

if TYPE_CHECKING:
    from ..analysis.face import Face
    from ..options import UnitOptions

MOUTH_AREA = ("mouth",)


@dataclass
class FaceMasks:
    mask: np.ndarray  # the combined paste mask, S x S float32
    mouth: np.ndarray | None = None  # where the target's own mouth is blended back
    parts: dict[str, np.ndarray] = field(default_factory=dict)  # each component, for previews


def landmarks_in_crop(model: Any, rgb: np.ndarray, face: "Face", m_s: np.ndarray) -> np.ndarray:
    """The face's 68 landmarks in swap-crop pixels. Only a region around the face is turned
    into BGR for insightface's landmark model, never the whole image."""
    from insightface.app.common import Face as InsightFace

    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = (float(v) for v in face.bbox[:4])
    pad = max(x1 - x0, y1 - y0)
    rx0, ry0 = max(0, int(x0 - pad)), max(0, int(y0 - pad))
    rx1, ry1 = min(w, int(x1 + pad) + 1), min(h, int(y1 + pad) + 1)
    region = cv2.cvtColor(np.ascontiguousarray(rgb[ry0:ry1, rx0:rx1]), cv2.COLOR_RGB2BGR)
    shift = np.array([rx0, ry0], np.float32)
    record = InsightFace(bbox=(face.bbox[:4] - np.tile(shift, 2)).astype(np.float64), kps=face.kps - shift, det_score=face.det_score)
    pts = np.asarray(model.get(region, record), np.float32).reshape(-1, 3)[:, :2] + shift
    return occlusion.to_crop_points(pts, m_s)


def mouth_area(points: np.ndarray, size: int) -> np.ndarray:
    """The landmark mouth (outer lip contour), grown and feathered like the parser's mouth."""
    hull = np.zeros((size, size), np.uint8)
    pts = np.asarray(points, np.float32)[list(occlusion.AREA_POINTS["mouth"]), :2]
    cv2.fillConvexPoly(hull, cv2.convexHull(np.round(pts * 16).astype(np.int32)), 1, shift=4)
    grown = parsing.grow(hull, parsing.MOUTH_DILATE * size)
    return np.clip(feather(grown.astype(np.float32), parsing.MOUTH_FEATHER * size), 0.0, 1.0)


def face_masks(models: Any, source: Any, rgb: np.ndarray, face: "Face", target: np.ndarray,
               m_s: np.ndarray, opts: "UnitOptions", notes: list[str]) -> FaceMasks:  # fmt: skip
    """All mask parts of one face. `models` holds the resolved parser and occluders,
    `source` (the engine) gives the landmark model when an area mask needs it."""
    enh = opts.enhance
    size = target.shape[0]
    box = np.array(box_mask(size, opts.mask_erosion, opts.mask_blur), dtype=np.float32)
    out = FaceMasks(mask=box, parts={"box": box})

    if models.parser is not None:
        parse, m_p = parsing.parse_face(models.parser, rgb, face.kps)
        parse_to_s = geometry.compose(m_s, geometry.invert(m_p))
        regions = enh.mask_regions or parsing.DEFAULT_REGIONS
        out.parts["parser"] = parsing.region_mask(parse, regions, parse_to_s, size)
        notes.append(f"parsing mask ({', '.join(regions)}) from {models.parser.name}")
        if float(out.parts["parser"].max()) < 0.05:
            notes.append("the parsing mask is empty: the parser found none of the chosen regions, nothing was swapped")
        if enh.keep_mouth:
            out.mouth = parsing.mouth_mask(parse, parse_to_s, size)

    if enh.mask_areas or (enh.keep_mouth and models.parser is None):
        points = landmarks_in_crop(source.landmarks68(), rgb, face, m_s)
        if enh.mask_areas:
            out.parts["areas"] = occlusion.area_mask(points, enh.mask_areas, size)
            notes.append(f"area mask ({', '.join(enh.mask_areas)}) from the 68 landmarks")
        if enh.keep_mouth and models.parser is None:
            out.mouth = mouth_area(points, size)

    if models.occluders:
        visible = occlusion.combine_visibility([o.visible(target) for o in models.occluders])
        out.parts["occlusion"] = occlusion.occlusion_mask(visible)
        hidden = float((visible < 0.5).mean())
        names = ", ".join(o.name for o in models.occluders)
        notes.append(f"occlusion mask from {names}: {hidden:.0%} of the crop occluded")

    for name, part in out.parts.items():
        if name != "box":
            out.mask = np.minimum(out.mask, part)
    if len(out.parts) > 1 and float(out.mask.max()) < 0.05 and "parser" not in out.parts:
        notes.append("the combined mask is empty (nothing of the face is visible or chosen): nothing was swapped")
    if out.mouth is not None:
        out.parts["mouth (kept)"] = out.mouth
    return out


def preview(target: np.ndarray, masks: FaceMasks) -> np.ndarray:
    """The aligned original crop with the combined mask, then each part, overlaid (red =
    not swapped), side by side, with each panel's name: why a region was or was not swapped."""
    panels = [("combined", masks.mask)] + list(masks.parts.items())
    size = target.shape[0]
    tiles = []
    base = np.clip(target, 0, 255).astype(np.float32)
    for name, m in panels:
        shade = base.copy()
        keep = (1.0 - np.clip(m, 0.0, 1.0))[..., None]
        shade = shade * (1.0 - 0.6 * keep) + np.array([255.0, 0.0, 0.0], np.float32) * 0.6 * keep
        tile = np.clip(shade, 0, 255).astype(np.uint8)
        scale = max(size / 256.0, 0.4)
        cv2.putText(tile, name, (4, int(18 * scale) + 2), cv2.FONT_HERSHEY_SIMPLEX, 0.5 * scale, (255, 255, 255), 1, cv2.LINE_AA)
        tiles.append(tile)
    return np.concatenate(tiles, axis=1)
