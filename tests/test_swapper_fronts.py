"""The swapper choice as a user meets it: the CLI flag and units file, the HTTP API field,
the report / PNG text naming the swapper, the missing-file message and exit code, and face
checkpoints carrying the raw-scale norm (revision 2) that raw-scale kinds need."""

from __future__ import annotations

import base64
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faceswaplab.checkpoints import load_checkpoint
from faceswaplab.cli import main
from faceswaplab.models import registry
from tests import fake_swappers as fs
from tests import fakemodels as fm

GHOST = "ghost_1_256.onnx"
HYPER = "hyperswap_1a_256.onnx"


@pytest.fixture(scope="module")
def kinds_dir(tmp_path_factory, models_dir) -> Path:
    """The ordinary stand-in pack plus mixing ghost / hyperswap stand-ins and ghost's converter."""
    d = tmp_path_factory.mktemp("fronts-models")
    shutil.copytree(models_dir, d, dirs_exist_ok=True)
    fs.write_kind_swapper(d / GHOST, registry.swapper_kind("ghost_256"), mode="mix")
    fs.write_kind_swapper(d / HYPER, registry.swapper_kind("hyperswap_256"), mode="mix")
    fs.write_converter(d / "crossface_ghost.onnx")
    return d


@pytest.fixture
def files(tmp_path):
    src = tmp_path / "face.png"
    Image.fromarray(fm.make_face_image(faces=[(220, 220, 200, fm.MALE, 7)], seed=11)).save(src)
    tgt = tmp_path / "photo.png"
    Image.fromarray(fm.make_face_image(faces=[(180, 200, 180, fm.FEMALE, 3)], seed=2)).save(tgt)
    return {"src": src, "tgt": tgt, "dir": tmp_path}


def _run(args, capfd):
    code = main([str(a) for a in args])
    out, err = capfd.readouterr()
    return code, out, err


def _changed(a: Path, b: Path) -> float:
    x, y = (np.asarray(Image.open(p).convert("RGB")).astype(int) for p in (a, b))
    return float(np.abs(x[240:340, 220:320] - y[240:340, 220:320]).mean())


def test_cli_swapper_flag_runs_that_kind_and_names_it(files, kinds_dir, capfd):
    outs = {}
    for name in ("inswapper_128", "ghost_1_256", HYPER):
        out = files["dir"] / f"out-{name}.png"
        code, stdout, err = _run(["swap", "--source", files["src"], "--target", files["tgt"], "--output", out,
                                  "--models-dir", kinds_dir, "--swapper", name, "--json"], capfd)  # fmt: skip
        assert code == 0, err
        rep = json.loads(stdout)
        used = name if name.endswith(".onnx") else name + ".onnx"
        assert rep["report"]["units"][0]["swapper"] == used if "report" in rep else rep["units"][0]["swapper"] == used
        assert Image.open(out).text.get("faceswaplab_swapper") == used
        assert _changed(out, files["tgt"]) > 5
        outs[name] = np.asarray(Image.open(out).convert("RGB")).astype(int)
    assert np.abs(outs["ghost_1_256"] - outs["inswapper_128"]).mean() > 0.5  # another model, another face


def test_cli_missing_converter_exits_3_naming_the_file(files, kinds_dir, tmp_path, capfd):
    d = tmp_path / "m"
    shutil.copytree(kinds_dir, d)
    (d / "crossface_ghost.onnx").unlink()
    out = files["dir"] / "never.png"
    code, _, err = _run(["swap", "--source", files["src"], "--target", files["tgt"], "--output", out,
                         "--models-dir", d, "--swapper", "ghost_1_256"], capfd)  # fmt: skip
    assert code == 3
    assert "crossface_ghost.onnx" in err and "Traceback" not in err
    assert not out.exists()


def test_cli_unknown_file_of_a_shared_size_asks_for_a_type(files, kinds_dir, tmp_path, capfd):
    d = tmp_path / "m"
    shutil.copytree(kinds_dir, d)
    shutil.copy(d / HYPER, d / "my_model.onnx")
    out = files["dir"] / "o.png"
    args = ["swap", "--source", files["src"], "--target", files["tgt"], "--output", out, "--models-dir", d,
            "--swapper", "my_model.onnx"]  # fmt: skip
    code, _, err = _run(args, capfd)
    assert code == 2 and "--swapper-type" in err
    code, _, err = _run(args + ["--swapper-type", "hyperswap"], capfd)
    assert code == 0, err
    assert _changed(out, files["tgt"]) > 5


def test_units_file_swapper_and_identity_strength(files, kinds_dir, capfd):
    units = files["dir"] / "units.json"
    units.write_text(json.dumps([{"source": [str(files["src"])], "swapper": "ghost_1_256", "identity_strength": 0.6}]))
    out = files["dir"] / "u.png"
    code, stdout, err = _run(["swap", "--units", units, "--target", files["tgt"], "--output", out,
                              "--models-dir", kinds_dir, "--json"], capfd)  # fmt: skip
    assert code == 0, err
    assert "identity strength 0.6" in stdout and "ghost_1_256.onnx" in stdout


def test_api_unit_swapper_field(kinds_dir):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from faceswaplab.api import routes
    from faceswaplab.api.handlers import ApiContext
    from faceswaplab.engine import Engine
    from faceswaplab.options import EngineOptions

    engine = Engine(EngineOptions(models_dir=str(kinds_dir)))
    app = FastAPI()
    routes.register(app, ApiContext(engine=lambda: engine, checkpoints_dir=lambda: kinds_dir / "faces"))

    def b64(a: np.ndarray) -> str:
        buf = io.BytesIO()
        Image.fromarray(a).save(buf, format="PNG")
        return base64.b64encode(buf.getvalue()).decode()

    src = b64(fm.make_face_image(faces=[(220, 220, 200, fm.MALE, 7)], seed=11))
    tgt = b64(fm.make_face_image(faces=[(180, 200, 180, fm.FEMALE, 3)], seed=2))
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.post("/faceswaplab/v1/swap", json={"image": tgt, "units": [{"source_images": [src], "swapper": HYPER}]})
        assert r.status_code == 200, r.text
        assert r.json()["report"]["units"][0]["swapper"] == HYPER
        r = c.post("/faceswaplab/v1/swap", json={"image": tgt, "units": [{"source_images": [src], "swapper": "ghost_3_256"}]})
        assert r.status_code == 503 and "ghost_3_256.onnx" in r.text
        r = c.post("/faceswaplab/v1/swap", json={"image": tgt, "units": [{"source_images": [src], "swapper_type": "roop"}]})
        assert r.status_code in (400, 422) and "swapper_type" in r.text


def test_checkpoint_revision_2_keeps_the_raw_norm_and_blends_with_photos(files, kinds_dir, capfd):
    code, _, err = _run(["build", "--name", "anna", files["src"], "--models-dir", kinds_dir], capfd)
    assert code == 0, err
    path = kinds_dir / "faces" / "anna.safetensors"
    ck = load_checkpoint(path)
    assert ck.format_version == 2 and ck.metadata["format"] == "faceswaplab.face/1"
    assert ck.identity.raw_norm is not None and 0.1 < ck.identity.raw_norm < 1000
    out = files["dir"] / "ck.png"
    code, stdout, err = _run(["swap", "--face", "anna", "--source", files["src"], "--target", files["tgt"],
                              "--output", out, "--models-dir", kinds_dir, "--swapper", "ghost_1_256", "--json"], capfd)  # fmt: skip
    assert code == 0, err
    assert "typical norm" not in stdout  # the checkpoint and the photo both carry their raw norm


def test_models_lists_swappers_with_licences_and_which_are_usable(kinds_dir, tmp_path, capfd):
    d = tmp_path / "m"
    shutil.copytree(kinds_dir, d)
    (d / "crossface_ghost.onnx").unlink()
    code, out, err = _run(["models", "--models-dir", d], capfd)
    err = out + err
    assert code == 0
    assert "hyperswap_1a_256.onnx" in err and "ResearchRAIL" in err and "Apache-2.0" in err
    usable = next(line for line in err.splitlines() if line.startswith("swappers usable now:"))
    assert "inswapper_128.onnx" in usable and HYPER in usable and GHOST not in usable  # ghost lacks its converter
