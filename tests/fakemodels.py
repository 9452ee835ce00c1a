"""Tiny stand-in ONNX models with the real files' signatures (test helper).

The real insightface / inswapper / restorer / parser weights cannot be shipped or
downloaded, so the tests build small, deterministic ONNX graphs (``onnx.helper``,
opset 17, IR version 8) whose inputs and outputs match the real files exactly.
insightface's own model classes (``SCRFD``, ``ArcFaceONNX``, ``Attribute``,
``Landmark``, ``INSwapper``) load and run them unchanged. Every weight comes from a
fixed numpy seed, so a file is byte-for-byte reproducible.

The synthetic world
-------------------
A *face* is a BRIGHT axis-aligned square (every pixel has all three channels
>= 150, usually textured and tinted) on a DARK background (all channels <= 60).
:func:`make_face_image` draws such images.

* texture = an 8x8 grid of luminance offsets (+-30, one value per cell, drawn from
  the face's texture seed) plus +-4 per-pixel noise; the texture is the
  *identity* (the recognizer embeds it);
* tint = the mean colour of the square; ``mean red > mean blue`` is *female*
  (gender 0), otherwise *male* (gender 1), see :data:`FEMALE` / :data:`MALE`.

Detector (``det_10g.onnx``, SCRFD signature)
--------------------------------------------
Input ``input.1`` [1,3,?,?] = (pixel-127.5)/128, RGB. Scheme, all inside the graph:

1. ``mask = min over channels > (105-127.5)/128`` (a pixel is "face" when all its
   channels are above 105, halfway between the dark <= 60 and bright >= 150 bands).
2. For every stride-8 anchor centre (x*8, y*8) four one-sided ``MaxPool`` scans
   (kernel 1x1024 / 1024x1, strided 8) over coordinate-coded non-face maps find the
   nearest non-face pixel to the left, right, top and bottom: this gives the exact
   extent ``[x1, x2) x [y1, y2)`` of the bright run through the anchor (the image
   border counts as non-face). Strides 16 and 32 reuse every 2nd / 4th anchor.
3. ``score = inside * square * size_ok * (0.3 + 0.65 * centred)`` where
   ``inside`` = the anchor pixel is bright, ``square`` = 1 when
   ``|w-h| / (w+h) <= 0.025`` falling to 0 at 0.075 (aspect ~1.16),
   ``size_ok`` = 1 for 16 <= side <= 600 px (0 below 10 px and at >= 640 px),
   ``centred`` = 1 at the square's centre and 0 at its edge. The anchor nearest the
   centre of a square scores >= 0.64 for side >= 16 and >= 0.8 for side >= 40
   (0.95 max, measured 0.70..0.95 for sides 20..300); non-bright pixels,
   runs shorter than 10 px and clearly non-square bright regions score 0.
4. bbox = (cx-x1, cy-y1, x2-cx, y2-cy) / stride; the 5 keypoints are the ArcFace
   112 template scaled into the box: ``kp = (x1 + t_x/112*w, y1 + t_y/112*h)``.

Every anchor inside a square predicts the same box, so insightface's NMS keeps one
detection per square; two squares separated by any dark gap are two detections.
Reliable: squares of side 16..600 px *in the detector's input space* (after
SCRFD's letterbox resize), any position, any det size (the kernel limits sides to
< 1024 px). The box is pixel-exact (``[x1, y1, x1+side, y1+side]``, the square
covering pixels x1..x1+side-1) when no resize is involved, and within ~1/det_scale
px otherwise (letterbox interpolation; measured <= 0.5 px at 960x540 -> 640 and
<= 1 px at scale 0.5). Anything bright and roughly square (a disc, a bright patch
of 16..600 px) also counts as a face, and on real photos (insightface's t1.jpg) it
reports meaningless boxes: use mtcnn for real-photo tests.

Recognizer (``w600k_r50.onnx``)
-------------------------------
``[N,3,112,112]`` ((x-127.5)/127.5, RGB) -> ``AveragePool 14`` -> ``v`` [N,3,8,8];
``m`` = per-channel mean of ``v``; ``f = [flatten(v - m), 1.5*m]`` (195 values);
``embedding = f @ W_rec`` (195x512 Gaussian, seed 1001). The 8x8 texture cells of
a face land exactly on the 14 px pooling cells of the aligned crop, so the same
face at any size/position gives (almost) the same embedding; different textures
give cosine ~0.3 or lower.

Swapper (``inswapper_128.onnx``)
--------------------------------
``emap`` (the last initializer) is a random *orthogonal* 512x512 matrix, so the
latent insightface feeds in (``normalize(normed_embedding @ emap)``) can be
inverted: ``d = latent @ emap.T @ pinv(W_rec)`` recovers the source face's pooled
8x8 texture and tint (up to scale; the tint is rescaled to rms 0.5 in
(x-127.5)/127.5 units). ``mode="mix"`` renders that 8x8 source appearance over the
face region of the 128 crop (the 112x112 block at rows 0..112, cols 8..120, inset by
2 px: where the aligned square lands) as::

    render = tint + 1.5 * texture        (the 8x8 cells upsampled x14, 0..1 units)
    out = clip(0.2 * target + 0.8 * render, 0.45, 1)   inside the block
    out = target                                       outside

So the swapped face stays a bright square (still detected, all channels >= 115),
takes the source's texture (measured: re-detected result vs source cosine
0.91..0.97, vs target <= 0.63) and tint (gender follows the source); two sources
with the same tint differ by >= 50/255 somewhere in the crop, sources of opposite
tint (FEMALE vs MALE) by ~35/255 in mean colour. ``mode="identity"``
returns ``target`` exactly (``target + 0 * sum(source)``).

Other models
------------
* ``genderage.onnx`` [N,3,96,96] -> [N,3]: ``out = [10*(R-B), 10*(B-R),
  0.2 + 0.4*sigmoid(2*mean)]`` of the channel means of the normalised crop, so
  gender = 0 (female) iff mean red > mean blue, age = 20..60.
* ``2d106det.onnx`` / ``1k3d68.onnx`` [N,3,192,192] -> [N,212] / [N,3309]: fixed
  point sets (the 68 3D points are insightface's mean shape scaled into the box)
  plus a tiny pixel-dependent wobble.
* restorers ([1,3,S,S] in [-1,1]): ``filter`` = ``clip(0.9*blur3x3(x) + 0.1, -1, 1)``;
  CodeFormer's ``weight`` (double [1]) is a fidelity weight:
  ``out = f(x) + w*(x - f(x))`` (w=0 full filter, w=1 identity). ``identity``
  returns the input exactly.
* parser (BiSeNet signature): logit_c = -|rgb - PARSER_PALETTE[c]|/10 (RGB 0..255
  after undoing the ImageNet normalisation), -1000 for classes without a colour.
  Every colour with all channels <= 60 is nearest to class 0 and every colour with
  all channels >= 150 is nearest to class 1 (skin), so synthetic faces parse as
  skin on background.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

__all__ = [
    "ARCFACE_TEMPLATE",
    "DET_MASK_LEVEL",
    "DET_MAX_SIDE",
    "DET_MIN_SIDE",
    "FEMALE",
    "MALE",
    "OPSET",
    "PARSER_CLASSES",
    "PARSER_PALETTE",
    "face_boxes",
    "face_kps",
    "face_texture",
    "make_face_image",
    "recognizer_weights",
    "swapper_emap",
    "write_all",
    "write_detector",
    "write_genderage",
    "write_landmarks",
    "write_parser",
    "write_recognizer",
    "write_restorer",
    "write_swapper",
]

OPSET = 17
IR_VERSION = 8

ARCFACE_TEMPLATE = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float32,
)

#: pixel level (0..255) separating "face" from "background" in the detector.
DET_MASK_LEVEL = 105.0
#: reliable square sides (px, detector input space).
DET_MIN_SIDE = 16
DET_MAX_SIDE = 600
_DET_KERNEL = 1024

#: default tints (RGB) for make_face_image: red > blue is female for genderage.
FEMALE = (220, 190, 185)
MALE = (185, 190, 220)

PARSER_CLASSES = {
    0: "background",
    1: "skin",
    2: "l_brow",
    3: "r_brow",
    4: "l_eye",
    5: "r_eye",
    6: "eye_g",
    7: "l_ear",
    8: "r_ear",
    9: "ear_r",
    10: "nose",
    11: "mouth",
    12: "u_lip",
    13: "l_lip",
    14: "neck",
    15: "neck_l",
    16: "cloth",
    17: "hair",
    18: "hat",
}

#: class id -> RGB colour the fake parser maps to that class. Non-bg/skin colours are
#: saturated (one channel 0, one 255), at least 128 apart from each other.
PARSER_PALETTE: dict[int, tuple[int, int, int]] = {
    0: (0, 0, 0),
    1: (200, 200, 200),
    2: (255, 128, 0),
    3: (255, 255, 0),
    4: (0, 255, 255),
    5: (0, 128, 255),
    7: (128, 255, 0),
    8: (0, 255, 0),
    10: (0, 0, 255),
    11: (255, 0, 0),
    12: (255, 0, 128),
    13: (255, 0, 255),
    14: (0, 255, 128),
    17: (128, 0, 255),
}

_REC_SEED = 1001
_REC_MEAN_WEIGHT = 1.5
_SWAP_EMAP_SEED = 2002
_SWAP_TARGET_WEIGHT = 0.2
_SWAP_FLOOR = 0.45
_SWAP_TINT_RMS = 0.5
_SWAP_TEXTURE_GAIN = 1.5


# --------------------------------------------------------------------------- graph helper


class _Graph:
    """Minimal onnx.helper wrapper: auto-named nodes, initializers, outputs."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.inputs: list[onnx.ValueInfoProto] = []
        self.outputs: list[onnx.ValueInfoProto] = []
        self._n = 0

    def _name(self, hint: str) -> str:
        self._n += 1
        return f"{self.prefix}_{hint.lower()}_{self._n}"

    def const(self, value, dtype=np.float32, name: str | None = None) -> str:
        arr = np.asarray(value, dtype=dtype)
        name = name or self._name("c")
        self.inits.append(numpy_helper.from_array(arr, name))
        return name

    def i64(self, value) -> str:
        return self.const(value, np.int64)

    def op(self, op_type: str, inputs: Sequence[str], out: str | None = None, **attrs) -> str:
        out = out or self._name(op_type)
        self.nodes.append(
            helper.make_node(op_type, list(inputs), [out], name=self._name(op_type), **attrs)
        )
        return out

    def add_input(self, name: str, shape, elem=TensorProto.FLOAT) -> str:
        self.inputs.append(helper.make_tensor_value_info(name, elem, list(shape)))
        return name

    def add_output(self, src: str, name: str, shape, elem=TensorProto.FLOAT) -> None:
        if src != name:
            self.op("Identity", [src], out=name)
        self.outputs.append(helper.make_tensor_value_info(name, elem, list(shape)))

    def save(self, path, graph_name: str, last_init: onnx.TensorProto | None = None) -> Path:
        inits = list(self.inits)
        if last_init is not None:
            inits.append(last_init)
        graph = helper.make_graph(self.nodes, graph_name, self.inputs, self.outputs, inits)
        model = helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", OPSET)],
            producer_name="faceswaplab-tests-fakemodels",
        )
        model.ir_version = IR_VERSION
        onnx.checker.check_model(model)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        onnx.save(model, str(path))
        return path

    # small conveniences
    def add(self, a, b):
        return self.op("Add", [a, b])

    def sub(self, a, b):
        return self.op("Sub", [a, b])

    def mul(self, a, b):
        return self.op("Mul", [a, b])

    def div(self, a, b):
        return self.op("Div", [a, b])

    def clip(self, x, lo: float, hi: float):
        return self.op("Clip", [x, self.const(lo), self.const(hi)])

    def scale(self, x, k: float, b: float = 0.0):
        y = self.mul(x, self.const(k))
        return self.add(y, self.const(b)) if b else y


# --------------------------------------------------------------------------- detector


def _det_branch_outputs(g: _Graph, x1, x2, y1, y2, inside, stride: int):
    """Per-stride score / bbox / kps maps ([1,C,h,w]) from the run extents."""
    ones = g.add(g.scale(inside, 0.0), g.const(1.0))
    col = g.sub(g.op("CumSum", [ones, g.i64(3)]), g.const(1.0))
    row = g.sub(g.op("CumSum", [ones, g.i64(2)]), g.const(1.0))
    cx = g.scale(col, float(stride))
    cy = g.scale(row, float(stride))
    left = g.sub(cx, x1)
    right = g.sub(x2, cx)
    top = g.sub(cy, y1)
    bottom = g.sub(y2, cy)
    w = g.add(left, right)
    h = g.add(top, bottom)
    # squareness: 1 for |w-h|/(w+h) <= 0.025, 0 from 0.075
    d = g.div(g.op("Abs", [g.sub(w, h)]), g.add(g.add(w, h), g.const(1.0)))
    square = g.clip(g.scale(d, -20.0, 1.5), 0.0, 1.0)
    size = g.scale(g.add(w, h), 0.5)
    small_ok = g.clip(g.scale(size, 1.0 / 6.0, -10.0 / 6.0), 0.0, 1.0)
    big_ok = g.clip(g.scale(size, -1.0 / 40.0, 640.0 / 40.0), 0.0, 1.0)
    off_x = g.div(g.op("Abs", [g.sub(left, right)]), g.add(w, g.const(1.0)))
    off_y = g.div(g.op("Abs", [g.sub(top, bottom)]), g.add(h, g.const(1.0)))
    centred = g.clip(g.sub(g.const(1.0), g.op("Max", [off_x, off_y])), 0.0, 1.0)
    score = g.mul(g.mul(g.mul(inside, square), g.mul(small_ok, big_ok)), g.scale(centred, 0.65, 0.3))
    dist = g.op("Concat", [left, top, right, bottom], axis=1)  # [1,4,h,w]
    bbox = g.scale(dist, 1.0 / stride)
    # kps_x_i = -left + a_i*(left+right) ; kps_y_i = -top + b_i*(top+bottom)
    wk = np.zeros((10, 4, 1, 1), np.float32)
    for i, (tx, ty) in enumerate(ARCFACE_TEMPLATE / 112.0):
        wk[2 * i, 0] = tx - 1.0
        wk[2 * i, 2] = tx
        wk[2 * i + 1, 1] = ty - 1.0
        wk[2 * i + 1, 3] = ty
    kps = g.op("Conv", [dist, g.const(wk / stride)], kernel_shape=[1, 1])
    return score, bbox, kps


def _det_flatten(g: _Graph, t: str, channels: int) -> str:
    """[1,C,h,w] -> [h*w*2, C] with each location repeated for the 2 anchors."""
    t = g.op("Transpose", [t], perm=[0, 2, 3, 1])
    t = g.op("Reshape", [t, g.i64([-1, 1, channels])])
    t = g.op("Concat", [t, t], axis=1)
    return g.op("Reshape", [t, g.i64([-1, channels])])


def write_detector(path) -> Path:
    """Write an SCRFD-shaped ``det_10g.onnx`` that finds bright squares (see module doc)."""
    g = _Graph("det")
    K = _DET_KERNEL
    x = g.add_input("input.1", [1, 3, "?", "?"])
    mn = g.op("ReduceMin", [x], axes=[1], keepdims=1)
    level = (DET_MASK_LEVEL - 127.5) / 128.0
    mask = g.clip(g.scale(g.sub(mn, g.const(level)), 1e4), 0.0, 1.0)  # 1 = face
    nonface = g.sub(g.const(1.0), mask)
    ones = g.add(g.scale(mask, 0.0), g.const(1.0))
    col = g.sub(g.op("CumSum", [ones, g.i64(3)]), g.const(1.0))
    row = g.sub(g.op("CumSum", [ones, g.i64(2)]), g.const(1.0))
    big = 8192.0
    s = 8
    # left: x1 = (last non-face col <= cx) + 1 (0 if none)
    zl = g.mul(nonface, g.add(col, g.const(1.0)))
    x1 = g.op("MaxPool", [zl], kernel_shape=[1, K], strides=[s, s], pads=[0, K - 1, 0, 0])
    # top
    zt = g.mul(nonface, g.add(row, g.const(1.0)))
    y1 = g.op("MaxPool", [zt], kernel_shape=[K, 1], strides=[s, s], pads=[K - 1, 0, 0, 0])
    # right: x2 = first non-face col >= cx (the column just past the image counts)
    pad_r = g.i64([0, 0, 0, 0, 0, 0, 0, 1])
    pad_b = g.i64([0, 0, 0, 0, 0, 0, 1, 0])
    nf_r = g.op("Pad", [nonface, pad_r, g.const(1.0)])
    col_r = g.sub(g.op("CumSum", [g.op("Pad", [ones, pad_r, g.const(1.0)]), g.i64(3)]), g.const(1.0))
    zr = g.mul(nf_r, g.sub(g.const(big), col_r))
    x2 = g.sub(
        g.const(big),
        g.op("MaxPool", [zr], kernel_shape=[1, K], strides=[s, s], pads=[0, 0, 0, K - 2]),
    )
    nf_b = g.op("Pad", [nonface, pad_b, g.const(1.0)])
    row_b = g.sub(g.op("CumSum", [g.op("Pad", [ones, pad_b, g.const(1.0)]), g.i64(2)]), g.const(1.0))
    zb = g.mul(nf_b, g.sub(g.const(big), row_b))
    y2 = g.sub(
        g.const(big),
        g.op("MaxPool", [zb], kernel_shape=[K, 1], strides=[s, s], pads=[0, 0, K - 2, 0]),
    )
    inside8 = g.op("MaxPool", [mask], kernel_shape=[1, 1], strides=[s, s])
    scores, bboxes, kpss = [], [], []
    for stride in (8, 16, 32):
        step = stride // 8
        if step == 1:
            parts = [x1, x2, y1, y2, inside8]
        else:
            parts = [
                g.op("Slice", [p, g.i64([0, 0]), g.i64([1 << 30, 1 << 30]), g.i64([2, 3]), g.i64([step, step])])
                for p in (x1, x2, y1, y2, inside8)
            ]
        sc, bb, kp = _det_branch_outputs(g, *parts, stride=stride)
        scores.append(_det_flatten(g, sc, 1))
        bboxes.append(_det_flatten(g, bb, 4))
        kpss.append(_det_flatten(g, kp, 10))
    for stride, t in zip((8, 16, 32), scores):
        g.add_output(t, f"score_{stride}", [f"n{stride}", 1])
    for stride, t in zip((8, 16, 32), bboxes):
        g.add_output(t, f"bbox_{stride}", [f"n{stride}", 4])
    for stride, t in zip((8, 16, 32), kpss):
        g.add_output(t, f"kps_{stride}", [f"n{stride}", 10])
    return g.save(path, "fake_scrfd_det_10g")


# --------------------------------------------------------------------------- recognizer


def recognizer_weights() -> np.ndarray:
    """The recognizer's [195, 512] projection (flatten(v - m) 192 values + 1.5*m)."""
    rng = np.random.default_rng(_REC_SEED)
    return (rng.standard_normal((195, 512)) / np.sqrt(195.0)).astype(np.float32)


def write_recognizer(path) -> Path:
    """Write ``w600k_r50.onnx``: [N,3,112,112] -> [N,512] (texture + tint embedding)."""
    g = _Graph("rec")
    x = g.add_input("input.1", ["N", 3, 112, 112])
    v = g.op("AveragePool", [x], kernel_shape=[14, 14], strides=[14, 14])  # [N,3,8,8]
    m = g.op("ReduceMean", [v], axes=[2, 3], keepdims=1)  # [N,3,1,1]
    c = g.op("Flatten", [g.sub(v, m)], axis=1)  # [N,192]
    mf = g.op("Flatten", [g.scale(m, _REC_MEAN_WEIGHT)], axis=1)  # [N,3]
    f = g.op("Concat", [c, mf], axis=1)
    emb = g.op("MatMul", [f, g.const(recognizer_weights())])
    g.add_output(emb, "683", ["N", 512])
    return g.save(path, "fake_arcface_w600k_r50")


# --------------------------------------------------------------------------- genderage


def write_genderage(path) -> Path:
    """Write ``genderage.onnx``: [N,3,96,96] -> [N,3]; female iff mean red > mean blue."""
    g = _Graph("ga")
    x = g.add_input("data", ["N", 3, 96, 96])
    m = g.op("Flatten", [g.op("ReduceMean", [x], axes=[2, 3], keepdims=1)], axis=1)  # [N,3]
    wg = np.array([[10.0, -10.0], [0.0, 0.0], [-10.0, 10.0]], np.float32)
    gender = g.op("MatMul", [m, g.const(wg)])
    wa = np.full((3, 1), 2.0 / 3.0, np.float32)
    age = g.scale(g.op("Sigmoid", [g.op("MatMul", [m, g.const(wa)])]), 0.4, 0.2)
    out = g.op("Concat", [gender, age], axis=1)
    g.add_output(out, "fc1", ["N", 3])
    return g.save(path, "fake_genderage")


# --------------------------------------------------------------------------- landmarks


def _landmark_model(path, n_out: int, base: np.ndarray, seed: int, name: str) -> Path:
    g = _Graph("lmk")
    x = g.add_input("data", ["N", 3, 192, 192])
    v = g.op("Flatten", [g.op("AveragePool", [x], kernel_shape=[48, 48], strides=[48, 48])], axis=1)  # 48
    rng = np.random.default_rng(seed)
    w = (rng.standard_normal((48, n_out)) * 0.002).astype(np.float32)
    out = g.add(g.op("MatMul", [v, g.const(w)]), g.const(base.reshape(1, n_out).astype(np.float32)))
    g.add_output(out, "fc1", ["N", n_out])
    return g.save(path, name)


def write_landmarks(models_dir) -> dict[str, Path]:
    """Write ``2d106det.onnx`` ([N,212]) and ``1k3d68.onnx`` ([N,3309]) into a folder."""
    models_dir = Path(models_dir)
    rng = np.random.default_rng(3003)
    # normalised crop coords: the box spans [-2/3, 2/3] of the 1.5x crop.
    pts106 = rng.uniform(-0.55, 0.55, size=(106, 2)).astype(np.float32)
    p106 = _landmark_model(models_dir / "2d106det.onnx", 212, pts106, 3004, "fake_2d106det")
    from insightface.data import get_object  # the 68-point mean shape insightface ships

    mean68 = np.asarray(get_object("meanshape_68.pkl"), np.float32).copy()
    mean68 *= 0.55 / np.abs(mean68[:, :2]).max()
    pts = np.zeros((1103, 3), np.float32)
    pts[-68:] = mean68
    p68 = _landmark_model(models_dir / "1k3d68.onnx", 3309, pts, 3005, "fake_1k3d68")
    return {"2d106det": p106, "1k3d68": p68}


# --------------------------------------------------------------------------- swapper


def swapper_emap() -> np.ndarray:
    """The swapper's emap: a fixed random orthogonal 512x512 float32 matrix."""
    rng = np.random.default_rng(_SWAP_EMAP_SEED)
    q, r = np.linalg.qr(rng.standard_normal((512, 512)))
    q = q * np.sign(np.diag(r))[None, :]
    return q.astype(np.float32)


def write_swapper(path, mode: str = "mix", size: int = 128) -> Path:
    """Write ``inswapper_128.onnx`` (``mode`` "mix" or "identity", see module doc).

    ``size`` other than 128 (identity mode only) gives the same signature at S x S, the
    stand-in for swapper kinds with another crop side."""
    if mode not in ("mix", "identity"):
        raise ValueError(f"unknown swapper mode {mode!r}")
    if size != 128 and mode != "identity":
        raise ValueError("only the identity swapper comes in sizes other than 128")
    g = _Graph("swap")
    target = g.add_input("target", [1, 3, size, size])
    source = g.add_input("source", [1, 512])
    emap = swapper_emap()
    emap_name = "emap"  # used below, stored as the LAST initializer (insightface reads it)
    e = g.op("MatMul", [source, g.op("Transpose", [emap_name], perm=[1, 0])])  # latent @ emap.T
    if mode == "identity":
        zero = g.scale(g.op("ReduceSum", [e], keepdims=1), 0.0)  # [1,1]
        out = g.add(target, g.op("Reshape", [zero, g.i64([1, 1, 1, 1])]))
    else:
        pinv = np.linalg.pinv(recognizer_weights().astype(np.float64)).astype(np.float32)
        d = g.op("MatMul", [e, g.const(pinv)])  # [1,195] ~ recognizer features of the source
        tex = g.op("Slice", [d, g.i64([0]), g.i64([192]), g.i64([1])])
        tint = g.scale(g.op("Slice", [d, g.i64([192]), g.i64([195]), g.i64([1])]), 1.0 / _REC_MEAN_WEIGHT)
        rms = g.op("Sqrt", [g.op("ReduceMean", [g.mul(tint, tint)], axes=[1], keepdims=1)])
        k = g.div(g.const(_SWAP_TINT_RMS), g.op("Max", [rms, g.const(0.05)]))  # [1,1]
        tex = g.op("Reshape", [g.mul(tex, g.scale(k, _SWAP_TEXTURE_GAIN)), g.i64([1, 3, 8, 8])])
        tint = g.op("Reshape", [g.mul(tint, k), g.i64([1, 3, 1, 1])])
        render = g.add(tex, tint)  # (x-127.5)/127.5 units
        render = g.op(
            "Resize", [render, "", g.const([1, 1, 14, 14])], mode="nearest"
        )  # [1,3,112,112]
        render = g.scale(render, 0.5, 0.5)  # 0..1
        render = g.op("Pad", [render, g.i64([0, 0, 0, 8, 0, 0, 16, 8]), g.const(0.0)])
        mixed = g.add(g.scale(target, _SWAP_TARGET_WEIGHT), g.scale(render, 1.0 - _SWAP_TARGET_WEIGHT))
        mixed = g.clip(mixed, _SWAP_FLOOR, 1.0)
        region = np.zeros((1, 1, 128, 128), np.float32)
        region[..., 2:110, 10:118] = 1.0
        reg = g.const(region)
        keep = g.mul(target, g.sub(g.const(1.0), reg))
        out = g.add(keep, g.mul(mixed, reg))
    g.add_output(out, "output", [1, 3, size, size])
    return g.save(path, f"fake_inswapper_{mode}", last_init=numpy_helper.from_array(emap, emap_name))


# --------------------------------------------------------------------------- restorer


def write_restorer(path, size: int = 512, mode: str = "filter", codeformer: bool = False) -> Path:
    """Write a GFPGAN/CodeFormer/GPEN-shaped restorer ([1,3,size,size] in [-1,1])."""
    if mode not in ("filter", "identity"):
        raise ValueError(f"unknown restorer mode {mode!r}")
    g = _Graph("restore")
    x = g.add_input("input", [1, 3, size, size])
    w = None
    if codeformer:
        wd = g.add_input("weight", [1], TensorProto.DOUBLE)
        w = g.op("Reshape", [g.op("Cast", [wd], to=TensorProto.FLOAT), g.i64([1, 1, 1, 1])])
    if mode == "identity":
        out = x if w is None else g.add(x, g.scale(w, 0.0))
    else:
        k = np.full((3, 1, 3, 3), 1.0 / 9.0, np.float32)
        blur = g.op("Conv", [x, g.const(k)], kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=3)
        f = g.clip(g.scale(blur, 0.9, 0.1), -1.0, 1.0)
        if w is not None:
            f = g.add(f, g.mul(w, g.sub(x, f)))
        out = f
    g.add_output(out, "output", [1, 3, size, size])
    return g.save(path, f"fake_restorer_{mode}{'_codeformer' if codeformer else ''}")


# --------------------------------------------------------------------------- parser


def write_parser(path) -> Path:
    """Write a BiSeNet-shaped parser labelling pixels by nearest PARSER_PALETTE colour."""
    g = _Graph("parse")
    x = g.add_input("input", [1, 3, 512, 512])
    mean = np.array([0.485, 0.456, 0.406], np.float32).reshape(1, 3, 1, 1)
    std = np.array([0.229, 0.224, 0.225], np.float32).reshape(1, 3, 1, 1)
    rgb = g.scale(g.add(g.mul(x, g.const(std)), g.const(mean)), 255.0)  # 0..255
    pal = np.zeros((19, 3), np.float32)
    valid = np.zeros(19, bool)
    for c, colour in PARSER_PALETTE.items():
        pal[c] = colour
        valid[c] = True
    # |p - P|^2 = |p|^2 - 2 p.P + |P|^2
    wconv = (-2.0 * pal).reshape(19, 3, 1, 1)
    bias = (pal**2).sum(1)
    cross = g.op("Conv", [rgb, g.const(wconv), g.const(bias)], kernel_shape=[1, 1])
    sq = g.op("ReduceSum", [g.mul(rgb, rgb), g.i64([1])], keepdims=1)
    d2 = g.op("Relu", [g.add(cross, sq)])
    dist = g.op("Sqrt", [g.add(d2, g.const(1e-6))])
    logits = g.scale(dist, -0.1)
    penalty = np.where(valid, 0.0, -1000.0).astype(np.float32).reshape(1, 19, 1, 1)
    logits = g.add(logits, g.const(penalty))
    g.add_output(logits, "output", [1, 19, 512, 512])
    return g.save(path, "fake_bisenet_parser")


# --------------------------------------------------------------------------- all


def write_all(models_dir) -> dict[str, Path]:
    """Write inswapper_128.onnx (mix) and buffalo_l/{det_10g,w600k_r50,genderage,2d106det,1k3d68}.onnx."""
    models_dir = Path(models_dir)
    buf = models_dir / "buffalo_l"
    out = {
        "inswapper_128": write_swapper(models_dir / "inswapper_128.onnx", mode="mix"),
        "det_10g": write_detector(buf / "det_10g.onnx"),
        "w600k_r50": write_recognizer(buf / "w600k_r50.onnx"),
        "genderage": write_genderage(buf / "genderage.onnx"),
    }
    out.update(write_landmarks(buf))
    return out


# --------------------------------------------------------------------------- images


def _face_spec(item, index: int, seed: int):
    x, y, side = (int(v) for v in item[:3])
    colour = tuple(int(c) for c in item[3]) if len(item) > 3 and item[3] is not None else FEMALE
    tex_seed = int(item[4]) if len(item) > 4 and item[4] is not None else seed * 1000 + index
    return x, y, side, colour, tex_seed


def face_texture(side: int, colour=FEMALE, tex_seed: int = 0) -> np.ndarray:
    """The RGB uint8 [side, side, 3] patch make_face_image draws for one face."""
    rng = np.random.default_rng(tex_seed)
    cells = rng.uniform(-30.0, 30.0, size=(8, 8))
    idx = np.minimum(np.arange(side) * 8 // side, 7)
    lum = cells[idx][:, idx]
    noise = rng.uniform(-4.0, 4.0, size=(side, side, 3))
    patch = np.asarray(colour, np.float64)[None, None, :] + lum[:, :, None] + noise
    return np.clip(np.rint(patch), 150, 255).astype(np.uint8)


def make_face_image(
    size: tuple[int, int] = (640, 640),
    faces: Iterable[Sequence] = ((200, 200, 160, FEMALE),),
    seed: int = 0,
) -> np.ndarray:
    """RGB uint8 image (``size`` = (width, height)) with bright textured squares.

    ``faces`` items are ``(x, y, side)``, ``(x, y, side, (r, g, b))`` or
    ``(x, y, side, (r, g, b), texture_seed)``: the square covers pixels
    ``x..x+side-1`` / ``y..y+side-1``; the tint is the square's mean colour (keep
    channels within ~185..225 so the +-34 texture stays inside 150..255; mean red >
    mean blue = female); the texture (identity) comes from ``texture_seed``
    (default ``seed*1000 + index``), so the same seed draws the same person at any
    size. The background is dark grey noise (values 10..50).
    """
    w, h = int(size[0]), int(size[1])
    rng = np.random.default_rng(seed)
    grey = rng.integers(10, 51, size=(h, w, 1))
    img = (grey + rng.integers(-5, 6, size=(h, w, 3))).clip(0, 60).astype(np.uint8)
    for i, item in enumerate(faces):
        x, y, side, colour, tex_seed = _face_spec(item, i, seed)
        patch = face_texture(side, colour, tex_seed)
        x0, y0 = max(x, 0), max(y, 0)
        x1, y1 = min(x + side, w), min(y + side, h)
        if x1 > x0 and y1 > y0:
            img[y0:y1, x0:x1] = patch[y0 - y : y1 - y, x0 - x : x1 - x]
    return img


def face_boxes(faces: Iterable[Sequence]) -> np.ndarray:
    """[n, 4] float32 boxes ``[x, y, x+side, y+side]`` the fake detector reports."""
    rows = [[it[0], it[1], it[0] + it[2], it[1] + it[2]] for it in faces]
    return np.asarray(rows, np.float32).reshape(-1, 4)


def face_kps(faces: Iterable[Sequence]) -> np.ndarray:
    """[n, 5, 2] float32 keypoints: the ArcFace template scaled into each square."""
    out = [np.array([it[0], it[1]], np.float32) + ARCFACE_TEMPLATE / 112.0 * float(it[2]) for it in faces]
    return np.asarray(out, np.float32).reshape(-1, 5, 2)
