"""Real-cost benchmark: OUR pipeline vs the REFERENCE way, on stand-ins whose compute matches
the real model files, with nudenet's real content-filter model, plus the PHYSICAL LIMIT.

    python bench/bench_realcost.py            # full: 512/1024/2048 px x 1/3 faces, median of 3
    python bench/bench_realcost.py --quick    # smoke test: 512/1 and 2048/3, one run each
    python bench/bench_realcost.py --profile  # no comparison: cProfile (CPU time) of one swap of
                                              # ours at 512/1 and 2048/3, the top functions
    options: --repeat N  --sizes 512,2048  --faces 1,3  --models DIR (reuse generated files)
             --providers cpu|cuda  --out FILE (default bench/results/realcost-<date>[-quick|-profile].txt)

The stand-ins come from bench/realcost_models.py (generated into a temporary folder each
run, never committed): SCRFD-10G, IResNet-50, genderage, 2d106det, 1k3d68 and inswapper_128
layer shapes with random weights, each carrying the tests' cheap "semantic" graph so the
detector really reports the synthetic faces (bright textured squares drawn by
tests/fakemodels.make_face_image at known places) and the swap really changes them. Nothing
is injected from outside: both pipelines run unmodified on the same files.

Both sides, one process, interleaved (ours then reference, the order swapped every repeat),
every ONNX Runtime session with 1 intra-op and 1 inter-op thread (our EngineOptions(threads=1);
insightface's models get the same SessionOptions; nudenet's own 320n.onnx is given a 1-thread
session and shared by both sides). Times: CPU (time.process_time, the whole process) and wall
(time.perf_counter); the table shows medians.

* OURS: faceswaplab.pipeline.swap_image (content filter included) with one prepared unit
  (one source photo, every face), the source analysed once outside the timing.
* REFERENCE: what roop / ReActor run: insightface FaceAnalysis(buffalo_l, every model in the
  pack).get(bgr) + INSwapper.get(..., paste_back=True) per face. The reference has no content
  filter, so nudenet's NudeDetector.detect(bgr) on the full image (nudenet's own
  preprocessing) is ADDED to it, so that both do the same job.
* PHYSICAL LIMIT: the model runs the job cannot avoid, each session run alone (warm, same
  1-thread sessions): content filter + detector once at 640 + per face (recognition once +
  swapper). Genderage and landmarks are not needed by this job (no gender filter); their
  alone times are printed for reference (the reference pipeline runs them for every face).

A timing probe wraps onnxruntime.InferenceSession.run (class level, in this process only) to
split each pipeline run into time inside model runs and time outside them (Python, numpy,
OpenCV: the overhead a faster pipeline can remove).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime
import io
import os
import platform
import pstats
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import onnxruntime as ort  # noqa: E402

import realcost_models as rcm  # noqa: E402
from tests import fakemodels as fm  # noqa: E402

# --------------------------------------------------------------------------- timing probe


def _label(sess: Any) -> str:
    ins, outs = sess.get_inputs(), sess.get_outputs()
    if len(outs) >= 5:
        return "det"
    if ins[0].name == "target":
        return "swap"
    shape = ins[0].shape
    if len(shape) == 4 and shape[2] == 112:
        return "rec"
    if len(shape) == 4 and shape[2] == 96:
        return "genderage"
    if len(shape) == 4 and shape[2] == 192:
        return "1k3d68" if outs[0].shape[-1] == 3309 else "2d106"
    return "nsfw"


class Probe:
    """Accumulates (runs, cpu s, wall s) per model label while active."""

    def __init__(self) -> None:
        self.active: dict[str, list[float]] | None = None
        self._labels: dict[int, str] = {}
        orig = ort.InferenceSession.run
        probe = self

        def run(sess, *args, **kwargs):
            rec = probe.active
            if rec is None:
                return orig(sess, *args, **kwargs)
            c, w = time.process_time(), time.perf_counter()
            try:
                return orig(sess, *args, **kwargs)
            finally:
                label = probe._labels.get(id(sess))
                if label is None:
                    label = probe._labels[id(sess)] = _label(sess)
                r = rec[label]
                feed = args[1] if len(args) > 1 else kwargs.get("input_feed")
                first = next(iter(feed.values()), None) if isinstance(feed, dict) else None
                r[0] += int(first.shape[0]) if getattr(first, "ndim", 0) >= 1 else 1  # images, not runs
                r[1] += time.process_time() - c
                r[2] += time.perf_counter() - w

        ort.InferenceSession.run = run  # type: ignore[method-assign]

    def start(self) -> None:
        self.active = defaultdict(lambda: [0, 0.0, 0.0])

    def stop(self) -> dict[str, list[float]]:
        rec, self.active = self.active or {}, None
        return dict(rec)


@dataclass
class Sample:
    cpu: float
    wall: float
    models: dict[str, list[float]] = field(default_factory=dict)

    @property
    def model_cpu(self) -> float:
        return sum(v[1] for v in self.models.values())


def timed(probe: Probe, fn: Callable[[], Any]) -> Sample:
    probe.start()
    c, w = time.process_time(), time.perf_counter()
    fn()
    cpu, wall = time.process_time() - c, time.perf_counter() - w
    return Sample(cpu, wall, probe.stop())


def med(values) -> float:
    return statistics.median(values) if values else float("nan")


# --------------------------------------------------------------------------- scenes


def scene(w: int, h: int, n: int, seed: int) -> tuple[np.ndarray, list[tuple]]:
    """RGB image with n bright textured squares (the stand-in detector's faces), side 15% of
    the short side, evenly spread along the middle row."""
    side = int(0.15 * min(w, h))
    faces = []
    for i in range(n):
        x = int((i + 0.5) * w / n - side / 2)
        y = int(h / 2 - side / 2)
        faces.append((x, y, side, fm.FEMALE, 100 + i))
    return fm.make_face_image(size=(w, h), faces=faces, seed=seed), faces


def changed(before: np.ndarray, after: np.ndarray, faces: list[tuple]) -> bool:
    """Every face square visibly changed (the swap happened)."""
    for x, y, side, *_ in faces:
        a = before[y : y + side, x : x + side].astype(np.float32)
        b = after[y : y + side, x : x + side].astype(np.float32)
        if float(np.abs(a - b).mean()) < 2.0:
            return False
    return True


# --------------------------------------------------------------------------- environment


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
    except OSError:
        return platform.processor() or platform.machine()
    name = next((ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("model name")), "?")
    flags = next((ln.split(":", 1)[1].split() for ln in text.splitlines() if ln.startswith("flags")), [])
    simd = [f for f in ("avx2", "fma", "avx512f", "avx512_vnni", "amx_tile") if f in flags]
    return f"{name} ({', '.join(simd) or 'no avx2'})"


def versions() -> str:
    import cv2
    import insightface

    try:
        from importlib.metadata import version

        nudenet_v = version("nudenet")
    except Exception:
        nudenet_v = "?"
    return (
        f"python {platform.python_version()}, numpy {np.__version__}, onnxruntime {ort.__version__}, "
        f"insightface {insightface.__version__}, opencv {cv2.__version__}, nudenet {nudenet_v}\n"
        f"cpu {cpu_model()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"
    )


# --------------------------------------------------------------------------- main


def session_options() -> Any:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    return so


def main() -> None:
    ap = argparse.ArgumentParser(description="real-cost benchmark (see the module doc)")
    ap.add_argument("--quick", action="store_true", help="512/1 face and 2048/3 faces, one run each")
    ap.add_argument("--repeat", type=int, default=None, help="timed runs per case (median); default 3, quick 1")
    ap.add_argument("--sizes", default=None, help="comma-separated square sizes (default 512,1024,2048)")
    ap.add_argument("--faces", default=None, help="comma-separated face counts (default 1,3)")
    ap.add_argument("--models", type=Path, default=None, help="folder with (or for) the generated stand-ins")
    ap.add_argument("--providers", default="cpu", help="cpu (default) or cuda: the same on both sides")
    ap.add_argument(
        "--profile", action="store_true", help="instead of the comparison: cProfile (CPU time) one swap of ours per case"
    )
    ap.add_argument("--out", type=Path, default=None, help="result file (default bench/results/realcost-<date>.txt)")
    args = ap.parse_args()

    repeat = args.repeat or (1 if args.quick else 3)
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else [512, 1024, 2048]
    counts = [int(s) for s in args.faces.split(",")] if args.faces else [1, 3]
    cases = [(s, n) for s in sizes for n in counts]
    if (args.quick or args.profile) and not (args.sizes or args.faces):
        cases = [(512, 1), (2048, 3)]
    today = datetime.date.today().isoformat()
    suffix = "-profile" if args.profile else "-quick" if args.quick else ""
    out_path = args.out or ROOT / "bench" / "results" / f"realcost-{today}{suffix}.txt"

    lines: list[str] = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    t_start = time.perf_counter()
    load0 = os.getloadavg()
    tmp_ctx = tempfile.TemporaryDirectory(prefix="fsl-realcost-") if args.models is None else contextlib.nullcontext()
    with tmp_ctx as tmp_name:
        models_dir = Path(tmp_name) if args.models is None else args.models
        t = time.perf_counter()
        need = [models_dir / "inswapper_128.onnx", models_dir / "swappers" / "ghost_256.onnx"] + [
            models_dir / "buffalo_l" / f
            for f in ("det_10g.onnx", "w600k_r50.onnx", "genderage.onnx", "2d106det.onnx", "1k3d68.onnx")
        ]
        if all(p.is_file() for p in need):
            paths = {name: next(p for p in need if p.stem == name) for name in rcm.COUNT_SHAPES}
            gen_note = f"reused the stand-ins in {models_dir}"
        else:
            paths = rcm.build_all(models_dir)
            gen_note = f"generated the stand-ins in {time.perf_counter() - t:.1f} s"
        if args.profile:
            profile_ours(args, cases, models_dir, gen_note, say)
        else:
            run(args, repeat, cases, models_dir, paths, gen_note, say, t_start, load0)

    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text("\n".join(lines) + "\n")
    print(f"\nwritten to {out_path.relative_to(ROOT) if out_path.is_relative_to(ROOT) else out_path}")


def run(args, repeat, cases, models_dir: Path, paths: dict[str, Path], gen_note: str, say, t_start, load0) -> None:
    from insightface.app import FaceAnalysis
    from insightface.model_zoo import model_zoo

    from faceswaplab.engine import Engine
    from faceswaplab.options import EngineOptions, UnitOptions
    from faceswaplab.pipeline import prepare_units, swap_image

    import logging
    import warnings

    # the stand-ins are "custom" files (not the published sha256): the store warns once per
    # file, which is expected here; insightface's alignment emits a scikit-image FutureWarning.
    logging.getLogger("faceswaplab").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=FutureWarning)

    probe = Probe()
    providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if args.providers == "cuda" else ["CPUExecutionProvider"]
    so = session_options()

    # the content filter: nudenet's own model, one 1-thread session shared by both sides
    import nudenet

    nsfw = nudenet.NudeDetector()
    nsfw.onnx_session = ort.InferenceSession(
        os.path.join(os.path.dirname(nudenet.__file__), "320n.onnx"), sess_options=session_options(), providers=providers
    )
    nsfw.input_name = nsfw.onnx_session.get_inputs()[0].name

    # OURS
    t = time.perf_counter()
    engine = Engine(
        EngineOptions(models_dir=str(models_dir), threads=1, providers=(args.providers,), det_size=640), nsfw_detector=nsfw
    )
    source_rgb = fm.make_face_image(faces=[(220, 220, 200, fm.MALE, 7)], seed=11)
    prepared = prepare_units(engine, [UnitOptions(source_images=(source_rgb,), faces=None)])
    assert prepared[0].identity is not None, prepared[0].error
    prepared_off = prepare_units(engine, [UnitOptions(source_images=(source_rgb,), faces=None, report_similarity=False)])

    # REFERENCE
    with contextlib.redirect_stdout(io.StringIO()):  # INSwapper prints when built
        ref_app = FaceAnalysis(name=str(models_dir / "buffalo_l"), providers=providers, sess_options=so)
        ref_app.prepare(ctx_id=0, det_size=(640, 640))
        ref_swapper = model_zoo.get_model(str(paths["inswapper_128"]), providers=providers, sess_options=so)
    ref_source = ref_app.get(source_rgb[:, :, ::-1].copy())[0]
    load_s = time.perf_counter() - t

    def ours_job(rgb):
        return swap_image(rgb, prepared=prepared, engine=engine)

    def off_job(rgb):  # --no-similarity: no re-embedding of the swapped faces
        return swap_image(rgb, prepared=prepared_off, engine=engine)

    def ref_job(bgr):
        nsfw.detect(bgr)  # the content filter the reference lacks, nudenet's own way
        img = bgr
        for face in ref_app.get(bgr):
            img = ref_swapper.get(img, face, ref_source, paste_back=True)
        return img

    say(f"Real-cost benchmark ({'quick' if args.quick else 'full'}), {datetime.datetime.now():%Y-%m-%d %H:%M}")
    say(versions())
    say(f"providers {providers}, every session 1 intra-op + 1 inter-op thread; median of {repeat} run(s), interleaved")
    say(f"{gen_note}; sessions built and the source analysed in {load_s:.1f} s; load average at start {load0[0]:.2f}")
    say(rcm.table(paths))
    say()

    # check once, before any timing, that both sides really find and swap every face
    # (this also warms every session up: the first runs allocate)
    scenes = {}
    for w, n in cases:
        rgb, faces = scene(w, w, n, seed=w + n)
        scenes[(w, n)] = (rgb, rgb[:, :, ::-1].copy(), faces)
    w0, n0 = cases[0]
    rgb, bgr, faces = scenes[(w0, n0)]
    res = ours_job(rgb)
    assert res.report.swapped == n0, res.report
    assert changed(rgb, res.rgb, faces), "ours: the faces did not change"
    assert len(ref_app.get(bgr)) == n0, "reference: wrong number of faces"
    assert changed(bgr, ref_job(bgr), faces), "reference: the faces did not change"
    for key, (_rgb, bgr, _faces) in scenes.items():
        if key == (w0, n0):
            continue
        found = len(ref_app.get(bgr))  # cheap check (no swap): the detector reports every face
        assert found == key[1], f"reference detector found {found} faces at {key}, expected {key[1]}"

    samples: dict[tuple[int, int], dict[str, list[Sample]]] = {k: {"ours": [], "off": [], "ref": []} for k in cases}
    for r in range(repeat):
        for key in cases:
            rgb, bgr, _faces = scenes[key]
            order = [("ours", lambda rgb=rgb: ours_job(rgb)), ("off", lambda rgb=rgb: off_job(rgb)),
                     ("ref", lambda bgr=bgr: ref_job(bgr))]  # fmt: skip
            if r % 2:
                order.reverse()
            for side, fn in order:
                samples[key][side].append(timed(probe, fn))
        print(f"  repeat {r + 1}/{repeat} done ({time.perf_counter() - t_start:.0f} s)", flush=True)
    for key, (rgb, _bgr, faces) in scenes.items():  # our result on every case, once
        res = ours_job(rgb)
        assert res.report.swapped == key[1] and changed(rgb, res.rgb, faces), (key, res.report)

    # PHYSICAL LIMIT: each session alone (the warm 1-thread sessions of the reference side)
    rng = np.random.default_rng(0)
    det = ref_app.det_model
    alone_inputs = {
        "nsfw": (nsfw.onnx_session, {nsfw.input_name: rng.random((1, 3, 320, 320), np.float32)}),
        "det": (det.session, {det.input_name: rng.uniform(-1, 1, (1, 3, 640, 640)).astype(np.float32)}),
        "rec": (ref_app.models["recognition"].session, {ref_app.models["recognition"].input_name: rng.uniform(-1, 1, (1, 3, 112, 112)).astype(np.float32)}),
        "swap": (ref_swapper.session, {"target": rng.random((1, 3, 128, 128), np.float32), "source": (lambda v: v / np.linalg.norm(v))(rng.standard_normal((1, 512)).astype(np.float32))}),
        "genderage": (ref_app.models["genderage"].session, {ref_app.models["genderage"].input_name: rng.uniform(-1, 1, (1, 3, 96, 96)).astype(np.float32)}),
        "2d106": (ref_app.models["landmark_2d_106"].session, {ref_app.models["landmark_2d_106"].input_name: rng.uniform(-1, 1, (1, 3, 192, 192)).astype(np.float32)}),
        "1k3d68": (ref_app.models["landmark_3d_68"].session, {ref_app.models["landmark_3d_68"].input_name: rng.uniform(-1, 1, (1, 3, 192, 192)).astype(np.float32)}),
    }  # fmt: skip
    alone: dict[str, tuple[float, float]] = {}
    det.session.run(None, alone_inputs["det"][1])  # the dynamic-shape session's first run (the pipeline used the static one)
    for name, (sess, feed) in alone_inputs.items():
        cpu, wall = [], []
        for _ in range(max(repeat, 2) if name != "swap" else repeat):
            c, w = time.process_time(), time.perf_counter()
            sess.run(None, feed)
            cpu.append(time.process_time() - c)
            wall.append(time.perf_counter() - w)
        alone[name] = (med(cpu), med(wall))

    ghost = ort.InferenceSession(str(paths["ghost_256"]), sess_options=session_options(), providers=providers)
    gfeed = {"target": rng.random((1, 3, 256, 256), np.float32), "source": alone_inputs["swap"][1]["source"]}
    ghost.run(None, gfeed)
    gc = []
    for _ in range(repeat):
        c = time.process_time()
        ghost.run(None, gfeed)
        gc.append(time.process_time() - c)

    # --------------------------------------------------------------------- report
    say("Each model run alone (ms CPU, median; warm 1-thread sessions):")
    say("  " + "  ".join(f"{k} {v[0] * 1000:.1f}" for k, v in alone.items()))
    say(f"  ghost/hyperswap-shaped swapper at 256 (not used by the engine yet): one forward pass {med(gc) * 1000:.0f} ms CPU")
    say()
    hdr = (
        f"{'image':>9} {'faces':>5} | {'ours CPU':>8} {'ref CPU':>8} {'ours/ref':>8} | {'ours wall':>9} {'ref wall':>8} | "
        f"{'limit':>6} | {'ours-limit':>10} {'%':>6} {'extra runs':>10} {'outside':>7} | "
        f"{'ref-limit':>9} {'extra runs':>10} {'outside':>7}"
    )
    say("ms CPU unless marked wall; medians. ours-limit / ref-limit: measured total minus the physical limit;")
    say("extra runs: model runs beyond the limit's, counted in images through each model (ours: the similarity")
    say("re-embedding, one batched run; ref: genderage + 2 landmark models per face); outside: CPU time outside ONNX Runtime runs (Python, numpy, OpenCV). extra runs + outside")
    say("is the overhead free of the noise of the swapper's ~5 s runs.")
    say(hdr)
    say("-" * len(hdr))
    details = []

    def extra_and_outside(ss: list[Sample], n: int) -> tuple[float, float]:
        need = {"nsfw": 1, "det": 1, "rec": n, "swap": n}
        extra, outside = [], []
        for s in ss:
            e = 0.0
            for label, (cnt, cpu, _wall) in s.models.items():
                over = cnt - need.get(label, 0)
                if over > 0 and cnt:
                    e += cpu * over / cnt
            extra.append(e)
            outside.append(s.cpu - s.model_cpu)
        return med(extra) * 1000, med(outside) * 1000

    for key in cases:
        w, n = key
        o, rf = samples[key]["ours"], samples[key]["ref"]
        oc, rc = med([s.cpu for s in o]) * 1000, med([s.cpu for s in rf]) * 1000
        ow, rw = med([s.wall for s in o]) * 1000, med([s.wall for s in rf]) * 1000
        limit = (alone["nsfw"][0] + alone["det"][0] + n * (alone["rec"][0] + alone["swap"][0])) * 1000
        o_extra, o_out = extra_and_outside(o, n)
        r_extra, r_out = extra_and_outside(rf, n)
        say(
            f"{w:>4}x{w:<4} {n:>5} | {oc:>8.0f} {rc:>8.0f} {oc / rc:>7.2f}x | {ow:>9.0f} {rw:>8.0f} | "
            f"{limit:>6.0f} | {oc - limit:>+10.0f} {100 * (oc - limit) / limit:>+5.1f}% {o_extra:>10.0f} {o_out:>7.1f} | "
            f"{rc - limit:>+9.0f} {r_extra:>10.0f} {r_out:>7.1f}"
        )
        off = samples[key]["off"]
        fc = med([s.cpu for s in off]) * 1000
        f_extra, f_out = extra_and_outside(off, n)
        say(
            f"{'':>9} {'':>5} | {fc:>8.0f} {'':>8} {fc / rc:>7.2f}x | {med([s.wall for s in off]) * 1000:>9.0f} {'':>8} | "
            f"{'':>6} | {fc - limit:>+10.0f} {100 * (fc - limit) / limit:>+5.1f}% {f_extra:>10.0f} {f_out:>7.1f} |"
            "  <- ours with --no-similarity"
        )
        for side, ss in (("ours", o), ("off", off), ("ref", rf)):
            per = defaultdict(list)
            for s in ss:
                for label, (cnt, cpu, _wall) in s.models.items():
                    per[label].append((cnt, cpu))
            parts = [f"{lb} {int(med([c for c, _ in v]))}x {med([t for _, t in v]) * 1000:.0f}" for lb, v in sorted(per.items())]
            details.append(f"{w:>4}x{w:<4} {n} {side:<4}: " + ", ".join(parts))
    say()
    say("Model runs inside each pipeline run (label images x, ms CPU in those runs; median; off = --no-similarity):")
    for d in details:
        say("  " + d)
    say()
    say(
        "limit = content filter + detector at 640 + faces x (recognition + swapper), each run alone; "
        "outside = CPU time outside ONNX Runtime runs (Python, numpy, OpenCV)."
    )
    say(
        "The reference includes nudenet's detect() on the full image (added so both do the same job), "
        "and FaceAnalysis runs every buffalo_l model per face (landmarks 2d106 + 1k3d68, genderage, recognition)."
    )
    load1 = os.getloadavg()
    say(
        f"load average at the end {load1[0]:.2f} (1 min) on {os.cpu_count()} cores; "
        f"total bench time {time.perf_counter() - t_start:.0f} s wall"
    )
    if load1[0] > 1.5 or load0[0] > 1.5:
        say("NOTE: the machine was busy with other work during this run: the figures are noisy (rerun on an idle machine).")


def profile_ours(args, cases, models_dir: Path, gen_note: str, say) -> None:
    """cProfile one swap of ours per case with a CPU-time timer, after a warm-up run: where the
    time outside the model runs goes."""
    import logging
    import warnings

    logging.getLogger("faceswaplab").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=FutureWarning)
    import nudenet

    from faceswaplab.engine import Engine
    from faceswaplab.options import EngineOptions, UnitOptions
    from faceswaplab.pipeline import prepare_units, swap_image

    providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if args.providers == "cuda" else ["CPUExecutionProvider"]
    nsfw = nudenet.NudeDetector()
    nsfw.onnx_session = ort.InferenceSession(
        os.path.join(os.path.dirname(nudenet.__file__), "320n.onnx"), sess_options=session_options(), providers=providers
    )
    nsfw.input_name = nsfw.onnx_session.get_inputs()[0].name
    engine = Engine(
        EngineOptions(models_dir=str(models_dir), threads=1, providers=(args.providers,), det_size=640), nsfw_detector=nsfw
    )
    source_rgb = fm.make_face_image(faces=[(220, 220, 200, fm.MALE, 7)], seed=11)
    prepared = prepare_units(engine, [UnitOptions(source_images=(source_rgb,), faces=None)])
    say(f"Profile of OUR pipeline, {datetime.datetime.now():%Y-%m-%d %H:%M}; {gen_note}")
    say(versions())
    say(f"providers {providers}, 1-thread sessions; cProfile with a CPU-time timer (time.process_time), after a warm-up run")
    for w, n in cases:
        rgb, faces = scene(w, w, n, seed=w + n)
        res = swap_image(rgb, prepared=prepared, engine=engine)
        assert res.report.swapped == n and changed(rgb, res.rgb, faces), res.report
        prof = cProfile.Profile(time.process_time)
        prof.enable()
        swap_image(rgb, prepared=prepared, engine=engine)
        prof.disable()
        st = pstats.Stats(prof)
        total = sum(v[2] for v in st.stats.values())  # own time of every function = the total
        ort_own = sum(v[2] for k, v in st.stats.items() if "onnxruntime" in k[2] or k[2].endswith(".run}"))
        say()
        say(f"{w}x{w}, {n} face(s): {total * 1000:.0f} ms CPU, of which ONNX Runtime runs {ort_own * 1000:.0f} ms, "
            f"everything else {(total - ort_own) * 1000:.1f} ms")  # fmt: skip
        for title, key, keep in (
            ("top 20 by own CPU time, model runs left out", 2, lambda k: "onnxruntime" not in k[2] and ".run}" not in k[2]),
            ("faceswaplab functions by cumulative CPU time", 3, lambda k: "/faceswaplab/" in k[0]),
        ):
            rows = sorted(((v[key], k, v[1]) for k, v in st.stats.items() if keep(k)), reverse=True)[:20]
            say(f"  {title} (ms, calls, function):")
            for t, k, calls in rows:
                where = f"{Path(k[0]).name}:{k[1]}" if k[0] != "~" else ""
                say(f"    {t * 1000:>8.2f} {calls:>6}  {k[2]} {where}")


if __name__ == "__main__":
    main()
