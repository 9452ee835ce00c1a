"""Shared fixtures: a models directory of small stand-in ONNX models with the real files'
signatures and names, engines over it, and synthetic and real photos."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

# The suite never reaches outside: no engine fetches a missing model (first_run.py) unless a
# test unsets this and points at a server on 127.0.0.1 (tests/test_first_run.py). Subprocesses inherit it.
os.environ["FACESWAPLAB_OFFLINE"] = "1"

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests import fakemodels  # noqa: E402


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("models")
    fakemodels.write_all(d)
    return d


@pytest.fixture(scope="session")
def identity_models_dir(tmp_path_factory, models_dir) -> Path:
    """Same pack, but the swapper returns its target crop unchanged (round-trip tests)."""
    import shutil

    d = tmp_path_factory.mktemp("models-identity")
    shutil.copytree(models_dir / "buffalo_l", d / "buffalo_l")
    fakemodels.write_swapper(d / "inswapper_128.onnx", mode="identity")
    return d


@pytest.fixture
def engine(models_dir):
    from faceswaplab.engine import Engine
    from faceswaplab.options import EngineOptions

    return Engine(EngineOptions(models_dir=str(models_dir)))


@pytest.fixture(scope="session")
def t1_path() -> Path:
    import insightface

    p = Path(insightface.__file__).parent / "data" / "images" / "t1.jpg"
    assert p.is_file(), "insightface ships data/images/t1.jpg"
    return p


@pytest.fixture(scope="session")
def mtcnn():
    from tests.mtcnn_detector import MTCNNDetector

    return MTCNNDetector()


def face_spec(x: int, y: int, side: int, colour=fakemodels.FEMALE, seed: int = 0):
    return (x, y, side, colour, seed)


@pytest.fixture
def write_image(tmp_path):
    """Write an RGB array to a PNG in tmp_path and return its path."""
    from PIL import Image

    def _write(rgb: np.ndarray, name: str = "img.png") -> Path:
        p = tmp_path / name
        Image.fromarray(rgb).save(p)
        return p

    return _write


# --- folder jobs (batch and dataset tests): one source photo, an engine whose content filter
# blocks marked images, and a unit swapping that source in


@pytest.fixture(scope="module")
def source_path(tmp_path_factory) -> Path:
    from tests.batch_helpers import SIZE, save

    d = tmp_path_factory.mktemp("source")
    return save(fakemodels.make_face_image((SIZE, SIZE), [(60, 60, 120, fakemodels.FEMALE, 7)], seed=1), d / "source.png")


@pytest.fixture
def eng(models_dir):
    from faceswaplab.engine import Engine
    from faceswaplab.options import EngineOptions
    from tests.batch_helpers import MarkerNSFW

    return Engine(EngineOptions(models_dir=str(models_dir)), nsfw_detector=MarkerNSFW())


@pytest.fixture
def unit(source_path):
    from faceswaplab.options import UnitOptions

    return UnitOptions(source_images=(str(source_path),))
