"""Content filter: nudenet 3.4.2 runs once on every image before any swap. It is always on.

An image is blocked when a detection of one of `BLOCKING_CLASSES` scores at or above the
threshold. Covered body parts, faces, feet, bellies and so on never block. The threshold can
only be moved inside `NSFW_THRESHOLD_RANGE` (0.3-0.9, default 0.5), so no value turns the
filter off: a detection scoring 0.95 blocks even at the highest threshold.

When the filter cannot run (nudenet missing, its model unloadable, the detector failing) we
raise a `ModelError` and no swap happens. Images are never passed through unchecked.

Threading: the `NudeDetector` (one onnxruntime session) is created on first use, never at
import time. It is created once per process (per thread count: `check_image(threads=N)`
passes the engine's setting, 0 = onnxruntime's default pool) behind a lock and then shared.
onnxruntime allows concurrent `run` calls on one session, and the pre/post-processing keeps
no shared state, so `check_image` can be called from many threads at once.

Speed: the real detector is run by `safety_nudenet` (integer-factor shrink, blob straight
from our RGB pixels, numpy post-processing): the same detections as nudenet's `detect` on
the same pixels, without its full-size BGR copy and its per-row Python loop.

nudenet's input format (3.4.2, `nudenet/nudenet.py::_read_image`): `detect` accepts a path,
encoded bytes, an open file, or a numpy array. An array is treated exactly like the result of
`cv2.imread`, so it must be **BGR**, uint8, HxWx3. (nudenet then swaps channels twice, with
`cvtColor(RGBA2BGR)` and `blobFromImage(swapRB=True)`, so the network sees BGR.) Our images
are RGB, so an injected detector gets a channel-reversed copy (the real one gets the
equivalent blob from safety_nudenet). Passing RGB unconverted gives slightly different
scores from the ones nudenet produces on the same file.
"""

from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import numpy as np

from .errors import (
    BlockedError,
    FaceSwapLabError,
    ImageError,
    ModelCorruptError,
    ModelError,
    ModelMissingError,
    OptionsError,
)
from . import safety_nudenet as _nn
from .options import NSFW_THRESHOLD_RANGE

__all__ = [
    "BLOCKING_CLASSES",
    "DEFAULT_THRESHOLD",
    "THRESHOLD_MIN",
    "THRESHOLD_MAX",
    "NUDENET_REQUIREMENT",
    "Detection",
    "Verdict",
    "clamp_threshold",
    "get_detector",
    "clear_detector_cache",
    "check_image",
    "ensure_allowed",
]

BLOCKING_CLASSES: frozenset[str] = frozenset(
    {
        "FEMALE_GENITALIA_EXPOSED",
        "MALE_GENITALIA_EXPOSED",
        "FEMALE_BREAST_EXPOSED",
        "ANUS_EXPOSED",
        "BUTTOCKS_EXPOSED",
    }
)

THRESHOLD_MIN, THRESHOLD_MAX = (float(v) for v in NSFW_THRESHOLD_RANGE)
DEFAULT_THRESHOLD = 0.5
NUDENET_REQUIREMENT = "nudenet==3.4.2"

# Scores are float32 from the model. A score that prints as the threshold (0.9 as float32 is
# 0.89999998) still counts as reaching it. This tolerance only ever makes the filter stricter.
_SCORE_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Detection:
    """One nudenet detection. `box` is (x, y, w, h) in pixels of the checked image."""

    label: str
    score: float
    box: tuple[int, int, int, int]

    @property
    def is_blocking_class(self) -> bool:
        return self.label in BLOCKING_CLASSES


@dataclass(frozen=True)
class Verdict:
    """What the content filter decided about one image.

    `detections` holds everything the model reported (faces, covered classes, ...), in the
    model's order. `reason` is None unless `blocked`. `threshold` is the clamped threshold
    that was actually used.
    """

    blocked: bool
    reason: str | None
    detections: tuple[Detection, ...]
    threshold: float = DEFAULT_THRESHOLD

    @property
    def blocking_detections(self) -> tuple[Detection, ...]:
        """The detections that reached the threshold in a blocking class, best first."""
        hits = [d for d in self.detections if _blocks(d, self.threshold)]
        return tuple(sorted(hits, key=lambda d: d.score, reverse=True))


def clamp_threshold(value: Any = DEFAULT_THRESHOLD) -> float:
    """Move a requested threshold into [0.3, 0.9].

    None and NaN give the default (0.5). 0, negative numbers and -inf give 0.3, and 1 or more
    gives 0.9, so no value switches the filter off. A value that is not a number at all
    raises OptionsError.
    """
    if value is None:
        return DEFAULT_THRESHOLD
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise OptionsError(
            f"nsfw_threshold must be a number between {THRESHOLD_MIN} and {THRESHOLD_MAX}, got {value!r}"
        ) from None
    if math.isnan(v):
        return DEFAULT_THRESHOLD
    return min(max(v, THRESHOLD_MIN), THRESHOLD_MAX)


# --------------------------------------------------------------------------------------------
# The cached detector: the only module-level mutable state, always read/written under the lock
# (the unlocked fast-path read is of a single reference, which is atomic in CPython).
# --------------------------------------------------------------------------------------------

_detector_lock = threading.Lock()
_detector: Any = None  # the default-threads detector (what tests look at)
_by_threads: dict[int, Any] = {}  # detectors with an explicit intra-op thread count


def get_detector(threads: int = 0) -> Any:
    """The process-wide nudenet `NudeDetector` for this thread count (0: ONNX Runtime's
    default pool), created on first call (about 0.2 s). A batch with several workers passes
    its per-worker count so the filter does not oversubscribe the cores."""
    global _detector
    threads = max(0, int(threads or 0))
    det = _detector if threads == 0 else _by_threads.get(threads)
    if det is not None:
        return det
    with _detector_lock:
        if threads == 0:
            if _detector is None:
                _detector = _create_detector()
            return _detector
        if threads not in _by_threads:
            _by_threads[threads] = _create_detector(threads)
        return _by_threads[threads]


def clear_detector_cache() -> None:
    """Drop the cached detectors (frees their memory). The next check loads them again."""
    global _detector
    with _detector_lock:
        _detector = None
        _by_threads.clear()


def _import_nudenet() -> Any:
    try:
        import nudenet  # noqa: PLC0415  (heavy: pulls in cv2 and onnxruntime; keep lazy)
    except ModuleNotFoundError as e:
        missing = e.name or "a dependency"
        if missing.split(".")[0] == "nudenet":
            raise ModelMissingError(
                "the content filter needs the nudenet package, which is not installed: "
                f"run `pip install {NUDENET_REQUIREMENT}` (the filter cannot be switched off, "
                "so nothing is swapped without it)"
            ) from None
        raise ModelMissingError(
            f"the content filter package nudenet could not be imported because '{missing}' is "
            f"missing: run `pip install {NUDENET_REQUIREMENT}` (and its dependencies)"
        ) from None
    except Exception as e:  # ImportError from a broken install, DLL load failures, ...
        raise ModelError(
            f"the content filter package nudenet could not be imported: {type(e).__name__}: {e}; "
            f"reinstall it with `pip install --force-reinstall {NUDENET_REQUIREMENT}`"
        ) from e
    return nudenet


def _bundled_model_path(nudenet: Any) -> str | None:
    pkg_file = getattr(nudenet, "__file__", None)
    if not pkg_file:
        return None
    return os.path.join(os.path.dirname(pkg_file), "320n.onnx")


def _cpu_detector(nudenet: Any, threads: int = 0) -> Any:
    """Build a NudeDetector on the CPU provider ourselves (nudenet 3.4.2 internals).

    Used when `NudeDetector()` fails because an older GPU build of onnxruntime (1.9 to
    about 1.15) refuses to create a session without an explicit `providers` list, and for
    an explicit thread count (nudenet's constructor takes no session options).
    """
    import onnxruntime  # noqa: PLC0415

    from .models.sessions import session_options  # noqa: PLC0415

    path = _bundled_model_path(nudenet)
    if path is None:
        raise ModelMissingError("cannot locate the nudenet package directory")
    cls = nudenet.NudeDetector
    det = cls.__new__(cls)
    so = session_options(threads) if threads > 0 else None
    det.onnx_session = onnxruntime.InferenceSession(path, sess_options=so, providers=["CPUExecutionProvider"])
    det.input_width = det.input_height = 320
    det.input_name = det.onnx_session.get_inputs()[0].name
    return det


def _create_detector(threads: int = 0) -> Any:
    nudenet = _import_nudenet()
    try:
        if threads > 0:
            return _cpu_detector(nudenet, threads)
        try:
            return nudenet.NudeDetector()
        except ValueError as e:
            if "provider" not in str(e).lower():
                raise
            return _cpu_detector(nudenet)
    except FaceSwapLabError:
        raise
    except Exception as e:
        path = _bundled_model_path(nudenet)
        detail = f"{type(e).__name__}: {e}"
        if path is not None and not os.path.isfile(path):
            raise ModelMissingError(
                f"the content filter model inside the nudenet package is missing ({path}); "
                f"reinstall it with `pip install --force-reinstall {NUDENET_REQUIREMENT}`"
            ) from e
        raise ModelCorruptError(
            f"the content filter model inside the nudenet package could not be loaded: {detail}; "
            f"reinstall it with `pip install --force-reinstall {NUDENET_REQUIREMENT}`"
        ) from e


# --------------------------------------------------------------------------------------------
# Checking
# --------------------------------------------------------------------------------------------


def _as_rgb3(rgb: Any) -> np.ndarray:
    """Our image -> an RGB uint8 HxWx3 view or array (grayscale expanded, alpha dropped).

    Raises ImageError for anything that is not an 8-bit image. The input is never modified.
    """
    try:
        arr = np.asarray(rgb)
    except Exception as e:
        raise ImageError(f"the content filter got something that is not an image: {type(rgb).__name__}") from e
    if arr.dtype != np.uint8:
        raise ImageError(f"the content filter expects an 8-bit image (uint8), got dtype {arr.dtype}")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim == 2:
        arr = np.stack([arr, arr, arr], axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise ImageError(
            f"the content filter expects an HxWx3 RGB image, got an array of shape {tuple(arr.shape)}"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ImageError(f"the content filter got an empty image of shape {tuple(arr.shape)}")
    return arr[:, :, :3]


def _shrunk_rgb(rgb: Any) -> tuple[np.ndarray, int]:
    """The checked image shrunk by an integer factor (safety_nudenet.shrink_factor) and that
    factor: nudenet letterboxes to 320 px anyway, and an exact k x k area shrink is ~15x
    cheaper than one to an arbitrary size (2048 -> 1024: ~1 ms, 2048 -> 1280: ~19 ms)."""
    arr = _as_rgb3(rgb)
    k = _nn.shrink_factor(arr.shape[0], arr.shape[1])
    small = _nn.shrink(arr, k)
    return (small if small.flags["C_CONTIGUOUS"] else np.ascontiguousarray(small)), k


def _to_bgr(rgb: np.ndarray) -> np.ndarray:
    """A new C-contiguous BGR copy (what a detector with nudenet's `detect` contract takes)."""
    return np.ascontiguousarray(rgb[:, :, ::-1])


def _parse_detections(raw: Any, scale: float = 1.0) -> tuple[Detection, ...]:
    if raw is None or isinstance(raw, (str, bytes, Mapping)):
        raise ModelError(f"the content filter returned an unexpected result: {raw!r:.200}")
    out: list[Detection] = []
    try:
        items: Iterable[Any] = iter(raw)
        for item in items:
            label = str(item["class"])
            score = float(item["score"])
            box_raw = item.get("box") if isinstance(item, Mapping) else None
            box = tuple(int(round(float(v) / scale)) for v in (box_raw if box_raw is not None else ()))
            if len(box) != 4:
                box = (0, 0, 0, 0)
            if not math.isfinite(score):
                # Fail closed: a broken model must not pass images.
                raise ModelError(f"the content filter returned an invalid score {score} for {label}")
            out.append(Detection(label=label, score=score, box=box))  # type: ignore[arg-type]
    except FaceSwapLabError:
        raise
    except Exception as e:
        raise ModelError(f"the content filter returned an unexpected result: {type(e).__name__}: {e}") from e
    return tuple(out)


def _blocks(d: Detection, threshold: float) -> bool:
    return d.label in BLOCKING_CLASSES and d.score >= threshold - _SCORE_TOLERANCE


def _reason(blocking: list[Detection], threshold: float) -> str:
    best: dict[str, float] = {}
    for d in blocking:  # sorted best first, so the first score per label is its highest
        best.setdefault(d.label, d.score)
    (top_label, top_score), *others = best.items()
    msg = f"blocked by the content filter: {top_label} scored {top_score:.2f} (threshold {threshold:.2f})"
    if others:
        msg += "; also " + ", ".join(f"{label} {score:.2f}" for label, score in others)
    return msg


def check_image(
    rgb: np.ndarray, threshold: float = DEFAULT_THRESHOLD, *, detector: Any = None, threads: int = 0
) -> Verdict:
    """Run the content filter on one RGB uint8 HxWx3 image.

    `threshold` is clamped into [0.3, 0.9]. `detector` is anything with `.detect(bgr_array)`
    that returns nudenet-style dicts `{"class", "score", "box"}`; it is given a BGR copy of
    the image (shrunk by an integer factor when large). It defaults to the cached nudenet
    detector with `threads` intra-op threads (the engine's setting; 0: ONNX Runtime's
    default), which runs through safety_nudenet (same detections, a fraction of the cost).
    Raises ImageError for arrays that are not images, and ModelError when the filter cannot
    run (never passes silently).
    """
    thr = clamp_threshold(threshold)
    small, k = _shrunk_rgb(rgb)
    if detector is None:  # (called without an argument for the default: tests replace get_detector)
        detector = get_detector(threads) if threads else get_detector()
    det = detector
    try:
        raw = _nn.detect(det, small) if _nn.is_nudenet_detector(det) else det.detect(_to_bgr(small))
    except FaceSwapLabError:
        raise
    except Exception as e:
        raise ModelError(f"the content filter failed on this image: {type(e).__name__}: {e}") from e
    detections = _parse_detections(raw, scale=1.0 / k)
    blocking = sorted((d for d in detections if _blocks(d, thr)), key=lambda d: d.score, reverse=True)
    if not blocking:
        return Verdict(blocked=False, reason=None, detections=detections, threshold=thr)
    return Verdict(blocked=True, reason=_reason(blocking, thr), detections=detections, threshold=thr)


def ensure_allowed(
    rgb: np.ndarray,
    threshold: float = DEFAULT_THRESHOLD,
    *,
    detector: Any = None,
    what: str | None = None,
    threads: int = 0,
) -> Verdict:
    """`check_image`, raising `BlockedError(reason)` (exit code 5, HTTP 451) when blocked.

    `what` names the image in the message (which of several photos was refused). The raised
    error carries the verdict as `err.verdict`.
    """
    verdict = check_image(rgb, threshold, detector=detector, threads=threads)
    if verdict.blocked:
        reason = verdict.reason or "blocked by the content filter"
        err = BlockedError(f"{what}: {reason}" if what else reason)
        err.verdict = verdict  # type: ignore[attr-defined]
        raise err
    return verdict
