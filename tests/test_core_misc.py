"""Core behaviours that are not about which face is picked: import-time laziness, detection
retry, session options and provider failures, alpha through the whole flow, option checks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faceswaplab.engine import Engine
from faceswaplab.errors import OptionsError, ProviderError
from faceswaplab.models import sessions
from faceswaplab.options import EngineOptions, EnhanceOptions, UnitOptions
from faceswaplab.pipeline import swap_image
from tests import fakemodels as fm

ROOT = Path(__file__).resolve().parents[1]


def test_import_loads_no_model_and_no_runtime():
    code = (
        "import sys, faceswaplab, faceswaplab.pipeline, faceswaplab.cli, faceswaplab.engine;"
        "heavy = [m for m in ('onnxruntime', 'insightface', 'nudenet', 'onnx') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(ROOT), timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"imported at import time: {out.stdout}"


def test_retry_at_smaller_det_size_finds_a_frame_filling_face(models_dir):
    # 620 px in a 640 image is beyond the detector's range at det_size 640 but fine at 320.
    tgt = fm.make_face_image(faces=[(10, 10, 620, fm.FEMALE, 3)], seed=2)
    src = fm.make_face_image(faces=[(220, 220, 200, fm.MALE, 7)], seed=11)
    unit = UnitOptions(source_images=(src,))
    no_retry = Engine(EngineOptions(models_dir=str(models_dir), det_retry=False))
    assert swap_image(tgt, [unit], engine=no_retry).report.faces_detected == 0
    retry = Engine(EngineOptions(models_dir=str(models_dir), det_retry=True))
    res = swap_image(tgt, [unit], engine=retry)
    assert res.report.faces_detected == 1 and res.report.swapped == 1


def test_thread_count_reaches_the_session(models_dir):
    sessions.clear()
    eng = Engine(EngineOptions(models_dir=str(models_dir), threads=1))
    sw = eng.swapper()
    assert sw.session.get_session_options().intra_op_num_threads == 1
    assert eng.swapper() is sw, "cached, not rebuilt"
    other = Engine(EngineOptions(models_dir=str(models_dir), threads=2)).swapper()
    assert other is not sw and other.session.get_session_options().intra_op_num_threads == 2


def test_provider_start_failure_is_readable(tmp_path):
    p = tmp_path / "m.onnx"
    p.write_bytes(b"x")

    def factory(providers, so):
        raise RuntimeError("[ONNXRuntimeError] : 1 : FAIL : CUDA failure 100: no CUDA-capable device is detected ; GPU=0")

    with pytest.raises(ProviderError) as e:
        sessions.cached(p, ["CUDAExecutionProvider", "CPUExecutionProvider"], 0, "test", factory)
    msg = str(e.value)
    assert "m.onnx" in msg and "CUDA" in msg and "--providers cpu" in msg and "\n" not in msg


def test_unknown_provider_name_is_an_options_error():
    with pytest.raises(OptionsError, match="unknown execution provider"):
        sessions.resolve_providers(["quantum"])


def test_rgba_target_keeps_its_alpha(models_dir, tmp_path):
    rgb = fm.make_face_image(faces=[(180, 200, 180, fm.FEMALE, 3)], seed=2)
    alpha = np.full(rgb.shape[:2], 255, np.uint8)
    alpha[:, :100] = 0
    path = tmp_path / "rgba.png"
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(path)
    src = fm.make_face_image(faces=[(220, 220, 200, fm.MALE, 7)], seed=11)
    res = swap_image(path, [UnitOptions(source_images=(src,))], engine=Engine(EngineOptions(models_dir=str(models_dir))))
    assert res.report.swapped == 1
    assert res.image.alpha is not None and np.array_equal(res.image.alpha, alpha)


@pytest.mark.parametrize(
    "kwargs,needle",
    [
        (dict(faces="one"), "faces"),
        (dict(sort="random"), "sort"),
        (dict(gender="other"), "gender"),
        (dict(min_similarity=1.5), "min_similarity"),
        (dict(source_face_index=-1), "source_face_index"),
        (dict(min_face_size=-5), "min_face_size must be 0 or more"),
        (dict(mask_erosion=0.7), "mask_erosion must be between 0 and 0.5"),
    ],
)
def test_unit_option_errors(kwargs, needle):
    with pytest.raises(OptionsError, match=needle):
        UnitOptions(**kwargs)


@pytest.mark.parametrize(
    "kwargs,needle",
    [
        (dict(mask_regions=("soul",)), "unknown value.*soul"),  # refused by name, parser or not
        (dict(boost=3), "boost must be one of 1, 2, 4"),
        (dict(mask_regions=("skin",)), "mask_regions needs a face parser"),  # keep_mouth alone uses the landmarks
        (dict(sharpen="much"), "sharpen must be a number"),
    ],
)
def test_enhance_option_errors(kwargs, needle):
    with pytest.raises(OptionsError, match=needle):
        EnhanceOptions(**kwargs)


def test_post_options_read_their_limits_from_the_fields():
    from faceswaplab.options import PostOptions

    assert not PostOptions().active and PostOptions(upscaler="lanczos", scale=2).active
    assert PostOptions(restorer="None", upscaler="").restorer is None
    with pytest.raises(OptionsError, match=r"postprocessing\.scale must be between 1 and 8"):
        PostOptions(scale=0.5)
    with pytest.raises(OptionsError, match="unknown field.*weight"):
        PostOptions.from_dict({"weight": 1})


def test_units_from_dict_rejects_unknown_names_and_accepts_api_names():
    with pytest.raises(OptionsError, match="unknown field.*colour"):
        UnitOptions.from_dict({"colour": 1})
    u = UnitOptions.from_dict({"checkpoint": "anna", "faces": "all", "boost": 2, "sharpen": 0.3})
    assert u.face == "anna" and u.faces is None and u.enhance == EnhanceOptions(boost=2, sharpen=0.3)


@pytest.mark.parametrize("value", [0, 0.1, 1.0, 0.95])
def test_content_filter_threshold_cannot_leave_its_range(value):
    with pytest.raises(OptionsError, match="nsfw_threshold"):
        EngineOptions(nsfw_threshold=value)
