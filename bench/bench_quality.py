"""Swap-quality benchmark (issue #4): time per face at 1024x1024 for each enhancement, and the
round-trip PSNR of the one-warp path against paste-back and the two-warp path.

    python bench/bench_quality.py [--repeat 10] [--out bench/results/quality.txt]

No real weights are used (none ship with the project): the models are the test stand-ins
with the real signatures (tests/fakemodels.py). So "models" below is the stand-ins' time and
"pipeline" (total minus models) is ours: warps, masks, polyphase split/merge, parsing
argmax, colour, sharpening, paste-back. With the real files add their inference times:
boost N runs the 128 px swap model N*N times, plus one restorer and one parser pass.
The round trip uses insightface's t1.jpg (six faces) with real MTCNN keypoints, an identity
swapper and an identity restorer: what goes in must come back where it was.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from faceswaplab.analysis.face import Face  # noqa: E402
from faceswaplab.engine import Engine  # noqa: E402
from faceswaplab.identity import Identity  # noqa: E402
from faceswaplab.options import EngineOptions, EnhanceOptions, UnitOptions  # noqa: E402
from faceswaplab.swap.face_swap import swap_face  # noqa: E402
from tests import fakemodels  # noqa: E402

CONFIGS: list[tuple[str, dict]] = [
    ("plain swap", {}),
    ("boost 2", {"boost": 2}),
    ("boost 4", {"boost": 4}),
    ("restoration (512)", {"restorer": "filter.onnx"}),
    ("parsing mask", {"parser": "parser.onnx"}),
    ("keep-mouth", {"parser": "parser.onnx", "keep_mouth": True}),
    ("colour correction", {"color_correction": 0.5}),
    ("sharpen", {"sharpen": 0.5}),
    (
        "all together",
        {
            "boost": 4,
            "restorer": "filter.onnx",
            "parser": "parser.onnx",
            "keep_mouth": True,
            "color_correction": 0.5,
            "sharpen": 0.3,
            "upscale": "lanczos",
        },
    ),
]


class _Clock:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seconds = 0.0

    def add(self, s: float) -> None:
        with self.lock:
            self.seconds += s


class TimedSession:
    """Pass-through ONNX Runtime session that adds its run time to a clock."""

    def __init__(self, inner, clock: _Clock) -> None:
        self.inner, self.clock = inner, clock

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def run(self, *a, **k):
        t = time.perf_counter()
        try:
            return self.inner.run(*a, **k)
        finally:
            self.clock.add(time.perf_counter() - t)


def build_models(root: Path) -> tuple[Path, Path]:
    mix, ident = root / "mix", root / "identity"
    fakemodels.write_all(mix)
    shutil.copytree(mix / "buffalo_l", ident / "buffalo_l")
    fakemodels.write_swapper(ident / "inswapper_128.onnx", mode="identity")
    for d in (mix, ident):
        fakemodels.write_restorer(d / "restorers" / "filter.onnx", 512, mode="filter")
        fakemodels.write_restorer(d / "restorers" / "identity.onnx", 512, mode="identity")
        fakemodels.write_parser(d / "parsers" / "parser.onnx")
    return mix, ident


def timed_engine(models: Path, clock: _Clock, **kw) -> Engine:
    eng = Engine(EngineOptions(models_dir=str(models)), **kw)
    sw = eng.swapper()
    if not isinstance(sw.session, TimedSession):
        sw.session = TimedSession(sw.session, clock)  # the cached swapper (this process only)
    plain_session = eng.session
    eng.session = lambda path: TimedSession(plain_session(path), clock)  # type: ignore[method-assign]
    return eng


def bench_times(models: Path, repeat: int) -> list[tuple[str, float, float, float, float, float, list[str]]]:
    clock = _Clock()
    eng = timed_engine(models, clock)
    side = 420
    x, y = (1024 - side) // 2, (1024 - side) // 2 - 40
    img = fakemodels.make_face_image((1024, 1024), [(x, y, side, fakemodels.FEMALE, 3)], seed=5)
    kps = fakemodels.face_kps([(x, y, side)])[0]
    face = Face(bbox=np.array([x, y, x + side, y + side], np.float32), kps=kps, det_score=0.9)
    v = np.random.default_rng(1).standard_normal(512).astype(np.float32)
    ident = Identity(embedding=v / np.linalg.norm(v))
    rows = []
    for label, enh in CONFIGS:
        unit = UnitOptions(enhance=EnhanceOptions(**enh))
        for _ in range(2):  # warm-up: sessions, caches
            swap_face(eng, img.copy(), face, ident, unit)
        totals, model_times = [], []
        notes: list[str] = []
        for _ in range(repeat):
            work = img.copy()
            clock.seconds = 0.0
            t = time.perf_counter()
            notes = swap_face(eng, work, face, ident, unit).notes
            totals.append(time.perf_counter() - t)
            model_times.append(clock.seconds)
        total = statistics.median(totals) * 1000
        model = statistics.median(model_times) * 1000
        best = min(totals) * 1000
        best_pipe = min(t - mt for t, mt in zip(totals, model_times)) * 1000
        rows.append((label, total, model, total - model, best, best_pipe, notes))
    return rows


def bench_psnr(models: Path) -> dict[str, float]:
    import insightface

    from tests.mtcnn_detector import MTCNNDetector
    from tests.test_enhance import round_trip_psnrs

    path = Path(insightface.__file__).parent / "data" / "images" / "t1.jpg"
    bgr = cv2.imread(str(path))
    det = MTCNNDetector()
    eng = Engine(EngineOptions(models_dir=str(models)), detector=det)
    rgb = np.ascontiguousarray(bgr[:, :, ::-1])
    faces = eng.analyser().analyse(rgb, det_size=640, det_thresh=0.5, retry=False, attributes=False)
    return round_trip_psnrs(eng, rgb, faces, models / "inswapper_128.onnx")


def versions() -> list[str]:
    import onnxruntime

    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        import insightface

        insight = insightface.__version__
    except Exception:  # pragma: no cover
        insight = "?"
    return [
        f"python {platform.python_version()} ({platform.system()} {platform.machine()})",
        f"numpy {np.__version__}, onnxruntime {onnxruntime.__version__} (CPUExecutionProvider), "
        f"opencv {cv2.__version__}, insightface {insight}",
        f"CPU: {cpu or 'unknown'}, {os.cpu_count()} logical cores (ONNX Runtime default threads)"
        + (f", load average {os.getloadavg()[0]:.1f} at start" if hasattr(os, "getloadavg") else ""),
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--out", help="also write the output to this file")
    args = ap.parse_args(argv)
    out = io.StringIO()

    def emit(line: str = "") -> None:
        print(line)
        out.write(line + "\n")

    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)  # skimage deprecation inside insightface
    import logging

    logging.getLogger("faceswaplab").setLevel(logging.ERROR)  # stand-ins are "custom" files

    emit("FaceSwapLab swap-quality benchmark (issue #4)")
    for v in versions():
        emit("  " + v)
    with tempfile.TemporaryDirectory() as tmp:
        mix, ident = build_models(Path(tmp))
        rows = bench_times(mix, args.repeat)
        emit()
        emit(f"time per face, 1024x1024 image, face 420 px, {args.repeat} runs each (stand-in models);")
        emit("median, and the fastest run (the least disturbed by other load on the machine)")
        emit(f"  {'configuration':<20} {'total ms':>9} {'models ms':>10} {'pipeline ms':>12} {'min total':>10} {'min pipeline':>13}")
        for label, total, model, ours, best, best_pipe, _ in rows:
            emit(f"  {label:<20} {total:9.1f} {model:10.1f} {ours:12.1f} {best:10.1f} {best_pipe:13.1f}")
        emit()
        emit("  notes of 'all together': " + "; ".join(rows[-1][-1]))
        with contextlib.redirect_stdout(io.StringIO()):
            figures = bench_psnr(ident)
        emit()
        emit("round trip on t1.jpg (6 faces, MTCNN keypoints), identity swapper + identity restorer,")
        emit("PSNR over the inner face boxes (keypoint box + 10%):")
        for k, v in figures.items():
            emit(f"  {v:6.2f} dB  {k}")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(out.getvalue(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
