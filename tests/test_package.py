"""The package (issue 14 section 1): one version, the pyproject's dependencies are
requirements*.txt, and doctor's OpenCV mix-up warning."""

from __future__ import annotations

import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = None

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    if tomllib is None:
        pytest.skip("tomllib needs Python 3.11")
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _reqs(name: str) -> list[str]:
    lines = (ROOT / name).read_text(encoding="utf-8").splitlines()
    return [ln.split("#", 1)[0].strip() for ln in lines if ln.split("#", 1)[0].strip()]


def test_version_comes_from_the_package():
    import faceswaplab

    data = _pyproject()
    assert "version" not in data["project"] and "version" in data["project"]["dynamic"]
    assert data["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "faceswaplab.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", faceswaplab.__version__)


def test_dependencies_are_the_requirements_files():
    """The web-ui's install.py reads requirements.txt; pip reads the pyproject: they must agree."""
    data = _pyproject()
    dyn = data["tool"]["setuptools"]["dynamic"]
    assert "dependencies" not in data["project"]  # no second hand-written list
    assert dyn["dependencies"] == {"file": ["requirements.txt"]}
    assert dyn["optional-dependencies"]["app"] == {"file": ["requirements-app.txt"]}
    assert dyn["optional-dependencies"]["serve"] == {"file": ["requirements-serve.txt"]}
    assert data["project"]["scripts"]["faceswaplab"] == "faceswaplab.cli:main"
    names = {re.split(r"[<>=!~ \[]", r, maxsplit=1)[0].lower() for r in _reqs("requirements.txt")}
    assert {"insightface", "onnxruntime", "numpy", "opencv-python", "tqdm"} <= names


def test_installed_metadata_matches_requirements():
    """Where the package is installed (pip install .), its Requires-Dist is requirements.txt."""
    from importlib.metadata import PackageNotFoundError, requires

    try:
        dist = requires("faceswaplab") or []
    except PackageNotFoundError:
        pytest.skip("faceswaplab is not pip-installed in this environment")
    base = sorted(r.replace(" ", "") for r in dist if "extra ==" not in r)
    assert base == sorted(r.replace(" ", "") for r in _reqs("requirements.txt"))


def test_doctor_warns_about_two_opencv_versions():
    from faceswaplab.cli.doctor_cmd import opencv_warning

    assert opencv_warning({"opencv-python": "4.11.0.86", "opencv-python-headless": "4.11.0.86"}) is None
    assert opencv_warning({"opencv-python": "4.11.0.86"}) is None
    msg = opencv_warning({"opencv-python": "4.10.0.84", "opencv-python-headless": "4.11.0.86"})
    assert msg is not None and "\n" not in msg
    assert "opencv-python==4.10.0.84" in msg and "opencv-python-headless==4.11.0.86" in msg
    assert msg.endswith("pip install --force-reinstall --no-deps opencv-python==4.11.0.86 opencv-python-headless==4.11.0.86")
