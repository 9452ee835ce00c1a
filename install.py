"""Installs FaceSwapLab's requirements into the web-ui's environment without breaking it.

The web-ui runs this file at start-up. A plain `pip install insightface nudenet` there would
upgrade numpy to 2.x, protobuf past the web-ui's pin, Pillow, and add a second OpenCV package,
and onnx 1.19+ stops importing once the web-ui re-pins protobuf 3.20.0. So:

1. onnxruntime only when no onnxruntime package at all is installed (never onnxruntime next
   to onnxruntime-gpu or the reverse: they overwrite each other's files). The GPU build is
   chosen when torch sees CUDA, or by FACESWAPLAB_ONNXRUNTIME=onnxruntime-gpu.
2. onnx (<1.19), insightface 2.1 and nudenet 3.4.2 with --no-deps.
3. Their other dependencies, only those missing, through `launch.run_pip` under a constraints
   file made from the versions of numpy, Pillow, protobuf, OpenCV, scikit-image, gradio and
   torch installed here, so none of those can move. OpenCV is never added next to an
   installed OpenCV package, and gradio, torch and numpy are never installed or upgraded.

Nothing is downloaded besides packages (model files are never fetched here). A failure
prints what failed and how to install by hand, and exits with status 1.
"""

from __future__ import annotations

import os
import shlex
import sys
import tempfile

try:
    from importlib import metadata as md
except ImportError:  # pragma: no cover - Python < 3.8
    import importlib_metadata as md  # type: ignore

import launch

HERE = os.path.dirname(os.path.abspath(__file__))

NO_DEPS = (("onnx", "onnx>=1.14,<1.19"), ("insightface", "insightface==2.1"), ("nudenet", "nudenet==3.4.2"))
ONNX_MAX = (1, 19)
ORT_PACKAGES = (
    "onnxruntime", "onnxruntime-gpu", "onnxruntime-directml", "onnxruntime-openvino",
    "onnxruntime-silicon", "onnxruntime-rocm", "onnxruntime-qnn",
)  # fmt: skip
OPENCV_PACKAGES = ("opencv-python", "opencv-python-headless", "opencv-contrib-python", "opencv-contrib-python-headless")
# Installed versions of these become constraints (none of them may change).
HOST_PINNED = ("numpy", "Pillow", "protobuf", "scikit-image", "gradio", "torch") + OPENCV_PACKAGES
NEVER_INSTALL = {"gradio", "torch", "numpy"}


def canon(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def version(name: str) -> str | None:
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return None
    except Exception:
        return None


def _vtuple(v: str) -> tuple[int, ...]:
    out = []
    for part in v.split(".")[:3]:
        digits = "".join(ch for ch in part if ch.isdigit())
        out.append(int(digits or 0))
    return tuple(out)


def requirement_parser():
    try:
        from packaging.requirements import Requirement
    except ImportError:  # pip always carries a copy
        from pip._vendor.packaging.requirements import Requirement  # type: ignore
    return Requirement


def declared_requirements(dist: str) -> list[str]:
    """Names of `dist`'s unconditional dependencies (extras and foreign markers left out)."""
    Requirement = requirement_parser()
    try:
        reqs = md.requires(dist) or []
    except md.PackageNotFoundError:
        return []
    names = []
    for text in reqs:
        try:
            r = Requirement(text)
        except Exception:
            continue
        if r.marker is not None:
            try:
                if not r.marker.evaluate({"extra": ""}):
                    continue
            except Exception:
                continue
        names.append(r.name)
    return names


def project_requirements() -> list[str]:
    """Names in requirements.txt (the standalone install's list)."""
    Requirement = requirement_parser()
    out = []
    path = os.path.join(HERE, "requirements.txt")
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except OSError:
        return []
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        try:
            out.append(Requirement(line).name)
        except Exception:
            continue
    return out


def write_constraints() -> str:
    lines = [f"{name}=={v}" for name in HOST_PINNED if (v := version(name))]
    lines.append("onnx<1.19")
    fd, path = tempfile.mkstemp(prefix="faceswaplab-constraints-", suffix=".txt")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return path


def cuda_available() -> bool:
    if os.environ.get("FACESWAPLAB_ONNXRUNTIME"):
        return False
    try:
        import torch  # the web-ui's own

        return bool(torch.cuda.is_available())
    except Exception:
        return False


def pip(args: str, desc: str) -> None:
    launch.run_pip(args, desc)


def plan() -> list[tuple[str, str, str]]:
    """[(pip args, description, kind)] still to run, computed from what is installed."""
    steps: list[tuple[str, str, str]] = []
    if not any(version(p) for p in ORT_PACKAGES):
        ort = os.environ.get("FACESWAPLAB_ONNXRUNTIME") or ("onnxruntime-gpu" if cuda_available() else "onnxruntime")
        if canon(ort) not in {canon(p) for p in ORT_PACKAGES}:
            raise SystemExit(f"FACESWAPLAB_ONNXRUNTIME must name an onnxruntime package, got {ort!r}")
        steps.append((ort, f"{ort} for FaceSwapLab", "constrained"))
    onnx_v = version("onnx")
    for name, spec in NO_DEPS:
        v = version(name)
        if name == "onnx":
            if v is not None and _vtuple(v) < ONNX_MAX:
                continue
        elif v is not None and spec.endswith("==" + v):
            continue
        steps.append((spec, f"{name} for FaceSwapLab (without its dependencies)", "nodeps"))
    del onnx_v
    return steps


def missing_dependencies() -> list[str]:
    wanted: list[str] = []
    for dist in [n for n, _ in NO_DEPS]:
        wanted += declared_requirements(dist)
    wanted += project_requirements()
    have_opencv = any(version(p) for p in OPENCV_PACKAGES)
    skip = {canon(p) for p in ORT_PACKAGES} | {canon(p) for p in NEVER_INSTALL} | {canon(n) for n, _ in NO_DEPS}
    if have_opencv:
        skip |= {canon(p) for p in OPENCV_PACKAGES}
    out: list[str] = []
    for name in wanted:
        c = canon(name)
        if c in skip or c in {canon(o) for o in out} or version(name) is not None:
            continue
        out.append(name)
    return out


def main() -> int:
    before = {name: version(name) for name in HOST_PINNED}
    constraints = write_constraints()
    cflag = f"-c {shlex.quote(constraints)}"
    try:
        for spec, desc, kind in plan():
            if kind == "nodeps":
                pip(f"install --no-deps {shlex.quote(spec)}", desc)
            else:
                pip(f"install {cflag} {shlex.quote(spec)}", desc)
        missing = missing_dependencies()
        if missing:
            pip(f"install {cflag} " + " ".join(shlex.quote(m) for m in missing), "FaceSwapLab dependencies: " + ", ".join(missing))
    except Exception as e:
        print(
            "FaceSwapLab: could not install its requirements.\n"
            f"  What failed: {str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__}\n"
            "  Nothing of the web-ui's own packages was changed. To install by hand, in the web-ui's venv:\n"
            "    pip install --no-deps insightface==2.1 nudenet==3.4.2 \"onnx>=1.14,<1.19\"\n"
            "    pip install onnxruntime   (or onnxruntime-gpu, never both)\n"
            "  then restart the web-ui. See docs/install.md.",
            file=sys.stderr,
        )
        return 1
    finally:
        try:
            os.unlink(constraints)
        except OSError:
            pass
    changed = [f"{n} {before[n]} -> {version(n)}" for n in HOST_PINNED if before[n] != version(n)]
    if changed:
        print("FaceSwapLab: WARNING: these web-ui packages changed: " + ", ".join(changed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
