"""Stand-ins for every swapper kind of the registry (and the crossface converters), built
from the kind's row so each has exactly the real file's signature: `target` [1,3,S,S] and
`source` [1,512] in, `output` [1,3,S,S] out.

The graphs are written from the row's facts *independently* of the code that runs them:

* ``mode="identity"``: the output is the input in the model's own pixel space, i.e. it reads
  the target the way the row says the model does ((x - mean_in) / std_in) and writes it back
  the way the row says outputs are read (y = (x01 - mean_out) / std_out). A wrapper that
  normalises wrongly in or out no longer round-trips the face.
* ``mode="mix"``: inside the central face block of the crop, the output is 0.3 x the target
  + 0.7 x a colour computed from the `source` vector (a fixed 512x3 projection through a
  sigmoid), so different identities give visibly different faces and the outside of the
  block stays the target.

Converters (``crossface_*.onnx``, [1,512] -> [1,512]) multiply by a fixed orthogonal
matrix and a known gain, so a test can check they were applied, and with which scale.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from onnx import numpy_helper

from faceswaplab.models.registry import EMAP, SwapperKind
from tests.fakemodels import _Graph, swapper_emap

CONVERTER_GAIN = 0.5
_COLOUR_SEED = 4242
_CONVERTER_SEED = 5151


def colour_projection() -> np.ndarray:
    rng = np.random.default_rng(_COLOUR_SEED)
    return (rng.standard_normal((512, 3)) * 3.0).astype(np.float32)


def converter_matrix() -> np.ndarray:
    rng = np.random.default_rng(_CONVERTER_SEED)
    q, r = np.linalg.qr(rng.standard_normal((512, 512)))
    return (q * np.sign(np.diag(r))[None, :]).astype(np.float32)


def _per_channel(v: tuple[float, float, float]) -> np.ndarray:
    return np.asarray(v, np.float32).reshape(1, 3, 1, 1)


def write_kind_swapper(path, kind: SwapperKind, mode: str = "identity", with_emap: bool | None = None) -> Path:
    """A stand-in for `kind` at its own size. `with_emap` (default: the kind reads an emap)
    stores a 512x512 orthogonal emap as the last initializer, as inswapper files do."""
    if mode not in ("identity", "mix"):
        raise ValueError(f"unknown mode {mode!r}")
    s = kind.size
    g = _Graph("kswap")
    target = g.add_input("target", [1, 3, s, s])
    source = g.add_input("source", [1, 512])
    # the pixels as 0..1, read the way this kind's inputs are scaled
    x01 = g.add(g.mul(target, g.const(_per_channel(kind.target_norm.std))), g.const(_per_channel(kind.target_norm.mean)))
    if mode == "identity":
        zero = g.scale(g.op("ReduceSum", [source], keepdims=1), 0.0)  # [1,1]
        y01 = g.add(x01, g.op("Reshape", [zero, g.i64([1, 1, 1, 1])]))
    else:
        colour = g.op("Sigmoid", [g.op("MatMul", [source, g.const(colour_projection())])])  # [1,3]
        colour = g.op("Reshape", [colour, g.i64([1, 3, 1, 1])])
        mixed = g.add(g.scale(x01, 0.3), g.scale(colour, 0.7))
        region = np.zeros((1, 1, s, s), np.float32)
        a, b = int(s * 0.25), int(s * 0.8)
        region[..., a:b, a:b] = 1.0
        reg = g.const(region)
        y01 = g.add(g.mul(x01, g.sub(g.const(1.0), reg)), g.mul(mixed, reg))
    out = g.div(g.sub(y01, g.const(_per_channel(kind.output_norm.mean))), g.const(_per_channel(kind.output_norm.std)))
    g.add_output(out, "output", [1, 3, s, s])
    emap = kind.source.method == EMAP if with_emap is None else with_emap
    last = numpy_helper.from_array(swapper_emap(), "emap") if emap else None
    return g.save(path, f"fake_{kind.name}_{mode}", last_init=last)


def write_converter(path) -> Path:
    """``crossface_*.onnx``: input [1,512] -> output [1,512] = input @ Q * CONVERTER_GAIN."""
    g = _Graph("conv")
    x = g.add_input("input", [1, 512])
    y = g.scale(g.op("MatMul", [x, g.const(converter_matrix())]), CONVERTER_GAIN)
    g.add_output(y, "output", [1, 512])
    return g.save(path, "fake_crossface")


def write_occluder(path, colour: str = "green") -> Path:
    """An XSeg-signature occluder (input [1,256,256,3] BGR x/255 channels last, output
    [1,256,256,1]): 0 (occluded) where a pixel is saturated green (or red), 1 elsewhere."""
    g = _Graph("xseg")
    x = g.add_input("input", [1, 256, 256, 3])
    chans = {}
    for i, name in enumerate("bgr"):
        chans[name] = g.op("Slice", [x, g.i64([i]), g.i64([i + 1]), g.i64([3])])  # [1,256,256,1]
    main = {"green": "g", "red": "r"}[colour]
    others = [c for c in "bgr" if c != main]
    hit = g.op("Cast", [g.op("Greater", [chans[main], g.const(0.7)])], to=1)
    for c in others:
        hit = g.mul(hit, g.op("Cast", [g.op("Less", [chans[c], g.const(0.3)])], to=1))
    g.add_output(g.sub(g.const(1.0), hit), "output", [1, 256, 256, 1])
    return g.save(path, f"fake_xseg_{colour}")
