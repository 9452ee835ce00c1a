"""`python -m faceswaplab doctor`: versions, providers and model status in one place, for bug
reports and for checking a GPU set-up."""

from __future__ import annotations

import argparse
import importlib
import platform
import sys
from typing import Any

from .. import __version__
from ..models.store import ModelStore, resolve_models_dir
from . import common

PACKAGES = ("numpy", "onnxruntime", "onnx", "insightface", "cv2", "PIL", "safetensors", "skimage", "nudenet", "tqdm")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="versions, execution providers and model status")
    p.add_argument("--models-dir", metavar="DIR")
    p.add_argument("--json", action="store_true")
    p.add_argument("--debug", action="store_true")
    p.set_defaults(func=run)


def _version(name: str) -> str | None:
    try:
        mod = importlib.import_module(name)
    except Exception as e:  # a broken install is exactly what doctor should report
        return f"not importable ({type(e).__name__}: {str(e)[:80]})"
    return str(getattr(mod, "__version__", "installed"))


def opencv_distributions() -> dict[str, str]:
    """Every installed OpenCV wheel by name -> version. insightface pulls `opencv-python` and
    nudenet `opencv-python-headless`; both unpack into the same `cv2` folder."""
    try:
        from importlib.metadata import distributions

        return {
            d.metadata["Name"].lower(): d.version
            for d in distributions()
            if (d.metadata["Name"] or "").lower().startswith("opencv-")
        }
    except Exception:
        return {}


def opencv_warning(dists: dict[str, str]) -> str | None:
    """Two OpenCV wheels of different versions mix their files in `cv2/`: say how to repair it."""
    if len(set(dists.values())) < 2:
        return None
    listed = ", ".join(f"{n}=={v}" for n, v in sorted(dists.items()))
    newest = max(dists.values(), key=lambda v: tuple(int(x) if x.isdigit() else 0 for x in v.split(".")))
    pins = " ".join(f"{n}=={newest}" for n in sorted(dists))
    return (
        f"WARNING: OpenCV distributions of different versions are installed ({listed}); they write the same cv2 "
        f"folder and mix files. Run: pip install --force-reinstall --no-deps {pins}"
    )


def collect(models_dir: str | None) -> dict[str, Any]:
    from ..models.sessions import available_providers

    info: dict[str, Any] = {
        "faceswaplab": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": {n: _version(n) for n in PACKAGES},
    }
    try:
        info["providers"] = available_providers()
    except Exception as e:
        info["providers"] = f"onnxruntime unavailable: {e}"
    try:
        from importlib.metadata import distributions

        ort = sorted({d.metadata["Name"] for d in distributions() if (d.metadata["Name"] or "").lower().startswith("onnxruntime")})
    except Exception:
        ort = []
    info["onnxruntime_packages"] = ort
    info["opencv_packages"] = opencv_distributions()
    info["opencv_warning"] = opencv_warning(info["opencv_packages"])
    store = ModelStore(resolve_models_dir(models_dir))
    info["models_dir"] = str(store.models_dir)
    info["models"] = [s.to_dict() for s in store.statuses()]
    return info


def run(args: argparse.Namespace) -> int:
    info = collect(args.models_dir)
    if args.json:
        common.emit_json(info)
        return common.EXIT_OK
    common.say(f"FaceSwapLab {info['faceswaplab']} on Python {info['python']} ({info['platform']})")
    for name, ver in info["packages"].items():
        common.say(f"  {name:<12} {ver}")
    common.say(f"execution providers: {info['providers']}")
    if len(info["onnxruntime_packages"]) > 1:
        print(
            f"WARNING: several onnxruntime packages are installed ({', '.join(info['onnxruntime_packages'])}); "
            "they overwrite each other. Uninstall all of them and install exactly one."
        )
    if info["opencv_warning"]:
        print(info["opencv_warning"])
    common.say(f"models directory: {info['models_dir']}")
    for m in info["models"]:
        common.say(f"  {m['state']:<9} {m['name']}")
    return common.EXIT_OK
