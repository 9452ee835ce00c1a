"""Every face of an image as its own crop: the face box with a margin (for people picking
photos), or a square aligned the way the recognizer sees it (for datasets and for checking
what the models get). Indices are the left-to-right order that `--faces` and
`--source-face-index` use, so a crop's number names the same face everywhere. The image
passes the content filter here, whichever front end asked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from . import geometry, safety
from .analysis.face import Face
from .analysis.selection import sort_faces
from .errors import OptionsError
from .imageio import load_image

if TYPE_CHECKING:
    from .engine import Engine

#: Suggested aligned crop sizes (any multiple of 112 or 128 up to 2048 works).
ALIGNED_SIZES = (112, 128, 224, 256, 448, 512, 1024)
MAX_ALIGNED_SIZE = 2048


@dataclass
class ExtractedFace:
    rgb: np.ndarray  # the crop, (H, W, 3) uint8
    face: Face
    index: int  # position in left-to-right order (what --faces and --source-face-index mean)
    box: tuple[int, int, int, int] | None = None  # image rectangle of a box crop


def check_aligned_size(size: Any) -> int:
    """The aligned crop size as an int; OptionsError unless the ArcFace template scales to it
    without a fractional pixel (a multiple of 112 or 128). Front ends call it before any
    image is read, so a typo fails at once."""
    try:
        s = int(size)
    except (TypeError, ValueError):
        raise OptionsError(f"aligned size must be a whole number of pixels, got {size!r}") from None
    if s <= 0 or s > MAX_ALIGNED_SIZE or (s % 112 and s % 128):
        raise OptionsError(
            f"aligned size must be a multiple of 112 or 128 up to {MAX_ALIGNED_SIZE} "
            f"(e.g. {', '.join(str(x) for x in ALIGNED_SIZES)}), got {s}"
        )
    return s


def _check_margin(margin: Any) -> float:
    try:
        m = float(margin)
    except (TypeError, ValueError):
        raise OptionsError(f"margin must be a number between 0 and 2, got {margin!r}") from None
    if not 0.0 <= m <= 2.0:
        raise OptionsError(f"margin must be between 0 and 2 (a fraction of the face box), got {m}")
    return m


def _box_crop(rgb: np.ndarray, face: Face, margin: float) -> tuple[int, int, int, int] | None:
    h, w = rgb.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in face.bbox)
    mx, my = (x2 - x1) * margin, (y2 - y1) * margin
    x0i, y0i = max(int(math.floor(x1 - mx)), 0), max(int(math.floor(y1 - my)), 0)
    x1i, y1i = min(int(math.ceil(x2 + mx)), w), min(int(math.ceil(y2 + my)), h)
    if x1i <= x0i or y1i <= y0i:
        return None
    return x0i, y0i, x1i, y1i


def extract_faces(
    engine: "Engine",
    image: Any,
    *,
    aligned_size: int | None = None,
    margin: float = 0.2,
    min_face_size: int = 0,
) -> list[ExtractedFace]:
    """Every face of `image`, left to right, as an ArcFace-aligned square crop of
    `aligned_size` px, or (default) as its bounding box grown by `margin` (a fraction of the
    box size on each side), clipped to the image. Faces smaller than `min_face_size` px are
    left out. An image without faces gives an empty list; BlockedError when the content
    filter blocks the image."""
    size = check_aligned_size(aligned_size) if aligned_size is not None else None
    margin = _check_margin(margin)
    loaded = load_image(image, what="image")
    named = loaded.source if not loaded.source.startswith("<") else None  # not "<numpy array>"
    safety.ensure_allowed(
        loaded.rgb, engine.options.nsfw_threshold, detector=engine.nsfw_detector, what=named, threads=engine.options.threads
    )
    _, faces = engine.analyse(loaded, what="image", attributes=False)
    rgb = loaded.rgb
    out: list[ExtractedFace] = []
    for idx, face in enumerate(sort_faces(faces, "left-right")):
        if face.size < min_face_size:
            continue
        if size is not None:
            m = geometry.align_matrix(face.kps, size)
            crop = geometry.warp_to_aligned(rgb, m, size, border=cv2.BORDER_CONSTANT)
            out.append(ExtractedFace(np.ascontiguousarray(crop), face, idx))
            continue
        box = _box_crop(rgb, face, margin)
        if box is not None:
            x0, y0, x1, y1 = box
            out.append(ExtractedFace(rgb[y0:y1, x0:x1].copy(), face, idx, box=box))
    return out


__all__ = ["ALIGNED_SIZES", "MAX_ALIGNED_SIZE", "ExtractedFace", "check_aligned_size", "extract_faces"]
