"""Occlusion masks, landmark area masks, the mask preview and faces at any angle (issue 12),
through the real swap step and the real session code on signature-exact stand-ins."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from faceswaplab.analysis import rotation
from faceswaplab.analysis.face import Face
from faceswaplab.engine import Engine
from faceswaplab.errors import ModelMissingError
from faceswaplab.identity import Identity
from faceswaplab.models import registry
from faceswaplab.models.signature import check_signature
from faceswaplab.options import EngineOptions, EnhanceOptions, UnitOptions
from faceswaplab.pipeline import swap_image
from faceswaplab.swap.face_swap import swap_face
from tests import fake_swappers as fs
from tests import fakemodels as fm

FACE = (200, 160, 240)
GREEN = (20, 230, 20)
RED = (230, 20, 20)
PATCH = (slice(300, 350), slice(250, 330))  # rows, cols: lower half of the face
RED_PATCH = (slice(190, 230), slice(360, 420))
HYPER = "hyperswap_1a_256.onnx"


@pytest.fixture(scope="module")
def mdir(tmp_path_factory, models_dir) -> Path:
    d = tmp_path_factory.mktemp("masks-models")
    shutil.copytree(models_dir, d, dirs_exist_ok=True)
    fs.write_kind_swapper(d / HYPER, registry.swapper_kind("hyperswap_256"), mode="mix")
    fs.write_occluder(d / "occluders" / "xseg_1.onnx", "green")
    fs.write_occluder(d / "occluders" / "xseg_2.onnx", "red")
    fm.write_restorer(d / "restorers" / "identity.onnx", 512, mode="identity")
    fm.write_restorer(d / "restorers" / "filter.onnx", 512)
    return d


class NoNudity:
    def detect(self, bgr):
        return []


def _scene(patches=((PATCH, GREEN),)) -> tuple[np.ndarray, Face]:
    x, y, side = FACE
    img = fm.make_face_image((640, 640), [(x, y, side, fm.FEMALE, 3)], seed=1)
    for where, colour in patches:
        img[where] = colour
    kps = fm.face_kps([(x, y, side)])[0]
    return img, Face(bbox=np.array([x, y, x + side, y + side], np.float32), kps=kps, det_score=0.9)


def _ident(seed: int = 5) -> Identity:
    v = np.random.default_rng(seed).standard_normal(512).astype(np.float32)
    return Identity(embedding=v / np.linalg.norm(v), raw_norm=20.0)


def _changed(a: np.ndarray, b: np.ndarray, where) -> float:
    return float(np.abs(a[where].astype(int) - b[where].astype(int)).mean())


UPPER = (slice(190, 260), slice(240, 350))  # the face above the patch, no red patch there


@pytest.mark.parametrize(
    "swapper, boost, restorer",
    [("inswapper_128.onnx", 1, None), ("inswapper_128.onnx", 2, "filter.onnx"), (HYPER, 1, None), (HYPER, 2, "identity.onnx")],
)
def test_occluding_patch_stays_bit_exact(mdir, swapper, boost, restorer):
    engine = Engine(EngineOptions(models_dir=str(mdir)))
    img, face = _scene()
    plain, occl = img.copy(), img.copy()
    enh = dict(boost=boost, restorer=restorer)
    swap_face(engine, plain, face, _ident(), UnitOptions(swapper=swapper, enhance=EnhanceOptions(**enh)))
    res = swap_face(engine, occl, face, _ident(), UnitOptions(swapper=swapper, enhance=EnhanceOptions(occluder="xseg_1", **enh)))
    assert _changed(plain, img, PATCH) > 5  # control: without the occluder the patch is swapped over
    assert np.array_equal(occl[PATCH], img[PATCH])  # with it, every occluding pixel is original
    assert _changed(occl, img, UPPER) > 5  # and the rest of the face is swapped
    assert any("occlusion mask from xseg_1.onnx" in n for n in res.notes)
    assert "occlusion" in res.masks.parts


def test_many_combines_every_occluder(mdir):
    engine = Engine(EngineOptions(models_dir=str(mdir)))
    img, face = _scene(((PATCH, GREEN), (RED_PATCH, RED)))
    one, many = img.copy(), img.copy()
    swap_face(engine, one, face, _ident(), UnitOptions(enhance=EnhanceOptions(occluder="xseg_1.onnx")))
    res = swap_face(engine, many, face, _ident(), UnitOptions(enhance=EnhanceOptions(occluder="many")))
    assert np.array_equal(many[PATCH], img[PATCH]) and np.array_equal(many[RED_PATCH], img[RED_PATCH])
    assert not np.array_equal(one[RED_PATCH], img[RED_PATCH])
    assert any("xseg_1.onnx, xseg_2.onnx" in n for n in res.notes)


def test_missing_occluder_names_the_file(mdir, tmp_path):
    engine = Engine(EngineOptions(models_dir=str(mdir)))
    img, face = _scene()
    with pytest.raises(ModelMissingError, match="xseg_3"):
        swap_face(engine, img, face, _ident(), UnitOptions(enhance=EnhanceOptions(occluder="xseg_3")))
    bare = tmp_path / "bare"
    shutil.copytree(mdir / "buffalo_l", bare / "buffalo_l")
    shutil.copy(mdir / "inswapper_128.onnx", bare / "inswapper_128.onnx")
    with pytest.raises(ModelMissingError, match="xseg_1.onnx"):
        Engine(EngineOptions(models_dir=str(bare))).occluders("many")
    assert check_signature(mdir / "occluders" / "xseg_1.onnx", "occluder") is None
    assert check_signature(mdir / HYPER, "occluder") is not None


def _landmarks(engine: Engine, img: np.ndarray, face: Face) -> np.ndarray:
    from insightface.app.common import Face as IFace

    rec = IFace(bbox=face.bbox.astype(np.float64), kps=face.kps, det_score=face.det_score)
    return np.asarray(engine.landmarks68().get(cv2.cvtColor(img, cv2.COLOR_RGB2BGR), rec))[:, :2]


def _around(p: np.ndarray, r: int = 6):
    x, y = int(round(p[0])), int(round(p[1]))
    return slice(y - r, y + r), slice(x - r, x + r)


def test_area_masks_from_the_68_landmarks(mdir):
    engine = Engine(EngineOptions(models_dir=str(mdir)))
    img, face = _scene(())
    pts = _landmarks(engine, img, face)
    mouth, brows = pts[48:68].mean(0), pts[17:27].mean(0)
    upper, lower = img.copy(), img.copy()
    res = swap_face(engine, upper, face, _ident(), UnitOptions(enhance=EnhanceOptions(mask_areas=("upper-face",))))
    swap_face(engine, lower, face, _ident(), UnitOptions(enhance=EnhanceOptions(mask_areas="lower-face,mouth")))
    assert any("area mask (upper-face) from the 68 landmarks" in n for n in res.notes)
    assert np.array_equal(upper[_around(mouth)], img[_around(mouth)])
    assert _changed(upper, img, _around(brows + [0, 12])) > 5
    assert _changed(lower, img, _around(mouth)) > 5
    assert np.array_equal(lower[_around(brows - [0, 4])], img[_around(brows - [0, 4])])


def test_keep_mouth_without_a_parser_uses_the_landmark_mouth(mdir):
    engine = Engine(EngineOptions(models_dir=str(mdir)))
    img, face = _scene(())
    pts = _landmarks(engine, img, face)
    kept, plain = img.copy(), img.copy()
    swap_face(engine, plain, face, _ident(), UnitOptions())
    res = swap_face(engine, kept, face, _ident(), UnitOptions(enhance=EnhanceOptions(keep_mouth=True)))
    m = _around(pts[48:68].mean(0), 4)
    assert _changed(plain, img, m) > 5 and _changed(kept, img, m) < 4  # one resampling
    assert "kept the original mouth" in res.notes


def test_mask_preview_shows_each_part(mdir):
    engine = Engine(EngineOptions(models_dir=str(mdir)), nsfw_detector=NoNudity())
    img, _face = _scene()
    src = fm.make_face_image(faces=[(220, 220, 200, fm.MALE, 7)], seed=11)
    res = swap_image(img, [UnitOptions(source_images=(src,), enhance=EnhanceOptions(occluder="xseg_1"))], engine=engine,
                     mask_preview=True)  # fmt: skip
    assert res.report.swapped == 1
    (name, pic), = res.previews
    assert name == "unit1-face0"
    size = 128
    assert pic.shape == (size, size * 3, 3)  # combined, box, occlusion
    occl_panel = pic[:, 2 * size :]
    assert occl_panel[..., 0].mean() > occl_panel[..., 1].mean()  # red where not swapped
    assert not swap_image(img, [UnitOptions(source_images=(src,))], engine=engine).previews


# --------------------------------------------------------------------------- any angle


def test_points_back_inverts_every_quarter_turn():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (37, 53, 3), dtype=np.uint8)
    pts = np.array([[3, 5], [52, 0], [10, 36]], np.float32)
    for deg in (0, 90, 180, 270):
        turned = rotation.turn(img, deg)
        for p in pts:
            # find where the original pixel went, then map it back
            ys, xs = np.nonzero(np.all(turned == img[int(p[1]), int(p[0])], axis=-1))
            back = rotation.points_back(np.stack([xs, ys], 1).astype(np.float32), deg, img.shape)
            assert any(np.allclose(b, p) for b in back), (deg, p)


@pytest.fixture(scope="module")
def t1_rgb():
    import insightface

    bgr = cv2.imread(os.path.join(os.path.dirname(insightface.__file__), "data", "images", "t1.jpg"))
    return np.ascontiguousarray(bgr[:, :, ::-1])


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_a_turned_photo_is_found_and_swapped_only_inside_the_faces(mdir, mtcnn, t1_rgb, degrees):
    target = rotation.turn(t1_rgb, degrees)
    units = [UnitOptions(source_images=(t1_rgb,), source_face_index=2, faces=(0, 1, 2, 3, 4, 5), min_face_size=0)]
    off = Engine(EngineOptions(models_dir=str(mdir), rotations="off"), detector=mtcnn, nsfw_detector=NoNudity())
    assert swap_image(target, units, engine=off).report.swapped < 6
    engine = Engine(EngineOptions(models_dir=str(mdir)), detector=mtcnn, nsfw_detector=NoNudity())
    res = swap_image(target, units, engine=engine)
    assert res.report.faces_detected == 6 and res.report.swapped == 6
    faces = res.report.units[0].faces
    assert all(f"found after rotating {(360 - degrees) % 360}" in f.notes for f in faces)
    out = res.image.rgb
    inside = np.zeros(target.shape[:2], bool)
    for f in faces:
        x0, y0, x1, y1 = f.bbox
        w, h = x1 - x0, y1 - y0
        inside[max(0, int(y0 - h)) : int(y1 + h), max(0, int(x0 - w)) : int(x1 + w)] = True
    assert np.array_equal(out[~inside], target[~inside])
    assert float(np.abs(out[inside].astype(int) - target[inside].astype(int)).mean()) > 1


def test_cli_mask_preview_writes_one_picture_per_face(mdir, tmp_path, capfd):
    from PIL import Image

    from faceswaplab.cli import main

    img, _face = _scene()
    tgt, src = tmp_path / "t.png", tmp_path / "s.png"
    Image.fromarray(img).save(tgt)
    Image.fromarray(fm.make_face_image(faces=[(220, 220, 200, fm.MALE, 7)], seed=11)).save(src)
    code = main(["swap", "--source", str(src), "--target", str(tgt), "--output", str(tmp_path / "o.png"),
                 "--models-dir", str(mdir), "--occluder", "xseg_1", "--mask-areas", "upper-face,lower-face",
                 "--mask-preview", str(tmp_path / "prev")])  # fmt: skip
    assert code == 0, capfd.readouterr().err
    pic = np.asarray(Image.open(tmp_path / "prev" / "unit1-face0.png"))
    assert pic.shape == (128, 128 * 4, 3)  # combined, box, areas, occlusion
