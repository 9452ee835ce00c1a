"""Issue 15's pipeline savings keep the outputs: batched recognition, similarity switched off
(`report_similarity` / `--no-similarity`), source photos analysed once per job."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from faceswaplab.cli import common, flags
from faceswaplab.options import UnitOptions
from faceswaplab.pipeline import SourceCache, prepare_units, swap_image
from tests import fakemodels as fm

SRC = dict(faces=[(220, 220, 200, fm.MALE, 7)], seed=11)
THREE = [(40, 100, 120, fm.FEMALE, 1), (260, 100, 120, fm.FEMALE, 2), (470, 100, 120, fm.FEMALE, 3)]


def _src() -> np.ndarray:
    return fm.make_face_image(**SRC)


@pytest.fixture
def rec_calls(engine, monkeypatch):
    """The batch size of every recognition run (one list entry per session run)."""
    rec = engine.analyser().recognizer
    calls: list[int] = []
    orig = rec.get_feat

    def counting(imgs):
        calls.append(len(imgs) if isinstance(imgs, list) else 1)
        return orig(imgs)

    monkeypatch.setattr(rec, "get_feat", counting)
    return calls


def test_no_similarity_flag_and_field():
    p = argparse.ArgumentParser()
    common.add_unit_args(p)
    assert flags.options_from_args(UnitOptions, p.parse_args([])).report_similarity is True
    assert flags.options_from_args(UnitOptions, p.parse_args(["--no-similarity"])).report_similarity is False
    assert UnitOptions.from_dict({"report_similarity": False}).report_similarity is False
    assert UnitOptions().to_dict()["report_similarity"] is True


def test_all_faces_of_an_image_embedded_in_one_run(engine, rec_calls):
    tgt = fm.make_face_image(size=(640, 360), faces=THREE, seed=10)
    prepared = prepare_units(engine, [UnitOptions(source_images=(_src(),), faces="all")])
    rec_calls.clear()
    res = swap_image(tgt, prepared=prepared, engine=engine)
    assert res.report.swapped == 3
    assert rec_calls == [3, 3]  # the target's analysis, then the three similarities together
    ident = prepared[0].identity.embedding
    faces = [f for f in res.report.units[0].faces]
    _, found = engine.analyse(tgt)
    by_x = sorted(found, key=lambda f: f.bbox[0])
    for fr, face in zip(sorted(faces, key=lambda f: f.bbox[0]), by_x):
        alone = float(np.dot(engine.analyser().embed(res.rgb, face.kps), ident))
        assert fr.similarity == pytest.approx(alone, abs=2e-4)
        assert fr.similarity > 0.6


def test_similarity_off_skips_the_run_and_reports_null(engine, rec_calls):
    tgt = fm.make_face_image(size=(640, 360), faces=THREE, seed=10)
    on = swap_image(tgt, [UnitOptions(source_images=(_src(),), faces="all")], engine=engine)
    prepared = prepare_units(engine, [UnitOptions(source_images=(_src(),), faces="all", report_similarity=False)])
    rec_calls.clear()
    off = swap_image(tgt, prepared=prepared, engine=engine)
    assert rec_calls == [3]  # only the target's analysis
    assert off.report.swapped == 3
    np.testing.assert_array_equal(off.rgb, on.rgb)
    d = off.report.to_dict()
    assert [f["similarity"] for f in d["units"][0]["faces"]] == [None, None, None]
    assert "similarity" not in off.report.summary()
    assert all(f["similarity"] is not None for f in on.report.to_dict()["units"][0]["faces"])


def test_min_similarity_still_measures_when_reporting_is_off(engine):
    tgt = fm.make_face_image(size=(640, 360), faces=THREE, seed=10)
    units = [UnitOptions(source_images=(_src(),), faces="all", report_similarity=False, min_similarity=0.99)]
    res = swap_image(tgt, units, engine=engine)
    faces = res.report.units[0].faces
    assert all(f.similarity is not None and f.similarity < 0.99 for f in faces)
    assert all("below similarity" in (f.reason or "") for f in faces)
    np.testing.assert_array_equal(res.rgb, tgt)  # every face reverted


def test_same_source_photo_analysed_once_per_job(engine, rec_calls, tmp_path):
    from PIL import Image

    rgb = _src()
    a, b = tmp_path / "a.png", tmp_path / "copy of a.png"
    Image.fromarray(rgb).save(a)
    b.write_bytes(a.read_bytes())
    units = [
        UnitOptions(source_images=(str(a),)),
        UnitOptions(source_images=(str(b),), faces="1"),
        UnitOptions(source_images=(rgb,)),
        UnitOptions(source_images=(rgb.copy(),), reference_image=rgb.copy()),
    ]
    cache = SourceCache()
    rec_calls.clear()
    prepared = prepare_units(engine, units, cache)
    # five look-ups: the file under two names (one analysis), the pixels three times (one)
    assert (cache.misses, cache.hits) == (2, 3)
    assert len(rec_calls) == 2
    for p in prepared:
        assert p.status == "ok"
        np.testing.assert_allclose(p.identity.embedding, prepared[0].identity.embedding, atol=1e-3)
    np.testing.assert_allclose(prepared[3].reference, prepared[0].identity.embedding, atol=1e-3)
    # a different photo is a miss
    other = fm.make_face_image(faces=[(220, 220, 200, fm.FEMALE, 8)], seed=12)
    prepare_units(engine, [UnitOptions(source_images=(other,))], cache)
    assert cache.misses == 3


@pytest.mark.parametrize("size", [(2048, 2048), (1900, 1200), (900, 1500)])
def test_detection_on_rgb_matches_the_bgr_path(engine, size):
    """The detector shrinks the RGB image and converts only its 640 px copy; the faces are
    those insightface finds on the full BGR image."""
    import cv2

    w, h = size
    faces = [(int(w * 0.1), int(h * 0.2), int(min(w, h) * 0.25), fm.FEMALE, 1),
             (int(w * 0.55), int(h * 0.5), int(min(w, h) * 0.3), fm.MALE, 2)]  # fmt: skip
    rgb = fm.make_face_image(size=(w, h), faces=faces, seed=5)
    det = engine.analyser().detector
    fast_boxes, fast_kps = det.detect_rgb(rgb, 640, 0.5)
    boxes, kps = det.detect(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), 640, 0.5)
    assert len(boxes) == 2
    np.testing.assert_allclose(fast_boxes, boxes, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(fast_kps, kps, rtol=1e-5, atol=1e-3)
    # small images keep the plain path
    small = fm.make_face_image(size=(480, 360), faces=[(100, 60, 150, fm.FEMALE, 3)], seed=6)
    a, b = det.detect_rgb(small, 640, 0.5), det.detect(cv2.cvtColor(small, cv2.COLOR_RGB2BGR), 640, 0.5)
    np.testing.assert_array_equal(a[0], b[0])
