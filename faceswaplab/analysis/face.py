"""Our own Face record: what one detection and its analysis produced.

Kept independent of insightface's dict-like Face so the rest of the code has typed fields and
so both insightface 0.7.3 and 2.x can sit underneath.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

GENDER_NAMES = {0: "female", 1: "male"}


@dataclass
class Face:
    bbox: np.ndarray  # x1, y1, x2, y2 in image pixels
    kps: np.ndarray  # 5 x 2: eyes, nose, mouth corners
    det_score: float
    embedding: np.ndarray | None = None  # L2-normalised, float32 [512]
    raw_norm: float | None = None  # the norm of the recogniser's raw output (raw-scale kinds)
    gender: str | None = None  # "female" / "male"
    age: int | None = None
    detection_index: int = 0  # order in which the detector returned it
    rotation: int = 0  # degrees the image was turned for the detector to find it (0: upright)

    @property
    def width(self) -> float:
        return float(self.bbox[2] - self.bbox[0])

    @property
    def height(self) -> float:
        return float(self.bbox[3] - self.bbox[1])

    @property
    def size(self) -> float:
        """Shorter side of the box: what 'too small' is measured on."""
        return min(self.width, self.height)

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)

    @property
    def center(self) -> tuple[float, float]:
        return float(self.bbox[0] + self.bbox[2]) / 2.0, float(self.bbox[1] + self.bbox[3]) / 2.0

    def summary(self) -> dict[str, Any]:
        return {
            "bbox": [round(float(v), 1) for v in self.bbox],
            "det_score": round(float(self.det_score), 4),
            "gender": self.gender,
            "age": self.age,
        }


def normalize(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32).reshape(-1)
    n = float(np.linalg.norm(v))
    if not np.isfinite(n) or n == 0.0:
        raise ValueError("cannot normalise a zero or non-finite embedding")
    return (v / n).astype(np.float32)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two embeddings, clamped to [0, 1] for display and thresholds."""
    s = float(np.dot(normalize(a), normalize(b)))
    return float(min(max(s, 0.0), 1.0))
