"""Check that an ONNX file has the inputs/outputs its kind needs, without running it.

Why: a known file name with another hash may still be a perfectly good re-export (a
"custom" model that is used with a warning), while a truncated download, an HTML error page
saved as .onnx or the wrong model in the wrong slot must be refused with a reason a person
can act on, before ONNX Runtime fails later with an obscure error. Only the graph's declared
inputs/outputs are read (no session, no external data); dynamic dimensions (named or 0) are
accepted wherever the real files have them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from .registry import (
    CONVERTER_FILE,
    DETECTOR,
    OCCLUDER,
    EXPECTED_SIGNATURES,
    GENDERAGE,
    LANDMARK,
    PARSER,
    RECOGNITION,
    RESTORER,
    SWAPPER,
    SWAPPER_SIZES,
)

# ONNX TensorProto element types used here (values fixed by the ONNX spec).
FLOAT = 1
FLOAT16 = 10
DOUBLE = 11

RESTORER_SIZES = (256, 512, 1024, 2048)

Dim = int | None  # None: dynamic (a named dim, 0 or absent)


@dataclass(frozen=True)
class TensorInfo:
    name: str
    elem_type: int
    shape: tuple[Dim, ...] | None  # None: rank unknown

    def describe(self) -> str:
        if self.shape is None:
            return f"{self.name} [?]"
        return f"{self.name} [{','.join('?' if d is None else str(d) for d in self.shape)}]"


def read_io(path: str | os.PathLike[str]) -> tuple[list[TensorInfo], list[TensorInfo]]:
    """The graph's real inputs (initializers listed as inputs by old exporters are dropped)
    and outputs. Raises ValueError with a reason when the file is not a readable ONNX model."""
    import onnx  # lazy: importing faceswaplab must not import onnx

    try:
        model = onnx.load(os.fspath(path), load_external_data=False)
    except Exception as e:  # DecodeError, ValueError, OSError...: all mean "not readable"
        raise ValueError(f"not a readable ONNX model ({type(e).__name__}: {_short(e)})") from None
    graph = model.graph
    if not model.ir_version or graph is None or not graph.node:
        raise ValueError("not a readable ONNX model (no graph in the file)")
    init_names = {t.name for t in graph.initializer}
    inputs = [_tensor_info(v) for v in graph.input if v.name not in init_names]
    outputs = [_tensor_info(v) for v in graph.output]
    return inputs, outputs


def check_signature(path: str | os.PathLike[str], kind: str) -> str | None:
    """None if the file's inputs/outputs fit `kind`, else a human reason (unreadable file,
    wrong number of inputs, wrong shape...)."""
    checker = _CHECKERS.get(kind)
    if checker is None:
        raise ValueError(f"unknown model kind {kind!r}; known: {', '.join(sorted(_CHECKERS))}")
    if not Path(path).is_file():
        return "not a file"
    try:
        inputs, outputs = read_io(path)
    except ValueError as e:
        return str(e)
    problem = checker(inputs, outputs)
    if problem is None:
        return None
    return f"wrong inputs/outputs for a {kind}: {problem} (expected {EXPECTED_SIGNATURES[kind]})"


# --- per-kind rules ------------------------------------------------------------------------


def _check_swapper(inputs: list[TensorInfo], outputs: list[TensorInfo]) -> str | None:
    # The crop side must be one a swapper kind declares (registry.SWAPPER_KINDS): a file of
    # another size would pass here and then fail inside ONNX Runtime.
    if len(inputs) != 2:
        return f"{len(inputs)} input(s) {_list(inputs)}"
    size = next((s for s in SWAPPER_SIZES if _fits(inputs[0].shape, (1, 3, s, s), fixed=(2, 3))), None)
    if size is None:
        return f"first input is {inputs[0].describe()}"
    if not _fits(inputs[1].shape, (1, 512)):
        return f"second input is {inputs[1].describe()}"
    if len(outputs) != 1:
        return f"{len(outputs)} output(s) {_list(outputs)}"
    if not _fits(outputs[0].shape, (1, 3, size, size)):
        return f"output is {outputs[0].describe()}"
    return None


def swapper_size(path: str | os.PathLike[str]) -> int | None:
    """The crop side S a swapper file works at (its target input [1,3,S,S]), None when the
    file does not declare one of the known sizes."""
    inputs, _ = read_io(path)
    if not inputs:
        return None
    return next((s for s in SWAPPER_SIZES if _fits(inputs[0].shape, (1, 3, s, s), fixed=(2, 3))), None)


def _check_converter(inputs: list[TensorInfo], outputs: list[TensorInfo]) -> str | None:
    if len(inputs) != 1 or not _fits(inputs[0].shape, (1, 512)):
        return f"input(s) {_list(inputs)}"
    if len(outputs) != 1 or not _fits(outputs[0].shape, (1, 512)):
        return f"output(s) {_list(outputs)}"
    return None


def _check_occluder(inputs: list[TensorInfo], outputs: list[TensorInfo]) -> str | None:
    if len(inputs) != 1 or not _fits(inputs[0].shape, (1, 256, 256, 3)):
        return f"input(s) {_list(inputs)}"
    if len(outputs) != 1 or not (_fits(outputs[0].shape, (1, 256, 256, 1)) or _fits(outputs[0].shape, (1, 1, 256, 256))):
        return f"output(s) {_list(outputs)}"
    return None


def _check_detector(inputs: list[TensorInfo], outputs: list[TensorInfo]) -> str | None:
    if len(inputs) != 1:
        return f"{len(inputs)} input(s) {_list(inputs)}"
    if not _fits(inputs[0].shape, (None, 3, None, None)):
        return f"input is {inputs[0].describe()}"
    if len(outputs) < 5:
        return f"only {len(outputs)} output(s) {_list(outputs)}"
    return None


def _image_to_vector(size: int, width: int) -> Callable[[list[TensorInfo], list[TensorInfo]], str | None]:
    def check(inputs: list[TensorInfo], outputs: list[TensorInfo]) -> str | None:
        if len(inputs) != 1:
            return f"{len(inputs)} input(s) {_list(inputs)}"
        if not _fits(inputs[0].shape, (None, 3, size, size), fixed=(2, 3)):
            return f"input is {inputs[0].describe()}"
        if len(outputs) != 1:
            return f"{len(outputs)} output(s) {_list(outputs)}"
        if not _fits(outputs[0].shape, (None, width)):
            return f"output is {outputs[0].describe()}"
        return None

    return check


def _check_landmark(inputs: list[TensorInfo], outputs: list[TensorInfo]) -> str | None:
    if len(inputs) != 1:
        return f"{len(inputs)} input(s) {_list(inputs)}"
    if not _fits(inputs[0].shape, (None, 3, 192, 192), fixed=(2, 3)):
        return f"input is {inputs[0].describe()}"
    if not outputs:
        return "no outputs"
    return None


def _check_restorer(inputs: list[TensorInfo], outputs: list[TensorInfo]) -> str | None:
    images = [t for t in inputs if t.shape is not None and len(t.shape) == 4]
    others = [t for t in inputs if t not in images]
    if len(images) != 1:
        return f"needs one image input, has {_list(inputs)}"
    image = images[0]
    if not _fits(image.shape, (1, 3, None, None)):
        return f"image input is {image.describe()}"
    h, w = image.shape[2], image.shape[3]  # type: ignore[index]
    if h is not None and w is not None and (h != w or h not in RESTORER_SIZES):
        return f"image input is {image.describe()} (size must be one of {', '.join(map(str, RESTORER_SIZES))})"
    if image.elem_type not in (FLOAT, FLOAT16):
        return f"image input {image.name} is not float"
    for extra in others:
        if extra.name != "weight":
            return f"unexpected input {extra.describe()}"
        if extra.elem_type != DOUBLE or not (extra.shape is None or _fits(extra.shape, (1,)) or extra.shape == ()):
            return f"input 'weight' must be a double [1], is {extra.describe()}"
    if not outputs:
        return "no outputs"
    if not _fits(outputs[0].shape, (1, 3, h, w)):
        return f"output is {outputs[0].describe()}, the image input is {image.describe()}"
    return None


def _check_parser(inputs: list[TensorInfo], outputs: list[TensorInfo]) -> str | None:
    if len(inputs) != 1:
        return f"{len(inputs)} input(s) {_list(inputs)}"
    if not _fits(inputs[0].shape, (1, 3, 512, 512)):
        return f"input is {inputs[0].describe()}"
    if not outputs:
        return "no outputs"
    if not _fits(outputs[0].shape, (1, 19, 512, 512)):
        return f"first output is {outputs[0].describe()}"
    return None


_CHECKERS: dict[str, Callable[[list[TensorInfo], list[TensorInfo]], str | None]] = {
    SWAPPER: _check_swapper,
    CONVERTER_FILE: _check_converter,
    OCCLUDER: _check_occluder,
    DETECTOR: _check_detector,
    RECOGNITION: _image_to_vector(112, 512),
    GENDERAGE: _image_to_vector(96, 3),
    LANDMARK: _check_landmark,
    RESTORER: _check_restorer,
    PARSER: _check_parser,
}


# --- helpers -------------------------------------------------------------------------------


def _tensor_info(value_info) -> TensorInfo:  # onnx.ValueInfoProto
    t = value_info.type
    if not t.HasField("tensor_type"):
        return TensorInfo(value_info.name, 0, None)
    tt = t.tensor_type
    if not tt.HasField("shape"):
        return TensorInfo(value_info.name, tt.elem_type, None)
    dims: list[Dim] = []
    for d in tt.shape.dim:
        dims.append(d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None)
    return TensorInfo(value_info.name, tt.elem_type, tuple(dims))


def _fits(actual: tuple[Dim, ...] | None, expected: Sequence[Dim], fixed: Sequence[int] = ()) -> bool:
    """Same rank, and every dim equal where both sides are fixed (None on either side matches).
    Positions in `fixed` must be concrete: insightface tells its models apart by those sizes
    (112 recognition, 96 attributes, 192 landmarks, 128 swapper), so a dynamic one there would
    be mis-routed. An unknown rank is accepted: some exporters omit shapes."""
    if actual is None:
        return not fixed
    if len(actual) != len(expected):
        return False
    if any(actual[i] is None for i in fixed):
        return False
    return all(a is None or e is None or a == e for a, e in zip(actual, expected))


def _list(tensors: list[TensorInfo]) -> str:
    return "(" + ", ".join(t.describe() for t in tensors) + ")" if tensors else "(none)"


def _short(e: BaseException, limit: int = 160) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return text[:limit]
