"""Upscaling an aligned face before the next warp (into the restorer's space or the image).

Built-in: `lanczos` (and `cubic`), interpolation-only upscalers: rather than resampling the
face once more, their interpolation is used by the next warp itself. Host upscalers (the
web-ui's ESRGAN & co.) enlarge the face by an integer factor; the pixel-centre convention of
that enlargement (u -> k*u + (k-1)/2) is composed into the face's matrix, so the face lands
exactly where it was (DESIGN.md section 6).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from .. import geometry

MAX_FACTOR = 4


@dataclass(frozen=True)
class InterpolationUpscaler:
    name: str
    interpolation: int

    def upscale(self, image: np.ndarray, scale: int) -> np.ndarray:
        h, w = image.shape[:2]
        return cv2.resize(image, (w * int(scale), h * int(scale)), interpolation=self.interpolation)


BUILTIN_UPSCALERS: dict[str, InterpolationUpscaler] = {
    "lanczos": InterpolationUpscaler("lanczos", cv2.INTER_LANCZOS4),
    "cubic": InterpolationUpscaler("cubic", cv2.INTER_CUBIC),
}


def resize_matrix(kx: float, ky: float) -> np.ndarray:
    """The matrix of an enlargement by (kx, ky) in cv2.resize's pixel-centre convention."""
    return np.array([[kx, 0.0, (kx - 1.0) / 2.0], [0.0, ky, (ky - 1.0) / 2.0]])


def factor_for(ratio: float) -> int:
    """Integer factor for a face that the next warp enlarges by `ratio` (1 = not needed)."""
    if ratio <= 1.1:
        return 1
    return int(min(MAX_FACTOR, max(2, math.ceil(ratio - 0.1))))


def upscale_aligned(
    upscaler: Any, face: np.ndarray, m: np.ndarray, ratio: float
) -> tuple[np.ndarray, np.ndarray, int, str]:
    """Enlarge `face` (aligned by `m`) for a next warp that scales it by `ratio`.

    Returns (face, matrix image -> face, interpolation flag for the next warp, note).
    """
    name = getattr(upscaler, "name", "upscaler")
    interp = getattr(upscaler, "interpolation", None)
    if interp is not None:
        return face, m, int(interp), f"upscaled with {name} (in the warp)"
    k = factor_for(ratio)
    if k <= 1:
        return face, m, cv2.INTER_LINEAR, f"upscale with {name} not needed (face already at full resolution)"
    src = np.clip(np.rint(face), 0, 255).astype(np.uint8)
    big = np.asarray(upscaler.upscale(src, k))
    if big.ndim != 3 or big.shape[2] < 3:
        raise ValueError(f"upscaler {name} returned an array of shape {big.shape}, expected H x W x 3")
    big = big[..., :3].astype(np.float32)
    kx = big.shape[1] / face.shape[1]
    ky = big.shape[0] / face.shape[0]
    m_big = geometry.compose(resize_matrix(kx, ky), m)
    return big, m_big, cv2.INTER_LINEAR, f"upscaled x{kx:g} with {name}"
