"""Real-cost stand-ins: ONNX models whose COMPUTE matches the real files (random weights).

    python bench/realcost_models.py OUT_DIR [--check]

writes into OUT_DIR (generated every run, never committed):

    inswapper_128.onnx                 target [1,3,128,128] + source [1,512] -> output [1,3,128,128]
    buffalo_l/det_10g.onnx             input.1 [1,3,?,?] -> 9 outputs (scores/boxes/kps, strides 8/16/32)
    buffalo_l/w600k_r50.onnx           input.1 [N,3,112,112] -> 683 [N,512]
    buffalo_l/genderage.onnx           data [N,3,96,96] -> fc1 [N,3]
    buffalo_l/2d106det.onnx            data [N,3,192,192] -> fc1 [N,212]
    buffalo_l/1k3d68.onnx              data [N,3,192,192] -> fc1 [N,3309]
    swappers/ghost_256.onnx            target [1,3,256,256] + source [1,512] -> output [1,3,256,256]

and prints, per model, the multiply-accumulates (counted here from the graph's inferred
shapes: Conv, ConvTranspose, Gemm, MatMul), the parameters and the file size, next to the
published figures of the real files.

How a stand-in is built
-----------------------
Each file is TWO graphs in one, sharing the real input names:

* the HEAVY part: the real network's layer shapes (SCRFD-10G ResNetV1e + PAFPN + heads,
  IResNet-50, MobileNet-0.25 / 0.5, ResNet-50, the inswapper encoder / 6 AdaIN style blocks /
  decoder, ghost's AEI-Net), random float32 weights at variance-preserving scales so the
  activations stay O(1) (no denormals, no overflow: `--check` verifies it);
* the SEMANTIC part: the cheap stand-in of the same file from tests/fakemodels.py (the
  detector that finds bright squares, the texture recognizer, the mixing swapper ...), so the
  pipelines really find, embed and swap the synthetic faces, exactly as in the tests.

Every output is ``semantic + 0 * heavy`` with identical shapes: ONNX Runtime has no rule
that removes a multiplication of a computed tensor by zero, so the whole heavy network runs
on every call (the timings show it) while the values are the semantic part's. The semantic
part's own cost is small (a few ms for the detector's scans, well under 1 ms elsewhere);
`--check` prints it.

Weights above 256 K elements are stored as a random slice expanded by a Tile node: ONNX
Runtime constant-folds it into a full initializer when the session is built, so every layer
runs with its own full-size weight (measured: same speed as distinct random weights, within
1-2%) while the files stay far below the real ones (inswapper's 554 MB -> a few MB). Session
creation therefore allocates the full weights, as with the real files.

The swapper's LAST graph initializer is its 512x512 ``emap`` (insightface and our engine
read it there).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper, shape_inference

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests import fakemodels as fm  # noqa: E402  (the semantic stand-ins)

OPSET = fm.OPSET
IR_VERSION = 8
SQRT2 = math.sqrt(2.0)
TILE_ABOVE = 1 << 18  # weights larger than this many elements are stored as a tiled slice

# Published figures of the real files, for the comparison table. Sizes: the buffalo_l zip
# listing (bytes) and inswapper_128.onnx; MACs as the papers count "FLOPs" (one
# multiply-add = 1), see the notes printed with the table.
PUBLISHED = {
    "det_10g": ("10 G at 640x480 (SCRFD paper, VGA) = 13.4 G at 640x640", 16_923_827),
    "w600k_r50": ("6.3 G (arcface_torch IResNet-50 table)", 174_383_860),
    "genderage": ("not published; 1.3 MB file, MobileNet-0.25-sized", 1_322_532),
    "2d106det": ("not published; MobileNet-0.5 at 192 (insightface README)", 5_030_888),
    "1k3d68": ("not published; 143.6 MB = ~36 M params: ResNet-50-class at 192 assumed", 143_607_619),
    "inswapper_128": ("not published; ReSwapper's reconstruction of the graph gives ~175 G", 554_253_681),
    "ghost_256": ("not published (ghost AEI-Net unet, 2 blocks, shape only)", None),
}


# --------------------------------------------------------------------------- graph builder


class Net:
    """Appends heavy nodes with random weights; every name carries the ``rc_`` prefix."""

    def __init__(self, seed: int, prefix: str = "rc"):
        self.rng = np.random.default_rng(seed)
        self.prefix = prefix
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def name(self, hint: str) -> str:
        self._n += 1
        return f"{self.prefix}_{hint}_{self._n}"

    def const(self, arr, dtype=np.float32) -> str:
        n = self.name("c")
        self.inits.append(numpy_helper.from_array(np.asarray(arr, dtype=dtype), n))
        return n

    def i64(self, v) -> str:
        return self.const(v, np.int64)

    def randn(self, shape, std: float) -> str:
        """A random float32 weight. Above TILE_ABOVE elements only a slice is stored and a
        Tile node (constant-folded by ONNX Runtime when the session is built) expands it to
        the full shape, so the layer computes exactly as with distinct weights while the
        file stays small."""
        shape = tuple(int(v) for v in shape)
        size = int(np.prod(shape))
        reps = [1] * len(shape)
        stored = list(shape)
        if size > TILE_ABOVE:
            for axis in (1, 0):
                r = next((r for r in range(2, shape[axis] + 1) if shape[axis] % r == 0 and size // r <= TILE_ABOVE), None)
                if r is not None:
                    reps[axis], stored[axis] = r, shape[axis] // r
                    break
        arr = self.rng.standard_normal(size=tuple(stored), dtype=np.float32)
        arr *= np.float32(std)
        n = self.const(arr)
        if any(r > 1 for r in reps):
            n = self.op("Tile", [n, self.i64(reps)])
        return n

    def op(self, op_type: str, inputs: Sequence[str], **attrs) -> str:
        out = self.name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=out + "_n", **attrs))
        return out

    # layers -------------------------------------------------------------------------------

    def conv(self, x, cin, cout, k, s=1, p=None, group=1, bias=True, gain=SQRT2) -> str:
        p = k // 2 if p is None else p
        fan_in = (cin // group) * k * k
        w = self.randn((cout, cin // group, k, k), gain / math.sqrt(fan_in))
        ins = [x, w]
        if bias:
            ins.append(self.const(np.zeros(cout, np.float32)))
        return self.op("Conv", ins, kernel_shape=[k, k], strides=[s, s], pads=[p, p, p, p], group=group)

    def deconv(self, x, cin, cout, k, s, p, gain=SQRT2) -> str:
        w = self.randn((cin, cout, k, k), gain / math.sqrt(cin * k * k / (s * s)))
        return self.op("ConvTranspose", [x, w], kernel_shape=[k, k], strides=[s, s], pads=[p, p, p, p])

    def gemm(self, x, cin, cout, gain=1.0) -> str:
        w = self.randn((cin, cout), gain / math.sqrt(cin))
        return self.op("Gemm", [x, w, self.const(np.zeros(cout, np.float32))])

    def bn(self, x, c) -> str:  # a BatchNormalization that cannot be folded into a conv
        one, zero = np.ones(c, np.float32), np.zeros(c, np.float32)
        return self.op(
            "BatchNormalization", [x, self.const(one), self.const(zero), self.const(zero), self.const(one)], epsilon=1e-5
        )

    def relu(self, x) -> str:
        return self.op("Relu", [x])

    def lrelu(self, x, a=0.2) -> str:
        return self.op("LeakyRelu", [x], alpha=a)

    def prelu(self, x, c) -> str:
        return self.op("PRelu", [x, self.const(np.full((c, 1, 1), 0.25, np.float32))])

    def add(self, a, b) -> str:
        return self.op("Add", [a, b])

    def mul(self, a, b) -> str:
        return self.op("Mul", [a, b])

    def scale(self, x, k: float) -> str:
        return self.mul(x, self.const(np.float32(k)))

    def maxpool(self, x, k, s, p) -> str:
        return self.op("MaxPool", [x], kernel_shape=[k, k], strides=[s, s], pads=[p, p, p, p])

    def avgpool(self, x, k, s) -> str:
        return self.op("AveragePool", [x], kernel_shape=[k, k], strides=[s, s], ceil_mode=1, count_include_pad=0)

    def gap(self, x) -> str:
        return self.op("Flatten", [self.op("GlobalAveragePool", [x])], axis=1)

    def up2(self, x, mode="nearest") -> str:
        attrs = {"mode": mode}
        if mode == "linear":
            attrs["coordinate_transformation_mode"] = "half_pixel"
        return self.op("Resize", [x, "", self.const([1.0, 1.0, 2.0, 2.0])], **attrs)

    def pad_reflect(self, x, p) -> str:
        return self.op("Pad", [x, self.i64([0, 0, p, p, 0, 0, p, p])], mode="reflect")

    def flat(self, t, channels: int) -> str:
        """[1,A*C,h,w] -> [h*w*A, C] (SCRFD's export layout)."""
        t = self.op("Transpose", [t], perm=[0, 2, 3, 1])
        return self.op("Reshape", [t, self.i64([-1, channels])])


# --------------------------------------------------------------------------- heavy networks


def scrfd_10g(n: Net, x: str) -> list[str]:
    """SCRFD-10G (scrfd_10g_bnkps): ResNetV1e BasicBlock (3,4,2,3) x (56,88,88,224), base 56,
    PAFPN 56 ch from stride 8, heads: 3 stacked 3x3 convs of 80 ch per stride (BN folded),
    2 anchors: cls 2, reg 8, kps 20 channels. Returns the 9 outputs in SCRFD's order."""
    # deep stem (3 convs, the first strided) + max pool: stride 4
    x = n.relu(n.conv(x, 3, 28, 3, 2))
    x = n.relu(n.conv(x, 28, 28, 3))
    x = n.relu(n.conv(x, 28, 56, 3))
    x = n.maxpool(x, 3, 2, 1)

    def block(x, cin, cout, stride):
        y = n.relu(n.conv(x, cin, cout, 3, stride))
        y = n.conv(y, cout, cout, 3, gain=0.5)
        if stride != 1 or cin != cout:
            sc = n.avgpool(x, stride, stride) if stride != 1 else x  # avg_down
            sc = n.conv(sc, cin, cout, 1, gain=1.0)
        else:
            sc = x
        return n.relu(n.add(y, sc))

    feats, cin = [], 56
    for blocks, cout, stride in ((3, 56, 1), (4, 88, 2), (2, 88, 2), (3, 224, 2)):
        for i in range(blocks):
            x = block(x, cin, cout, stride if i == 0 else 1)
            cin = cout
        feats.append((x, cout))
    # PAFPN, start_level=1: strides 8/16/32
    lat = [n.conv(f, c, 56, 1, gain=1.0) for f, c in feats[1:]]
    for i in (1, 0):
        lat[i] = n.add(lat[i], n.up2(lat[i + 1]))
    inter = [n.conv(t, 56, 56, 3, gain=1.0) for t in lat]
    for i in range(2):
        inter[i + 1] = n.add(inter[i + 1], n.conv(inter[i], 56, 56, 3, 2, gain=1.0))
    outs = [inter[0]] + [n.conv(inter[i], 56, 56, 3, gain=1.0) for i in (1, 2)]
    scores, boxes, kpss = [], [], []
    for f in outs:  # strides_share=False: each stride its own head
        h = n.relu(n.conv(f, 56, 80, 3))
        h = n.relu(n.conv(h, 80, 80, 3))
        h = n.relu(n.conv(h, 80, 80, 3))
        scores.append(n.flat(n.op("Sigmoid", [n.conv(h, 80, 2, 3, gain=1.0)]), 1))
        boxes.append(n.flat(n.scale(n.conv(h, 80, 8, 3, gain=1.0), 1.0), 4))
        kpss.append(n.flat(n.conv(h, 80, 20, 3, gain=1.0), 10))
    return scores + boxes + kpss


def iresnet50(n: Net, x: str) -> str:
    """arcface_torch IResNet-50 at 112: conv 64 + PReLU, IBasicBlocks (3,4,14,3) x
    (64,128,256,512), each stage strided first; BN -> flatten 512x7x7 -> FC 512 -> BN."""
    x = n.prelu(n.conv(x, 3, 64, 3), 64)
    cin = 64
    for blocks, planes in ((3, 64), (4, 128), (14, 256), (3, 512)):
        for i in range(blocks):
            stride = 2 if i == 0 else 1
            y = n.bn(x, cin)
            y = n.prelu(n.conv(y, cin, planes, 3), planes)
            y = n.conv(y, planes, planes, 3, stride, gain=0.5)
            sc = n.conv(x, cin, planes, 1, stride, gain=1.0) if i == 0 else x
            x = n.add(y, sc)
            cin = planes
    x = n.op("Flatten", [n.bn(x, 512)], axis=1)
    return n.bn(n.gemm(x, 512 * 7 * 7, 512), 512)


def mobilenet_v1(n: Net, x: str, alpha: float, n_out: int) -> str:
    """MobileNet-V1 (width `alpha`): 3x3 s2 stem, 13 depthwise-separable pairs, GAP, FC."""

    def ch(c):
        return max(8, int(c * alpha))

    cfg = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]
    c = ch(32)
    x = n.relu(n.conv(x, 3, c, 3, 2))
    for cout, s in cfg:
        x = n.relu(n.conv(x, c, c, 3, s, group=c))
        x = n.relu(n.conv(x, c, ch(cout), 1))
        c = ch(cout)
    return n.gemm(n.gap(x), c, n_out)


def resnet50(n: Net, x: str, n_out: int) -> str:
    """torchvision ResNet-50 (v1.5 bottlenecks, stride in the 3x3), GAP, FC n_out."""
    x = n.maxpool(n.relu(n.conv(x, 3, 64, 7, 2)), 3, 2, 1)
    cin = 64
    for blocks, width, stride in ((3, 64, 1), (4, 128, 2), (6, 256, 2), (3, 512, 2)):
        for i in range(blocks):
            s = stride if i == 0 else 1
            y = n.relu(n.conv(x, cin, width, 1))
            y = n.relu(n.conv(y, width, width, 3, s))
            y = n.conv(y, width, width * 4, 1, gain=0.5)
            sc = n.conv(x, cin, width * 4, 1, s, gain=1.0) if i == 0 else x
            x = n.relu(n.add(y, sc))
            cin = width * 4
    return n.gemm(n.gap(x), cin, n_out)


def _rms_norm(n: Net, x: str) -> str:
    """inswapper's per-channel normalisation: (x - mean_hw) / sqrt(mean_hw((x - mean)^2) + eps)."""
    c = n.op("Sub", [x, n.op("ReduceMean", [x], axes=[2, 3], keepdims=1)])
    var = n.op("ReduceMean", [n.mul(c, c)], axes=[2, 3], keepdims=1)
    return n.op("Div", [c, n.op("Sqrt", [n.add(var, n.const(np.float32(1e-8)))])])


def _style(n: Net, source: str, c: int) -> tuple[str, str]:
    """Linear 512 -> 2c from the latent: (scale, shift) each [1,c,1,1]."""
    s = n.op("Reshape", [n.gemm(source, 512, 2 * c), n.i64([1, 2 * c, 1, 1])])
    g = n.op("Slice", [s, n.i64([0]), n.i64([c]), n.i64([1])])
    b = n.op("Slice", [s, n.i64([c]), n.i64([2 * c]), n.i64([1])])
    return n.add(g, n.const(np.ones((1, 1, 1, 1), np.float32))), b


def inswapper_128(n: Net, target: str, source: str) -> str:
    """The inswapper_128 graph as reconstructed by ReSwapper: reflect-padded 7x7 conv 128,
    3x3 convs 256 / 512 (s2) / 1024 (s2) -> 32x32x1024, 6 style blocks (2x [reflect pad,
    3x3 conv 1024, rms norm, AdaIN from Linear(512, 2048)], residual), bilinear x2 + conv 512,
    bilinear x2 + convs 256, 128, reflect-padded 7x7 conv 3, tanh, (y+1)/2."""
    x = n.lrelu(n.conv(n.pad_reflect(target, 3), 3, 128, 7, p=0))
    x = n.lrelu(n.conv(x, 128, 256, 3))
    x = n.lrelu(n.conv(x, 256, 512, 3, 2))
    x = n.lrelu(n.conv(x, 512, 1024, 3, 2))
    for _ in range(6):
        g1, b1 = _style(n, source, 1024)
        g2, b2 = _style(n, source, 1024)
        y = _rms_norm(n, n.conv(n.pad_reflect(x, 1), 1024, 1024, 3, p=0))
        y = n.relu(n.add(n.mul(y, g1), b1))
        y = _rms_norm(n, n.conv(n.pad_reflect(y, 1), 1024, 1024, 3, p=0))
        y = n.add(n.mul(y, g2), b2)
        x = n.add(x, n.scale(y, 0.3))
    x = n.lrelu(n.conv(n.up2(x, "linear"), 1024, 512, 3))
    x = n.up2(x, "linear")
    x = n.lrelu(n.conv(x, 512, 256, 3))
    x = n.lrelu(n.conv(x, 256, 128, 3))
    y = n.op("Tanh", [n.conv(n.pad_reflect(x, 3), 128, 3, 7, p=0, gain=1.0)])
    return n.op("Add", [n.scale(y, 0.5), n.const(np.float32(0.5))])


def _aad_layer(n: Net, h: str, attr: str, source: str, c_x: int, c_attr: int) -> str:
    """FaceShifter / ghost AAD layer: instance norm, attribute (1x1 convs) and identity
    (Linear) modulation, a 1x1-conv sigmoid mask blending the two."""
    hn = n.op("InstanceNormalization", [h, n.const(np.ones(c_x, np.float32)), n.const(np.zeros(c_x, np.float32))], epsilon=1e-5)
    ga = n.conv(attr, c_attr, c_x, 1, gain=0.1)
    ba = n.conv(attr, c_attr, c_x, 1, gain=0.1)
    a = n.add(n.mul(hn, n.add(ga, n.const(np.float32(1.0)))), ba)
    gi, bi = _style(n, source, c_x)
    i = n.add(n.mul(hn, gi), bi)
    m = n.op("Sigmoid", [n.conv(hn, c_x, 1, 1, gain=1.0)])
    return n.add(n.mul(m, n.op("Sub", [i, a])), a)  # (1-M)*A + M*I


def _aad_resblk(n: Net, h: str, attr: str, source: str, cin: int, cout: int, c_attr: int) -> str:
    """AAD_ResBlk with 2 blocks (ghost G_unet_2blocks): [AAD, ReLU, 3x3 conv] x 2, plus an
    AAD/ReLU/conv shortcut when the channel count changes."""
    y = h
    for k in range(2):
        c_out = cin if k == 0 else cout
        y = _aad_layer(n, y, attr, source, cin, c_attr)
        y = n.conv(n.relu(y), cin, c_out, 3, gain=1.0)
    if cin != cout:
        s = _aad_layer(n, h, attr, source, cin, c_attr)
        h = n.conv(n.relu(s), cin, cout, 3, gain=1.0)
    return n.add(n.scale(y, 0.5), h)


def ghost_256(n: Net, target: str, source: str) -> str:
    """ghost's AEI-Net (unet attribute encoder, AAD generator, 2 blocks) at 256."""
    enc = [(3, 32), (32, 64), (64, 128), (128, 256), (256, 512), (512, 1024), (1024, 1024)]
    feats, x = [], target
    for cin, cout in enc:  # 4x4 s2 convs: 128, 64, ..., 2
        x = n.lrelu(n.conv(x, cin, cout, 4, 2, p=1), 0.1)
        feats.append(x)
    attrs = [feats[-1]]  # 1024 @2
    dec = [(1024, 1024), (2048, 512), (1024, 256), (512, 128), (256, 64), (128, 32)]
    x = feats[-1]
    for (cin, cout), skip in zip(dec, feats[-2::-1]):
        x = n.lrelu(n.deconv(x, cin, cout, 4, 2, 1), 0.1)
        x = n.op("Concat", [x, skip], axis=1)
        attrs.append(x)
    attrs.append(n.up2(x, "linear"))  # 64 @256
    c_attr = [1024, 2048, 1024, 512, 256, 128, 64, 64]
    blocks = [(1024, 1024), (1024, 1024), (1024, 1024), (1024, 512), (512, 256), (256, 128), (128, 64), (64, 3)]
    h = n.deconv(n.op("Reshape", [source, n.i64([1, 512, 1, 1])]), 512, 1024, 2, 1, 0)  # 1024 @2
    for k, ((cin, cout), ca, attr) in enumerate(zip(blocks, c_attr, attrs)):
        h = _aad_resblk(n, h, attr, source, cin, cout, ca)
        if k < 7:
            h = n.up2(h, "linear")
    y = n.op("Tanh", [h])
    return n.op("Add", [n.scale(y, 0.5), n.const(np.float32(0.5))])


# --------------------------------------------------------------------------- assembly


def _combine(semantic: onnx.ModelProto, n: Net, heavy_outputs: Sequence[str], last_init: str | None = None) -> onnx.ModelProto:
    """semantic graph + heavy nodes; output_k = semantic_k + 0 * heavy_k (same shapes)."""
    g = semantic.graph
    outs = [o.name for o in g.output]
    assert len(outs) == len(heavy_outputs), (outs, heavy_outputs)
    zero = n.const(np.float32(0.0))
    for o in outs:  # re-route the semantic producer of each output to <o>__sem
        for node in g.node:
            for i, name in enumerate(node.output):
                if name == o:
                    node.output[i] = o + "__sem"
    for o, h in zip(outs, heavy_outputs):
        n.nodes.append(helper.make_node("Mul", [h, zero], [o + "__zero"], name=o + "__zero_n"))
        n.nodes.append(helper.make_node("Add", [o + "__sem", o + "__zero"], [o], name=o + "__out_n"))
    g.node.extend(n.nodes)
    inits = list(g.initializer) + n.inits
    if last_init is not None:  # keep e.g. the swapper's emap LAST
        last = [t for t in inits if t.name == last_init]
        inits = [t for t in inits if t.name != last_init] + last
    del g.initializer[:]
    g.initializer.extend(inits)
    semantic.producer_name = "faceswaplab-bench-realcost"
    return semantic


def _semantic(writer, tmp: Path, name: str, *args) -> onnx.ModelProto:
    path = tmp / f"{name}.onnx"
    writer(path, *args)
    return onnx.load(str(path))


def _heavy_only(
    inputs: Sequence[tuple[str, list]], n: Net, outputs: Sequence[tuple[str, str, list]], name: str
) -> onnx.ModelProto:
    vis = [helper.make_tensor_value_info(nm, TensorProto.FLOAT, shape) for nm, shape in inputs]
    for src, dst, _shape in outputs:
        n.nodes.append(helper.make_node("Identity", [src], [dst], name=dst + "_n"))
    outs = [helper.make_tensor_value_info(dst, TensorProto.FLOAT, shape) for _src, dst, shape in outputs]
    graph = helper.make_graph(n.nodes, name, vis, outs, n.inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])


def _save(model: onnx.ModelProto, path: Path) -> Path:
    model.ir_version = IR_VERSION
    del model.opset_import[:]
    model.opset_import.extend([helper.make_opsetid("", OPSET)])
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def build_all(out_dir: Path) -> dict[str, Path]:
    """Write every stand-in into out_dir; returns name -> path."""
    out_dir = Path(out_dir)
    buf = out_dir / "buffalo_l"
    paths: dict[str, Path] = {}
    with tempfile.TemporaryDirectory(prefix="fsl-rc-sem-") as t:
        tmp = Path(t)
        n = Net(seed=101)
        heavy = scrfd_10g(n, "input.1")
        paths["det_10g"] = _save(_combine(_semantic(fm.write_detector, tmp, "det"), n, heavy), buf / "det_10g.onnx")

        n = Net(seed=102)
        heavy = iresnet50(n, "input.1")
        paths["w600k_r50"] = _save(_combine(_semantic(fm.write_recognizer, tmp, "rec"), n, [heavy]), buf / "w600k_r50.onnx")

        n = Net(seed=103)
        heavy = mobilenet_v1(n, "data", 0.25, 3)
        paths["genderage"] = _save(_combine(_semantic(fm.write_genderage, tmp, "ga"), n, [heavy]), buf / "genderage.onnx")

        fm.write_landmarks(tmp)  # both landmark files at once
        n = Net(seed=104)
        heavy = mobilenet_v1(n, "data", 0.5, 212)
        paths["2d106det"] = _save(_combine(onnx.load(str(tmp / "2d106det.onnx")), n, [heavy]), buf / "2d106det.onnx")
        n = Net(seed=105)
        heavy = resnet50(n, "data", 3309)
        paths["1k3d68"] = _save(_combine(onnx.load(str(tmp / "1k3d68.onnx")), n, [heavy]), buf / "1k3d68.onnx")

        n = Net(seed=106)
        heavy = inswapper_128(n, "target", "source")
        sem = _semantic(fm.write_swapper, tmp, "swap", "mix")
        paths["inswapper_128"] = _save(_combine(sem, n, [heavy], last_init="emap"), out_dir / "inswapper_128.onnx")

    n = Net(seed=107)
    out = ghost_256(n, "target", "source")
    model = _heavy_only([("target", [1, 3, 256, 256]), ("source", [1, 512])], n, [(out, "output", [1, 3, 256, 256])], "ghost_256")
    paths["ghost_256"] = _save(model, out_dir / "swappers" / "ghost_256.onnx")
    return paths


# --------------------------------------------------------------------------- counting


# the shapes each count is taken at
COUNT_SHAPES = {
    "det_10g": {"input.1": [1, 3, 640, 640]},
    "w600k_r50": {"input.1": [1, 3, 112, 112]},
    "genderage": {"data": [1, 3, 96, 96]},
    "2d106det": {"data": [1, 3, 192, 192]},
    "1k3d68": {"data": [1, 3, 192, 192]},
    "inswapper_128": {"target": [1, 3, 128, 128], "source": [1, 512]},
    "ghost_256": {"target": [1, 3, 256, 256], "source": [1, 512]},
}


def _shape(vi) -> list[int] | None:
    t = vi.type.tensor_type
    if not t.HasField("shape"):
        return None
    dims = [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]
    return None if any(d is None for d in dims) else dims


def count(path: Path, input_shapes: dict[str, list[int]]) -> dict[str, float]:
    """MACs of Conv / ConvTranspose / Gemm / MatMul from inferred shapes, the weights stored
    in the file (initializer elements) and the weights the layers USE (after Tile)."""
    model = onnx.load(str(path))
    for vi in model.graph.input:
        if vi.name in input_shapes:
            dims = vi.type.tensor_type.shape.dim
            for d, v in zip(dims, input_shapes[vi.name]):
                d.ClearField("dim_param")
                d.dim_value = int(v)
    model = shape_inference.infer_shapes(model, data_prop=True)
    g = model.graph
    shapes: dict[str, list[int] | None] = {}
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        shapes[vi.name] = _shape(vi)
    init = {t.name: list(t.dims) for t in g.initializer}
    shapes.update(init)
    macs = 0
    used = 0
    unknown = 0
    for node in g.node:
        if node.op_type not in ("Conv", "ConvTranspose", "Gemm", "MatMul"):
            continue
        out = shapes.get(node.output[0])
        ins = [shapes.get(i) for i in node.input]
        if out is None or any(s is None for s in ins[:2]):
            unknown += 1
            continue
        w = ins[1]
        if node.op_type == "Conv":
            macs += int(np.prod(out)) * w[1] * int(np.prod(w[2:]))  # w[1] = Cin / group
        elif node.op_type == "ConvTranspose":
            x = ins[0]
            macs += int(np.prod(x)) * w[1] * int(np.prod(w[2:]))
        elif node.op_type == "Gemm":
            macs += int(np.prod(out)) * ins[0][-1]
        else:
            macs += int(np.prod(out)) * ins[0][-1]
        used += int(np.prod(w))
    params = sum(int(np.prod(d)) for d in init.values())
    return {"macs": float(macs), "params": float(params), "used_params": float(used), "unknown": float(unknown)}


# --------------------------------------------------------------------------- checks


def router_check(paths: dict[str, Path]) -> list[str]:
    """Load every file through insightface's model router (by shape) and return lines."""
    import contextlib
    import io

    from insightface.model_zoo import model_zoo

    expect = {
        "det_10g": "SCRFD",
        "w600k_r50": "ArcFaceONNX",
        "genderage": "Attribute",
        "2d106det": "Landmark",
        "1k3d68": "Landmark",
        "inswapper_128": "INSwapper",
    }
    lines = []
    for name, cls in expect.items():
        with contextlib.redirect_stdout(io.StringIO()):  # INSwapper prints its shape
            m = model_zoo.get_model(str(paths[name]), providers=["CPUExecutionProvider"])
        got = type(m).__name__ if m is not None else "None"
        extra = ""
        if cls == "INSwapper":
            extra = f", emap {m.emap.shape}, emap == tests' orthogonal emap: {bool(np.allclose(m.emap, fm.swapper_emap()))}"
        if cls == "Landmark":
            extra = f", lmk_dim {m.lmk_dim} lmk_num {m.lmk_num}"
        lines.append(f"  {name:<14} -> {got:<12} {'ok' if got == cls else 'WRONG, expected ' + cls}{extra}")
        if got != cls:
            raise SystemExit(f"insightface routes {paths[name]} to {got}, expected {cls}")
    return lines


def engine_check(out_dir: Path) -> list[str]:
    """Load every file through OUR engine (store signature checks, session cache) and analyse
    one synthetic face with gender/age: the stand-ins must pass as the real files do."""
    import logging

    from faceswaplab.engine import Engine
    from faceswaplab.options import EngineOptions

    logging.getLogger("faceswaplab").setLevel(logging.ERROR)  # "custom file" warnings: expected
    engine = Engine(EngineOptions(models_dir=str(out_dir), threads=1))
    swapper = engine.swapper()
    emap = getattr(swapper, "emap", None)
    emap_ok = "n/a" if emap is None else bool(np.allclose(emap, fm.swapper_emap()))
    rgb = fm.make_face_image(size=(640, 640), faces=[(200, 180, 160, fm.MALE, 5)], seed=3)
    _, faces = engine.analyse(rgb, attributes=True)
    if len(faces) != 1:
        raise SystemExit(f"our engine found {len(faces)} faces on a one-face synthetic image")
    f = faces[0]
    return [
        f"  engine: detector, recognizer, genderage, swapper loaded (emap as expected: {emap_ok}); "
        f"one synthetic face found at {[round(float(v)) for v in f.bbox]} (drawn at [200, 180, 360, 340]), "
        f"gender {f.gender}, embedding {np.asarray(f.embedding).shape}"
    ]


def activation_check(paths: dict[str, Path]) -> list[str]:
    """Run each heavy part once with its heavy tensors exposed (finite, O(1) values) and time
    one run of the whole stand-in and of its semantic part alone (1 thread, CPU time)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    rng = np.random.default_rng(0)
    semantic_writers = {
        "det_10g": fm.write_detector,
        "w600k_r50": fm.write_recognizer,
        "genderage": fm.write_genderage,
        "inswapper_128": fm.write_swapper,
    }
    lines = []
    for name, shapes in COUNT_SHAPES.items():
        model = onnx.load(str(paths[name]))
        heavy = [node.input[0] for node in model.graph.node if node.output[0].endswith("__zero")]
        if name == "ghost_256":
            heavy = [o.name for o in model.graph.output]
        for h in heavy:
            if h not in [o.name for o in model.graph.output]:
                model.graph.output.append(helper.make_tensor_value_info(h, TensorProto.FLOAT, None))
        sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
        feed = {k: rng.uniform(-1, 1, size=v).astype(np.float32) for k, v in shapes.items()}
        if "source" in feed:
            feed["source"] /= np.linalg.norm(feed["source"])
        outs = sess.run(heavy, feed)
        rms = [float(np.sqrt(np.mean(np.square(o.astype(np.float64))))) for o in outs]
        finite = all(bool(np.isfinite(o).all()) for o in outs)
        t = time.process_time()
        sess.run(None, feed)
        full_ms = (time.process_time() - t) * 1000
        sem = ""
        if name in semantic_writers:
            with tempfile.TemporaryDirectory() as d:
                semantic_writers[name](Path(d) / "m.onnx")
                s2 = ort.InferenceSession(str(Path(d) / "m.onnx"), so, providers=["CPUExecutionProvider"])
            s2.run(None, feed)
            t = time.process_time()
            s2.run(None, feed)
            sem = f", of which the semantic part alone {(time.process_time() - t) * 1000:.1f} ms"
        lines.append(
            f"  {name:<14} heavy outputs finite: {finite}, rms {min(rms):.3g}..{max(rms):.3g}; one run {full_ms:.0f} ms CPU{sem}"
        )
        if not finite or min(rms) < 1e-6 or max(rms) > 1e6:
            raise SystemExit(f"{name}: heavy activations out of range (finite={finite}, rms={rms})")
    return lines


def main(argv: Iterable[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--check", action="store_true", help="also run each heavy part once: finite O(1) activations")
    args = ap.parse_args(list(argv) if argv is not None else None)
    t0 = time.perf_counter()
    paths = build_all(args.out_dir)
    print(f"wrote {len(paths)} models into {args.out_dir} in {time.perf_counter() - t0:.1f} s")
    print(table(paths))
    print("insightface model router (by shape):")
    print("\n".join(router_check(paths)))
    print("our engine:")
    print("\n".join(engine_check(args.out_dir)))
    if args.check:
        print("\n".join(activation_check(paths)))


def table(paths: dict[str, Path]) -> str:
    rows = [
        f"{'model':<14} {'GMACs':>7} {'at':>10} {'params M':>9} {'stored M':>8} {'file MB':>8} | real file: MB, published cost"
    ]
    for name, path in paths.items():
        c = count(path, COUNT_SHAPES[name])
        at = "x".join(str(v) for v in list(COUNT_SHAPES[name].values())[0][2:])
        pub, size = PUBLISHED[name]
        real_mb = f"{size / 1e6:.1f}" if size else "?"
        rows.append(
            f"{name:<14} {c['macs'] / 1e9:>7.2f} {at:>10} {c['used_params'] / 1e6:>9.2f} {c['params'] / 1e6:>8.2f} "
            f"{path.stat().st_size / 1e6:>8.1f} | {real_mb:>6}  {pub}"
        )
    rows.append(
        "GMACs = 1e9 multiply-adds of Conv/ConvTranspose/Gemm/MatMul (what papers call FLOPs); params = weights the layers use, stored = in the file (Tile-expanded at load)"
    )
    return "\n".join(rows)


if __name__ == "__main__":
    main()
