"""Face analysis once per image: detect, embed, and (only when needed) gender and age.

The result is shared by every unit and by the similarity checks of one image, so a three-unit
swap still runs the detector once.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

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

    def detect(self, rgb: np.ndarray, det_size: int, det_thresh: float, retry: bool, rotations: bool = False,
               want: int = 1) -> list[Face]:  # fmt: skip
        """Faces upright in the RGB image; with `rotations`, also those found on the image
        turned by quarter turns while fewer than `want` are known (analysis/rotation.py)."""
        faces = self._detect_upright(rgb, det_size, det_thresh, retry)
        if rotations and len(faces) < want:
            faces = detect_turned(lambda img: self._detect_upright(img, det_size, det_thresh, retry), rgb, faces, want)
        return faces

    def _run_detector(self, rgb: np.ndarray, det_size: int, det_thresh: float) -> tuple[np.ndarray, np.ndarray]:
        """The detector on an RGB image: one that can shrinks it first and converts only the
        detector-sized copy to BGR (detector.py `detect_rgb`); others get a BGR copy."""
        fast = getattr(self.detector, "detect_rgb", None)
        if fast is not None:
            return fast(rgb, det_size, det_thresh)
        return self.detector.detect(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), det_size, det_thresh)

    def _detect_upright(self, rgb: np.ndarray, det_size: int, det_thresh: float, retry: bool) -> list[Face]:
        boxes, kpss = self._run_detector(rgb, det_size, det_thresh)
        if len(boxes) == 0 and retry and det_size > RETRY_DET_SIZE:
            # Faces that fill the frame are often missed at 640: try again smaller.
            boxes, kpss = self._run_detector(rgb, RETRY_DET_SIZE, det_thresh)
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
        return self.embed_raw_many(rgb, [kps])[0]

    def embed_raw_many(self, rgb: np.ndarray, kpss: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Raw embeddings of several faces of one image in ONE recognition run (the model
        takes N on its batch axis): one session call instead of one per face."""
        if len(kpss) == 0:
            return []
        size = int(self.recognizer.input_size[0])
        crops = []
        for kps in kpss:
            m = geometry.align_matrix(kps, size)
            crops.append(cv2.cvtColor(cv2.warpAffine(rgb, m, (size, size), borderValue=0.0), cv2.COLOR_RGB2BGR))
        feats = np.asarray(self.recognizer.get_feat(crops), np.float32).reshape(len(crops), -1)
        return list(feats)

    def embed_many(self, rgb: np.ndarray, kpss: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Normalised embeddings of several faces of one image, one recognition run."""
        return [normalize(f) for f in self.embed_raw_many(rgb, kpss)]

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
        faces = self.detect(rgb, det_size, det_thresh, retry, rotations=rotations, want=want)
        for face, raw in zip(faces, self.embed_raw_many(rgb, [f.kps for f in faces])):
            face.embedding = normalize(raw)
            face.raw_norm = float(np.linalg.norm(raw))
        if attributes and faces:  # genderage crops the image itself: only then a full BGR copy
            self.add_attributes(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), faces)
        return faces
