"""install.py in an environment with the A1111 v1.10.1 pins (envs/a1111.lock.txt), with the
stand-in `launch` whose run_pip really runs pip. It must leave every pinned version as it was,
add no second OpenCV or onnxruntime package, and the core must then import and swap.

This changes the environment it runs in, so it runs only when FSL_INSTALL_TEST=1 (.ci/run sets
it for the A1111 environment). Run it with --noconftest before the core's packages exist:
    FSL_INSTALL_TEST=1 python -m pytest --noconftest tests/test_install_webui.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STUBS = ROOT / "tests" / "webui_stubs"

pytestmark = pytest.mark.skipif(os.environ.get("FSL_INSTALL_TEST") != "1", reason="changes the environment: set FSL_INSTALL_TEST=1 (CI does, in the A1111 env)")

PINNED = {
    "gradio": "3.41.2", "numpy": "1.26.2", "fastapi": "0.94.0", "httpx": "0.24.1", "Pillow": "9.5.0",
    "protobuf": "3.20.0", "scikit-image": "0.21.0", "opencv-python": "4.10.0.84",
}  # fmt: skip

PROBE = """
import json, importlib.metadata as md
names = %r
out = {}
for n in names:
    try: out[n] = md.version(n)
    except md.PackageNotFoundError: out[n] = None
print(json.dumps(out))
"""

WATCH = list(PINNED) + ["pydantic", "opencv-python-headless", "onnxruntime", "onnxruntime-gpu", "onnx", "insightface", "nudenet", "torch"]


def versions() -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE % (WATCH,)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def run_install() -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=f"{STUBS}{os.pathsep}{ROOT}")
    return subprocess.run([sys.executable, str(ROOT / "install.py")], capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)


def test_install_keeps_the_host_pins_and_the_core_swaps(tmp_path):
    before = versions()
    assert before["gradio"] == "3.41.2", "run this in the A1111-pinned environment (envs/a1111.lock.txt)"
    res = run_install()
    assert res.returncode == 0, res.stdout + res.stderr
    after = versions()
    for name, v in PINNED.items():
        assert after[name] == before[name] == v, f"{name} changed: {before[name]} -> {after[name]}"
    assert after["pydantic"] == before["pydantic"] and after["pydantic"].startswith("1.10")
    assert after["opencv-python-headless"] is None, "no second OpenCV package"
    assert after["insightface"] == "2.1" and after["nudenet"] == "3.4.2"
    assert (after["onnxruntime"] is None) != (after["onnxruntime-gpu"] is None), "exactly one onnxruntime"
    assert tuple(int(x) for x in after["onnx"].split(".")[:2]) < (1, 19)
    assert after["torch"] is None, "torch is never installed"
    # A second run has nothing left to do.
    again = run_install()
    assert again.returncode == 0 and "Installing" not in again.stdout, again.stdout
    # The core imports and swaps (stand-in models) with protobuf still at the host's 3.20.0.
    script = tmp_path / "swap.py"
    script.write_text(
        "import sys; sys.path.insert(0, %r)\n"
        "from tests import fakemodels as fm\n"
        "from faceswaplab.engine import Engine\n"
        "from faceswaplab.options import EngineOptions, UnitOptions\n"
        "from faceswaplab.pipeline import swap_image\n"
        "import google.protobuf, onnx, insightface, nudenet\n"
        "fm.write_all(%r)\n"
        "eng = Engine(EngineOptions(models_dir=%r))\n"
        "src = fm.make_face_image(faces=[(220, 220, 200, fm.MALE, 7)], seed=11)\n"
        "tgt = fm.make_face_image(faces=[(180, 200, 180, fm.FEMALE, 3)], seed=2)\n"
        "r = swap_image(tgt, [UnitOptions(source_images=[src])], engine=eng)\n"
        "print('protobuf', google.protobuf.__version__, 'swapped', r.report.swapped)\n"
        % (str(ROOT), str(tmp_path / "m"), str(tmp_path / "m"))
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "protobuf 3.20.0 swapped 1" in out.stdout


def test_install_failure_is_readable(tmp_path):
    env = dict(os.environ, PYTHONPATH=f"{STUBS}{os.pathsep}{ROOT}", FACESWAPLAB_ONNXRUNTIME="not-a-runtime")
    code = (
        "import sys, importlib.metadata as md\n"
        "import install\n"
        "install.ORT_PACKAGES = ('no-such-runtime-package',)\n"
        "sys.exit(install.main())\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert res.returncode != 0
    assert "Traceback" not in res.stderr
    assert "FACESWAPLAB_ONNXRUNTIME" in res.stderr or "could not install" in res.stderr
