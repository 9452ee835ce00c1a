"""Swapper kinds as data (registry.SWAPPER_KINDS) and the one wrapper that reads them: the
inswapper row reproduces insightface's alignment and latent exactly, and a row of another
size, pixel scaling and source encoding runs through the same swap, boost, masks and
restoration with nothing written for it."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from faceswaplab import geometry
from faceswaplab.analysis.face import Face, normalize
from faceswaplab.engine import Engine
from faceswaplab.errors import OptionsError
from faceswaplab.identity import Identity
from faceswaplab.models import registry
from faceswaplab.models.registry import CONVERTER, EMBEDDING, PixelNorm, SourceEncoding, SwapperKind
from faceswaplab.models.signature import check_signature
from faceswaplab.options import EngineOptions, EnhanceOptions, UnitOptions
from faceswaplab.swap import swapper as swapper_model
from faceswaplab.swap.face_swap import swap_face
from tests import fakemodels as fm

CPU = ["CPUExecutionProvider"]
SYMMETRIC = PixelNorm((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
FACE = (200, 160, 240)


@pytest.fixture(scope="module")
def id_dir(tmp_path_factory, identity_models_dir) -> Path:
    """The identity pack plus an identity restorer and a 256 px identity swapper."""
    d = tmp_path_factory.mktemp("models-kinds")
    shutil.copytree(identity_models_dir / "buffalo_l", d / "buffalo_l")
    shutil.copy(identity_models_dir / "inswapper_128.onnx", d / "inswapper_128.onnx")
    fm.write_restorer(d / "restorers" / "identity.onnx", 512, mode="identity")
    fm.write_swapper(d / "other_256.onnx", mode="identity", size=256)
    return d


def _face() -> tuple[np.ndarray, Face]:
    x, y, side = FACE
    img = fm.make_face_image((640, 640), [(x, y, side, fm.FEMALE, 3)], seed=1)
    kps = fm.face_kps([(x, y, side)])[0]
    return img, Face(bbox=np.array([x, y, x + side, y + side], np.float32), kps=kps, det_score=0.9)


def _ident() -> Identity:
    v = np.random.default_rng(7).standard_normal(512).astype(np.float32)
    return Identity(embedding=v / np.linalg.norm(v))


def _psnr_inner(out: np.ndarray, img: np.ndarray, face: Face) -> float:
    (x0, y0), (x1, y1) = face.kps.min(0), face.kps.max(0)
    sel = (slice(int(y0), int(y1) + 1), slice(int(x0), int(x1) + 1))
    mse = float(np.mean((out[sel].astype(np.float64) - img[sel].astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


class Models:
    """A SwapModels that is not an Engine: the swap step needs nothing else."""

    def __init__(self, swapper: swapper_model.Swapper, engine: Engine) -> None:
        self._swapper, self._engine = swapper, engine

    def swapper(self) -> swapper_model.Swapper:
        return self._swapper

    def restorer(self, name: str):
        return self._engine.restorer(name)

    def parser(self, name: str):
        return self._engine.parser(name)

    def upscaler(self, name: str):
        return self._engine.upscaler(name)


def _kind(**kw) -> SwapperKind:
    base = SwapperKind(
        name="test_256", size=256, template="arcface_128", target_norm=SYMMETRIC, output_norm=SYMMETRIC,
        source=SourceEncoding(EMBEDDING),
    )
    return replace(base, **kw)


# --------------------------------------------------------------------------- the inswapper row


def test_inswapper_row_is_todays_alignment_and_latent(id_dir):
    kind = registry.swapper_kind_for("inswapper_128.onnx")
    assert (kind.name, kind.size, kind.template) == ("inswapper_128", 128, "arcface_128")
    assert registry.swapper_kind_for("inswapper_128_fp16.onnx") is kind
    assert registry.swapper_kind_for("my-export.onnx") is kind  # the only kind: any swapper file
    _, face = _face()
    for boost in (1, 2, 4):
        np.testing.assert_array_equal(geometry.template_matrix(face.kps, kind.template, 128 * boost),
                                      geometry.align_matrix(face.kps, 128 * boost))
    sw = Engine(EngineOptions(models_dir=str(id_dir))).swapper()
    assert sw.kind is kind and sw.size == 128 and sw.crop_size(4) == 512
    e = _ident().embedding
    expected = normalize(normalize(e).reshape(1, -1) @ fm.swapper_emap()).reshape(1, -1)
    np.testing.assert_array_equal(sw.latent(e), expected)


def test_unknown_swapper_type_is_an_options_error():
    with pytest.raises(OptionsError, match="unknown swapper type 'ghost'.*inswapper_128"):
        registry.swapper_kind_for("x.onnx", "ghost")


def test_every_row_names_a_known_template_and_file_kinds_exist():
    for kind in registry.SWAPPER_KINDS:
        assert kind.template in geometry.TEMPLATES
        assert kind.source.method in registry.SOURCE_METHODS
    for spec in registry.KNOWN_MODELS:
        assert (spec.swapper_kind is not None) == (spec.kind == registry.SWAPPER)
        if spec.swapper_kind:
            assert registry.swapper_kind(spec.swapper_kind) is not None


def test_signature_accepts_only_the_sizes_of_known_kinds(id_dir):
    assert check_signature(id_dir / "inswapper_128.onnx", "swapper") is None
    problem = check_signature(id_dir / "other_256.onnx", "swapper")
    assert problem is not None and "first input is target [1,3,256,256]" in problem


# --------------------------------------------------------------------------- a row of another shape


def test_a_256_row_round_trips_through_the_whole_swap_path(id_dir):
    """Crop side, template scaling, pixel scaling in and out all come from the row: an
    identity model at 256 gives the face back, plain, boosted and restored."""
    engine = Engine(EngineOptions(models_dir=str(id_dir)))
    kind = _kind()
    sw = swapper_model.load(id_dir / "other_256.onnx", kind, CPU, None)
    models = Models(sw, engine)
    img, face = _face()
    for boost, restorer in ((1, None), (2, None), (2, "identity.onnx")):
        out = img.copy()
        res = swap_face(models, out, face, _ident(), UnitOptions(enhance=EnhanceOptions(boost=boost, restorer=restorer)))
        assert _psnr_inner(out, img, face) > 40, (boost, restorer)
        assert res.roi is not None
        if boost == 2:
            assert "boost x2: swapped at 512 px" in res.notes
    crop, m = sw.swap(img, face.kps, sw.latent(_ident().embedding), boost=2)
    assert crop.shape == (512, 512, 3)
    np.testing.assert_array_equal(m, geometry.template_matrix(face.kps, "arcface_128", 512))


def test_the_output_scaling_is_read_from_the_row(id_dir):
    """The same identity model read back with the wrong output scaling no longer round-trips:
    the wrapper really applies what the row says, in and out."""
    engine = Engine(EngineOptions(models_dir=str(id_dir)))
    img, face = _face()
    sw = swapper_model.load(id_dir / "other_256.onnx", _kind(output_norm=registry.UNIT_RANGE), CPU, None)
    out = img.copy()
    swap_face(Models(sw, engine), out, face, _ident(), UnitOptions())
    assert _psnr_inner(out, img, face) < 20


def test_source_encodings():
    e = _ident().embedding * 7.0  # any scale: every encoding starts from the normalised embedding

    class Session:
        def get_inputs(self):
            class T:
                def __init__(self, name):
                    self.name, self.type = name, "tensor(float)"

            return [T("target"), T("source")]

        def get_outputs(self):
            return self.get_inputs()[:1]

    plain = swapper_model.Swapper(Session(), _kind())
    np.testing.assert_allclose(plain.latent(e), normalize(e).reshape(1, -1), rtol=1e-6)
    double = swapper_model.Swapper(Session(), _kind(source=SourceEncoding(CONVERTER, "crossface_x.onnx", normalise=False)),
                                   converter=lambda v: 2.0 * v)
    np.testing.assert_allclose(double.latent(e), 2.0 * normalize(e).reshape(1, -1), rtol=1e-6)
    renormed = swapper_model.Swapper(Session(), _kind(source=SourceEncoding(CONVERTER, "crossface_x.onnx")),
                                     converter=lambda v: 2.0 * v)
    np.testing.assert_allclose(np.linalg.norm(renormed.latent(e)), 1.0, rtol=1e-6)
    missing = swapper_model.Swapper(Session(), _kind(source=SourceEncoding(CONVERTER, "crossface_x.onnx")))
    with pytest.raises(RuntimeError, match="crossface_x.onnx"):
        missing.latent(e)
