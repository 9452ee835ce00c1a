"""Alignment templates and affine maths, all in one pixel convention.

Convention: a 2x3 matrix M maps image pixel coordinates to aligned-crop pixel coordinates,
with pixel centres at integer coordinates (the convention of `cv2.warpAffine`). Every move
between aligned spaces of different sizes is expressed as a matrix and composed, never done
with `cv2.resize` (which uses the u -> s*u + (s-1)/2 centre convention and would shift the face
by a fraction of a pixel each time; DESIGN.md section 6).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

# ArcFace five-point template for a 112x112 crop (eyes, nose, mouth corners).
ARCFACE_112 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float64,
)

# FFHQ alignment used by GFPGAN / CodeFormer / GPEN (facexlib's template for 512x512).
FFHQ_512 = np.array(
    [[192.98138, 239.94708], [318.90277, 240.1936], [256.63416, 314.01935], [201.26117, 371.41043], [313.08905, 371.15118]],
    dtype=np.float64,
)


def _frozen(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


# Swapper alignment templates, named as the swapper kinds name them (models/registry.py SWAPPER_KINDS), five
# points in units of the crop side: a kind works at any multiple of its own size (boost) by
# multiplying by the crop size, so no size is hard-coded anywhere. "arcface_128" is
# insightface's inswapper alignment: the 112 template shifted 8 px right, over 128 px.
# (Dividing by 128 and multiplying by 128 * 2^k are exact, so these points equal
# arcface_template(128 * 2^k) bit for bit.)
# "arcface_112_v1" and "mtcnn_512" are the templates FaceFusion names so (eyes, nose, mouth
# corners as fractions of the crop side).
TEMPLATES: dict[str, np.ndarray] = {
    "arcface_128": _frozen((ARCFACE_112 + np.array([8.0, 0.0])) / 128.0),
    "arcface_112_v1": _frozen(
        np.array([[0.35473214, 0.45658929], [0.64526786, 0.45658929], [0.50000000, 0.61154464],
                  [0.37913393, 0.77687500], [0.62086607, 0.77687500]], dtype=np.float64)  # fmt: skip
    ),
    "mtcnn_512": _frozen(
        np.array([[0.36562865, 0.46733799], [0.63305391, 0.46585885], [0.50019127, 0.61942959],
                  [0.39032951, 0.77598822], [0.61178945, 0.77476328]], dtype=np.float64)  # fmt: skip
    ),
}


def umeyama_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity transform (rotation, uniform scale, translation) src -> dst.

    Same estimate as skimage's SimilarityTransform.estimate, without the dependency in the hot
    path; returns a 2x3 float64 matrix.
    """
    src = np.asarray(src, dtype=np.float64).reshape(-1, 2)
    dst = np.asarray(dst, dtype=np.float64).reshape(-1, 2)
    n = src.shape[0]
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    cov = dst_c.T @ src_c / n
    d = np.ones(2)
    if np.linalg.det(cov) < 0:
        d[1] = -1
    u, s, vt = np.linalg.svd(cov)
    if not s[0] > 1e-12:
        raise ValueError("degenerate keypoints: cannot estimate an alignment")
    r = u @ np.diag(d) @ vt
    var_src = src_c.var(axis=0).sum()
    scale = (s @ d) / var_src
    t = dst_mean - scale * (r @ src_mean)
    m = np.zeros((2, 3))
    m[:, :2] = scale * r
    m[:, 2] = t
    return m


def arcface_template(size: int) -> np.ndarray:
    """The ArcFace template for a crop of `size` px, as insightface computes it.

    Sizes that are multiples of 112 scale the template; multiples of 128 (the inswapper crop)
    scale by size/128 and shift x by 8*size/128.
    """
    if size % 112 == 0:
        return ARCFACE_112 * (size / 112.0)
    if size % 128 == 0:
        ratio = size / 128.0
        dst = ARCFACE_112 * ratio
        dst = dst.copy()
        dst[:, 0] += 8.0 * ratio
        return dst
    raise ValueError(f"aligned crop size must be a multiple of 112 or 128, got {size}")


def align_matrix(kps: np.ndarray, size: int) -> np.ndarray:
    """Matrix from image pixels to an ArcFace-aligned crop of `size` px."""
    return umeyama_similarity(kps, arcface_template(size))


def template_matrix(kps: np.ndarray, template: str, size: int) -> np.ndarray:
    """Matrix from image pixels to a crop of `size` px aligned to a named TEMPLATES entry."""
    try:
        points = TEMPLATES[template]
    except KeyError:
        raise ValueError(f"unknown alignment template {template!r}; known: {', '.join(TEMPLATES)}") from None
    return umeyama_similarity(kps, points * float(size))


def ffhq_matrix(kps: np.ndarray, size: int = 512) -> np.ndarray:
    """Matrix from image pixels to an FFHQ-aligned crop of `size` px (restorers' alignment)."""
    return umeyama_similarity(kps, FFHQ_512 * (size / 512.0))


def to3x3(m: np.ndarray) -> np.ndarray:
    out = np.eye(3)
    out[:2, :] = m
    return out


def compose(second: np.ndarray, first: np.ndarray) -> np.ndarray:
    """The 2x3 matrix applying `first` then `second`."""
    return (to3x3(second) @ to3x3(first))[:2, :]


def invert(m: np.ndarray) -> np.ndarray:
    return np.linalg.inv(to3x3(m))[:2, :]


def translation(tx: float, ty: float) -> np.ndarray:
    return np.array([[1.0, 0.0, tx], [0.0, 1.0, ty]])


def apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    pts = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
    return pts @ m[:, :2].T + m[:, 2]


def matrix_scale(m: np.ndarray) -> float:
    """Uniform scale factor of a similarity matrix (aligned px per image px)."""
    return float(math.sqrt(abs(np.linalg.det(m[:, :2]))))


def warp_to_aligned(image: np.ndarray, m: np.ndarray, size: int, border: int = cv2.BORDER_REPLICATE) -> np.ndarray:
    """One warp from the image into an aligned crop; the crop may extend past the image."""
    return cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=border)


def roi_of_aligned(m: np.ndarray, size: int, image_shape: tuple[int, ...], pad: int = 2) -> tuple[int, int, int, int] | None:
    """The image rectangle (x0, y0, x1, y1) that an aligned crop covers, clipped to the image.

    Pasting back only inside this rectangle is what makes paste-back cheap (and guarantees
    every pixel outside it is untouched). None when the crop lies wholly outside the image.
    """
    corners = np.array([[0, 0], [size - 1, 0], [0, size - 1], [size - 1, size - 1]], dtype=np.float64)
    pts = apply(invert(m), corners)
    h, w = image_shape[:2]
    x0 = max(int(math.floor(pts[:, 0].min())) - pad, 0)
    y0 = max(int(math.floor(pts[:, 1].min())) - pad, 0)
    x1 = min(int(math.ceil(pts[:, 0].max())) + pad + 1, w)
    y1 = min(int(math.ceil(pts[:, 1].max())) + pad + 1, h)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def warp_from_aligned(aligned: np.ndarray, m: np.ndarray, roi: tuple[int, int, int, int]) -> np.ndarray:
    """One warp from an aligned crop back into the ROI of the image (float32 in, float32 out).

    Uses WARP_INVERSE_MAP with the forward matrix shifted to the ROI origin, so no matrix
    inversion error accumulates and the output is exactly ROI-sized.
    """
    x0, y0, x1, y1 = roi
    m_roi = compose(m, translation(x0, y0))
    return cv2.warpAffine(
        aligned,
        m_roi,
        (x1 - x0, y1 - y0),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
