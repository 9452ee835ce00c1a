"""The stand-in ONNX models (tests/fakemodels.py) load in insightface and behave as documented."""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

import numpy as np
import pytest

_ROOT = Path(__file__).resolve().parents[1]
if str(_ROOT) not in sys.path:  # run from a bare checkout without an installed package
    sys.path.insert(0, str(_ROOT))

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
insightface = pytest.importorskip("insightface")

from insightface.app.common import Face  # noqa: E402
from insightface.model_zoo import get_model  # noqa: E402
from insightface.model_zoo.arcface_onnx import ArcFaceONNX  # noqa: E402
from insightface.model_zoo.attribute import Attribute  # noqa: E402
from insightface.model_zoo.inswapper import INSwapper  # noqa: E402
from insightface.model_zoo.landmark import Landmark  # noqa: E402
from insightface.model_zoo.scrfd import SCRFD  # noqa: E402
from onnx import numpy_helper  # noqa: E402

from tests import fakemodels as fm  # noqa: E402

CPU = ["CPUExecutionProvider"]


def _load(path):
    with contextlib.redirect_stdout(io.StringIO()):  # INSwapper prints its input shape
        return get_model(str(path), providers=CPU)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("fake_models")
    paths = fm.write_all(root)
    paths["inswapper_identity"] = fm.write_swapper(root / "identity" / "inswapper_128.onnx", mode="identity")
    return paths


@pytest.fixture(scope="module")
def zoo(models):
    det = _load(models["det_10g"])
    det.prepare(0, input_size=(640, 640), det_thresh=0.5)
    return {
        "det": det,
        "rec": _load(models["w600k_r50"]),
        "ga": _load(models["genderage"]),
        "l2": _load(models["2d106det"]),
        "l3": _load(models["1k3d68"]),
        "swap": _load(models["inswapper_128"]),
        "swap_id": _load(models["inswapper_identity"]),
    }


def _detect(zoo, rgb, size=(640, 640), thresh=None):
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    return zoo["det"].detect(bgr, input_size=size, det_thresh=thresh)


def _analyse(zoo, rgb):
    """Detect + embed + gender/age + landmarks (detector order)."""
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    boxes, kpss = zoo["det"].detect(bgr, input_size=(640, 640))
    faces = []
    for box, kps in zip(boxes, kpss):
        face = Face(bbox=box[:4], kps=kps, det_score=box[4])
        for key in ("rec", "ga", "l2", "l3"):
            zoo[key].get(bgr, face)
        faces.append(face)
    return faces


def _in_order(found, faces):
    """Reorder analysed faces to follow the make_face_image spec."""
    want = fm.face_boxes(faces)
    assert len(found) == len(want)
    return [min(found, key=lambda f: np.abs(f.bbox - w).sum()) for w in want]


def _match(boxes, kpss, faces, tol):
    """Every expected square has exactly one detection within tol px; returns errors."""
    want_boxes, want_kps = fm.face_boxes(faces), fm.face_kps(faces)
    assert len(boxes) == len(want_boxes), boxes
    errs = []
    for want, wk in zip(want_boxes, want_kps):
        j = int(np.argmin(np.abs(boxes[:, :4] - want).sum(1)))
        err = float(np.abs(boxes[j, :4] - want).max())
        kerr = float(np.abs(kpss[j] - wk).max())
        assert err <= tol, (boxes[j], want)
        assert kerr <= tol, (kpss[j], wk)
        x1, y1, x2, y2 = boxes[j, :4]
        assert np.all((kpss[j][:, 0] > x1) & (kpss[j][:, 0] < x2) & (kpss[j][:, 1] > y1) & (kpss[j][:, 1] < y2))
        assert boxes[j, 4] >= 0.6
        errs.append(err)
    return errs


# --------------------------------------------------------------------------- files and routing


def test_model_zoo_routes_each_file_to_the_real_class(models, zoo):
    assert isinstance(zoo["det"], SCRFD)
    assert isinstance(zoo["rec"], ArcFaceONNX)
    assert isinstance(zoo["ga"], Attribute) and zoo["ga"].taskname == "genderage"
    assert isinstance(zoo["l2"], Landmark) and zoo["l2"].taskname == "landmark_2d_106"
    assert isinstance(zoo["l3"], Landmark) and zoo["l3"].taskname == "landmark_3d_68"
    assert isinstance(zoo["swap"], INSwapper) and isinstance(zoo["swap_id"], INSwapper)
    # recognizer is not mistaken for an mxnet model (which would skip normalisation)
    assert zoo["rec"].input_mean == 127.5 and zoo["rec"].input_std == 127.5
    assert zoo["det"].use_kps and zoo["det"].fmc == 3 and zoo["det"]._num_anchors == 2
    assert set(models) >= {"inswapper_128", "det_10g", "w600k_r50", "genderage", "2d106det", "1k3d68"}
    assert models["det_10g"].parent.name == "buffalo_l"
    assert models["inswapper_128"].name == "inswapper_128.onnx"
    for path in models.values():
        assert path.stat().st_size < 3 * 1024 * 1024


def test_signatures_match_the_real_files(models, tmp_path):
    def sig(path):
        sess = ort.InferenceSession(str(path), providers=CPU)
        return (
            [(i.name, i.shape, i.type) for i in sess.get_inputs()],
            [(o.name, o.shape) for o in sess.get_outputs()],
        )

    ins, outs = sig(models["det_10g"])
    assert ins == [("input.1", [1, 3, "?", "?"], "tensor(float)")]
    assert [o[0] for o in outs] == [f"{k}_{s}" for k in ("score", "bbox", "kps") for s in (8, 16, 32)]
    assert [o[1][1] for o in outs] == [1, 1, 1, 4, 4, 4, 10, 10, 10]
    ins, outs = sig(models["w600k_r50"])
    assert ins[0][1] == ["N", 3, 112, 112] and outs[0][1] == ["N", 512]
    ins, outs = sig(models["genderage"])
    assert ins[0][1] == ["N", 3, 96, 96] and outs[0][1] == ["N", 3]
    assert sig(models["2d106det"])[1][0][1] == ["N", 212]
    assert sig(models["1k3d68"])[1][0][1] == ["N", 3309]
    ins, outs = sig(models["inswapper_128"])
    assert ins == [("target", [1, 3, 128, 128], "tensor(float)"), ("source", [1, 512], "tensor(float)")]
    assert outs == [("output", [1, 3, 128, 128])]
    emap = numpy_helper.to_array(onnx.load(str(models["inswapper_128"])).graph.initializer[-1])
    assert emap.shape == (512, 512) and emap.dtype == np.float32
    np.testing.assert_allclose(emap, fm.swapper_emap())
    ins, outs = sig(fm.write_restorer(tmp_path / "cf.onnx", codeformer=True))
    assert ins == [("input", [1, 3, 512, 512], "tensor(float)"), ("weight", [1], "tensor(double)")]
    ins, outs = sig(fm.write_parser(tmp_path / "parser.onnx"))
    assert ins == [("input", [1, 3, 512, 512], "tensor(float)")] and outs == [("output", [1, 19, 512, 512])]


def test_files_are_deterministic(models, tmp_path):
    again = fm.write_all(tmp_path)
    for name, path in again.items():
        assert path.read_bytes() == models[name].read_bytes(), name


# --------------------------------------------------------------------------- detector


def test_detects_one_square_exactly(zoo):
    faces = [(200, 150, 160, fm.FEMALE)]
    boxes, kpss = _detect(zoo, fm.make_face_image((640, 640), faces))
    errs = _match(boxes, kpss, faces, tol=0.01)
    assert errs == [0.0]
    np.testing.assert_allclose(boxes[0, :4], [200, 150, 360, 310])


def test_detects_three_squares_of_different_sizes(zoo):
    faces = [(20, 30, 40, fm.FEMALE), (120, 60, 120, fm.MALE), (300, 300, 300, fm.FEMALE)]
    boxes, kpss = _detect(zoo, fm.make_face_image((640, 640), faces, seed=3))
    _match(boxes, kpss, faces, tol=0.01)


def test_detects_on_non_square_images(zoo):
    # SCRFD letterboxes 960x540 into 640x360 (scale 2/3); boxes come back in image px.
    faces = [(30, 40, 90), (300, 100, 200, fm.MALE), (640, 200, 300)]
    boxes, kpss = _detect(zoo, fm.make_face_image((960, 540), faces, seed=4))
    _match(boxes, kpss, faces, tol=1.5)
    tall = [(50, 600, 200), (300, 100, 150, fm.MALE)]
    boxes, kpss = _detect(zoo, fm.make_face_image((540, 960), tall, seed=5))
    _match(boxes, kpss, tall, tol=1.5)


def test_other_det_sizes(zoo):
    faces = [(100, 100, 120), (400, 300, 200)]
    img = fm.make_face_image((640, 640), faces, seed=6)
    boxes, kpss = _detect(zoo, img, size=(320, 320))
    _match(boxes, kpss, faces, tol=1.0)
    boxes, kpss = _detect(zoo, img, size=(1024, 1024))
    _match(boxes, kpss, faces, tol=1.0)


def test_separate_squares_stay_separate(zoo):
    faces = [(100, 100, 100), (204, 100, 100, fm.MALE), (100, 210, 100)]
    boxes, kpss = _detect(zoo, fm.make_face_image((640, 640), faces, seed=7))
    _match(boxes, kpss, faces, tol=0.01)
    edges = [(0, 0, 100), (540, 540, 100)]  # touching the image border
    boxes, kpss = _detect(zoo, fm.make_face_image((640, 640), edges, seed=8))
    _match(boxes, kpss, edges, tol=0.01)


def test_nothing_else_scores(zoo):
    rng = np.random.default_rng(0)
    dark = fm.make_face_image((640, 640), [])
    assert len(_detect(zoo, dark, thresh=0.05)[0]) == 0
    noise = rng.integers(0, 256, size=(640, 640, 3), dtype=np.uint8)
    assert len(_detect(zoo, noise, thresh=0.05)[0]) == 0
    rect = dark.copy()
    rect[100:200, 100:300] = 200  # 2:1 rectangle
    rect[300:306, 300:306] = 200  # speck
    rect[400:500, 400:500, 2] = 40  # bright in two channels only
    rect[400:500, 400:500, :2] = 220
    assert len(_detect(zoo, rect, thresh=0.05)[0]) == 0
    assert len(_detect(zoo, rect, thresh=0.3)[0]) == 0


# --------------------------------------------------------------------------- recognizer, genderage, landmarks


def test_embeddings_follow_texture(zoo):
    same = 11
    faces = [
        (20, 20, 80, fm.FEMALE, same),
        (150, 20, 200, fm.FEMALE, same),  # same person, bigger
        (400, 20, 200, fm.FEMALE, 12),
        (20, 300, 150, fm.FEMALE, 13),
        (300, 350, 250, fm.MALE, 14),
    ]
    found = _in_order(_analyse(zoo, fm.make_face_image((640, 640), faces, seed=9)), faces)
    emb = np.stack([f.normed_embedding for f in found])
    sims = emb @ emb.T
    assert sims[0, 1] > 0.97
    others = [sims[i, j] for i in range(5) for j in range(i + 1, 5) if (i, j) != (0, 1)]
    assert max(others) < 0.9
    # the same crop gives the same embedding
    bgr = np.ascontiguousarray(fm.make_face_image((640, 640), faces, seed=9)[:, :, ::-1])
    again = Face(bbox=found[2].bbox, kps=found[2].kps)
    np.testing.assert_array_equal(zoo["rec"].get(bgr, again), found[2].embedding)


def test_gender_follows_tint_and_age_is_plausible(zoo):
    faces = [(40, 40, 150, fm.FEMALE), (300, 40, 150, fm.MALE), (40, 300, 200, (230, 200, 200)), (350, 350, 200, (195, 200, 215))]
    found = _in_order(_analyse(zoo, fm.make_face_image((640, 640), faces, seed=10)), faces)
    assert [int(f.gender) for f in found] == [0, 1, 0, 1]
    assert all(20 <= f.age <= 60 for f in found)


def test_landmark_models_run(zoo):
    found = _analyse(zoo, fm.make_face_image((640, 640), [(200, 200, 200)]))
    (face,) = found
    assert face.landmark_2d_106.shape == (106, 2) and face.landmark_3d_68.shape == (68, 3)
    x1, y1, x2, y2 = face.bbox
    for pts in (face.landmark_2d_106, face.landmark_3d_68):
        assert np.all((pts[:, 0] >= x1) & (pts[:, 0] <= x2) & (pts[:, 1] >= y1) & (pts[:, 1] <= y2))
    assert np.all(np.abs(face.pose) < 5)  # frontal


# --------------------------------------------------------------------------- swapper


def _swap_crop(swapper, target_rgb, target_face, source_face):
    bgr = np.ascontiguousarray(target_rgb[:, :, ::-1])
    fake, _ = swapper.get(bgr, target_face, source_face, paste_back=False)
    return fake[:, :, ::-1].astype(int)


def test_swapper_mix_changes_the_face_and_depends_on_source(zoo):
    target = fm.make_face_image((640, 640), [(100, 100, 200, fm.MALE, 21)], seed=1)
    sources = fm.make_face_image(
        (640, 640), [(20, 20, 150, fm.FEMALE, 22), (300, 20, 150, fm.FEMALE, 23), (20, 300, 150, fm.MALE, 24)], seed=2
    )
    (tf,) = _analyse(zoo, target)
    s1, s2, s3 = _in_order(_analyse(zoo, sources), [(20, 20, 150), (300, 20, 150), (20, 300, 150)])
    bgr = np.ascontiguousarray(target[:, :, ::-1])
    from insightface.utils import face_align

    crop = face_align.norm_crop2(bgr, tf.kps, 128)[0][:, :, ::-1].astype(int)
    a = _swap_crop(zoo["swap"], target, tf, s1)
    b = _swap_crop(zoo["swap"], target, tf, s2)
    c = _swap_crop(zoo["swap"], target, tf, s3)
    assert np.abs(a - crop).max() > 40 and np.abs(a - crop).mean() > 5
    assert np.abs(a - b).max() >= 40  # same tint, different texture
    assert np.abs(a[5:105, 15:115].mean((0, 1)) - c[5:105, 15:115].mean((0, 1))).max() >= 20  # other tint
    np.testing.assert_array_equal(a[110:], crop[110:])  # outside the face block: the target
    assert a[5:105, 15:115].min() >= 110  # the swapped face stays bright

    # pasted back: still one face at the same place, now looking like the source
    pasted = zoo["swap"].get(bgr, tf, s1, paste_back=True)[:, :, ::-1]
    (rf,) = _analyse(zoo, np.ascontiguousarray(pasted))
    assert np.abs(rf.bbox - tf.bbox).max() <= 2
    assert rf.normed_embedding @ s1.normed_embedding > 0.85
    assert rf.normed_embedding @ s1.normed_embedding > rf.normed_embedding @ tf.normed_embedding + 0.2
    assert int(rf.gender) == int(s1.gender) == 0 and int(tf.gender) == 1


def test_swapper_mix_with_random_embeddings_stays_in_range(zoo):
    target = fm.make_face_image((640, 640), [(100, 100, 200)], seed=1)
    (tf,) = _analyse(zoo, target)
    outs = []
    for seed in (0, 1):
        src = Face()
        src.embedding = np.random.default_rng(seed).standard_normal(512).astype(np.float32)
        outs.append(_swap_crop(zoo["swap"], target, tf, src))
    assert np.abs(outs[0] - outs[1]).max() >= 40
    sess = zoo["swap"].session
    blob = np.random.default_rng(2).uniform(0, 1, (1, 3, 128, 128)).astype(np.float32)
    lat = np.random.default_rng(3).standard_normal((1, 512)).astype(np.float32)
    lat /= np.linalg.norm(lat)
    out = sess.run(None, {"target": blob, "source": lat})[0]
    assert out.shape == (1, 3, 128, 128) and out.min() >= 0.0 and out.max() <= 1.0


def test_swapper_identity_returns_target_exactly(zoo):
    sess = zoo["swap_id"].session
    blob = np.random.default_rng(4).uniform(0, 1, (1, 3, 128, 128)).astype(np.float32)
    for seed in (5, 6):
        lat = np.random.default_rng(seed).standard_normal((1, 512)).astype(np.float32)
        out = sess.run(None, {"target": blob, "source": lat})[0]
        np.testing.assert_array_equal(out, blob)


# --------------------------------------------------------------------------- restorer, parser


@pytest.mark.parametrize("size", [512, 256])
def test_restorer_modes(tmp_path, size):
    x = np.random.default_rng(size).uniform(-1, 1, (1, 3, size, size)).astype(np.float32)
    run = lambda p, **feed: ort.InferenceSession(str(p), providers=CPU).run(None, {"input": x, **feed})[0]  # noqa: E731
    y = run(fm.write_restorer(tmp_path / "f.onnx", size=size))
    assert y.shape == x.shape and y.min() >= -1 and y.max() <= 1
    assert np.abs(y - x).mean() > 0.1
    np.testing.assert_array_equal(run(fm.write_restorer(tmp_path / "i.onnx", size=size, mode="identity")), x)
    cf = fm.write_restorer(tmp_path / "cf.onnx", size=size, codeformer=True)
    y0 = run(cf, weight=np.array([0.0]))
    y5 = run(cf, weight=np.array([0.5]))
    y1 = run(cf, weight=np.array([1.0]))
    np.testing.assert_allclose(y0, y, atol=1e-6)
    np.testing.assert_allclose(y1, x, atol=1e-6)
    assert 0 < np.abs(y5 - x).mean() < np.abs(y0 - x).mean()
    cfi = fm.write_restorer(tmp_path / "cfi.onnx", size=size, mode="identity", codeformer=True)
    np.testing.assert_array_equal(run(cfi, weight=np.array([0.3])), x)


def test_parser_labels_palette_colours(tmp_path):
    sess = ort.InferenceSession(str(fm.write_parser(tmp_path / "p.onnx")), providers=CPU)
    mean = np.array([0.485, 0.456, 0.406], np.float32)
    std = np.array([0.229, 0.224, 0.225], np.float32)

    def parse(rgb):
        x = ((rgb.astype(np.float32) / 255.0 - mean) / std).transpose(2, 0, 1)[None]
        logits = sess.run(None, {"input": np.ascontiguousarray(x, np.float32)})[0]
        assert logits.shape == (1, 19, 512, 512)
        return logits[0].argmax(0)

    assert {0, 1, 2, 4, 10, 11, 12, 13, 17} <= set(fm.PARSER_PALETTE)
    img = np.zeros((512, 512, 3), np.uint8)
    classes = sorted(fm.PARSER_PALETTE)
    for i, c in enumerate(classes):
        img[i * 32 : (i + 1) * 32, :256] = fm.PARSER_PALETTE[c]
    # right half: dark and bright cubes (background / skin)
    rng = np.random.default_rng(0)
    img[:256, 256:] = rng.integers(0, 61, (256, 256, 3))
    img[256:, 256:] = rng.integers(150, 256, (256, 256, 3))
    labels = parse(img)
    for i, c in enumerate(classes):
        assert np.all(labels[i * 32 : (i + 1) * 32, :256] == c), c
    assert np.all(labels[:256, 256:] == 0)
    assert np.all(labels[256:, 256:] == 1)
    assert not np.isin(labels, [c for c in range(19) if c not in fm.PARSER_PALETTE]).any()


def test_face_helpers():
    img = fm.make_face_image((300, 200), [(10, 20, 50, (200, 190, 210), 5), (100, 50, 80)], seed=2)
    assert img.shape == (200, 300, 3) and img.dtype == np.uint8
    assert img[20:70, 10:60].min() >= 150 and img[:20].max() <= 60
    np.testing.assert_array_equal(img[20:70, 10:60], fm.face_texture(50, (200, 190, 210), 5))
    assert np.abs(img[20:70, 10:60].reshape(-1, 3).mean(0) - (200, 190, 210)).max() < 12
    np.testing.assert_array_equal(fm.face_boxes([(10, 20, 50)]), [[10, 20, 60, 70]])
    np.testing.assert_allclose(fm.face_kps([(0, 0, 112)])[0], fm.ARCFACE_TEMPLATE)
