"""Face detectors behind one small protocol, so the analyser does not care which runs.

The product uses buffalo_l's SCRFD through insightface's own class; tests also plug in a
real MTCNN detector. A detector takes a BGR image (insightface's convention) and returns boxes
with scores and five keypoints in image pixels.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

# SCRFD is prepared once with this floor and our threshold is applied to its output: NMS
# keeps higher scores first, so filtering after NMS equals filtering before, and one shared
# model then serves callers with different det_thresh without mutating shared state.
DETECTOR_FLOOR = 0.1


class Detector(Protocol):
    def detect(self, bgr: np.ndarray, det_size: int, det_thresh: float) -> tuple[np.ndarray, np.ndarray]:
        """Return (boxes N x 5 [x1, y1, x2, y2, score], keypoints N x 5 x 2)."""
        ...


class SCRFDDetector:
    """insightface's SCRFD model (buffalo_l det_10g.onnx), det_size always passed explicitly."""

    def __init__(self, model: Any) -> None:
        self.model = model

    @staticmethod
    def prepare(model: Any) -> None:
        """Called once when the shared model is built (never per call: it mutates the model)."""
        model.prepare(0, input_size=(640, 640), det_thresh=DETECTOR_FLOOR)

    def detect(self, bgr: np.ndarray, det_size: int, det_thresh: float) -> tuple[np.ndarray, np.ndarray]:
        h, w = bgr.shape[:2]
        if min(h, w) * int(det_size) < max(h, w):  # scaled to det_size its short side is 0 px: no face fits
            return np.zeros((0, 5), np.float32), np.zeros((0, 5, 2), np.float32)
        det, kpss = self.model.detect(bgr, input_size=(int(det_size), int(det_size)), max_num=0)
        if det is None or len(det) == 0:
            return np.zeros((0, 5), np.float32), np.zeros((0, 5, 2), np.float32)
        if kpss is None:
            raise RuntimeError("the detector returned no keypoints; a 5-keypoint SCRFD model (det_10g.onnx) is needed")
        keep = det[:, 4] >= float(det_thresh)
        return np.asarray(det[keep], np.float32), np.asarray(kpss[keep], np.float32)
