"""Face analysis once per image: detect, embed, and (only when needed) gender and age.

The result is shared by every unit and by the similarity checks of one image, so a three-unit
swap still runs the detector once.
"""

from __future__ import annotations

from typing import Any, Callable

import cv2
import numpy as np

from .. import geometry
from .detector import Detector
from .face import GENDER_NAMES, Face, normalize
from .rotation import detect_turned

RETRY_DET_SIZE = 320


class Analyser:
    def __init__(
        self,
        detector: Detector,
        recognizer: Any,
        genderage: Callable[[], Any] | None = None,
    ) -> None:
        self.detector = detector
        self.recognizer = recognizer
        self._genderage = genderage

    def detect(self, bgr: np.ndarray, det_size: int, det_thresh: float, retry: bool, rotations: bool = False,
               want: int = 1) -> list[Face]:  # fmt: skip
        """Faces upright; with `rotations`, also those found on the image turned by quarter
        turns while fewer than `want` are known (analysis/rotation.py)."""
        faces = self._detect_upright(bgr, det_size, det_thresh, retry)
        if rotations and len(faces) < want:
            faces = detect_turned(lambda img: self._detect_upright(img, det_size, det_thresh, retry), bgr, faces, want)
        return faces

    def _detect_upright(self, bgr: np.ndarray, det_size: int, det_thresh: float, retry: bool) -> list[Face]:
        boxes, kpss = self.detector.detect(bgr, det_size, det_thresh)
        if len(boxes) == 0 and retry and det_size > RETRY_DET_SIZE:
            # Faces that fill the frame are often missed at 640: try again smaller.
            boxes, kpss = self.detector.detect(bgr, RETRY_DET_SIZE, det_thresh)
        faces = []
        for i, (box, kps) in enumerate(zip(boxes, kpss)):
            faces.append(
                Face(
                    bbox=np.asarray(box[:4], np.float32),
                    kps=np.asarray(kps, np.float32).reshape(5, 2),
                    det_score=float(box[4]),
                    detection_index=i,
                )
            )
        return faces

    def embed(self, rgb: np.ndarray, kps: np.ndarray) -> np.ndarray:
        """Normalised identity embedding of the face at these keypoints (no detection)."""
        return normalize(self.embed_raw(rgb, kps))

    def embed_raw(self, rgb: np.ndarray, kps: np.ndarray) -> np.ndarray:
        """The recogniser's raw output (its norm is what raw-scale swapper kinds need).

        Only the 112 px crop is converted to BGR (insightface's convention), never the image.
        """
        size = int(self.recognizer.input_size[0])
        m = geometry.align_matrix(kps, size)
        crop = cv2.warpAffine(rgb, m, (size, size), borderValue=0.0)
        feat = self.recognizer.get_feat(cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
        return np.asarray(feat, np.float32).reshape(-1)

    def add_attributes(self, bgr: np.ndarray, faces: list[Face]) -> None:
        if self._genderage is None:
            raise RuntimeError("gender/age analysis is not available (genderage.onnx not configured)")
        model = self._genderage()
        from insightface.app.common import Face as InsightFace

        for face in faces:
            if face.gender is not None:
                continue
            record = InsightFace(bbox=face.bbox.astype(np.float64), kps=face.kps, det_score=face.det_score)
            gender, age = model.get(bgr, record)
            face.gender = GENDER_NAMES.get(int(gender), None)
            face.age = int(age)

    def analyse(
        self,
        rgb: np.ndarray,
        *,
        det_size: int,
        det_thresh: float,
        retry: bool = True,
        attributes: bool = False,
        rotations: bool = False,
        want: int = 1,
    ) -> list[Face]:
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        faces = self.detect(bgr, det_size, det_thresh, retry, rotations=rotations, want=want)
        for face in faces:
            raw = self.embed_raw(rgb, face.kps)
            face.embedding = normalize(raw)
            face.raw_norm = float(np.linalg.norm(raw))
        if attributes and faces:
            self.add_attributes(bgr, faces)
        return faces
