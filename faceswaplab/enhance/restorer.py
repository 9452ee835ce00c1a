"""ONNX face restorers: GFPGAN / GPEN / RestoreFormer++ (`input` [1,3,S,S] in [-1,1]) and
CodeFormer (the same plus a double `weight` [1]).

The aligned size S is read from the model file (GPEN ships at 256, 512, 1024 and 2048); a
dynamic size means the usual 512. The session comes from the engine's cache, so building a
restorer per face costs nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

DEFAULT_SIZE = 512


class OnnxRestorer:
    """`restore(face SxS RGB) -> SxS RGB float32 0..255` over one ONNX session."""

    def __init__(self, session: Any, name: str) -> None:
        self.session = session
        self.name = name
        inputs = session.get_inputs()
        images = [i for i in inputs if len(getattr(i, "shape", None) or ()) == 4]
        if len(images) != 1:
            raise ValueError(f"{name}: a restorer needs one image input, found {[i.name for i in inputs]}")
        image = images[0]
        self.input_name = image.name
        self.fp16 = "float16" in str(image.type)
        h, w = image.shape[2], image.shape[3]
        self.size = int(h) if isinstance(h, int) and h > 0 else (int(w) if isinstance(w, int) and w > 0 else DEFAULT_SIZE)
        others = [i for i in inputs if i is not image]
        # CodeFormer is recognised by its fidelity input: `weight`, a double.
        self.weight_name = next((i.name for i in others if i.name == "weight" or "double" in str(i.type)), None)
        self.output_name = session.get_outputs()[0].name

    @property
    def codeformer(self) -> bool:
        return self.weight_name is not None

    def restore(self, face: np.ndarray, weight: float = 0.5) -> np.ndarray:
        s = self.size
        if face.shape[:2] != (s, s):
            raise ValueError(f"{self.name} takes {s}x{s} faces, got {face.shape[1]}x{face.shape[0]}")
        x = face.astype(np.float32) * (2.0 / 255.0) - 1.0
        blob = np.ascontiguousarray(x.transpose(2, 0, 1)[None])
        feed = {self.input_name: blob.astype(np.float16) if self.fp16 else blob}
        if self.weight_name is not None:
            feed[self.weight_name] = np.array([float(weight)], dtype=np.float64)
        out = self.session.run([self.output_name], feed)[0]
        y = np.asarray(out[0], dtype=np.float32).transpose(1, 2, 0)
        return (np.clip(y, -1.0, 1.0) + 1.0) * 127.5
