"""Soft masks and paste-back of an aligned face into the image, only inside the face's ROI.

insightface's own paste-back warps three full-frame images and erodes/blurs a full-frame
mask per face; here the mask is built once in aligned space (where the face always has the
same size), and one warp of the face and its mask covers only the ROI. Everything outside
the ROI, and inside it wherever the mask is zero, stays bit-for-bit as it was.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from . import geometry

TOUCH_LEVEL = 0.5 / 255.0  # alpha below this leaves a pixel bit-for-bit unchanged


@lru_cache(maxsize=32)
def _box_mask_cached(size: int, erosion: float, blur: float) -> np.ndarray:
    # The mask is 0 outside the erosion line and ramps to 1 over `blur * size` pixels inside
    # it: a rectangle inset to the middle of the ramp, blurred with sigma = ramp / 4, so the
    # Gaussian tail past the erosion line stays below half a grey level.
    edge = max(erosion * size, max(2.0, size / 64.0))  # the crop's rim may hold replicated pixels
    ramp = blur * size
    inset = int(round(edge + ramp / 2.0))
    mask = np.zeros((size, size), dtype=np.float32)
    if inset * 2 >= size:
        return mask
    mask[inset : size - inset, inset : size - inset] = 1.0
    sigma = ramp / 4.0
    if sigma >= 0.5:
        ksize = 2 * int(np.ceil(3.5 * sigma)) + 1
        mask = cv2.GaussianBlur(mask, (ksize, ksize), sigma, borderType=cv2.BORDER_CONSTANT)
    mask.setflags(write=False)
    return mask


def box_mask(size: int, erosion: float = 0.1, blur: float = 0.1) -> np.ndarray:
    """A soft square mask for an aligned crop: zero within `erosion` of the crop's edge, then
    a feathered ramp `blur` wide up to one.

    Both are fractions of the crop size, so the feather is proportional to the face size
    whatever the image resolution. The result is read-only and cached.
    """
    return _box_mask_cached(int(size), round(float(erosion), 4), round(float(blur), 4))


def feather(mask: np.ndarray, radius_px: float) -> np.ndarray:
    """Gaussian feather of a float mask (soft edges, never bitwise operations)."""
    if radius_px <= 0:
        return mask.astype(np.float32, copy=False)
    sigma = radius_px / 2.0
    ksize = int(2 * round(3 * sigma) + 1)
    return cv2.GaussianBlur(mask.astype(np.float32, copy=False), (ksize, ksize), sigma, borderType=cv2.BORDER_REPLICATE)


def paste(
    image: np.ndarray,
    face: np.ndarray,
    m_face: np.ndarray,
    mask: np.ndarray,
    m_mask: np.ndarray,
    roi: tuple[int, int, int, int],
    interpolation: int = cv2.INTER_LINEAR,
) -> np.ndarray:
    """Blend an aligned face into `image` (in place) inside `roi`: one warp of the face from
    its space (`m_face`) and one of the float mask from its own (`m_mask`). Pixels where the
    mask is ~0 stay bit-for-bit unchanged. Returns the alpha over the ROI.

    The mask is warped first and the face only over the rectangle where the mask is non-zero
    (the box mask's inset leaves the ROI's margins untouched), so the per-pixel work is as
    small as the visible face."""
    x0, y0, x1, y1 = roi
    alpha = geometry.warp_from_aligned(np.ascontiguousarray(mask, dtype=np.float32), m_mask, roi)
    np.clip(alpha, 0.0, 1.0, out=alpha)
    touched = alpha > TOUCH_LEVEL
    rows = np.flatnonzero(touched.any(axis=1))
    if rows.size == 0:
        return alpha
    cols = np.flatnonzero(touched.any(axis=0))
    ty0, ty1, tx0, tx1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    sub = (x0 + tx0, y0 + ty0, x0 + tx1, y0 + ty1)
    to_sub = geometry.compose(m_face, geometry.translation(sub[0], sub[1]))
    f = cv2.warpAffine(
        np.ascontiguousarray(face, dtype=np.float32),
        to_sub,
        (sub[2] - sub[0], sub[3] - sub[1]),
        flags=interpolation | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    region = image[sub[1] : sub[3], sub[0] : sub[2]]
    a = np.ascontiguousarray(alpha[ty0:ty1, tx0:tx1])
    np.putmask(a, ~touched[ty0:ty1, tx0:tx1], 0.0)  # weight exactly 0: those pixels stay as they are
    # (1 - a) * region + a * face; blendLinear divides by the weight sum (1 here, +1e-5)
    f = cv2.blendLinear(region.astype(np.float32), f, 1.0 - a, a)
    np.clip(f, 0.0, 255.0, out=f)
    np.rint(f, out=f)
    region[...] = f.astype(np.uint8)
    return alpha


def paste_aligned(image: np.ndarray, aligned: np.ndarray, m: np.ndarray, mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """`paste` for the common case of a face and mask in the same aligned space.

    Returns the ROI that was considered (None if the face lies outside the image).
    """
    roi = geometry.roi_of_aligned(m, aligned.shape[0], image.shape)
    if roi is not None:
        paste(image, aligned, m, mask, m, roi)
    return roi
