"""Per-face cost of every swapper kind at boost 1 and 2 (run by hand; prints a table).

    python bench/bench_kinds.py [--repeat 5] [--realcost]

Two columns per kind: the whole per-face step (`swap_face`: align, swap, mask, one warp
back) and the model runs alone (what any tool must pay), so the difference is our wrapper's
overhead. Light stand-ins (tests/fake_swappers.py, written from each row) cost almost
nothing to run, so their column is the wrapper's cost at that crop size; with --realcost
the inswapper-shaped and ghost-shaped stand-ins of bench/realcost_models.py (the real
networks' layer shapes and FLOPs, random weights) show what a user with real weights pays.
1-thread sessions, CPU time of this process.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from faceswaplab.analysis.face import Face  # noqa: E402
from faceswaplab.engine import Engine  # noqa: E402
from faceswaplab.identity import Identity  # noqa: E402
from faceswaplab.models import registry  # noqa: E402
from faceswaplab.options import EngineOptions, EnhanceOptions, UnitOptions  # noqa: E402
from faceswaplab.swap.face_swap import swap_face  # noqa: E402
from tests import fake_swappers as fs  # noqa: E402
from tests import fakemodels as fm  # noqa: E402
from tests.test_swapper import CONVERTERS, FILES  # noqa: E402


def _cpu(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best * 1000.0


def _scene():
    x, y, side = 300, 260, 320
    img = fm.make_face_image((1024, 1024), [(x, y, side, fm.FEMALE, 3)], seed=1)
    face = Face(bbox=np.array([x, y, x + side, y + side], np.float32), kps=fm.face_kps([(x, y, side)])[0], det_score=0.9)
    v = np.random.default_rng(3).standard_normal(512).astype(np.float32)
    return img, face, Identity(embedding=v / np.linalg.norm(v), raw_norm=21.0)


def measure(models_dir: Path, files: dict[str, str], repeat: int) -> list[tuple[str, int, float, float]]:
    engine = Engine(EngineOptions(models_dir=str(models_dir), threads=1))
    img, face, ident = _scene()
    rows = []
    for kind, file in files.items():
        sw = engine.swapper(file)
        for boost in (1, 2):
            unit = UnitOptions(swapper=file, enhance=EnhanceOptions(boost=boost))
            swap_face(engine, img.copy(), face, ident, unit)  # warm
            whole = _cpu(lambda u=unit: swap_face(engine, img.copy(), face, ident, u), repeat)
            crops = np.zeros((boost * boost, sw.size, sw.size, 3), np.float32)
            lat = sw.latent(ident.embedding, ident.raw_norm)
            model = _cpu(lambda c=crops, s=sw, la=lat: s.run(c, la), repeat)
            rows.append((kind, boost, whole, model))
    return rows


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--realcost", action="store_true", help="also the real-cost inswapper and ghost stand-ins")
    args = ap.parse_args(argv)
    print(f"FaceSwapLab per-face cost by swapper kind; python {platform.python_version()}, {platform.machine()}")
    import onnxruntime

    print(f"onnxruntime {onnxruntime.__version__}; 1 thread; 1024x1024 image, one 320 px face; best of {args.repeat}")
    with tempfile.TemporaryDirectory(prefix="fsl-kinds-") as t:
        d = Path(t)
        fm.write_all(d)
        for kind in registry.SWAPPER_KINDS:
            fs.write_kind_swapper(d / FILES[kind.name], kind, mode="mix")
        for name in CONVERTERS:
            fs.write_converter(d / name)
        tables = [("light stand-ins (wrapper cost)", measure(d, FILES, args.repeat))]
        if args.realcost:
            sys.path.insert(0, str(ROOT / "bench"))
            import realcost_models

            rc = d / "realcost"
            paths = realcost_models.build_all(rc)
            shutil.copy(paths["ghost_256"], rc / "ghost_1_256.onnx")
            fs.write_converter(rc / "crossface_ghost.onnx")
            tables.append(("real-cost stand-ins", measure(rc, {"inswapper_128": "inswapper_128.onnx", "ghost_256": "ghost_1_256.onnx"}, args.repeat)))
    for title, rows in tables:
        print(f"\n{title}")
        print(f"{'kind':<16}{'boost':>6}{'crop px':>9}{'per face ms':>13}{'model ms':>10}{'overhead ms':>13}")
        for kind, boost, whole, model in rows:
            size = registry.swapper_kind(kind).size * boost
            print(f"{kind:<16}{boost:>6}{size:>9}{whole:>13.1f}{model:>10.1f}{whole - model:>13.1f}")


if __name__ == "__main__":
    main()
