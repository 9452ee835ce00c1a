"""Swap quality (issue #4): resolution boost, restoration in FFHQ space with one warp back,
parsing masks, the original mouth, colour correction, sharpening, host restorers/upscalers,
and the round trip on a real photo (insightface's t1.jpg with real MTCNN keypoints)."""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from faceswaplab import geometry
from faceswaplab.analysis.face import Face
from faceswaplab.compose import box_mask, paste_aligned
from faceswaplab.engine import Engine
from faceswaplab.enhance import adjust, parsing
from faceswaplab.errors import ModelMissingError, OptionsError
from faceswaplab.identity import Identity
from faceswaplab.options import EngineOptions, EnhanceOptions, UnitOptions
from faceswaplab.swap import boost as polyphase
from faceswaplab.swap.face_swap import swap_face
from tests import fakemodels

# --------------------------------------------------------------------------- fixtures


def _add_enhancers(d: Path) -> None:
    fakemodels.write_restorer(d / "restorers" / "filter.onnx", 512, mode="filter")
    fakemodels.write_restorer(d / "restorers" / "identity.onnx", 512, mode="identity")
    fakemodels.write_restorer(d / "restorers" / "codeformer.onnx", 512, mode="filter", codeformer=True)
    fakemodels.write_restorer(d / "restorers" / "gpen256.onnx", 256, mode="filter")
    fakemodels.write_parser(d / "parsers" / "parser.onnx")


@pytest.fixture(scope="session")
def enh_dir(tmp_path_factory, models_dir) -> Path:
    """The stand-in pack (mixing swapper) plus restorers/ and parsers/."""
    d = tmp_path_factory.mktemp("models-enh")
    shutil.copytree(models_dir / "buffalo_l", d / "buffalo_l")
    shutil.copy(models_dir / "inswapper_128.onnx", d / "inswapper_128.onnx")
    _add_enhancers(d)
    return d


@pytest.fixture(scope="session")
def enh_identity_dir(tmp_path_factory, identity_models_dir) -> Path:
    """Identity swapper (returns its target crop) plus restorers/ (identity.onnx...) and parsers/."""
    d = tmp_path_factory.mktemp("models-enh-identity")
    shutil.copytree(identity_models_dir / "buffalo_l", d / "buffalo_l")
    shutil.copy(identity_models_dir / "inswapper_128.onnx", d / "inswapper_128.onnx")
    _add_enhancers(d)
    return d


@pytest.fixture
def eng(enh_dir) -> Engine:
    return Engine(EngineOptions(models_dir=str(enh_dir)))


@pytest.fixture
def id_eng(enh_identity_dir) -> Engine:
    return Engine(EngineOptions(models_dir=str(enh_identity_dir)))


@pytest.fixture(scope="session")
def t1(t1_path, mtcnn):
    """t1.jpg as RGB and its six faces with MTCNN's keypoints."""
    bgr = cv2.imread(str(t1_path))
    boxes, kps = mtcnn.detect(bgr, 640, 0.5)
    assert len(boxes) == 6
    faces = [Face(bbox=b[:4].copy(), kps=k.copy(), det_score=float(b[4])) for b, k in zip(boxes, kps)]
    return np.ascontiguousarray(bgr[:, :, ::-1]), faces


def _ident(seed: int = 7) -> Identity:
    v = np.random.default_rng(seed).standard_normal(512).astype(np.float32)
    return Identity(embedding=v / np.linalg.norm(v))


def _unit(**enh) -> UnitOptions:
    erosion = enh.pop("mask_erosion", 0.1)
    blur = enh.pop("mask_blur", 0.1)
    return UnitOptions(mask_erosion=erosion, mask_blur=blur, enhance=EnhanceOptions(**enh))


def _face_for(x: int, y: int, side: int) -> Face:
    kps = fakemodels.face_kps([(x, y, side)])[0]
    return Face(bbox=np.array([x, y, x + side, y + side], np.float32), kps=kps, det_score=0.9)


def _rect(x: int, y: int, side: int, fx0: float, fy0: float, fx1: float, fy1: float):
    """Pixel slice of the face square between fractions (fx0, fy0) and (fx1, fy1)."""
    return (slice(y + int(round(fy0 * side)), y + int(round(fy1 * side))), slice(x + int(round(fx0 * side)), x + int(round(fx1 * side))))


def _inset(sl, px: int):
    ys, xs = sl
    return (slice(ys.start + px, ys.stop - px), slice(xs.start + px, xs.stop - px))


FACE = (200, 160, 240)  # x, y, side of the painted face square in a 640x640 image
MOUTH = (0.34, 0.80, 0.66, 0.86)
UPPER_LIP = (0.34, 0.76, 0.66, 0.80)
LOWER_LIP = (0.34, 0.86, 0.66, 0.90)
HAIR_STRAND = (0.24, 0.50, 0.40, 0.70)  # hair over the left cheek (an occluder)


def painted_face() -> tuple[np.ndarray, Face]:
    """A synthetic face whose regions the stand-in parser labels: skin (the bright square),
    mouth + lips (painted with PARSER_PALETTE colours) and a strand of hair over a cheek."""
    x, y, side = FACE
    img = fakemodels.make_face_image((640, 640), [(x, y, side, fakemodels.FEMALE, 3)], seed=1)
    pal = fakemodels.PARSER_PALETTE
    for box, cls in ((MOUTH, 11), (UPPER_LIP, 12), (LOWER_LIP, 13), (HAIR_STRAND, 17)):
        img[_rect(x, y, side, *box)] = pal[cls]
    return img, _face_for(x, y, side)


def psnr(a: np.ndarray, b: np.ndarray, sel: np.ndarray | None = None) -> float:
    d = a.astype(np.float64) - b.astype(np.float64)
    if sel is not None:
        d = d[sel]
    mse = float(np.mean(d**2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


def inner_face_boxes(shape, faces) -> np.ndarray:
    """Union of the faces' inner boxes: the keypoints' bounding box padded by 10%."""
    sel = np.zeros(shape[:2], bool)
    for f in faces:
        (x0, y0), (x1, y1) = f.kps.min(0), f.kps.max(0)
        pw, ph = 0.1 * (x1 - x0), 0.1 * (y1 - y0)
        sel[int(np.floor(y0 - ph)) : int(np.ceil(y1 + ph)) + 1, int(np.floor(x0 - pw)) : int(np.ceil(x1 + pw)) + 1] = True
    return sel


# --------------------------------------------------------------------------- boost


@pytest.mark.parametrize("n", [1, 2, 4])
def test_boost_sizes_and_same_as_inswapper(eng, n):
    img, face = painted_face()
    sw = eng.swapper()
    latent = sw.latent(_ident().embedding)
    ref, m_ref = sw.swap(img, face.kps, latent, boost=n)
    m = geometry.align_matrix(face.kps, 128 * n)
    crop = geometry.warp_to_aligned(img, m, 128 * n)
    out = polyphase.swap_crop(sw, crop, latent, n)
    assert out.shape == (128 * n, 128 * n, 3) and out.dtype == np.float32
    np.testing.assert_allclose(m, m_ref)
    np.testing.assert_array_equal(out, ref)


@pytest.mark.parametrize("n", [2, 4])
def test_boost_result_depends_on_every_phase(eng, n):
    """Perturbing the input of one phase changes the output at exactly that phase's pixels."""
    sw = eng.swapper()
    latent = sw.latent(_ident().embedding)
    rng = np.random.default_rng(n)
    crop = rng.integers(90, 160, size=(128 * n, 128 * n, 3)).astype(np.uint8)
    base = polyphase.swap_crop(sw, crop, latent, n)
    block = np.zeros((128 * n, 128 * n), bool)  # where the stand-in swapper mixes in the target
    block[2 * n : 110 * n, 10 * n : 118 * n] = True
    for i in range(n):
        for j in range(n):
            pert = crop.copy()
            pert[i::n, j::n] += 60
            diff = np.abs(polyphase.swap_crop(sw, pert, latent, n) - base).max(axis=2)
            phase = np.zeros_like(block)
            phase[i::n, j::n] = True
            assert diff[~phase].max() == 0, f"phase ({i},{j}) leaked into other pixels"
            assert (diff[phase] > 0.5).mean() > 0.9, f"phase ({i},{j}) was not swapped"
            assert (diff[phase & block] > 5).mean() > 0.9  # the swapped block saw its own input


def test_boost_identity_swapper_returns_the_crop(id_eng):
    img, face = painted_face()
    sw = id_eng.swapper()
    latent = sw.latent(_ident().embedding)
    for n in (2, 4):
        crop = geometry.warp_to_aligned(img, geometry.align_matrix(face.kps, 128 * n), 128 * n)
        out = polyphase.swap_crop(sw, crop, latent, n)
        np.testing.assert_allclose(out, crop.astype(np.float32), atol=1e-3)


def test_phases_interleave_inverse():
    x = np.arange(8 * 8 * 2).reshape(8, 8, 2)
    for n in (1, 2, 4):
        p = polyphase.phases(x, n)
        assert p.shape == (n * n, 8 // n, 8 // n, 2)
        np.testing.assert_array_equal(polyphase.interleave(p, n), x)


# --------------------------------------------------------------------------- parsing, mouth


def test_parser_labels_painted_regions(eng):
    img, face = painted_face()
    parser = eng.parser("parser.onnx")
    parse, m_p = parsing.parse_face(parser, img, face.kps)
    labels = parse.labels
    assert labels.shape == (512, 512)
    # "best class in the set" == argmax membership, except exact ties (which count as in the set)
    fast, slow = parse.mask((11, 12, 13)).astype(bool), np.isin(labels, (11, 12, 13))
    assert (fast >= slow).all() and (fast != slow).mean() < 1e-3
    x, y, side = FACE

    def label_at(fx, fy):
        u, v = geometry.apply(m_p, [[x + fx * side, y + fy * side]])[0]
        return int(labels[int(round(v)), int(round(u))])

    assert label_at(0.5, 0.83) == 11
    assert label_at(0.5, 0.78) == 12
    assert label_at(0.5, 0.88) == 13
    assert label_at(0.32, 0.6) == 17
    assert label_at(0.7, 0.5) == 1
    assert label_at(-0.2, 0.5) == 0


def test_keep_mouth_takes_the_mouth_from_the_original(eng):
    img, face = painted_face()
    x, y, side = FACE
    # the interior of each painted band (away from the band edges, which any resampling softens)
    bands = [_inset(_rect(x, y, side, *box), 3) for box in (MOUTH, UPPER_LIP, LOWER_LIP)]
    results = {}
    for keep in (False, True):
        out = img.copy()
        res = swap_face(eng, out, face, _ident(), _unit(boost=2, parser="parser.onnx", keep_mouth=keep, mask_erosion=0.05, mask_blur=0.05))
        results[keep] = (out, res)
    on, off = results[True][0], results[False][0]
    for band in bands:
        d_on = np.abs(on[band].astype(int) - img[band].astype(int))
        d_off = np.abs(off[band].astype(int) - img[band].astype(int))
        assert d_on.max() <= 3, "keep-mouth: the mouth must come from the original"
        assert d_off.mean() > 40, "without keep-mouth the mouth is swapped"
    assert "kept the original mouth" in results[True][1].notes
    assert "kept the original mouth" not in results[False][1].notes
    # the rest of the face is swapped either way
    cheek = _rect(x, y, side, 0.6, 0.45, 0.75, 0.65)
    assert np.abs(on[cheek].astype(int) - img[cheek].astype(int)).mean() > 10


def test_parsing_mask_keeps_unselected_regions_original(eng):
    img, face = painted_face()
    x, y, side = FACE
    strand = _inset(_rect(x, y, side, *HAIR_STRAND), 4)
    cheek = _rect(x, y, side, 0.6, 0.45, 0.75, 0.65)
    face_only = img.copy()
    res = swap_face(eng, face_only, face, _ident(), _unit(parser="parser.onnx", mask_regions=("skin", "nose", "mouth", "lips")))
    with_hair = img.copy()
    swap_face(eng, with_hair, face, _ident(), _unit(parser="parser.onnx", mask_regions=("skin", "hair")))
    assert np.abs(face_only[strand].astype(int) - img[strand].astype(int)).max() <= 2, "hair not selected: stays original"
    assert np.abs(with_hair[strand].astype(int) - img[strand].astype(int)).mean() > 30
    assert np.abs(face_only[cheek].astype(int) - img[cheek].astype(int)).mean() > 10
    assert any("parsing mask (skin, nose, mouth, lips)" in n for n in res.notes)


def test_region_mask_is_soft_and_combines_by_min():
    logits = np.zeros((19, 512, 512), np.float32)
    logits[0] = 1.0
    logits[1, 100:400, 100:400] = 2.0
    m = parsing.region_mask(parsing.Parsing(logits), ("skin",), np.array([[0.25, 0.0, 0.0], [0.0, 0.25, 0.0]]), 128)
    assert m.dtype == np.float32 and m.min() >= 0 and m.max() <= 1
    soft = ((m > 0.02) & (m < 0.98)).sum()
    assert soft > 4 * 75, "feathered edges, not a hard binary mask"
    assert m[64, 64] > 0.99 and m[5, 5] < 0.01
    combined = np.minimum(box_mask(128, 0.1, 0.1), m)
    assert (combined <= m + 1e-7).all() and (combined <= box_mask(128, 0.1, 0.1) + 1e-7).all()


def test_parser_and_restorer_missing_give_model_missing_message(eng):
    img, face = painted_face()
    before = img.copy()
    with pytest.raises(ModelMissingError) as e:
        swap_face(eng, img, face, _ident(), _unit(restorer="GFPGANv1.4.onnx"))
    assert "GFPGANv1.4.onnx" in str(e.value) and "restorers" in str(e.value)
    with pytest.raises(ModelMissingError) as e:
        swap_face(eng, img, face, _ident(), _unit(parser="bisenet.onnx", keep_mouth=True))
    assert "bisenet.onnx" in str(e.value) and "parsers" in str(e.value)
    np.testing.assert_array_equal(img, before)  # nothing touched before failing


# --------------------------------------------------------------------------- colour, sharpen


def _lab_mean(rgb: np.ndarray, sel) -> np.ndarray:
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    return lab[sel].reshape(-1, 3).mean(axis=0)


def test_color_correction_moves_statistics_towards_the_target(eng):
    x, y, side = FACE
    img = fakemodels.make_face_image((640, 640), [(x, y, side, fakemodels.FEMALE, 3)], seed=1)
    face = _face_for(x, y, side)
    inner = _rect(x, y, side, 0.3, 0.3, 0.7, 0.7)
    target = _lab_mean(img, inner)
    dist = {}
    for cc in (0.0, 0.5, 1.0):
        out = img.copy()
        res = swap_face(eng, out, face, _ident(3), _unit(color_correction=cc))
        dist[cc] = float(np.linalg.norm(_lab_mean(out, inner) - target))
        assert (f"colour correction {cc:g}" in res.notes) == (cc > 0)
    assert dist[0.0] > 8, "the stand-in swap changes the colour (test premise)"
    assert dist[1.0] < 0.3 * dist[0.0]
    assert dist[1.0] < dist[0.5] < dist[0.0]


def test_color_transfer_matches_lab_statistics():
    rng = np.random.default_rng(0)
    face = np.clip(rng.normal([90, 140, 200], 20, size=(64, 64, 3)), 0, 255).astype(np.float32)
    target = np.clip(rng.normal([200, 150, 120], 12, size=(64, 64, 3)), 0, 255).astype(np.float32)
    mask = np.ones((64, 64), np.float32)
    out = adjust.color_transfer(face, target, mask, 1.0)
    mu_o, sd_o = adjust.weighted_stats(cv2.cvtColor(out / 255, cv2.COLOR_RGB2Lab), mask)
    mu_t, sd_t = adjust.weighted_stats(cv2.cvtColor(target / 255, cv2.COLOR_RGB2Lab), mask)
    np.testing.assert_allclose(mu_o, mu_t, atol=1.0)
    np.testing.assert_allclose(sd_o, sd_t, rtol=0.15)
    np.testing.assert_array_equal(adjust.color_transfer(face, target, mask, 0.0), face)


def test_sharpen_raises_local_contrast(id_eng):
    img, face = painted_face()
    x, y, side = FACE
    inner = _rect(x, y, side, 0.25, 0.25, 0.75, 0.7)

    def detail(a):
        return float(cv2.Laplacian(a[inner].astype(np.float32).mean(axis=2), cv2.CV_32F).var())

    plain, sharp = img.copy(), img.copy()
    swap_face(id_eng, plain, face, _ident(), _unit())
    res = swap_face(id_eng, sharp, face, _ident(), _unit(sharpen=1.0))
    assert detail(sharp) > 1.5 * detail(plain)
    assert "sharpen 1" in res.notes


# --------------------------------------------------------------------------- restoration


def _two_faces() -> tuple[np.ndarray, Face, Face]:
    img = fakemodels.make_face_image((800, 480), [(60, 100, 200, fakemodels.FEMALE, 1), (480, 120, 220, fakemodels.MALE, 2)], seed=4)
    return img, _face_for(60, 100, 200), _face_for(480, 120, 220)


def _inside_crop(m: np.ndarray, size: int, shape) -> np.ndarray:
    h, w = shape[:2]
    ys, xs = np.mgrid[0:h, 0:w]
    pts = geometry.apply(m, np.stack([xs.ravel(), ys.ravel()], axis=1))
    ok = (pts[:, 0] >= -1) & (pts[:, 0] <= size) & (pts[:, 1] >= -1) & (pts[:, 1] <= size)
    return ok.reshape(h, w)


@pytest.mark.parametrize("n", [1, 4])
def test_restored_face_lands_only_inside_the_face_region(id_eng, n):
    img, a, b = _two_faces()
    out = img.copy()
    res = swap_face(id_eng, out, a, _ident(), _unit(boost=n, restorer="filter.onnx"))
    assert "restored with filter.onnx at 512" in res.notes
    changed = (out != img).any(axis=2)
    m_s = geometry.align_matrix(a.kps, 128 * n)
    assert not changed[~_inside_crop(m_s, 128 * n, img.shape)].any(), "restoration leaked outside the face crop"
    x0, y0, x1, y1 = res.roi
    outside = np.ones_like(changed)
    outside[y0:y1, x0:x1] = False
    assert not changed[outside].any()
    bx0, by0, bx1, by1 = (int(v) for v in b.bbox)
    assert not changed[by0 - 20 : by1 + 20, bx0 - 20 : bx1 + 20].any(), "the other face is untouched"
    # the stand-in restorer (0.9 * blur3x3 + 0.1 in [-1, 1]: brighter, smoother) ran on the face,
    # while the same path with an identity restorer gives the face back
    same = img.copy()
    swap_face(id_eng, same, a, _ident(), _unit(boost=n, restorer="identity.onnx"))
    inner = _rect(60, 100, 200, 0.3, 0.3, 0.7, 0.7)
    assert out[inner].astype(float).mean() - same[inner].astype(float).mean() > 3
    assert np.abs(out[inner].astype(float) - same[inner].astype(float)).mean() > 3
    assert psnr(same, img, _inner_sel(img.shape, [a])) > {1: 33, 4: 40}[n]  # 200 px face: 128 crop loses its noise


def _inner_sel(shape, faces):
    return inner_face_boxes(shape, faces)


def test_restorer_size_read_from_file_and_codeformer_weight(id_eng):
    img, face = painted_face()
    sel = _inner_sel(img.shape, [face])

    def run(**kw):
        out = img.copy()
        return out, swap_face(id_eng, out, face, _ident(), _unit(**kw))

    gpen, res = run(restorer="gpen256.onnx")
    assert "restored with gpen256.onnx at 256" in res.notes
    ident_out, _ = run(restorer="identity.onnx")
    filt, _ = run(restorer="filter.onnx")
    cf1, res1 = run(restorer="codeformer.onnx", codeformer_weight=1.0)
    cf0, _ = run(restorer="codeformer.onnx", codeformer_weight=0.0)
    assert "restored with codeformer.onnx at 512 (weight 1)" in res1.notes
    assert np.abs(cf1.astype(int) - ident_out.astype(int))[sel].max() <= 1  # weight 1: faithful
    assert np.abs(cf0.astype(int) - filt.astype(int))[sel].max() <= 1  # weight 0: full restoration
    half, resh = run(restorer="filter.onnx", restorer_visibility=0.5)
    mid = (ident_out.astype(float) + filt.astype(float)) / 2
    assert np.abs(half.astype(float) - mid)[sel].max() <= 1.5
    assert "restored with filter.onnx at 512 (visibility 0.5)" in resh.notes
    none, resn = run(restorer="filter.onnx", restorer_visibility=0.0)
    assert not any(n.startswith("restored") for n in resn.notes)


def test_onnx_restorer_reads_signature(id_eng):
    r = id_eng.restorer("gpen256")  # the suffix may be left out
    assert r.size == 256 and not r.codeformer
    cf = id_eng.restorer("codeformer.onnx")
    assert cf.size == 512 and cf.codeformer
    assert set(id_eng.restorer_names()) >= {"filter.onnx", "identity.onnx", "codeformer.onnx", "gpen256.onnx"}


# --------------------------------------------------------------------------- host interface


class RecordingRestorer:
    """A host-style aligned restorer: inverts the face, records what it was given."""

    def __init__(self, size: int = 512) -> None:
        self.name, self.size, self.calls = "host-restorer", size, []

    def restore(self, face: np.ndarray, weight: float = 0.5) -> np.ndarray:
        self.calls.append((face.shape, face.dtype, weight, face.copy()))
        return face  # identity: the round trip must come back where it was


class WholeImageRestorer:
    name = "host-whole-image"

    def __init__(self) -> None:
        self.shapes = []

    def restore_image(self, image: np.ndarray, weight: float = 0.5) -> np.ndarray:
        self.shapes.append(image.shape)
        return np.clip(image.astype(int) + 40, 0, 255).astype(np.uint8)


class ResizeUpscaler:
    """A host-style network upscaler stand-in: cv2.resize's pixel-centre convention."""

    name = "host-up"

    def __init__(self) -> None:
        self.scales = []

    def upscale(self, image: np.ndarray, scale: int) -> np.ndarray:
        self.scales.append(scale)
        h, w = image.shape[:2]
        return cv2.resize(image, (w * scale, h * scale), interpolation=cv2.INTER_LINEAR)


def test_host_aligned_restorer_gets_the_ffhq_face(enh_identity_dir, t1):
    rgb, faces = t1
    host = RecordingRestorer()
    eng = Engine(EngineOptions(models_dir=str(enh_identity_dir)), restorers={"Host Restorer": host})
    face = faces[0]
    out = rgb.copy()
    res = swap_face(eng, out, face, _ident(), _unit(boost=2, restorer="host restorer", codeformer_weight=0.3))
    assert "restored with host-restorer at 512" in res.notes
    (shape, dtype, weight, got), = host.calls
    assert shape == (512, 512, 3) and dtype == np.uint8 and weight == 0.3
    expected = geometry.warp_to_aligned(rgb, geometry.ffhq_matrix(face.kps, 512), 512)
    centre = (slice(200, 400), slice(160, 352))  # eyes to chin in FFHQ 512
    assert psnr(got[centre], expected[centre]) > 38
    assert "host restorer" in [n.lower() for n in eng.restorer_names()]


def test_host_image_restorer_fallback_touches_only_this_face(enh_identity_dir):
    img, a, b = _two_faces()
    host = WholeImageRestorer()
    eng = Engine(EngineOptions(models_dir=str(enh_identity_dir)))
    eng.register_restorer("whole", host)
    out = img.copy()
    res = swap_face(eng, out, a, _ident(), _unit(restorer="whole"))
    assert len(host.shapes) == 1 and host.shapes[0][0] < img.shape[0] + 1
    assert any("host whole-image restore" in n for n in res.notes)
    changed = (out != img).any(axis=2)
    assert not changed[~_inside_crop(geometry.align_matrix(a.kps, 128), 128, img.shape)].any()
    inner = _rect(60, 100, 200, 0.3, 0.3, 0.7, 0.7)
    assert out[inner].astype(float).mean() - img[inner].astype(float).mean() > 30


def test_host_upscaler_keeps_the_face_in_place(enh_identity_dir, t1):
    """A host upscaler's pixel-centre convention is composed into the matrices: upscaling
    before restoration must not move the face (a 1.5 px misregistration would cost ~10 dB)."""
    rgb, faces = t1
    up = ResizeUpscaler()
    eng = Engine(EngineOptions(models_dir=str(enh_identity_dir)), upscalers={"host-up": up})
    sel = inner_face_boxes(rgb.shape, faces[:2])
    plain, upscaled = rgb.copy(), rgb.copy()
    for f in faces[:2]:
        swap_face(eng, plain, f, _ident(), _unit(restorer="identity.onnx"))
        res = swap_face(eng, upscaled, f, _ident(), _unit(restorer="identity.onnx", upscale="host-up"))
    assert up.scales == [4, 4]  # 128 crop -> FFHQ 512 is a ~3.1x enlargement
    assert "upscaled x4 with host-up" in res.notes
    assert psnr(upscaled, plain, sel) > 40
    # the plain path resamples the swap once (cubic); a bilinear x4 resize costs a few dB
    # but a misregistration would cost ~10
    assert psnr(upscaled, rgb, sel) > psnr(plain, rgb, sel) - 4.0


def test_lanczos_upscale_and_unknown_upscaler(id_eng):
    img, face = painted_face()
    out = img.copy()
    res = swap_face(id_eng, out, face, _ident(), _unit(restorer="identity.onnx", upscale="lanczos"))
    assert "upscaled with lanczos (in the warp)" in res.notes
    sel = _inner_sel(img.shape, [face])
    plain = img.copy()
    swap_face(id_eng, plain, face, _ident(), _unit(restorer="identity.onnx"))
    assert psnr(out, img, sel) > psnr(plain, img, sel) - 0.5  # same place, no worse
    out2 = img.copy()
    res2 = swap_face(id_eng, out2, face, _ident(), _unit(upscale="lanczos"))  # straight into the image
    assert "upscaled with lanczos (in the warp)" in res2.notes
    with pytest.raises(OptionsError, match="unknown upscaler 'esrgan'.*lanczos"):
        swap_face(id_eng, img.copy(), face, _ident(), _unit(upscale="esrgan"))


def test_register_rejects_objects_without_the_interface(id_eng):
    with pytest.raises(TypeError):
        id_eng.register_restorer("bad", object())
    with pytest.raises(TypeError):
        id_eng.register_upscaler("bad", object())


# --------------------------------------------------------------------------- round trip on a real photo


def _insightface_paste(path: Path, rgb: np.ndarray, faces, ident: Identity) -> np.ndarray:
    from insightface.app.common import Face as IFace
    from insightface.model_zoo import model_zoo

    with contextlib.redirect_stdout(io.StringIO()):  # INSwapper prints when built
        model = model_zoo.get_model(str(path), providers=["CPUExecutionProvider"])
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    src = IFace(embedding=ident.embedding.astype(np.float32))
    for f in faces:
        bgr = model.get(bgr, IFace(kps=f.kps, bbox=f.bbox), src, paste_back=True)
    return np.ascontiguousarray(bgr[:, :, ::-1])


def realign_and_paste(rgb: np.ndarray, faces, size: int = 512) -> np.ndarray:
    """What earlier tools did after pasting: detect/align the face again (here: the same
    keypoints, FFHQ 512), 'restore' (identity) and warp back a second time."""
    out = rgb.copy()
    for f in faces:
        m_f = geometry.ffhq_matrix(f.kps, size)
        paste_aligned(out, geometry.warp_to_aligned(out, m_f, size), m_f, box_mask(size, 0.1, 0.1))
    return out


def round_trip_psnrs(engine: Engine, rgb: np.ndarray, faces, swapper_path: Path) -> dict[str, float]:
    ident = _ident()
    sel = inner_face_boxes(rgb.shape, faces)
    ours = rgb.copy()
    for f in faces:
        swap_face(engine, ours, f, ident, _unit(boost=4, restorer="identity.onnx"))
    boosted = rgb.copy()
    for f in faces:
        swap_face(engine, boosted, f, ident, _unit(boost=4))
    insight = _insightface_paste(swapper_path, rgb, faces, ident)
    return {
        "ours: boost 4 + restoration, one warp back": psnr(ours, rgb, sel),
        "ours: boost 4, no restoration": psnr(boosted, rgb, sel),
        "insightface paste-back (128)": psnr(insight, rgb, sel),
        "insightface paste-back + re-align + second warp": psnr(realign_and_paste(insight, faces), rgb, sel),
        "boost 4 paste-back + re-align + second warp": psnr(realign_and_paste(boosted, faces), rgb, sel),
    }


def test_round_trip_psnr_on_t1(enh_identity_dir, mtcnn, t1):
    rgb, faces = t1
    engine = Engine(EngineOptions(models_dir=str(enh_identity_dir)), detector=mtcnn)
    # the faces come from the engine's own detector (MTCNN) through the analyser
    found = engine.analyser().analyse(rgb, det_size=640, det_thresh=0.5, retry=False, attributes=False)
    assert len(found) == 6
    figures = round_trip_psnrs(engine, rgb, found, enh_identity_dir / "inswapper_128.onnx")
    print("\nround trip PSNR over the inner face boxes of t1.jpg (identity swapper and restorer):")
    for k, v in figures.items():
        print(f"  {v:6.2f} dB  {k}")
    ours = figures["ours: boost 4 + restoration, one warp back"]
    assert ours >= 42.0
    # the restoration path's extra resample (swap crop -> FFHQ space) costs under 1 dB
    assert ours > figures["ours: boost 4, no restoration"] - 1.0
    assert ours > figures["insightface paste-back (128)"]
    assert ours > figures["insightface paste-back + re-align + second warp"]
    assert ours > figures["boost 4 paste-back + re-align + second warp"]


# --------------------------------------------------------------------------- through the pipeline


class _NoNudity:
    def detect(self, bgr):
        return []


def test_pipeline_reports_enhancement_notes(enh_dir, write_image):
    from faceswaplab.pipeline import swap_image

    eng = Engine(EngineOptions(models_dir=str(enh_dir)), nsfw_detector=_NoNudity())
    src = write_image(fakemodels.make_face_image((320, 320), [(80, 80, 160, fakemodels.MALE, 9)], seed=2), "src.png")
    target = fakemodels.make_face_image((640, 640), [(200, 200, 200, fakemodels.FEMALE, 5)], seed=3)
    unit = UnitOptions(
        source_images=(str(src),),
        enhance=EnhanceOptions(
            boost=2, restorer="filter.onnx", parser="parser.onnx", keep_mouth=True, color_correction=0.5, sharpen=0.3
        ),
    )
    result = swap_image(target, [unit], engine=eng)
    fr = result.report.units[0].faces[0]
    assert fr.status == "swapped", fr.reason
    for expected in ("boost x2: swapped at 256 px", "kept the original mouth", "restored with filter.onnx at 512", "colour correction 0.5", "sharpen 0.3"):
        assert expected in fr.notes
    assert not np.array_equal(result.rgb, target)


def test_empty_parsing_mask_is_reported_not_silent(eng):
    img, face = painted_face()
    out = img.copy()
    res = swap_face(eng, out, face, _ident(), _unit(parser="parser.onnx", mask_regions=("glasses",)))
    assert any("parsing mask is empty" in n for n in res.notes)
    np.testing.assert_array_equal(out, img)
