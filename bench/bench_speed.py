"""Issue 15's fixed costs, each measured BEFORE and AFTER in one run (the old code paths are
reproduced here), then ours vs the reference way on the cheap stand-ins.

    nice python bench/bench_speed.py [--repeat 5] [--out bench/results/speed-<date>.txt]

Every ONNX Runtime session has 1 intra-op + 1 inter-op thread (our EngineOptions(threads=1);
insightface's and nudenet's sessions get the same options); times are CPU time of the whole
process (time.process_time), medians, before/after interleaved. Stand-in models: tests/
fakemodels.py (cheap, so the figures are the overhead around the networks); nudenet's own
content filter model is real.

Part 1, before -> after, one line each: content filter (integer-factor shrink, blob from RGB,
numpy post-processing), detection (RGB shrunk first), recognition (one batched run), the
similarity re-embedding switched off, prepare_units (one analysis per photo), PNG level,
and batch workers (threads shared out).
Part 2: ours (swap_image, content filter included) vs the reference (nudenet.detect on the
full image + insightface FaceAnalysis.get + INSwapper.get(paste_back=True)), at 512/1024/2048
with 1 and 3 faces, and ours with --no-similarity.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import logging
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_realcost as brc  # noqa: E402
import onnxruntime as ort  # noqa: E402

from tests import fakemodels as fm  # noqa: E402


def cpu_ms(fn: Callable[[], Any], repeat: int) -> float:
    fn()
    out = []
    for _ in range(repeat):
        c = time.process_time()
        fn()
        out.append(time.process_time() - c)
    return brc.med(out) * 1000


def pair(before: Callable[[], Any], after: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Median CPU ms of before and after, interleaved (b a a b b a ...)."""
    before(), after()
    tb, ta = [], []
    for r in range(repeat):
        order = [(before, tb), (after, ta)] if r % 2 == 0 else [(after, ta), (before, tb)]
        for fn, acc in order:
            c = time.process_time()
            fn()
            acc.append(time.process_time() - c)
    return brc.med(tb) * 1000, brc.med(ta) * 1000


def old_filter_input(rgb: np.ndarray) -> np.ndarray:
    """The previous safety._downscaled_bgr: area shrink to a 1280 px long side, BGR copy."""
    import cv2

    h, w = rgb.shape[:2]
    s = min(1.0, 1280 / max(h, w))
    if s < 1.0:
        rgb = cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR)


def part1(say, repeat: int, models: Path, nsfw: Any) -> None:
    import cv2
    import nudenet.nudenet as nn_mod

    from faceswaplab import safety, safety_nudenet
    from faceswaplab.batch import runner as batch_runner
    from faceswaplab.engine import Engine
    from faceswaplab.imageio import save_image
    from faceswaplab.options import EngineOptions, UnitOptions
    from faceswaplab.pipeline import SourceCache, prepare_units, swap_image

    say("Part 1: before -> after (ms CPU, median of %d, interleaved; ratio = after / before)" % repeat)
    rows: list[tuple[str, float, float]] = []
    photo = cv2.imread(str(Path(__import__("insightface").__file__).parent / "data" / "images" / "t1.jpg"))[:, :, ::-1]

    def big(w: int) -> np.ndarray:
        return np.ascontiguousarray(cv2.resize(photo, (w, round(photo.shape[0] * w / photo.shape[1])), interpolation=cv2.INTER_CUBIC))

    for w in (512, 1024, 2048, 4096):
        img = big(w)
        rows.append((f"content filter, t1.jpg at {w} px wide (whole check)",
                     *pair(lambda img=img: nsfw.detect(old_filter_input(img)), lambda img=img: safety.check_image(img, detector=nsfw), repeat)))  # fmt: skip
    img = big(2048)
    small = safety_nudenet.shrink(img, safety_nudenet.shrink_factor(*img.shape[:2]))
    blob = safety_nudenet.blob(small, 320)
    out = nsfw.onnx_session.run(None, {nsfw.input_name: blob})
    hh, ww = small.shape[:2]
    side = max(hh, ww)
    rows.append(("  of which: nudenet post-processing (2100 rows)",
                 *pair(lambda: nn_mod._postprocess(out, side - ww, side - hh, side / ww, side / hh, ww, hh, 320, 320),
                       lambda: safety_nudenet.postprocess(out[0], ww, hh, 320), repeat)))  # fmt: skip
    assert safety_nudenet.postprocess(out[0], ww, hh, 320) == nn_mod._postprocess(out, side - ww, side - hh, 1, 1, ww, hh, 320, 320)
    rows.append(("  of which: resize 2048 -> filter input (+ BGR copy)",
                 *pair(lambda: old_filter_input(img), lambda: safety._shrunk_rgb(img), repeat)))  # fmt: skip

    engine = Engine(EngineOptions(models_dir=str(models), threads=1), nsfw_detector=nsfw)
    det = engine.analyser().detector
    for w, n in ((512, 1), (2048, 3)):
        rgb, _ = brc.scene(w, w, n, seed=w + n)
        rows.append((f"face detection at {w} px ({n} faces): BGR of the whole image -> of the 640 px copy",
                     *pair(lambda rgb=rgb: det.detect(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), 640, 0.5),
                           lambda rgb=rgb: det.detect_rgb(rgb, 640, 0.5), repeat)))  # fmt: skip
    rgb, _ = brc.scene(2048, 2048, 3, seed=2051)
    ana = engine.analyser()
    faces = ana.analyse(rgb, det_size=640, det_thresh=0.5)
    kps = [f.kps for f in faces]
    rows.append(("recognition of 3 faces: 3 runs -> 1 batched run",
                 *pair(lambda: [ana.embed(rgb, k) for k in kps], lambda: ana.embed_many(rgb, kps), repeat)))  # fmt: skip

    source = fm.make_face_image(faces=[(220, 220, 200, fm.MALE, 7)], seed=11)
    on = prepare_units(engine, [UnitOptions(source_images=(source,), faces="all")])
    off = prepare_units(engine, [UnitOptions(source_images=(source,), faces="all", report_similarity=False)])
    for w, n in ((512, 1), (2048, 3)):
        rgb, _ = brc.scene(w, w, n, seed=w + n)
        rows.append((f"swap_image {w} px {n} face(s): similarity reported -> --no-similarity",
                     *pair(lambda rgb=rgb: swap_image(rgb, prepared=on, engine=engine),
                           lambda rgb=rgb: swap_image(rgb, prepared=off, engine=engine), repeat)))  # fmt: skip

    units = [UnitOptions(source_images=(source,), faces=str(i)) for i in range(3)]

    def uncached() -> None:
        for u in units:  # what prepare_units did before: every unit analyses its photo
            prepare_units(engine, [u])

    rows.append(("prepare_units, 3 units with the same source photo",
                 *pair(uncached, lambda: prepare_units(engine, units, SourceCache()), repeat)))  # fmt: skip

    png = big(2048)[:2048]
    png = np.ascontiguousarray(cv2.resize(png, (2048, 2048)))
    with tempfile.TemporaryDirectory() as t:
        rows.append(("PNG output 2048x2048 photo: level 6 -> level 1 (default)",
                     *pair(lambda: save_image(Path(t) / "a.png", png, png_compression=6),
                           lambda: save_image(Path(t) / "b.png", png), max(3, repeat // 2))))  # fmt: skip
        s6 = save_image(Path(t) / "a.png", png, png_compression=6).stat().st_size
        s1 = save_image(Path(t) / "b.png", png).stat().st_size

    for label, b, a in rows:
        say(f"  {label:<86} {b:>8.1f} -> {a:>7.1f}  x{a / b:.2f}")
    say(f"  (PNG sizes: level 6 {s6 / 1e6:.2f} MB, level 1 {s1 / 1e6:.2f} MB)")
    say()

    # batch workers: threads per session before (automatic) and after (cores / workers)
    say("Batch workers (run_batch, 16 images 1024x1024 JPEG, 1 face each; wall s and CPU s of the process):")
    with tempfile.TemporaryDirectory() as t:
        tdir = Path(t) / "in"
        tdir.mkdir()
        for i in range(16):
            rgb, _ = brc.scene(1024, 1024, 1, seed=500 + i)
            cv2.imwrite(str(tdir / f"t{i:02d}.jpg"), rgb[:, :, ::-1])
        from faceswaplab.batch import BatchOptions, run_batch

        units1 = [UnitOptions(source_images=(source,))]
        results = {}
        orig = batch_runner.worker_engine
        for case, workers, patched in (("1 worker", 1, False), ("2 workers, before (automatic threads)", 2, True),
                                       ("2 workers, after (cores / workers threads)", 2, False)):  # fmt: skip
            eng = Engine(EngineOptions(models_dir=str(models)), nsfw_detector=None)
            if patched:
                batch_runner.worker_engine = lambda e, w: e
            try:
                run_batch(tdir, Path(t) / f"warm-{case[:9]}", units1, options=BatchOptions(workers=workers), engine=eng)
                load = os.getloadavg()[0]
                c, w0 = time.process_time(), time.perf_counter()
                s = run_batch(tdir, Path(t) / f"out-{case[:9]}-{workers}", units1, options=BatchOptions(workers=workers, redo=True), engine=eng)
                wall, cpu = time.perf_counter() - w0, time.process_time() - c
            finally:
                batch_runner.worker_engine = orig
            assert s.counts.get("swapped") == 16, s.counts
            results[case] = wall
            say(f"  {case:<44} {16 / wall:>5.2f} img/s  wall {wall:>5.2f} s  CPU {cpu:>5.2f} s "
                f"({cpu / 16 * 1000:.0f} ms CPU per image)  load avg at start {load:.2f}")  # fmt: skip
        base = results["1 worker"]
        for case in list(results)[1:]:
            say(f"  {case}: {base / results[case]:.2f}x the rate of 1 worker")
    say()


def part2(say, repeat: int, models: Path, nsfw: Any) -> None:
    from insightface.app import FaceAnalysis
    from insightface.model_zoo import model_zoo

    from faceswaplab.engine import Engine
    from faceswaplab.options import EngineOptions, UnitOptions
    from faceswaplab.pipeline import prepare_units, swap_image

    probe = brc.Probe()
    so = brc.session_options()
    providers = ["CPUExecutionProvider"]
    engine = Engine(EngineOptions(models_dir=str(models), threads=1), nsfw_detector=nsfw)
    source = fm.make_face_image(faces=[(220, 220, 200, fm.MALE, 7)], seed=11)
    on = prepare_units(engine, [UnitOptions(source_images=(source,), faces=None)])
    off = prepare_units(engine, [UnitOptions(source_images=(source,), faces=None, report_similarity=False)])
    with contextlib.redirect_stdout(io.StringIO()):
        app = FaceAnalysis(name=str(models / "buffalo_l"), providers=providers, sess_options=so)
        app.prepare(ctx_id=0, det_size=(640, 640))
        swapper = model_zoo.get_model(str(models / "inswapper_128.onnx"), providers=providers, sess_options=so)
    ref_source = app.get(source[:, :, ::-1].copy())[0]

    def ref(bgr):
        nsfw.detect(bgr)
        img = bgr
        for face in app.get(bgr):
            img = swapper.get(img, face, ref_source, paste_back=True)
        return img

    say(f"Part 2: ours vs the reference, stand-in models, ms CPU (median of {repeat}, interleaved), content filter "
        "on both sides")  # fmt: skip
    say(f"  {'image':>9} {'faces':>5} | {'ours':>7} {'ref':>7} {'ours/ref':>8} | {'ours --no-similarity':>20} {'/ref':>6} | "
        "ours outside models")  # fmt: skip
    for w in (512, 1024, 2048):
        for n in (1, 3):
            rgb, faces = brc.scene(w, w, n, seed=w + n)
            bgr = rgb[:, :, ::-1].copy()
            res = swap_image(rgb, prepared=on, engine=engine)
            assert res.report.swapped == n and brc.changed(rgb, res.rgb, faces)
            assert brc.changed(bgr, ref(bgr), faces)
            s: dict[str, list[Any]] = {"on": [], "off": [], "ref": []}
            fns = {"on": lambda: swap_image(rgb, prepared=on, engine=engine),
                   "off": lambda: swap_image(rgb, prepared=off, engine=engine), "ref": lambda: ref(bgr)}  # fmt: skip
            for r in range(repeat):
                keys = ["on", "off", "ref"] if r % 2 == 0 else ["ref", "off", "on"]
                for k in keys:
                    s[k].append(brc.timed(probe, fns[k]))
            o, f, rf = (brc.med([x.cpu for x in s[k]]) * 1000 for k in ("on", "off", "ref"))
            outside = brc.med([x.cpu - x.model_cpu for x in s["on"]]) * 1000
            say(f"  {w:>4}x{w:<4} {n:>5} | {o:>7.1f} {rf:>7.1f} {o / rf:>7.2f}x | {f:>20.1f} {f / rf:>5.2f}x | {outside:>7.1f}")
    say()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / f"speed-{datetime.date.today().isoformat()}.txt")
    ap.add_argument("--part", choices=("1", "2", "all"), default="all")
    args = ap.parse_args()
    logging.getLogger("faceswaplab").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=FutureWarning)
    lines: list[str] = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    import nudenet

    nsfw = nudenet.NudeDetector()
    nsfw.onnx_session = ort.InferenceSession(
        os.path.join(os.path.dirname(nudenet.__file__), "320n.onnx"), sess_options=brc.session_options(),
        providers=["CPUExecutionProvider"],
    )  # fmt: skip
    nsfw.input_name = nsfw.onnx_session.get_inputs()[0].name
    t0 = time.perf_counter()
    load0 = os.getloadavg()
    say(f"bench/bench_speed.py, {datetime.datetime.now():%Y-%m-%d %H:%M}")
    say(brc.versions())
    say(f"load average at start {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f} (1/5/15 min) on {os.cpu_count()} cores")
    say()
    with tempfile.TemporaryDirectory(prefix="fsl-speed-") as t:
        models = Path(t)
        fm.write_all(models)
        if args.part in ("1", "all"):
            part1(say, args.repeat, models, nsfw)
        if args.part in ("2", "all"):
            part2(say, args.repeat, models, nsfw)
    load1 = os.getloadavg()
    say(f"load average at the end {load1[0]:.2f} (1 min); bench time {time.perf_counter() - t0:.0f} s wall")
    if max(load0[0], load1[0]) > 1.5:
        say("NOTE: the machine (2 cores) was shared with other work: figures are noisy; ratios measured interleaved.")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
