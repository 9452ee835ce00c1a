"""Face detectors behind one small protocol, so the analyser does not care which runs.

The product uses buffalo_l's SCRFD through insightface's own class; tests also plug in a
real MTCNN detector. A detector takes a BGR image (insightface's convention) and returns boxes
with scores and five keypoints in image pixels.
"""

from __future__ import annotations

from typing import Any, Protocol

import cv2
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

    def detect_rgb(self, rgb: np.ndarray, det_size: int, det_thresh: float) -> tuple[np.ndarray, np.ndarray]:
        """`detect` on an RGB image without converting it whole: an image larger than the
        detector's input is shrunk exactly as insightface's SCRFD does (cv2.resize into the
        top-left of a black det_size square), only that square is converted to BGR, and the
        boxes and keypoints are scaled back. A 2048 px photo: one 640 px conversion instead
        of a 12 MB one. Smaller images take `detect` unchanged."""
        h, w = rgb.shape[:2]
        size = int(det_size)
        if max(h, w) <= size or min(h, w) * size < max(h, w):
            return self.detect(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), size, det_thresh)
        if h > w:  # insightface's SCRFD sizes, to the pixel
            new_h = size
            new_w = int(new_h / (float(h) / w))
        else:
            new_w = size
            new_h = int(new_w * (float(h) / w))
        det_scale = float(new_h) / h
        square = np.zeros((size, size, 3), np.uint8)
        square[:new_h, :new_w] = cv2.resize(rgb, (new_w, new_h))
        boxes, kpss = self.detect(cv2.cvtColor(square, cv2.COLOR_RGB2BGR), size, det_thresh)
        if len(boxes) == 0:
            return boxes, kpss
        boxes = boxes.copy()
        boxes[:, :4] /= det_scale
        return boxes, (kpss / det_scale).astype(np.float32)
