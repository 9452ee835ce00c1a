"""Occlusion masks (DeepFaceLab's XSeg models) and landmark area masks.

Hands, microphones, food and hair in front of a face must stay in front of it. An occluder
looks at the ORIGINAL target crop (before the swap, in the swapper's aligned space) and says
per pixel whether the face is visible; the swap is then only pasted where it is. The soft
edge is placed inside the visible area (the occluded region is grown first, then feathered),
so an occluding pixel stays exactly original, whatever the interpolation of the warp back.

Area masks (upper face, lower face, mouth) are convex hulls of the 68 landmarks, for users
without a face parser. Everything here except the model call is a pure function.
"""

from __future__ import annotations

from typing import Any, Sequence

import cv2
import numpy as np

from ..compose import feather
from ..options.unit import AREA_NAMES

OCCLUDER_SIZE = 256
MANY = "many"  # every occluder present, combined by minimum
OCCLUSION_GROW = 0.02  # fractions of the crop side: occluded area grown by 2x this, feathered by this
AREA_FEATHER = 0.02

# 68-point landmark indices of each area (iBUG 300-W numbering).
AREA_POINTS: dict[str, tuple[int, ...]] = {
    "upper-face": (0, 1, 2, 31, 32, 33, 34, 35, 14, 15, 16, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17),
    "lower-face": (3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 35, 34, 33, 32, 31),
    "mouth": tuple(range(48, 68)),
}
assert tuple(AREA_POINTS) == AREA_NAMES, "options.unit.AREA_NAMES names these areas"


class Occluder:
    """An XSeg-style ONNX model: input [1,256,256,3] channels last, BGR, x/255; output
    [1,256,256,1] (or [1,1,256,256]), 1 = face visible, 0 = occluded."""

    def __init__(self, session: Any, name: str) -> None:
        self.session = session
        self.name = name
        inp = session.get_inputs()[0]
        self.input_name = inp.name
        shape = inp.shape
        self.size = int(shape[1]) if len(shape) == 4 and isinstance(shape[1], int) and shape[1] > 3 else OCCLUDER_SIZE

    def visible(self, crop_rgb: np.ndarray) -> np.ndarray:
        """Visibility 0..1 of a square RGB crop (any size), at the crop's own size."""
        side = crop_rgb.shape[0]
        x = cv2.resize(np.ascontiguousarray(crop_rgb, np.float32), (self.size, self.size), interpolation=cv2.INTER_AREA)
        x = (x[..., ::-1] / 255.0)[None].astype(np.float32)  # BGR, channels last
        y = np.asarray(self.session.run(None, {self.input_name: x})[0], np.float32)
        y = y.reshape(self.size, self.size)
        y = np.clip(y, 0.0, 1.0)
        return cv2.resize(y, (side, side), interpolation=cv2.INTER_LINEAR)


def combine_visibility(maps: Sequence[np.ndarray]) -> np.ndarray:
    """Several occluders ("many"): the face is visible only where every one says so."""
    out = maps[0]
    for m in maps[1:]:
        out = np.minimum(out, m)
    return out


def occlusion_mask(visible: np.ndarray) -> np.ndarray:
    """A soft 0..1 mask that is exactly 0 on every occluded pixel (visibility < 0.5) and on a
    margin around it, with the feather inside the visible area."""
    size = visible.shape[0]
    occluded = (visible < 0.5).astype(np.uint8)
    if not occluded.any():
        return np.ones_like(visible, dtype=np.float32)
    r = max(2.0, OCCLUSION_GROW * size)
    k = int(2 * round(2 * r) + 1)
    grown = cv2.dilate(occluded, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    # feather's kernel reaches 0.75 r: the occluded pixels, 2 r inside the grown edge, stay 0
    return np.clip(feather(1.0 - grown.astype(np.float32), r / 2.0), 0.0, 1.0)


def area_mask(points68: np.ndarray, areas: Sequence[str], size: int) -> np.ndarray:
    """Union of the chosen areas' convex hulls (points already in crop pixels), feathered
    inside the hull so what is left out stays original up to its edge."""
    hull = np.zeros((size, size), np.uint8)
    for name in areas:
        pts = np.asarray(points68, np.float32)[list(AREA_POINTS[name]), :2]
        poly = cv2.convexHull(np.round(pts * 16).astype(np.int32))  # 4 fractional bits
        cv2.fillConvexPoly(hull, poly, 1, lineType=cv2.LINE_8, shift=4)
    r = AREA_FEATHER * size
    if r >= 0.5:
        k = int(2 * round(r) + 1)
        hull = cv2.erode(hull, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    return np.clip(feather(hull.astype(np.float32), r / 2.0), 0.0, 1.0)


def to_crop_points(points: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Image points [N, 2+] -> crop pixels by the 2x3 matrix `m`."""
    p = np.asarray(points, np.float64)[:, :2]
    return p @ np.asarray(m, np.float64)[:, :2].T + np.asarray(m, np.float64)[:, 2]
