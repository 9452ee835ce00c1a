"""The Python API (docs/python.md): every code block of the doc runs as written against the
stand-in models, and the facade gives the same pixels and report as the core pipeline."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests import fakemodels

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "python.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


@pytest.fixture
def doc_folder(tmp_path, models_dir, monkeypatch):
    """A folder with the doc's files (anna.jpg, photo.jpg) and FACESWAPLAB_MODELS at a writable
    copy of the stand-in models (build_checkpoint writes <models dir>/faces/)."""
    import shutil

    models = tmp_path / "models"
    shutil.copytree(models_dir, models)
    Image.fromarray(fakemodels.make_face_image((256, 256), [(60, 60, 120, fakemodels.FEMALE, 7)], seed=1)).save(tmp_path / "anna.jpg", quality=95)
    Image.fromarray(fakemodels.make_face_image((400, 300), [(40, 60, 110, fakemodels.MALE, 3), (230, 70, 110, fakemodels.MALE, 4)], seed=2)).save(
        tmp_path / "photo.jpg", quality=95
    )
    monkeypatch.setenv("FACESWAPLAB_MODELS", str(models))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_doc_has_the_promised_examples():
    text = "\n".join(_blocks())
    for call in ("faceswaplab.Engine(", ".swap(", ".build_checkpoint(", ".compare(", ".extract(", "faceswaplab.Unit("):
        assert call in text, call


@pytest.mark.parametrize("index", range(len(_blocks())))
def test_doc_block_runs(index, doc_folder, capsys):
    code = _blocks()[index]
    exec(compile(code, f"docs/python.md block {index + 1}", "exec"), {"__name__": "__doc_example__"})
    if "out.png" in code:
        out = np.asarray(Image.open(doc_folder / "out.png").convert("RGB"))
        before = np.asarray(Image.open(doc_folder / "photo.jpg").convert("RGB"))
        assert out.shape == before.shape and np.abs(out.astype(int) - before).mean() > 1.0  # faces were replaced
        assert capsys.readouterr().out.split() == ["2", "ok"]


def test_facade_matches_core_pipeline(doc_folder):
    import faceswaplab
    from faceswaplab.engine import Engine as CoreEngine
    from faceswaplab.options import EngineOptions, UnitOptions
    from faceswaplab.pipeline import swap_image

    engine = faceswaplab.Engine()
    pil = Image.open("photo.jpg")
    res = engine.swap(pil, {"source_images": ["anna.jpg"], "faces": "all"})
    assert isinstance(res.image, Image.Image)
    core = swap_image("photo.jpg", [UnitOptions(source_images=("anna.jpg",), faces="all")], engine=CoreEngine(EngineOptions()))
    assert np.array_equal(np.asarray(res.image.convert("RGB")), core.image.rgb)
    assert res.report == {**core.report.to_dict(), "warnings": res.report["warnings"]}
    assert [u["unit"] for u in res.report["units"]] == [1]  # numbered as --json numbers them


def test_bad_unit_and_option_names_are_named(doc_folder):
    import faceswaplab
    from faceswaplab.errors import FaceSwapLabError

    with pytest.raises(FaceSwapLabError, match="colour"):
        faceswaplab.Engine(colour="red")
    with pytest.raises(FaceSwapLabError, match="sauce_images"):
        faceswaplab.Engine().swap("photo.jpg", [{"sauce_images": ["anna.jpg"]}])


def test_shared_between_threads(doc_folder):
    import faceswaplab

    engine = faceswaplab.Engine()
    target = np.asarray(Image.open("photo.jpg").convert("RGB"))
    units = [faceswaplab.Unit(source_images=("anna.jpg",), faces="all")]
    first = engine.swap(target, units).image
    outs: list[np.ndarray] = []
    threads = [threading.Thread(target=lambda: outs.append(engine.swap(target, units).image)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(outs) == 4 and all(np.array_equal(o, first) for o in outs)


def test_import_is_cheap():
    code = "import sys, faceswaplab; print(sorted(m for m in ('numpy', 'cv2', 'onnxruntime') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr
