"""The one swapper wrapper: any swapper file, run by its kind's row (registry.SwapperKind).

insightface's INSwapper prints to stdout when built and pastes back with full-frame warps;
here only the identity latent and the aligned forward pass are needed, and everything that
differs between models (crop side, template, pixel scaling, source encoding, tensor names)
comes from the row, so no class per model exists and no size is written here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

from .. import geometry
from ..analysis.face import normalize
from ..errors import OptionsError
from ..models.registry import CONVERTER, EMAP, EMBEDDING, TYPICAL_RAW_NORM, PixelNorm, SwapperKind
from .boost import swap_crop

Converter = Callable[[np.ndarray], np.ndarray]  # [1, 512] float32 -> [1, 512]


def read_emap(path: Path, optional: bool = False) -> np.ndarray | None:
    """The 512x512 emap, the graph's last initializer (read once per file); with `optional`
    (ReSwapper exports may have none) None instead of an error."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    if optional:
        last = model.graph.initializer[-1] if model.graph.initializer else None
        if last is None or tuple(last.dims) != (512, 512):
            return None
    if not model.graph.initializer:
        raise ValueError("the swapper model has no initializers (no emap)")
    emap = numpy_helper.to_array(model.graph.initializer[-1]).astype(np.float32)
    if emap.shape != (512, 512):
        raise ValueError(f"the swapper's last initializer should be the 512x512 emap, found {emap.shape}")
    return emap


def load(path: Path, kind: SwapperKind, providers: list[str], sess_options: Any, converter: Converter | None = None) -> "Swapper":
    """Build the session and everything the kind's source encoding needs from the file."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), sess_options=sess_options, providers=providers)
    emap = read_emap(path, optional=kind.source.emap_optional) if kind.source.method == EMAP else None
    inputs = session.get_inputs()
    side = inputs[0].shape[2] if inputs and len(inputs[0].shape) == 4 else None
    if isinstance(side, int) and side != kind.size:
        raise OptionsError(f"{path.name} works at {side} px but swapper type {kind.name} is {kind.size} px")
    return Swapper(session, kind, emap=emap, converter=converter)


def _encode(norm: PixelNorm, x01: np.ndarray) -> np.ndarray:
    if norm.is_unit:
        return x01
    return (x01 - np.asarray(norm.mean, np.float32)) / np.asarray(norm.std, np.float32)


def _decode(norm: PixelNorm, y: np.ndarray) -> np.ndarray:
    if norm.is_unit:
        return y
    return y * np.asarray(norm.std, np.float32) + np.asarray(norm.mean, np.float32)


def _io_names(session: Any, kind: SwapperKind) -> tuple[Any, str, str]:
    """(target input, source input name, output name): the row's names, else by position
    (re-exports rename tensors; the signature check already fixed the order)."""
    inputs = session.get_inputs()
    by_name = {i.name: i for i in inputs}
    if kind.target_input in by_name and kind.source_input in by_name:
        target, source = by_name[kind.target_input], kind.source_input
    else:
        target, source = inputs[0], inputs[1].name
    outputs = [o.name for o in session.get_outputs()]
    return target, source, kind.output if kind.output in outputs else outputs[0]


class Swapper:
    """`latent(embedding)` once per identity, then `run(crops, latent)` per aligned crop."""

    def __init__(self, session: Any, kind: SwapperKind, emap: np.ndarray | None = None, converter: Converter | None = None) -> None:
        self.session = session
        self.kind = kind
        self.emap = emap
        self.converter = converter
        target, self.source_name, self.output_name = _io_names(session, kind)
        self.target_name = target.name
        self.fp16 = "float16" in str(target.type)

    @property
    def size(self) -> int:
        """The model's own crop side (the boost multiplies it)."""
        return self.kind.size

    def crop_size(self, boost: int = 1) -> int:
        return self.kind.crop_size(boost)

    def matrix(self, kps: np.ndarray, boost: int = 1) -> np.ndarray:
        """Image -> this kind's aligned crop at `size * boost` px."""
        return geometry.template_matrix(kps, self.kind.template, self.crop_size(boost))

    def latent(self, embedding: np.ndarray, raw_norm: float | None = None) -> np.ndarray:
        """The `source` tensor [1, 512] for an identity, as the kind's encoding says.

        `embedding` is the normalised identity; kinds fed the raw scale get it times
        `raw_norm` (the mean raw embedding's norm; a typical value when it is unknown)."""
        enc = self.kind.source
        vec = normalize(embedding).reshape(1, -1)
        if enc.raw:
            vec = vec * np.float32(raw_norm if raw_norm else TYPICAL_RAW_NORM)
        if enc.method == EMAP:
            if self.emap is not None:
                vec = vec @ self.emap
            elif not enc.emap_optional:
                raise RuntimeError(f"{self.kind.name}: the swapper was built without its emap")
        elif enc.method == CONVERTER:
            if self.converter is None:
                raise RuntimeError(f"{self.kind.name}: the swapper was built without its converter {enc.converter}")
            vec = np.asarray(self.converter(vec.astype(np.float32)), np.float32).reshape(1, -1)
        elif enc.method != EMBEDDING:
            raise ValueError(f"{self.kind.name}: unknown source encoding {enc.method!r}")
        return normalize(vec).reshape(1, -1) if enc.normalise else vec.astype(np.float32)

    def run(self, crops_rgb: np.ndarray, latent: np.ndarray) -> np.ndarray:
        """crops: N x S x S x 3 uint8/float RGB (0..255) -> N x S x S x 3 float32 (0..255)."""
        dtype = np.float16 if self.fp16 else np.float32
        kind = self.kind
        outs = []
        lat = latent.astype(dtype)
        for crop in crops_rgb:
            x = _encode(kind.target_norm, crop.astype(np.float32) / 255.0)
            blob = x.transpose(2, 0, 1)[None].astype(dtype)
            pred = self.session.run([self.output_name], {self.target_name: blob, self.source_name: lat})[0]
            y = _decode(kind.output_norm, pred[0].astype(np.float32).transpose(1, 2, 0))
            outs.append(np.clip(y * 255.0, 0.0, 255.0))
        return np.stack(outs)

    def swap(self, image_rgb: np.ndarray, kps: np.ndarray, latent: np.ndarray, boost: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Swap one face in aligned space: (swapped crop float32 (S*boost)^2 x 3, matrix M).

        The crop is taken once at S*boost and swapped by polyphase subsampling (swap/boost.py)."""
        size = self.crop_size(boost)
        m = self.matrix(kps, boost)
        return swap_crop(self, geometry.warp_to_aligned(image_rgb, m, size), latent, boost), m
