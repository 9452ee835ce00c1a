"""Faces at any angle: detection retried on the image turned by 90, 180 and 270 degrees.

Detectors are trained on upright faces and miss lying-down and upside-down ones. When the
upright pass finds fewer faces than the job needs, the image is turned (exact quarter turns,
no resampling), detected again, and boxes and keypoints are mapped back into the unrotated
image. Alignment from the keypoints then takes the rotation into account by itself, and the
paste goes back into the unrotated image, so nothing else needs to know. Faces found at
several angles are merged (box overlap).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .face import Face

TURNS = (90, 180, 270)  # degrees counter-clockwise, tried in this order
DUPLICATE_IOU = 0.3


def turn(image: np.ndarray, degrees: int) -> np.ndarray:
    """The image turned counter-clockwise by a multiple of 90 degrees (contiguous copy)."""
    return np.ascontiguousarray(np.rot90(image, k=(degrees // 90) % 4))


def points_back(points: np.ndarray, degrees: int, shape: tuple[int, ...]) -> np.ndarray:
    """Points found in the turned image -> the same points in the original image
    (`shape` is the ORIGINAL image's shape; pixel centres map exactly)."""
    h, w = shape[:2]
    p = np.asarray(points, np.float32).reshape(-1, 2)
    x, y = p[:, 0], p[:, 1]
    k = (degrees // 90) % 4
    if k == 0:
        out = np.stack([x, y], 1)
    elif k == 1:  # rot90 ccw: original (c, r) -> (r, w-1-c)
        out = np.stack([w - 1 - y, x], 1)
    elif k == 2:
        out = np.stack([w - 1 - x, h - 1 - y], 1)
    else:  # rot 270 ccw: original (c, r) -> (h-1-r, c)
        out = np.stack([y, h - 1 - x], 1)
    return out.astype(np.float32)


def box_back(box: np.ndarray, degrees: int, shape: tuple[int, ...]) -> np.ndarray:
    x0, y0, x1, y1 = (float(v) for v in box[:4])
    corners = points_back(np.array([[x0, y0], [x1, y0], [x0, y1], [x1, y1]], np.float32), degrees, shape)
    return np.array([*corners.min(0), *corners.max(0)], np.float32)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def merge(found: Sequence[Face], extra: Sequence[Face]) -> list[Face]:
    """`found` plus the faces of `extra` that are not already there (by box overlap); among
    overlapping faces of `extra` the best detection score wins (a face is usually detected
    best at the angle that makes it upright)."""
    out = list(found)
    for f in sorted(extra, key=lambda f: (-round(f.det_score, 3), f.rotation)):
        if all(iou(f.bbox, g.bbox) < DUPLICATE_IOU for g in out):
            out.append(f)
    return out


def detect_turned(detect: Callable[[np.ndarray], list[Face]], image: np.ndarray, upright: list[Face], want: int) -> list[Face]:
    """`upright` plus the faces found on the image turned by 90, 180 and 270 degrees (asked
    for when fewer than `want` faces were found upright). Each face found that way carries
    its `rotation` (degrees)."""
    if len(upright) >= want:
        return list(upright)
    turned: list[Face] = []
    for degrees in TURNS:
        for f in detect(turn(image, degrees)):
            f.bbox = box_back(f.bbox, degrees, image.shape)
            f.kps = points_back(f.kps, degrees, image.shape)
            f.rotation = degrees
            turned.append(f)
    faces = merge([], list(upright) + turned)  # an upside-down "upright" find loses to its turned twin
    for i, f in enumerate(faces):
        f.detection_index = i
    return faces
