"""Tests for the content filter (faceswaplab.safety)."""

from __future__ import annotations

import math
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

_ROOT = Path(__file__).resolve().parents[1]
if str(_ROOT) not in sys.path:  # run from a bare checkout without an installed package
    sys.path.insert(0, str(_ROOT))

from faceswaplab import safety, safety_nudenet  # noqa: E402
from faceswaplab.errors import BlockedError, ImageError, ModelError, ModelMissingError, OptionsError  # noqa: E402
from faceswaplab.options import NSFW_THRESHOLD_RANGE  # noqa: E402

LO, HI = NSFW_THRESHOLD_RANGE
THRESHOLDS_IN_RANGE = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]


class FakeDetector:
    """Returns fixed nudenet-style detections and records what it was given."""

    def __init__(self, detections):
        self.detections = detections
        self.seen: list[np.ndarray] = []

    def detect(self, image):
        self.seen.append(image)
        return [dict(d) for d in self.detections]


def _det(label, score, box=(10, 20, 30, 40)):
    return {"class": label, "score": score, "box": list(box)}


def _rgb(h=64, w=48, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)


@pytest.fixture
def t1_rgb():
    cv2 = pytest.importorskip("cv2")
    insightface = pytest.importorskip("insightface")
    path = Path(insightface.__file__).parent / "data" / "images" / "t1.jpg"
    if not path.is_file():
        pytest.skip(f"insightface sample photo not found at {path}")
    bgr = cv2.imread(str(path))
    assert bgr is not None
    return path, np.ascontiguousarray(bgr[:, :, ::-1])


@pytest.fixture
def fresh_cache():
    safety.clear_detector_cache()
    yield
    safety.clear_detector_cache()


# --------------------------------------------------------------------------- constants / API


def test_blocking_classes_exact():
    assert safety.BLOCKING_CLASSES == frozenset(
        {
            "FEMALE_GENITALIA_EXPOSED",
            "MALE_GENITALIA_EXPOSED",
            "FEMALE_BREAST_EXPOSED",
            "ANUS_EXPOSED",
            "BUTTOCKS_EXPOSED",
        }
    )
    assert isinstance(safety.BLOCKING_CLASSES, frozenset)
    assert (safety.THRESHOLD_MIN, safety.THRESHOLD_MAX) == (0.3, 0.9)
    assert safety.DEFAULT_THRESHOLD == 0.5


def test_verdict_is_frozen():
    v = safety.Verdict(blocked=False, reason=None, detections=())
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        v.blocked = True  # type: ignore[misc]


def test_import_does_not_load_nudenet():
    code = (
        "import sys; import faceswaplab.safety as s; "
        "assert 'nudenet' not in sys.modules, 'nudenet imported at import time'; "
        "assert 'onnxruntime' not in sys.modules; "
        "assert s._detector is None; print('ok')"
    )

    out = subprocess.run([sys.executable, "-c", code], cwd=_ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


# --------------------------------------------------------------------------- clamp_threshold


@pytest.mark.parametrize(
    "value, expected",
    [
        (0, 0.3),
        (1, 0.9),
        (None, 0.5),
        (float("nan"), 0.5),
        (-5, 0.3),
        (float("-inf"), 0.3),
        (float("inf"), 0.9),
        (0.3, 0.3),
        (0.9, 0.9),
        (0.65, 0.65),
        ("0.7", 0.7),
        (np.float32(0.4), pytest.approx(0.4)),
        (True, 0.9),
    ],
)
def test_clamp_threshold(value, expected):
    got = safety.clamp_threshold(value)
    assert isinstance(got, float)
    assert LO <= got <= HI
    assert got == expected


def test_clamp_threshold_rejects_garbage():
    with pytest.raises(OptionsError):
        safety.clamp_threshold("off")
    with pytest.raises(OptionsError):
        safety.clamp_threshold(object())


# --------------------------------------------------------------------------- blocking rules


def test_exposed_095_blocks_at_every_threshold_and_names_it():
    fake = FakeDetector([_det("FEMALE_BREAST_EXPOSED", 0.95)])
    for thr in (0.9, 0.3, 0.5, 1.0, 0.0, None, float("nan"), 99):
        v = safety.check_image(_rgb(), thr, detector=fake)
        assert v.blocked is True, thr
        assert "FEMALE_BREAST_EXPOSED" in v.reason
        assert "0.95" in v.reason
    v = safety.check_image(_rgb(), 0.9, detector=fake)
    assert v.reason == "blocked by the content filter: FEMALE_BREAST_EXPOSED scored 0.95 (threshold 0.90)"
    v = safety.check_image(_rgb(), 0.3, detector=fake)
    assert v.reason == "blocked by the content filter: FEMALE_BREAST_EXPOSED scored 0.95 (threshold 0.30)"
    assert v.threshold == 0.3
    assert v.detections == (safety.Detection("FEMALE_BREAST_EXPOSED", 0.95, (10, 20, 30, 40)),)
    assert v.blocking_detections == v.detections


@pytest.mark.parametrize("label", sorted(safety.BLOCKING_CLASSES))
def test_each_blocking_class_blocks_at_06_with_default_not_at_09(label):
    fake = FakeDetector([_det(label, 0.6)])
    v = safety.check_image(_rgb(), 0.5, detector=fake)
    assert v.blocked and label in v.reason and "0.60" in v.reason and "threshold 0.50" in v.reason
    assert safety.check_image(_rgb(), detector=fake).blocked  # default threshold is 0.5
    v = safety.check_image(_rgb(), 0.9, detector=fake)
    assert v.blocked is False
    assert v.reason is None
    assert [d.label for d in v.detections] == [label]  # still reported


def test_score_equal_to_threshold_blocks():
    assert safety.check_image(_rgb(), 0.5, detector=FakeDetector([_det("ANUS_EXPOSED", 0.5)])).blocked
    # float32 0.9 is 0.89999998: "at or above" must still hold
    s = float(np.float32(0.9))
    assert s < 0.9
    assert safety.check_image(_rgb(), 0.9, detector=FakeDetector([_det("ANUS_EXPOSED", s)])).blocked
    assert not safety.check_image(_rgb(), 0.9, detector=FakeDetector([_det("ANUS_EXPOSED", 0.899)])).blocked


@pytest.mark.parametrize(
    "label",
    [
        "FEMALE_BREAST_COVERED",
        "FEMALE_GENITALIA_COVERED",
        "BUTTOCKS_COVERED",
        "ANUS_COVERED",
        "FACE_FEMALE",
        "FACE_MALE",
        "MALE_BREAST_EXPOSED",
        "BELLY_EXPOSED",
        "FEET_EXPOSED",
        "ARMPITS_EXPOSED",
    ],
)
def test_non_blocking_classes_never_block(label):
    fake = FakeDetector([_det(label, 0.99)])
    for thr in (0.0, 0.3, 0.5, 0.9):
        v = safety.check_image(_rgb(), thr, detector=fake)
        assert v.blocked is False
        assert v.reason is None
        assert v.detections[0].label == label and v.detections[0].score == 0.99


def test_mixed_detections_reason_uses_best_and_lists_others():
    fake = FakeDetector(
        [
            _det("FACE_FEMALE", 0.99),
            _det("BUTTOCKS_EXPOSED", 0.71),
            _det("FEMALE_BREAST_COVERED", 0.98),
            _det("FEMALE_BREAST_EXPOSED", 0.93),
            _det("FEMALE_BREAST_EXPOSED", 0.80),
            _det("ANUS_EXPOSED", 0.40),
        ]
    )
    v = safety.check_image(_rgb(), 0.5, detector=fake)
    assert v.blocked
    assert v.reason == (
        "blocked by the content filter: FEMALE_BREAST_EXPOSED scored 0.93 (threshold 0.50); "
        "also BUTTOCKS_EXPOSED 0.71"
    )
    assert len(v.detections) == 6
    assert [d.score for d in v.blocking_detections] == [0.93, 0.80, 0.71]


def test_ensure_allowed_raises_blocked_error_with_reason():
    fake = FakeDetector([_det("MALE_GENITALIA_EXPOSED", 0.95)])
    img = _rgb()
    before = img.copy()
    with pytest.raises(BlockedError) as ei:
        safety.ensure_allowed(img, 0.9, detector=fake)
    err = ei.value
    assert err.exit_code == 5
    assert str(err) == "blocked by the content filter: MALE_GENITALIA_EXPOSED scored 0.95 (threshold 0.90)"
    assert err.verdict.blocked
    np.testing.assert_array_equal(img, before)  # the image itself is left unchanged

    ok = safety.ensure_allowed(img, 0.5, detector=FakeDetector([_det("FACE_MALE", 0.99)]))
    assert ok.blocked is False


# --------------------------------------------------------------------------- input handling


def test_detector_receives_bgr_copy_of_rgb_input():
    rgb = _rgb(37, 53)
    rgb[0, 0] = (255, 0, 0)  # pure red in RGB
    before = rgb.copy()
    fake = FakeDetector([])
    safety.check_image(rgb, detector=fake)
    (given,) = fake.seen
    assert isinstance(given, np.ndarray)
    assert given.dtype == np.uint8 and given.shape == (37, 53, 3)
    assert given.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(given, rgb[:, :, ::-1])
    assert tuple(given[0, 0]) == (0, 0, 255)  # red is last in BGR
    assert not np.shares_memory(given, rgb)
    np.testing.assert_array_equal(rgb, before)


def test_grayscale_and_rgba_inputs_are_converted():
    fake = FakeDetector([])
    gray = _rgb()[:, :, 0]
    safety.check_image(gray, detector=fake)
    assert fake.seen[-1].shape == gray.shape + (3,)
    np.testing.assert_array_equal(fake.seen[-1][:, :, 0], gray)
    rgba = np.dstack([_rgb(), np.full((64, 48), 7, np.uint8)])
    safety.check_image(rgba, detector=fake)
    np.testing.assert_array_equal(fake.seen[-1], rgba[:, :, 2::-1])


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((10, 10, 3), np.float32),
        np.zeros((10, 10, 2), np.uint8),
        np.zeros((0, 10, 3), np.uint8),
        np.zeros((2, 10, 10, 3), np.uint8),
    ],
)
def test_bad_arrays_raise_image_error(bad):
    with pytest.raises(ImageError):
        safety.check_image(bad, detector=FakeDetector([]))


def test_detector_failures_fail_closed():
    class Broken:
        def detect(self, image):
            raise RuntimeError("onnx went away")

    with pytest.raises(ModelError, match="onnx went away"):
        safety.check_image(_rgb(), detector=Broken())
    with pytest.raises(ModelError):
        safety.check_image(_rgb(), detector=FakeDetector([_det("FACE_FEMALE", float("nan"))]))
    with pytest.raises(ModelError):
        safety.check_image(_rgb(), detector=FakeDetector([{"label": "x"}]))

    class ReturnsNone:
        def detect(self, image):
            return None

    with pytest.raises(ModelError):
        safety.check_image(_rgb(), detector=ReturnsNone())


# --------------------------------------------------------------------------- loading / caching


def test_missing_nudenet_gives_install_hint(monkeypatch, fresh_cache):
    monkeypatch.setitem(sys.modules, "nudenet", None)  # makes `import nudenet` fail
    with pytest.raises(ModelMissingError, match=r"pip install nudenet==3\.4\.2"):
        safety.check_image(_rgb())
    assert safety._detector is None


def test_model_load_failure_is_readable(monkeypatch, fresh_cache):
    nudenet = pytest.importorskip("nudenet")

    def boom(*a, **k):
        raise RuntimeError("[ONNXRuntimeError] INVALID_PROTOBUF")

    monkeypatch.setattr(nudenet, "NudeDetector", boom)
    with pytest.raises(ModelError) as ei:
        safety.check_image(_rgb())
    msg = str(ei.value)
    assert "content filter model inside the nudenet package could not be loaded" in msg
    assert "INVALID_PROTOBUF" in msg and "nudenet==3.4.2" in msg
    assert safety._detector is None  # a failure is not cached; the next call retries


def test_detector_created_once_across_calls_and_threads(monkeypatch, fresh_cache):
    nudenet = pytest.importorskip("nudenet")
    constructed = []
    lock = threading.Lock()

    class CountingDetector:
        def __init__(self, *a, **k):
            with lock:
                constructed.append(self)
            # widen the race window: a missing lock would construct several
            threading.Event().wait(0.05)

        def detect(self, image):
            return [_det("FACE_FEMALE", 0.9)]

    monkeypatch.setattr(nudenet, "NudeDetector", CountingDetector)

    barrier = threading.Barrier(8)
    results, errors = [], []

    def worker():
        try:
            barrier.wait()
            for _ in range(5):
                results.append(safety.check_image(_rgb()))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(results) == 40 and not any(v.blocked for v in results)
    for _ in range(20):
        safety.check_image(_rgb())
    assert len(constructed) == 1
    assert safety.get_detector() is constructed[0]


# --------------------------------------------------------------------------- the real model


def test_real_model_benign_photo_never_blocks(t1_rgb, fresh_cache):
    pytest.importorskip("nudenet")
    _, rgb = t1_rgb
    for thr in THRESHOLDS_IN_RANGE:
        v = safety.check_image(rgb, thr)
        assert v.blocked is False, v.reason
        assert v.reason is None
        assert v.threshold == thr
        labels = {d.label for d in v.detections}
        assert any(lbl.startswith("FACE_") for lbl in labels), labels  # the model really ran
        assert not (labels & safety.BLOCKING_CLASSES)
        for d in v.detections:
            assert 0.0 <= d.score <= 1.0
            x, y, w, h = d.box
            assert 0 <= x < rgb.shape[1] and 0 <= y < rgb.shape[0] and w > 0 and h > 0
    assert safety.ensure_allowed(rgb, 0.3).blocked is False


def test_real_model_array_input_matches_nudenet_on_the_file(t1_rgb, fresh_cache):
    """Feeding our RGB array must give exactly what nudenet gives for the file (it reads BGR):
    t1.jpg (1280 px) is not shrunk, and our vectorised post-processing equals nudenet's loop."""
    nudenet = pytest.importorskip("nudenet")
    path, rgb = t1_rgb
    assert safety_nudenet.shrink_factor(*rgb.shape[:2]) == 1
    reference = nudenet.NudeDetector().detect(str(path))
    assert len(reference) >= 5
    ours = safety.check_image(rgb).detections
    assert [(d.label, d.score, list(d.box)) for d in ours] == [
        (r["class"], r["score"], r["box"]) for r in reference
    ]
    # and the unconverted RGB array would not match: the conversion matters
    wrong = safety.get_detector().detect(rgb)
    assert [(r["class"], r["score"]) for r in wrong] != [(r["class"], r["score"]) for r in reference]


def _shipped_photos():
    insightface = pytest.importorskip("insightface")
    cv2 = pytest.importorskip("cv2")
    folder = Path(insightface.__file__).parent / "data" / "images"
    photos = [(p.name, cv2.imread(str(p))) for p in sorted(folder.glob("*.jpg"))]
    photos = [(n, np.ascontiguousarray(b[:, :, ::-1])) for n, b in photos if b is not None]
    if not photos:
        pytest.skip(f"no insightface sample photos in {folder}")
    return photos


def test_fast_path_equals_nudenet_detect_on_every_shipped_photo(fresh_cache):
    """safety_nudenet.detect (blob from RGB, numpy post-processing + NMS) == nudenet's own
    detect() on the BGR array, detection for detection, on real photos of several sizes."""
    pytest.importorskip("nudenet")
    cv2 = pytest.importorskip("cv2")
    det = safety.get_detector()
    compared = 0
    for name, rgb in _shipped_photos():
        for img in (rgb, cv2.resize(rgb, None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA)):
            img = np.ascontiguousarray(img)
            expected = det.detect(np.ascontiguousarray(img[:, :, ::-1]))
            assert safety_nudenet.detect(det, img) == expected, name
            compared += len(expected)
    assert compared >= 8  # the photos really produced detections


def test_large_images_are_shrunk_by_an_integer_factor_and_score_the_same(t1_rgb, fresh_cache):
    """A 2560 / 4096 px photo is shrunk k x k (k = 2 / 4) before the letterbox; its detections
    stay those of nudenet on the full image within 0.05 in score, with boxes in full-image
    pixels."""
    nudenet = pytest.importorskip("nudenet")
    cv2 = pytest.importorskip("cv2")
    _, rgb = t1_rgb
    det = nudenet.NudeDetector()
    for width, k in ((2560, 2), (4096, 4)):
        big = cv2.resize(rgb, (width, round(rgb.shape[0] * width / rgb.shape[1])), interpolation=cv2.INTER_CUBIC)
        assert safety_nudenet.shrink_factor(*big.shape[:2]) == k
        small = safety_nudenet.shrink(big, k)
        assert small.shape[:2] == (big.shape[0] // k, big.shape[1] // k)
        full = [r for r in det.detect(np.ascontiguousarray(big[:, :, ::-1])) if r["score"] >= 0.3]
        ours = safety.check_image(big).detections
        assert len(full) >= 5
        for r in full:
            same = [d for d in ours if d.label == r["class"]]
            assert same, (width, r)
            x, y = r["box"][:2]
            d = min(same, key=lambda d: abs(d.box[0] - x) + abs(d.box[1] - y))
            assert abs(d.box[0] - x) <= 3 * k + 8 and abs(d.box[1] - y) <= 3 * k + 8, (width, r, d)
            assert abs(d.score - r["score"]) <= 0.05, (width, r, d)


def test_shrink_is_exact_block_mean():
    arr = np.random.default_rng(3).integers(0, 256, size=(13, 10, 3), dtype=np.uint8)
    out = safety_nudenet.shrink(arr, 3)
    assert out.shape == (4, 3, 3)
    blocks = arr[:12, :9].reshape(4, 3, 3, 3, 3).astype(np.float64).mean(axis=(1, 3))
    assert np.abs(out.astype(np.float64) - blocks).max() <= 0.5 + 1e-9
    assert safety_nudenet.shrink(arr, 1) is arr


def test_engine_thread_setting_reaches_the_filter_session(t1_rgb, fresh_cache):
    pytest.importorskip("nudenet")
    _, rgb = t1_rgb
    default = safety.check_image(rgb)
    one = safety.get_detector(1)
    assert one is safety.get_detector(1) and one is not safety.get_detector()
    opts = one.onnx_session.get_session_options()
    assert opts.intra_op_num_threads == 1
    assert safety.check_image(rgb, threads=1).detections == default.detections


def test_real_model_concurrent_threads_agree(t1_rgb, fresh_cache):
    pytest.importorskip("nudenet")
    _, rgb = t1_rgb
    expected = safety.check_image(rgb)
    out, errors = [], []

    def worker():
        try:
            out.append(safety.check_image(rgb, 0.5))
        except Exception as e:  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(out) == 8
    for v in out:
        assert v.detections == expected.detections


def test_cpu_fallback_for_old_gpu_onnxruntime(monkeypatch, t1_rgb, fresh_cache):
    """Old onnxruntime-gpu builds refuse a session without `providers`; we build a CPU one."""
    nudenet = pytest.importorskip("nudenet")

    def refuse(self, *a, **k):
        raise ValueError(
            "This ORT build has ['CUDAExecutionProvider', 'CPUExecutionProvider'] enabled. "
            "Since ORT 1.9, you are required to explicitly set the providers parameter"
        )

    monkeypatch.setattr(nudenet.NudeDetector, "__init__", refuse)
    _, rgb = t1_rgb
    v = safety.check_image(rgb)
    assert not v.blocked
    assert any(d.label.startswith("FACE_") for d in v.detections)
    assert isinstance(safety.get_detector(), nudenet.NudeDetector)
    assert math.isfinite(v.detections[0].score)
