"""The `swap`, `models` and `doctor` commands: exit codes, one-line messages and no traceback
for every expected failure, no output file on failure, metadata carried over and the edit mark."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from faceswaplab.cli import main
from faceswaplab.imageio import read_edit_mark
from tests import fakemodels as fm

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def files(tmp_path):
    src = tmp_path / "face.png"
    Image.fromarray(fm.make_face_image(faces=[(220, 220, 200, fm.MALE, 7)], seed=11)).save(src)
    tgt = tmp_path / "photo.png"
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a portrait, Steps: 20")
    Image.fromarray(fm.make_face_image(faces=[(180, 200, 180, fm.FEMALE, 3)], seed=2)).save(tgt, pnginfo=info)
    empty = tmp_path / "empty.png"
    Image.fromarray(fm.make_face_image(faces=[], seed=8)).save(empty)
    return {"src": src, "tgt": tgt, "empty": empty, "dir": tmp_path}


def run_cli(args, capfd):
    code = main([str(a) for a in args])
    out, err = capfd.readouterr()
    return code, out, err


def test_swap_writes_output_with_metadata_and_mark(files, models_dir, capfd):
    out = files["dir"] / "out.png"
    code, stdout, err = run_cli(
        ["swap", "--source", files["src"], "--target", files["tgt"], "--output", out, "--models-dir", models_dir], capfd
    )
    assert code == 0, err
    assert out.is_file()
    img = Image.open(out)
    assert img.text.get("parameters") == "a portrait, Steps: 20"
    assert "FaceSwapLab" in (read_edit_mark(out) or "")
    a, b = np.asarray(img.convert("RGB")), np.asarray(Image.open(files["tgt"]).convert("RGB"))
    assert np.abs(a[240:340, 220:320].astype(int) - b[240:340, 220:320]).mean() > 10
    assert np.array_equal(a[:150], b[:150])
    assert "1 swapped" in err


def test_swap_json_report_is_the_only_stdout(files, models_dir, capfd):
    out = files["dir"] / "out.jpg"
    code, stdout, err = run_cli(
        ["swap", "--source", files["src"], "--target", files["tgt"], "--output", out, "--models-dir", models_dir, "--json"],
        capfd,
    )
    assert code == 0
    data = json.loads(stdout)
    assert data["swapped"] == 1 and data["faces_detected"] == 1
    assert data["units"][0]["faces"][0]["status"] == "swapped"
    assert Image.open(out).format == "JPEG"


@pytest.mark.parametrize(
    "case,code,needle",
    [
        ("no-face-target", 4, "no face found in the target"),
        ("no-face-source", 4, "no face in the source"),
        ("missing-target", 2, "does not exist"),
        ("corrupt-target", 2, "photo-bad.png"),
        ("not-an-image", 2, "notes.png"),
        ("truncated", 2, "cut.png"),
        ("bad-faces", 2, "faces"),
        ("bad-units", 2, "unknown field"),
        ("no-source", 2, "--source"),
        ("bad-threshold", 2, "nsfw_threshold"),
    ],
)
def test_swap_errors_exit_codes(case, code, needle, files, models_dir, capfd):
    d = files["dir"]
    out = d / "out.png"
    args = ["swap", "--source", files["src"], "--target", files["tgt"], "--output", out, "--models-dir", models_dir]
    if case == "no-face-target":
        args[args.index(str(files["tgt"])) if False else 4] = files["empty"]
    elif case == "no-face-source":
        args[2] = files["empty"]
    elif case == "missing-target":
        args[4] = d / "nope.png"
    elif case == "corrupt-target":
        (d / "photo-bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(200))
        args[4] = d / "photo-bad.png"
    elif case == "not-an-image":
        (d / "notes.png").write_text("hello, not a picture")
        args[4] = d / "notes.png"
    elif case == "truncated":
        data = files["tgt"].read_bytes()
        (d / "cut.png").write_bytes(data[: len(data) // 2])
        args[4] = d / "cut.png"
    elif case == "bad-faces":
        args += ["--faces", "first"]
    elif case == "bad-units":
        (d / "u.json").write_text(json.dumps([{"source_images": [str(files["src"])], "facez": "all"}]))
        args = ["swap", "--units", d / "u.json", "--target", files["tgt"], "--output", out, "--models-dir", models_dir]
    elif case == "no-source":
        args = ["swap", "--target", files["tgt"], "--output", out, "--models-dir", models_dir]
    elif case == "bad-threshold":
        args += ["--nsfw-threshold", "0"]
    rc, stdout, err = run_cli(args, capfd)
    assert rc == code, err
    assert needle in err
    assert "Traceback" not in err
    assert not out.exists(), "no output file on failure"


def test_missing_model_says_which_file_where_and_how(files, tmp_path, capfd):
    empty_models = tmp_path / "no-models"
    empty_models.mkdir()
    out = tmp_path / "out.png"
    rc, stdout, err = run_cli(
        ["swap", "--source", files["src"], "--target", files["tgt"], "--output", out, "--models-dir", empty_models], capfd
    )
    assert rc == 3
    assert "models download" in err and str(empty_models) in err
    # one message for every missing file the swap needs, each with where it goes and its checksum
    assert "3 model files are missing" in err
    for name, sha in (("det_10g.onnx", "5838f7fe"), ("w600k_r50.onnx", "4c06341c"), ("inswapper_128.onnx", "e4a3f08c")):
        assert name in err and sha in err
    assert err.count("\n") == 1, "a single line"
    assert not out.exists()


def test_blocked_by_content_filter_exit_5(files, models_dir, capfd, monkeypatch):
    from faceswaplab import safety

    class Nude:
        def detect(self, img):
            return [{"class": "FEMALE_BREAST_EXPOSED", "score": 0.95, "box": [0, 0, 10, 10]}]

    monkeypatch.setattr(safety, "get_detector", lambda: Nude())
    out = files["dir"] / "out.png"
    rc, stdout, err = run_cli(
        ["swap", "--source", files["src"], "--target", files["tgt"], "--output", out, "--models-dir", models_dir,
         "--nsfw-threshold", "0.9"],
        capfd,
    )  # fmt: skip
    assert rc == 5
    assert "content filter" in err and "FEMALE_BREAST_EXPOSED" in err
    assert not out.exists()


def test_units_file_swaps_two_identities(files, models_dir, capfd, tmp_path):
    tgt = tmp_path / "two.png"
    Image.fromarray(
        fm.make_face_image(size=(640, 400), faces=[(40, 100, 160, fm.FEMALE, 1), (400, 100, 160, fm.FEMALE, 2)], seed=9)
    ).save(tgt)
    other = tmp_path / "other.png"
    Image.fromarray(fm.make_face_image(faces=[(220, 220, 200, fm.FEMALE, 8)], seed=12)).save(other)
    units = [{"source_images": ["face.png"], "faces": "0"}, {"source_images": ["other.png"], "faces": "1"}]
    (tmp_path / "units.json").write_text(json.dumps(units))
    out = tmp_path / "out.png"
    rc, stdout, err = run_cli(
        ["swap", "--units", tmp_path / "units.json", "--target", tgt, "--output", out, "--models-dir", models_dir, "--json"],
        capfd,
    )
    assert rc == 0, err
    rep = json.loads(stdout)
    assert rep["swapped"] == 2 and [u["swapped"] for u in rep["units"]] == [1, 1]


def test_models_list_statuses(models_dir, tmp_path, capfd):
    d = tmp_path / "m"
    shutil.copytree(models_dir, d)
    (d / "buffalo_l" / "genderage.onnx").write_bytes(b"not onnx at all")
    (d / "buffalo_l" / "1k3d68.onnx").unlink()
    rc, stdout, err = run_cli(["models", "--models-dir", d, "--json"], capfd)
    assert rc == 3  # a required file is missing (issue 14: scripts check the exit code)
    states = {m["name"]: m["state"] for m in json.loads(stdout)["models"]}
    assert states["inswapper_128.onnx"] == "custom"
    assert states["buffalo_l/genderage.onnx"] == "corrupt"
    assert states["buffalo_l/1k3d68.onnx"] == "missing"


def test_doctor_json(models_dir, capfd):
    rc, stdout, err = run_cli(["doctor", "--models-dir", models_dir, "--json"], capfd)
    assert rc == 0
    info = json.loads(stdout)
    assert "CPUExecutionProvider" in info["providers"]
    assert info["packages"]["insightface"].startswith("2.") or info["packages"]["insightface"].startswith("0.7")


def test_unknown_provider_falls_back_with_warning(files, models_dir, capfd):
    from faceswaplab.models import sessions

    sessions.clear()
    out = files["dir"] / "out.png"
    rc, stdout, err = run_cli(
        ["swap", "--source", files["src"], "--target", files["tgt"], "--output", out, "--models-dir", models_dir,
         "--providers", "tensorrt,cpu"],
        capfd,
    )  # fmt: skip
    assert rc == 0
    assert "TensorrtExecutionProvider is not available" in err and "falling back to CPU" in err


def test_subprocess_no_traceback_and_exit_code(files, models_dir, tmp_path):
    """The real entry point: python -m faceswaplab, with a corrupt image."""
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 50)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-m", "faceswaplab", "swap", "--source", str(files["src"]), "--target", str(bad),
         "--output", str(tmp_path / "o.png"), "--models-dir", str(models_dir)],
        capture_output=True, text=True, cwd=str(ROOT), env=env, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "bad.jpg" in proc.stderr
    assert proc.stdout == ""


# --------------------------------------------------------------------------- post-processing


def test_post_upscaler_scales_the_whole_result(files, models_dir, capfd, tmp_path):
    tgt = tmp_path / "big.png"
    Image.fromarray(fm.make_face_image(size=(768, 768), faces=[(250, 250, 220, fm.FEMALE, 3)], seed=4)).save(tgt)
    out = tmp_path / "out.png"
    code, stdout, err = run_cli(
        ["swap", "--source", files["src"], "--target", tgt, "--output", out, "--models-dir", models_dir,
         "--post-upscaler", "lanczos", "--post-scale", "2", "--json"],
        capfd,
    )  # fmt: skip
    assert code == 0, err
    assert Image.open(out).size == (1536, 1536)
    notes = json.loads(stdout)["postprocessing"]
    assert notes == ["post: upscaled x2 with lanczos to 1536x1536"]
    rc, _, err = run_cli(["swap", "--source", files["src"], "--target", tgt, "--output", out, "--post-scale", "9"], capfd)
    assert rc == 2 and "postprocessing.scale must be between 1 and 8" in err


def test_post_restorer_restores_every_face(files, models_dir, capfd, tmp_path):
    """The post restorer runs on every face of the result, the swapped one and the other."""
    d = tmp_path / "models"
    shutil.copytree(models_dir, d)
    fm.write_restorer(d / "restorers" / "filter.onnx", 512, mode="filter")
    faces = [(40, 100, 160, fm.FEMALE, 1), (400, 100, 160, fm.FEMALE, 2)]
    tgt = tmp_path / "two.png"
    Image.fromarray(fm.make_face_image(size=(640, 400), faces=faces, seed=9)).save(tgt)
    plain, post = tmp_path / "plain.png", tmp_path / "post.png"
    base = ["swap", "--source", files["src"], "--target", tgt, "--models-dir", d, "--faces", "0"]
    assert run_cli(base + ["--output", plain], capfd)[0] == 0
    code, stdout, err = run_cli(base + ["--output", post, "--post-restorer", "filter.onnx", "--json"], capfd)
    assert code == 0, err
    assert json.loads(stdout)["postprocessing"][0].startswith("post: restored 2 face(s) with filter.onnx")
    a = np.asarray(Image.open(plain).convert("RGB")).astype(int)
    b = np.asarray(Image.open(post).convert("RGB")).astype(int)
    for x, y, side, *_ in faces:  # both faces restored (the stand-in brightens and blurs)
        inner = (slice(y + 30, y + side - 30), slice(x + 30, x + side - 30))
        assert np.abs(a[inner] - b[inner]).mean() > 2, (x, y)
    assert np.array_equal(a[:, 260:300], b[:, 260:300]), "between the faces nothing changes"
    # A missing post restorer is the usual model-missing message, before any work.
    code, _, err = run_cli(base + ["--output", tmp_path / "x.png", "--post-restorer", "nope.onnx"], capfd)
    assert code == 3 and "nope.onnx" in err and not (tmp_path / "x.png").exists()


def test_batch_and_dataset_post_process_too(files, models_dir, capfd, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(2):
        Image.fromarray(fm.make_face_image(size=(320, 320), faces=[(80, 80, 160, fm.FEMALE, 30 + i)], seed=40 + i)).save(
            photos / f"p{i}.png"
        )
    post = ["--post-upscaler", "cubic", "--post-scale", "1.5"]
    common = ["--target-dir", photos, "--source", files["src"], "--models-dir", models_dir, "--no-progress", "--json"]
    code, stdout, err = run_cli(["batch", "--output-dir", tmp_path / "b"] + common + post, capfd)
    assert code == 0, err
    assert json.loads(stdout)["counts"]["swapped"] == 2
    assert {Image.open(p).size for p in (tmp_path / "b").glob("*.png")} == {(480, 480)}
    code, stdout, err = run_cli(
        ["dataset", "--output-dir", tmp_path / "d", "--trigger", "sks", "--keep-min-face-size", "100"] + common + post, capfd
    )
    assert code == 0, err
    kept = list((tmp_path / "d" / "10_sks").glob("*.png"))
    assert len(kept) == 2 and {Image.open(p).size for p in kept} == {(480, 480)}
    summary = json.loads((tmp_path / "d" / "report" / "summary.json").read_text())
    assert summary["filters"]["keep_min_face_size"] == 100
    # the unit's --min-face-size (skip smaller target faces) is its own option in a dataset too
    code, stdout, err = run_cli(
        ["dataset", "--output-dir", tmp_path / "d2", "--trigger", "sks", "--min-face-size", "400"] + common, capfd
    )
    assert code == 0, err
    assert json.loads(stdout)["counts"] == {"filtered": 2}


def test_batch_and_dataset_take_png_compression(files, models_dir, capfd, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(fm.make_face_image(size=(320, 320), faces=[(80, 80, 160, fm.FEMALE, 30)], seed=40)).save(photos / "p.png")
    common = ["--target-dir", photos, "--source", files["src"], "--models-dir", models_dir, "--no-progress"]
    outs = {}
    for level in ("0", "9"):
        code, _, err = run_cli(["batch", "--output-dir", tmp_path / f"b{level}", "--png-compression", level] + common, capfd)
        assert code == 0, err
        code, _, err = run_cli(["dataset", "--output-dir", tmp_path / f"d{level}", "--trigger", "sks",
                                "--png-compression", level] + common, capfd)  # fmt: skip
        assert code == 0, err
        outs[level] = (tmp_path / f"b{level}" / "p.png", next((tmp_path / f"d{level}" / "10_sks").glob("*.png")))
    for stored, smallest in zip(outs["0"], outs["9"]):
        assert stored.stat().st_size > 1.2 * smallest.stat().st_size, "level 0 stores, level 9 compresses"
        assert np.array_equal(np.asarray(Image.open(stored)), np.asarray(Image.open(smallest))), "same pixels"
    # a re-run at another level redoes nothing: the level is not part of the manifest's job
    code, stdout, err = run_cli(["batch", "--output-dir", tmp_path / "b0", "--png-compression", "5", "--json"] + common, capfd)
    assert code == 0 and json.loads(stdout)["processed"] == 0, stdout
    code, _, err = run_cli(["batch", "--output-dir", tmp_path / "bx", "--png-compression", "10"] + common, capfd)
    assert code == 2 and "png" in err.lower() and "10" in err
