"""Video throughput: `run_video` on generated clips at 720p and 1080p with 1 and 3 moving faces,
with 1 and 2 workers, on the stand-in models (tests/fakemodels.py) and the real content filter
(nudenet, on one frame per second and every frame where a new face appears).

Run by hand from the repository root:

    python bench/bench_video.py [--frames 30] [--workers 1 2] [--out bench/results/video.txt]

Frames per second are end to end (decode twice, detect + embed, track, swap, similarity,
H.264 encode, mux). The stand-in networks are tiny, so the figures measure everything around
the networks; with the real buffalo_l/inswapper models each face adds its model time.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZES = {"720p": (1280, 720), "1080p": (1920, 1080)}


def _faces(n: int, size: tuple[int, int]):
    from tests import fakemodels as fm

    w, h = size
    side = h // 5

    def faces(i: int) -> list[tuple]:
        out = []
        for k in range(n):
            x = int(w * (0.1 + 0.3 * k)) + 2 * i
            y = int(h * (0.2 + 0.15 * k)) + i
            out.append((x, y, side, fm.FEMALE if k % 2 else fm.MALE, 100 + k))
        return out

    return faces


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "video.txt"))
    args = ap.parse_args()

    from faceswaplab.engine import Engine
    from faceswaplab.options import EngineOptions, UnitOptions, VideoOptions
    from faceswaplab.video import run_video
    from tests import fakemodels as fm
    from tests.batch_helpers import save
    from tests.video_helpers import write_clip

    lines = [
        f"# bench_video: {args.frames} frames per clip, stand-in models, real content filter",
        f"# {platform.platform()}, python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"load {' '.join(f'{v:.1f}' for v in os.getloadavg())}",
        f"{'size':>6} {'faces':>5} {'workers':>7} {'seconds':>8} {'fps':>6}",
    ]
    print("\n".join(lines))
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        models = d / "models"
        models.mkdir()
        fm.write_all(models)
        src = save(fm.make_face_image((256, 256), [(48, 48, 160, fm.MALE, 7)], seed=1), d / "src.png")
        engine = Engine(EngineOptions(models_dir=str(models)))
        unit = [UnitOptions(source_images=(str(src),), faces=None)]
        for name, size in SIZES.items():
            for n in (1, 3):
                clip = write_clip(d / f"{name}-{n}.mp4", size, args.frames, _faces(n, size), pix_fmt="yuv420p")
                for workers in args.workers:
                    out = d / f"out-{name}-{n}-{workers}.mp4"
                    t0 = time.perf_counter()
                    report = run_video(str(clip), str(out), unit, engine=engine, options=VideoOptions(workers=workers))
                    dt = time.perf_counter() - t0
                    assert report.frames == args.frames and len(report.swapped_tracks) == n, report.track_lines()
                    line = f"{name:>6} {n:>5} {workers:>7} {dt:8.2f} {args.frames / dt:6.2f}"
                    print(line, flush=True)
                    lines.append(line)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
