"""The dropdown names and the missing-models notice every front end shows (faceswaplab/choices.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from faceswaplab import choices
from faceswaplab.engine import Engine
from faceswaplab.options import EngineOptions
from tests import fakemodels as fm


@pytest.fixture
def pack(tmp_path, models_dir) -> Path:
    d = tmp_path / "models"
    shutil.copytree(models_dir, d)
    fm.write_restorer(d / "restorers" / "filter.onnx", 512)
    fm.write_parser(d / "parsers" / "parser.onnx")
    (d / "notes.onnx").write_bytes(b"not a model")
    fm.write_swapper(d / "other_200.onnx", mode="identity", size=200)  # no kind of that size
    return d


class Restorer:
    name, size = "host-restorer", 512

    def restore(self, face: np.ndarray, weight: float = 0.5) -> np.ndarray:
        return face


def test_names_follow_the_engine(pack):
    eng = Engine(EngineOptions(models_dir=str(pack)), restorers={"webui:GFPGAN": Restorer()})
    got = {k: v() for k, v in choices.providers(eng).items()}
    assert got["unit_restorers"] == ["webui:GFPGAN", "filter.onnx"]
    assert got["unit_upscalers"][:2] == ["lanczos", "cubic"]
    assert got["parsers"] == ["parser.onnx"]
    assert got["swappers"] == ["inswapper_128.onnx"]
    assert got["checkpoints"] == []
    assert "cpu" in got["providers"]
    # a callable engine is read on every call (the web-ui's follows its settings)
    calls = []
    live = choices.providers(lambda: calls.append(1) or eng)
    assert live["parsers"]() == ["parser.onnx"] and live["swappers"]() == ["inswapper_128.onnx"] and calls == [1, 1]


def test_models_notice_names_missing_files(pack):
    eng = Engine(EngineOptions(models_dir=str(pack)))
    assert choices.models_notice(eng) == ""
    (pack / "inswapper_128.onnx").unlink()
    (pack / "buffalo_l" / "w600k_r50.onnx").unlink()
    text = choices.models_notice(eng)
    assert "`inswapper_128.onnx`" in text and "`buffalo_l/w600k_r50.onnx`" in text and "det_10g" not in text
    assert "models download" in text and str(pack) in text
    assert choices.swapper_files(eng) == [choices.DEFAULT_SWAPPER_FILE]

    def broken() -> Engine:
        raise ValueError("FACESWAPLAB_MODELS points nowhere")

    assert choices.models_notice(broken) == "**FaceSwapLab:** FACESWAPLAB_MODELS points nowhere"


def test_a_detector_supplied_by_the_caller_is_not_required(pack):
    (pack / "buffalo_l" / "det_10g.onnx").unlink()
    eng = Engine(EngineOptions(models_dir=str(pack)), detector=object())
    assert choices.models_notice(eng) == ""


def test_a_broken_engine_gives_empty_lists_not_a_failed_page():
    def broken() -> Engine:
        raise ValueError("no models directory")

    listed = choices.providers(broken)
    assert listed["unit_restorers"]() == [] and listed["checkpoints"]() == []
