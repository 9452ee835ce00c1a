"""The core flow on stand-in models: which pixels change, which faces are picked, what the
report says, and that analysis and sessions happen once."""

from __future__ import annotations

import numpy as np

from faceswaplab.engine import Engine
from faceswaplab.options import EngineOptions, UnitOptions
from faceswaplab.pipeline import prepare_units, swap_image
from tests import fakemodels as fm

SRC_A = dict(faces=[(220, 220, 200, fm.MALE, 7)], seed=11)
SRC_B = dict(faces=[(220, 220, 200, fm.FEMALE, 8)], seed=12)


def src(spec=SRC_A) -> np.ndarray:
    return fm.make_face_image(**spec)


def changed_mask(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.any(a != b, axis=-1)


def inside(mask: np.ndarray, box, margin: int) -> bool:
    x0, y0, x1, y1 = box
    m = mask.copy()
    m[max(int(y0) - margin, 0) : int(y1) + margin, max(int(x0) - margin, 0) : int(x1) + margin] = False
    return not m.any()


def test_single_face_changes_inside_and_nothing_outside(engine):
    faces = [(180, 200, 180, fm.FEMALE, 3)]
    tgt = fm.make_face_image(faces=faces, seed=2)
    res = swap_image(tgt, [UnitOptions(source_images=(src(),))], engine=engine)
    assert res.report.swapped == 1
    ch = changed_mask(res.rgb, tgt)
    (x0, y0, x1, y1) = (int(v) for v in fm.face_boxes(faces)[0])
    inner = np.abs(res.rgb[y0 + 40 : y1 - 40, x0 + 40 : x1 - 40].astype(int) - tgt[y0 + 40 : y1 - 40, x0 + 40 : x1 - 40]).mean()
    assert inner > 10, "the face itself must change visibly"
    # The soft mask spills at most a few pixels past the detected box; beyond that the
    # image is bit-for-bit the input.
    assert inside(ch, (x0, y0, x1, y1), margin=12)
    f = res.report.units[0].faces[0]
    assert f.status == "swapped" and f.similarity is not None and f.similarity > 0.6


def test_faces_all_and_indices_follow_sort_order(engine):
    faces = [(40, 120, 120, fm.FEMALE, 1), (440, 20, 150, fm.MALE, 2), (230, 380, 100, fm.FEMALE, 3)]
    tgt = fm.make_face_image(size=(640, 560), faces=faces, seed=3)
    boxes = fm.face_boxes(faces)

    def swapped_boxes(**unit):
        res = swap_image(tgt, [UnitOptions(source_images=(src(),), **unit)], engine=engine)
        ch = changed_mask(res.rgb, tgt)
        hit = []
        for i, (x0, y0, x1, y1) in enumerate(boxes):
            if ch[int(y0) + 30 : int(y1) - 30, int(x0) + 30 : int(x1) - 30].any():
                hit.append(i)
        return hit, res.report

    assert swapped_boxes(faces="all")[0] == [0, 1, 2]
    assert swapped_boxes(faces="0")[0] == [0]  # left-most
    assert swapped_boxes(faces="0", sort="right-left")[0] == [1]
    assert swapped_boxes(faces="0", sort="top-bottom")[0] == [1]  # its centre (y=95) is highest
    assert swapped_boxes(faces="0", sort="bottom-top")[0] == [2]
    assert swapped_boxes(faces="0", sort="large-small")[0] == [1]
    assert swapped_boxes(faces="0", sort="small-large")[0] == [2]
    assert swapped_boxes(faces="1,2")[0] == [1, 2]  # sorted positions 1 and 2 are boxes 2 and 1
    hit, rep = swapped_boxes(faces="0,5")
    assert hit == [0]
    reasons = [f.reason for f in rep.units[0].faces if f.status == "skipped"]
    assert reasons and "index out of range" in reasons[0]


def test_gender_filter_uses_the_sorted_list(engine):
    faces = [(40, 100, 140, fm.MALE, 1), (260, 100, 140, fm.FEMALE, 2), (470, 100, 140, fm.FEMALE, 3)]
    tgt = fm.make_face_image(size=(660, 360), faces=faces, seed=4)
    res = swap_image(tgt, [UnitOptions(source_images=(src(),), faces="all", gender="female")], engine=engine)
    fr = res.report.units[0].faces
    assert [f.status for f in fr] == ["skipped", "swapped", "swapped"]
    assert "filtered by gender" in fr[0].reason and fr[0].gender == "male"
    # index 0 is the man on the left: filtered, not silently replaced by the first woman
    res = swap_image(tgt, [UnitOptions(source_images=(src(),), faces="0", gender="female")], engine=engine)
    assert res.report.swapped == 0 and "filtered by gender" in res.report.nothing_swapped_reason()
    # "same": the source is male (blue tint) -> only the man
    res = swap_image(tgt, [UnitOptions(source_images=(src(),), faces="all", gender="same")], engine=engine)
    assert [f.status for f in res.report.units[0].faces] == ["swapped", "skipped", "skipped"]


def test_reference_selects_the_same_person(engine):
    faces = [(40, 100, 140, fm.FEMALE, 21), (260, 100, 140, fm.FEMALE, 22), (470, 100, 140, fm.FEMALE, 23)]
    tgt = fm.make_face_image(size=(660, 360), faces=faces, seed=5)
    ref = fm.make_face_image(faces=[(150, 150, 220, fm.FEMALE, 22)], seed=6)  # person 22, other size/place
    unit = UnitOptions(source_images=(src(),), faces="all", reference_image=ref, reference_threshold=0.8)
    res = swap_image(tgt, [unit], engine=engine)
    fr = res.report.units[0].faces
    assert [f.status for f in fr] == ["skipped", "swapped", "skipped"]
    assert fr[1].reference_similarity > 0.9
    assert "not the reference person" in fr[0].reason


def test_min_similarity_reverts_the_face(engine):
    faces = [(180, 200, 180, fm.FEMALE, 3)]
    tgt = fm.make_face_image(faces=faces, seed=2)
    res = swap_image(tgt, [UnitOptions(source_images=(src(),), min_similarity=0.999)], engine=engine)
    f = res.report.units[0].faces[0]
    assert f.status == "skipped" and "below similarity" in f.reason
    assert np.array_equal(res.rgb, tgt), "a reverted face leaves the image exactly as it was"


def test_small_faces_and_faces_at_the_border(engine):
    faces = [(0, 100, 160, fm.FEMALE, 3), (400, 300, 20, fm.FEMALE, 4)]
    tgt = fm.make_face_image(faces=faces, seed=7)
    res = swap_image(tgt, [UnitOptions(source_images=(src(),), faces="all", min_face_size=32)], engine=engine)
    statuses = {f.position: (f.status, f.reason) for f in res.report.units[0].faces}
    assert statuses[0][0] == "swapped"  # its aligned crop leaves the image: ROI clipped, still swapped
    assert statuses[1][0] == "skipped" and "too small" in statuses[1][1]
    assert res.rgb.shape == tgt.shape


def test_no_face_in_target_or_source_is_reported(engine):
    empty = fm.make_face_image(faces=[], seed=8)
    res = swap_image(empty, [UnitOptions(source_images=(src(),))], engine=engine)
    assert res.report.swapped == 0 and res.report.faces_detected == 0
    assert "no face found in the target" in res.report.nothing_swapped_reason()
    tgt = fm.make_face_image(faces=[(180, 200, 180)], seed=2)
    res = swap_image(tgt, [UnitOptions(source_images=(empty,))], engine=engine)
    assert res.report.swapped == 0
    assert "no face in the source" in res.report.nothing_swapped_reason()
    assert np.array_equal(res.rgb, tgt)


def test_several_sources_blend_into_one_identity(engine):
    a, b = src(SRC_A), src(SRC_B)
    prepared = prepare_units(engine, [UnitOptions(source_images=(a, b))])
    ident = prepared[0].identity
    ea = prepare_units(engine, [UnitOptions(source_images=(a,))])[0].identity.embedding
    eb = prepare_units(engine, [UnitOptions(source_images=(b,))])[0].identity.embedding
    expect = (ea + eb) / 2
    expect /= np.linalg.norm(expect)
    assert ident.samples == 2
    assert np.allclose(ident.embedding, expect, atol=1e-6)


def test_units_swap_different_identities(engine):
    faces = [(40, 100, 160, fm.FEMALE, 1), (400, 100, 160, fm.FEMALE, 2)]
    tgt = fm.make_face_image(size=(640, 400), faces=faces, seed=9)
    units = [UnitOptions(source_images=(src(SRC_A),), faces="0"), UnitOptions(source_images=(src(SRC_B),), faces="1")]
    res = swap_image(tgt, units, engine=engine)
    assert res.report.swapped == 2
    a = swap_image(tgt, [UnitOptions(source_images=(src(SRC_B),), faces="0")], engine=engine).rgb
    # face 0 got identity A, not B
    assert not np.array_equal(res.rgb[140:220, 80:160], a[140:220, 80:160])


def test_blocked_image_comes_back_unchanged(models_dir):
    class Nude:
        def detect(self, img):
            return [{"class": "FEMALE_BREAST_EXPOSED", "score": 0.95, "box": [0, 0, 10, 10]}]

    eng = Engine(EngineOptions(models_dir=str(models_dir), nsfw_threshold=0.9), nsfw_detector=Nude())
    tgt = fm.make_face_image(faces=[(180, 200, 180)], seed=2)
    res = swap_image(tgt, [UnitOptions(source_images=(src(),))], engine=eng)
    assert res.report.blocked and "FEMALE_BREAST_EXPOSED" in res.report.block_reason
    assert res.report.swapped == 0 and np.array_equal(res.rgb, tgt)


class Counter:
    """Counts ONNX Runtime session constructions and runs per model file by wrapping the
    class itself (not our own counters)."""

    def __init__(self, monkeypatch):
        import onnxruntime as ort

        self.created: list[str] = []
        self.runs: dict[str, int] = {}
        orig_init, orig_run = ort.InferenceSession.__init__, ort.InferenceSession.run
        counter = self

        def init(sess, path_or_bytes, *a, **k):
            counter.created.append(str(path_or_bytes) if isinstance(path_or_bytes, str) else "<bytes>")
            orig_init(sess, path_or_bytes, *a, **k)
            sess._fsl_name = str(path_or_bytes) if isinstance(path_or_bytes, str) else "<bytes>"

        def run(sess, *a, **k):
            name = getattr(sess, "_fsl_name", "?")
            counter.runs[name] = counter.runs.get(name, 0) + 1
            return orig_run(sess, *a, **k)

        monkeypatch.setattr(ort.InferenceSession, "__init__", init)
        monkeypatch.setattr(ort.InferenceSession, "run", run)

    def runs_of(self, fragment: str) -> int:
        return sum(v for k, v in self.runs.items() if fragment in k)


def test_three_units_one_analysis_and_sessions_built_once(models_dir, monkeypatch):
    from faceswaplab.models import sessions
    from faceswaplab import safety

    sessions.clear()
    safety.clear_detector_cache()
    counter = Counter(monkeypatch)
    eng = Engine(EngineOptions(models_dir=str(models_dir)))
    faces = [(40, 100, 120, fm.FEMALE, 1), (260, 100, 120, fm.FEMALE, 2), (470, 100, 120, fm.FEMALE, 3)]
    tgt = fm.make_face_image(size=(640, 360), faces=faces, seed=10)
    units = [UnitOptions(source_images=(src(),), faces=str(i)) for i in range(3)]
    prepared = prepare_units(eng, units)  # the same photo in three units: analysed once (content cache)
    det_after_prepare = counter.runs_of("det_10g")
    assert det_after_prepare == 1
    for _ in range(3):
        res = swap_image(tgt, prepared=prepared, engine=eng)
        assert res.report.swapped == 3
    # one detection per target image, whatever the number of units
    assert counter.runs_of("det_10g") - det_after_prepare == 3
    # each model file got exactly one session, built lazily and reused
    for name in ("det_10g", "w600k_r50", "inswapper_128", "320n.onnx"):
        assert sum(name in c for c in counter.created) == 1, (name, counter.created)
    assert counter.runs_of("inswapper_128") == 9
    assert counter.runs_of("320n.onnx") == 3  # content filter once per image


def test_real_photo_selection_and_paste_back(models_dir, mtcnn, t1_path):
    """insightface's t1.jpg, six real faces found by the real MTCNN detector."""
    from faceswaplab.imageio import load_image

    eng = Engine(EngineOptions(models_dir=str(models_dir)), detector=mtcnn)
    tgt = load_image(t1_path).rgb
    source = load_image(t1_path.parent / "Tom_Hanks_54745.png").rgb
    faces = eng.analyser().analyse(tgt, det_size=640, det_thresh=0.5)
    assert len(faces) == 6
    xs = sorted(f.center[0] for f in faces)

    res = swap_image(tgt, [UnitOptions(source_images=(source,), faces="all")], engine=eng)
    assert res.report.faces_detected == 6 and res.report.swapped == 6
    ch = changed_mask(res.rgb, tgt)
    allowed = np.zeros(ch.shape, bool)
    for f in faces:
        x0, y0, x1, y1 = f.bbox
        w, h = x1 - x0, y1 - y0
        allowed[max(int(y0 - 0.5 * h), 0) : int(y1 + 0.5 * h), max(int(x0 - 0.5 * w), 0) : int(x1 + 0.5 * w)] = True
        cx, cy = f.center
        assert ch[int(cy) - 5 : int(cy) + 5, int(cx) - 5 : int(cx) + 5].all(), "each face centre changed"
    assert not (ch & ~allowed).any(), "nothing changes away from the faces"
    assert ch.mean() < 0.15

    # indices follow the sort order: face 0 left-right is the left-most person
    res0 = swap_image(tgt, [UnitOptions(source_images=(source,), faces="0")], engine=eng)
    rep = res0.report.units[0].faces[0]
    assert abs((rep.bbox[0] + rep.bbox[2]) / 2 - xs[0]) < 1
    resr = swap_image(tgt, [UnitOptions(source_images=(source,), faces="0", sort="right-left")], engine=eng)
    rep = resr.report.units[0].faces[0]
    assert abs((rep.bbox[0] + rep.bbox[2]) / 2 - xs[-1]) < 1
    big = swap_image(tgt, [UnitOptions(source_images=(source,), faces="0", sort="large-small")], engine=eng)
    areas = sorted((f.area for f in faces), reverse=True)
    b = big.report.units[0].faces[0].bbox
    assert abs((b[2] - b[0]) * (b[3] - b[1]) - areas[0]) < 0.01 * areas[0]  # report rounds to 0.1 px


def test_identity_swapper_round_trip_keeps_the_face(identity_models_dir, mtcnn, t1_path):
    """With a swapper that returns its input, paste-back must put the face back where it was."""
    from faceswaplab.imageio import load_image

    eng = Engine(EngineOptions(models_dir=str(identity_models_dir)), detector=mtcnn)
    tgt = load_image(t1_path).rgb
    source = load_image(t1_path.parent / "Tom_Hanks_54745.png").rgb
    res = swap_image(tgt, [UnitOptions(source_images=(source,), faces="all")], engine=eng)
    assert res.report.swapped == 6
    diff = (res.rgb.astype(float) - tgt.astype(float)) ** 2
    ch = np.any(res.rgb != tgt, axis=-1)
    mse = diff[ch].mean()
    psnr = 10 * np.log10(255**2 / mse)
    assert psnr > 30, psnr
