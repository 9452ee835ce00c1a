"""Swapper kinds as data (registry.SWAPPER_KINDS) and the one wrapper that reads them.

Every kind of the issue's table runs through the real session code on a stand-in with the
real file's signature (tests/fake_swappers.py, written from the row independently of the
wrapper): an identity stand-in must give the face back (wrong pixel scaling in or out breaks
that), a mixing one must change the face and nothing outside it, converters must be applied
as the table says, and missing files must be named.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from faceswaplab import geometry
from faceswaplab.analysis.face import Face, normalize
from faceswaplab.engine import Engine
from faceswaplab.errors import ModelMissingError, OptionsError
from faceswaplab.identity import Identity, mix_with_target
from faceswaplab.models import registry
from faceswaplab.models.signature import check_signature
from faceswaplab.options import EngineOptions, EnhanceOptions, UnitOptions
from faceswaplab.swap.face_swap import swap_face
from tests import fake_swappers as fs
from tests import fakemodels as fm

FACE = (200, 160, 240)
# one known file per kind (the name tells the kind)
FILES = {
    "inswapper_128": "inswapper_128.onnx",
    "reswapper_128": "reswapper_128.onnx",
    "reswapper_256": "reswapper_256.onnx",
    "hyperswap_256": "hyperswap_1a_256.onnx",
    "ghost_256": "ghost_1_256.onnx",
    "simswap_256": "simswap_256.onnx",
    "simswap_512": "simswap_unofficial_512.onnx",
    "hififace_256": "hififace_unofficial_256.onnx",
}
CONVERTERS = ("crossface_ghost.onnx", "crossface_simswap.onnx", "crossface_hififace.onnx")


def _write_dir(d: Path, pack: Path, mode: str) -> Path:
    shutil.copytree(pack / "buffalo_l", d / "buffalo_l")
    for kind in registry.SWAPPER_KINDS:
        fs.write_kind_swapper(d / FILES[kind.name], kind, mode=mode, with_emap=kind.name != "reswapper_256")
    for name in CONVERTERS:
        fs.write_converter(d / name)
    fm.write_restorer(d / "restorers" / "identity.onnx", 512, mode="identity")
    return d


@pytest.fixture(scope="module")
def id_dir(tmp_path_factory, identity_models_dir) -> Path:
    return _write_dir(tmp_path_factory.mktemp("kinds-identity"), identity_models_dir, "identity")


@pytest.fixture(scope="module")
def mix_dir(tmp_path_factory, identity_models_dir) -> Path:
    return _write_dir(tmp_path_factory.mktemp("kinds-mix"), identity_models_dir, "mix")


def _face() -> tuple[np.ndarray, Face]:
    x, y, side = FACE
    img = fm.make_face_image((640, 640), [(x, y, side, fm.FEMALE, 3)], seed=1)
    kps = fm.face_kps([(x, y, side)])[0]
    return img, Face(bbox=np.array([x, y, x + side, y + side], np.float32), kps=kps, det_score=0.9)


def _ident(seed: int = 7, raw_norm: float | None = 23.0) -> Identity:
    v = np.random.default_rng(seed).standard_normal(512).astype(np.float32)
    return Identity(embedding=v / np.linalg.norm(v), raw_norm=raw_norm)


def _psnr_inner(out: np.ndarray, img: np.ndarray, face: Face) -> float:
    (x0, y0), (x1, y1) = face.kps.min(0), face.kps.max(0)
    sel = (slice(int(y0), int(y1) + 1), slice(int(x0), int(x1) + 1))
    mse = float(np.mean((out[sel].astype(np.float64) - img[sel].astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def _unit(kind: str, **enh) -> UnitOptions:
    return UnitOptions(swapper=FILES[kind], enhance=EnhanceOptions(**enh))


# --------------------------------------------------------------------------- the table


def test_rows_say_what_the_issue_table_says():
    """The rows are the spec; a typo in them would make stand-in and wrapper agree on a
    wrong layout, so they are checked against the published table literally."""
    half, imagenet = ((0.5,) * 3, (0.5,) * 3), ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    unit = ((0.0,) * 3, (1.0,) * 3)
    table = {  # name: size, template, target in, output, method, converter, normalised, raw
        "inswapper_128": (128, "arcface_128", unit, unit, "emap", None, True, False),
        "reswapper_128": (128, "arcface_128", unit, unit, "emap", None, True, False),
        "reswapper_256": (256, "arcface_128", unit, unit, "emap", None, True, False),
        "hyperswap_256": (256, "arcface_128", half, half, "embedding", None, True, False),
        "ghost_256": (256, "arcface_112_v1", half, half, "converter", "crossface_ghost.onnx", False, True),
        "simswap_256": (256, "arcface_112_v1", imagenet, unit, "converter", "crossface_simswap.onnx", True, True),
        "simswap_512": (512, "arcface_112_v1", unit, unit, "converter", "crossface_simswap.onnx", True, True),
        "hififace_256": (256, "mtcnn_512", half, half, "converter", "crossface_hififace.onnx", True, True),
    }
    assert {k.name for k in registry.SWAPPER_KINDS} == set(table)
    for k in registry.SWAPPER_KINDS:
        got = (k.size, k.template, (k.target_norm.mean, k.target_norm.std), (k.output_norm.mean, k.output_norm.std),
               k.source.method, k.source.converter, k.source.normalise, k.source.raw)  # fmt: skip
        assert got == table[k.name], k.name
    np.testing.assert_allclose(geometry.TEMPLATES["arcface_112_v1"][0], (0.35473, 0.45659), atol=1e-5)
    np.testing.assert_allclose(geometry.TEMPLATES["mtcnn_512"][4], (0.61179, 0.77476), atol=1e-5)
    for spec in registry.KNOWN_MODELS:
        assert spec.licence, spec.name
        if spec.swapper_kind:
            assert registry.swapper_kind(spec.swapper_kind) is not None
    ghost = registry.spec_for("ghost_2_256.onnx")
    assert ghost.licence.startswith("Apache-2.0") and ghost.url.endswith("/ghost_2_256.onnx") and ghost.sha256 is None


def test_inswapper_row_is_insightfaces_alignment_and_latent(id_dir):
    kind = registry.swapper_kind_for("inswapper_128.onnx")
    assert registry.swapper_kind_for("inswapper_128_fp16.onnx") is kind
    _, face = _face()
    for boost in (1, 2, 4):
        np.testing.assert_array_equal(geometry.template_matrix(face.kps, kind.template, 128 * boost),
                                      geometry.align_matrix(face.kps, 128 * boost))
    sw = Engine(EngineOptions(models_dir=str(id_dir))).swapper("inswapper_128")  # the suffix is optional
    assert sw.kind is kind and sw.crop_size(4) == 512
    e = _ident().embedding
    expected = normalize(normalize(e).reshape(1, -1) @ fm.swapper_emap()).reshape(1, -1)
    np.testing.assert_array_equal(sw.latent(e), expected)


# --------------------------------------------------------------------------- every kind


@pytest.mark.parametrize("kind", [k.name for k in registry.SWAPPER_KINDS])
def test_identity_stand_in_round_trips_the_face(id_dir, kind):
    engine = Engine(EngineOptions(models_dir=str(id_dir)))
    img, face = _face()
    base = img.copy()
    swap_face(engine, base, face, _ident(), _unit("inswapper_128"))
    floor = _psnr_inner(base, img, face)  # the 128 px round trip of a 240 px face
    size = registry.swapper_kind(kind).size
    for boost, restorer in ((1, None), (2, None), (2, "identity.onnx")):
        if size * boost > 1024:
            continue
        out = img.copy()
        res = swap_face(engine, out, face, _ident(), _unit(kind, boost=boost, restorer=restorer))
        got = _psnr_inner(out, img, face)
        assert got > (33 if size * boost <= 128 else 38), (kind, boost, restorer, got)
        if size > 128:
            assert got > floor + 3, (kind, boost, got, floor)  # the bigger crop keeps more of the face
        if boost == 2:
            assert f"boost x2: swapped at {2 * size} px" in res.notes


@pytest.mark.parametrize("kind", ["hyperswap_256", "ghost_256", "simswap_256", "simswap_512", "hififace_256", "reswapper_256"])
def test_mixing_stand_in_changes_the_face_and_nothing_outside(mix_dir, kind):
    engine = Engine(EngineOptions(models_dir=str(mix_dir)))
    img, face = _face()
    a, b = img.copy(), img.copy()
    res = swap_face(engine, a, face, _ident(1), _unit(kind))
    swap_face(engine, b, face, _ident(2), _unit(kind))
    x0, y0, x1, y1 = res.roi
    outside = np.ones(img.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    assert np.array_equal(a[outside], img[outside])
    (fx0, fy0), (fx1, fy1) = face.kps.min(0).astype(int), face.kps.max(0).astype(int)
    inner = (slice(fy0, fy1), slice(fx0, fx1))
    assert np.abs(a[inner].astype(int) - img[inner].astype(int)).mean() > 10  # the face changed
    assert np.abs(a[inner].astype(int) - b[inner].astype(int)).mean() > 3  # and depends on the source


def test_converters_are_applied_as_the_table_says(id_dir):
    engine = Engine(EngineOptions(models_dir=str(id_dir)))
    ident = _ident(raw_norm=23.0)
    raw = normalize(ident.embedding).reshape(1, -1) * 23.0
    converted = raw @ fs.converter_matrix() * fs.CONVERTER_GAIN
    ghost = engine.swapper("ghost_1_256.onnx").latent(ident.embedding, ident.raw_norm)
    np.testing.assert_allclose(ghost, converted, rtol=1e-4, atol=1e-5)  # raw in, not normalised
    assert abs(float(np.linalg.norm(ghost)) - 23.0 * fs.CONVERTER_GAIN) < 1e-3
    for name in ("simswap_256.onnx", "hififace_unofficial_256.onnx"):
        lat = engine.swapper(name).latent(ident.embedding, ident.raw_norm)
        np.testing.assert_allclose(lat, normalize(converted).reshape(1, -1), rtol=1e-4, atol=1e-6)
    hyper = engine.swapper("hyperswap_1a_256.onnx").latent(ident.embedding * 5.0)
    np.testing.assert_allclose(hyper, normalize(ident.embedding).reshape(1, -1), rtol=1e-6)
    # a ReSwapper export without an emap takes the normalised embedding itself
    res = engine.swapper("reswapper_256.onnx")
    assert res.emap is None
    np.testing.assert_allclose(res.latent(ident.embedding), normalize(ident.embedding).reshape(1, -1), rtol=1e-6)


def test_v1_identity_without_raw_norm_uses_the_typical_norm_and_says_so(id_dir):
    engine = Engine(EngineOptions(models_dir=str(id_dir)))
    ident = _ident(raw_norm=None)
    lat = engine.swapper("ghost_1_256.onnx").latent(ident.embedding, None)
    assert abs(float(np.linalg.norm(lat)) - registry.TYPICAL_RAW_NORM * fs.CONVERTER_GAIN) < 1e-3
    img, face = _face()
    res = swap_face(engine, img, face, ident, _unit("ghost_256"))
    assert any(f"typical norm {registry.TYPICAL_RAW_NORM:g}" in n for n in res.notes)


def test_missing_converter_and_swapper_name_their_files(id_dir, tmp_path):
    d = tmp_path / "m"
    shutil.copytree(id_dir / "buffalo_l", d / "buffalo_l")
    shutil.copy(id_dir / "ghost_1_256.onnx", d / "ghost_1_256.onnx")
    engine = Engine(EngineOptions(models_dir=str(d)))
    with pytest.raises(ModelMissingError, match="crossface_ghost.onnx"):
        engine.swapper("ghost_1_256")
    with pytest.raises(ModelMissingError, match="hyperswap_1b_256.onnx"):
        engine.swapper("hyperswap_1b_256")


def test_unknown_file_needs_a_swapper_type_when_its_size_is_shared(id_dir, tmp_path):
    d = tmp_path / "m"
    shutil.copytree(id_dir, d)
    shutil.copy(d / "ghost_1_256.onnx", d / "my_export.onnx")
    engine = Engine(EngineOptions(models_dir=str(d)))
    with pytest.raises(OptionsError, match="several swapper kinds share.*--swapper-type"):
        engine.swapper("my_export")
    assert engine.swapper("my_export", "ghost").kind.name == "ghost_256"
    with pytest.raises(OptionsError, match="simswap comes in 256, 512 px only"):
        registry.swapper_kind_for("x.onnx", "simswap", size=128)
    with pytest.raises(OptionsError, match="unknown swapper type 'foo'"):
        registry.swapper_kind_for("x.onnx", "foo")
    shutil.copy(d / "simswap_unofficial_512.onnx", d / "mine_512.onnx")  # one kind at 512: no type needed
    assert engine.swapper("mine_512").kind.name == "simswap_512"
    with pytest.raises(OptionsError, match="swapper_type must be one of"):
        UnitOptions(swapper_type="roop")


def test_signature_accepts_every_known_size_and_converters(id_dir, tmp_path):
    assert check_signature(id_dir / "simswap_unofficial_512.onnx", "swapper") is None
    assert check_signature(id_dir / "crossface_ghost.onnx", "converter") is None
    assert check_signature(id_dir / "crossface_ghost.onnx", "swapper") is not None
    fm.write_swapper(tmp_path / "odd.onnx", mode="identity", size=200)
    assert "first input is target [1,3,200,200]" in check_signature(tmp_path / "odd.onnx", "swapper")


# --------------------------------------------------------------------------- identity strength


def test_identity_strength_mixes_towards_the_target_face():
    ident = _ident(1, raw_norm=20.0)
    target = Face(bbox=np.zeros(4, np.float32), kps=np.zeros((5, 2), np.float32), det_score=1.0,
                  embedding=_ident(2).embedding, raw_norm=30.0)  # fmt: skip
    e1, n1 = mix_with_target(ident, target, 1.0)
    assert e1 is ident.embedding and n1 == 20.0
    e0, n0 = mix_with_target(ident, target, 0.0)
    np.testing.assert_allclose(e0, target.embedding, atol=1e-6)
    assert n0 == pytest.approx(30.0)
    half, nh = mix_with_target(ident, target, 0.5)
    np.testing.assert_allclose(half, normalize(ident.embedding + target.embedding), atol=1e-6)
    assert nh == pytest.approx(25.0) and abs(float(np.linalg.norm(half)) - 1.0) < 1e-6
    with pytest.raises(OptionsError, match="identity_strength"):
        UnitOptions(identity_strength=1.5)


def test_identity_strength_below_one_moves_the_result_towards_the_target(mix_dir):
    engine = Engine(EngineOptions(models_dir=str(mix_dir)))
    img, face = _face()
    face.embedding, face.raw_norm = _ident(9).embedding, 21.0
    full, weak, own = img.copy(), img.copy(), img.copy()
    swap_face(engine, full, face, _ident(1), _unit("hyperswap_256"))
    res = swap_face(engine, weak, face, _ident(1), UnitOptions(swapper=FILES["hyperswap_256"], identity_strength=0.3))
    swap_face(engine, own, face, Identity(embedding=face.embedding), _unit("hyperswap_256"))
    assert "identity strength 0.3" in res.notes
    d_full = np.abs(full.astype(int) - own.astype(int)).mean()
    d_weak = np.abs(weak.astype(int) - own.astype(int)).mean()
    assert d_weak < 0.7 * d_full
