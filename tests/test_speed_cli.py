"""`faceswaplab --version` answers before any heavy module is imported (issue 15)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from faceswaplab import __version__

ROOT = Path(__file__).resolve().parents[1]


def test_version_imports_no_heavy_module():
    code = (
        "import sys, runpy\n"
        "sys.argv = ['faceswaplab', '--version']\n"
        "try:\n    runpy.run_module('faceswaplab', run_name='__main__')\n"
        "except SystemExit as e:\n    assert e.code == 0, e.code\n"
        "heavy = [m for m in ('numpy', 'cv2', 'onnxruntime', 'PIL', 'insightface') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert f"FaceSwapLab {__version__}" in out.stdout
    assert "HEAVY []" in out.stdout
