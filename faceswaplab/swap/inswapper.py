"""The inswapper model run through our own small wrapper over the ONNX Runtime session.

insightface's INSwapper prints to stdout when built and pastes back with full-frame warps;
here we only need the identity latent and the aligned forward pass. The emap (512x512, the
graph's last initializer) is read once per file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .. import geometry
from ..analysis.face import normalize

CROP = 128


def read_emap(path: Path) -> np.ndarray:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    if not model.graph.initializer:
        raise ValueError("the swapper model has no initializers (no emap)")
    emap = numpy_helper.to_array(model.graph.initializer[-1]).astype(np.float32)
    if emap.shape != (512, 512):
        raise ValueError(f"the swapper's last initializer should be the 512x512 emap, found {emap.shape}")
    return emap


class InSwapper:
    def __init__(self, session: Any, emap: np.ndarray) -> None:
        self.session = session
        self.emap = emap
        inputs = session.get_inputs()
        self.target_name = inputs[0].name
        self.source_name = inputs[1].name
        self.output_name = session.get_outputs()[0].name
        self.fp16 = "float16" in str(inputs[0].type)

    def latent(self, embedding: np.ndarray) -> np.ndarray:
        """Identity latent = normalise(normed embedding @ emap), shape [1, 512]."""
        lat = normalize(embedding).reshape(1, -1) @ self.emap
        return normalize(lat).reshape(1, -1)

    def run(self, crops_rgb: np.ndarray, latent: np.ndarray) -> np.ndarray:
        """crops: N x 128 x 128 x 3 uint8/float RGB (0..255) -> N x 128 x 128 x 3 float32 (0..255)."""
        dtype = np.float16 if self.fp16 else np.float32
        outs = []
        lat = latent.astype(dtype)
        for crop in crops_rgb:
            blob = (crop.astype(np.float32) / 255.0).transpose(2, 0, 1)[None].astype(dtype)
            pred = self.session.run([self.output_name], {self.target_name: blob, self.source_name: lat})[0]
            outs.append(np.clip(pred[0].astype(np.float32).transpose(1, 2, 0) * 255.0, 0.0, 255.0))
        return np.stack(outs)

    def swap(self, image_rgb: np.ndarray, kps: np.ndarray, latent: np.ndarray, boost: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Swap one face in aligned space: (swapped crop float32 (128*boost)^2 x 3, matrix M).

        The crop is taken once at boost*128 and swapped by polyphase subsampling (swap/boost.py).
        """
        from .boost import swap_crop

        size = CROP * boost
        m = geometry.align_matrix(kps, size)
        return swap_crop(self, geometry.warp_to_aligned(image_rgb, m, size), latent, boost), m
