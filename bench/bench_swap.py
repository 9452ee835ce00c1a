"""Side-by-side timing: our swap_image against the reference way (insightface's own
FaceAnalysis.get + INSwapper.get(paste_back=True)), same images, same stand-in models, one run.

Run by hand from the repository root:  python bench/bench_swap.py [--repeat 5]
It prints a table and the versions used; commit its output under bench/results/.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from faceswaplab.compose import box_mask, paste_aligned  # noqa: E402
from faceswaplab.engine import Engine  # noqa: E402
from faceswaplab.options import EngineOptions, UnitOptions  # noqa: E402
from faceswaplab.pipeline import prepare_units, swap_image  # noqa: E402
from tests import fakemodels as fm  # noqa: E402

SIZES = [(512, 512), (1024, 1024), (2048, 2048), (3840, 2160)]


def scene(w: int, h: int, n: int, seed: int) -> np.ndarray:
    side = int(0.15 * min(w, h))
    faces = []
    for i in range(n):
        x = int((i + 0.5) * w / n - side / 2)
        y = int(h / 2 - side / 2)
        faces.append((x, y, side, fm.FEMALE, 100 + i))
    return fm.make_face_image(size=(w, h), faces=faces, seed=seed)


def median_ms(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    import cv2
    import insightface
    import onnxruntime as ort
    from insightface.app import FaceAnalysis
    from insightface.model_zoo import model_zoo

    tmp = Path(tempfile.mkdtemp(prefix="fsl-bench-"))
    fm.write_all(tmp)
    providers = ["CPUExecutionProvider"]
    engine = Engine(EngineOptions(models_dir=str(tmp)))
    with contextlib.redirect_stdout(io.StringIO()):  # INSwapper prints when built
        ref_app = FaceAnalysis(name=str(tmp / "buffalo_l"), providers=providers)
        ref_app.prepare(0, det_size=(640, 640))
        ref_swapper = model_zoo.get_model(str(tmp / "inswapper_128.onnx"), providers=providers)

    source_rgb = fm.make_face_image(faces=[(220, 220, 200, fm.MALE, 7)], seed=11)
    ref_source = ref_app.get(source_rgb[:, :, ::-1].copy())[0]
    prepared = prepare_units(engine, [UnitOptions(source_images=(source_rgb,), faces="all")])
    swapper = engine.swapper()
    latent = swapper.latent(prepared[0].identity.embedding)

    print(f"python {platform.python_version()}, numpy {np.__version__}, onnxruntime {ort.__version__}, "
          f"opencv {cv2.__version__}, insightface {insightface.__version__}, cpu {platform.processor() or platform.machine()}, "
          f"{__import__('os').cpu_count()} cores; median of {args.repeat} runs, ms")  # fmt: skip
    print(f"{'image':>10} {'faces':>5} | {'ours total':>10} {'ref total':>10} {'speed-up':>8} | "
          f"{'ours paste':>10} {'ref paste':>10} {'ratio':>7}")  # fmt: skip
    for w, h in SIZES:
        for n in (1, 3):
            rgb = scene(w, h, n, seed=w + n)
            bgr = rgb[:, :, ::-1].copy()
            res = swap_image(rgb, prepared=prepared, engine=engine)
            assert res.report.swapped == n, res.report.summary()

            def ours():
                swap_image(rgb, prepared=prepared, engine=engine)

            def ref():
                img = bgr.copy()
                for face in ref_app.get(img):
                    img = ref_swapper.get(img, face, ref_source, paste_back=True)

            t_ours = median_ms(ours, args.repeat)
            t_ref = median_ms(ref, args.repeat)

            # Paste-back alone, per face: ours (ROI warp of crop and mask, float blend) vs
            # insightface's (get with paste_back minus get without, same model run inside).
            faces = engine.analyser().analyse(rgb, det_size=640, det_thresh=0.5)
            aligned, m = swapper.swap(rgb, faces[0].kps, latent)
            mask = box_mask(aligned.shape[0])
            canvas = rgb.copy()
            t_paste = median_ms(lambda: paste_aligned(canvas, aligned, m, mask), args.repeat)
            rf = ref_app.get(bgr)[0]
            t_with = median_ms(lambda: ref_swapper.get(bgr, rf, ref_source, paste_back=True), args.repeat)
            t_without = median_ms(lambda: ref_swapper.get(bgr, rf, ref_source, paste_back=False), args.repeat)
            t_ref_paste = max(t_with - t_without, 1e-6)
            print(f"{w:>4}x{h:<5} {n:>5} | {t_ours:>10.1f} {t_ref:>10.1f} {t_ref / t_ours:>7.1f}x | "
                  f"{t_paste:>10.2f} {t_ref_paste:>10.2f} {t_ref_paste / t_paste:>6.1f}x")  # fmt: skip
    print("ours total includes the content filter (nudenet, ~25 ms) that the reference does not run.")


if __name__ == "__main__":
    main()
