"""CLI: build, compare, extract, faces, and swap --face; exit codes and stdout contracts,
including the content filter's refusals."""

from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faceswaplab.cli import main
from tests import fakemodels
from tests.checkpoint_helpers import IDENT_B, MALFORMED, GateSpy, blank, evil_pickle, make_private_models, mark_blocked, photo

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def mdir(tmp_path_factory, models_dir) -> Path:
    return make_private_models(tmp_path_factory.mktemp("clickmodels") / "models", models_dir)


@pytest.fixture
def md(mdir) -> list[str]:
    shutil.rmtree(mdir / "faces", ignore_errors=True)
    return ["--models-dir", str(mdir)]


@pytest.fixture
def photos(tmp_path) -> list[str]:
    d = tmp_path / "photos"
    d.mkdir()
    return [str(photo(d / f"p{i}.png", i, side=110 + 10 * i, x=30 + 11 * i)) for i in range(5)]


def run(capfd, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capfd.readouterr()
    return rc, out, err


# --------------------------------------------------------------------------- build


def test_build_five_photos_one_command(capfd, md, mdir, photos):
    rc, out, err = run(capfd, "build", "--name", "Alice", *photos, *md)
    assert rc == 0, err
    path = Path(out.strip())
    assert out.count("\n") == 1 and path == mdir / "faces" / "Alice.safetensors" and path.is_file()
    assert "5 photo(s)" in err and "Traceback" not in err
    # again: kept, the new one is Alice_1; --overwrite replaces
    rc, out, _ = run(capfd, "build", "--name", "Alice", *photos[:2], *md)
    assert rc == 0 and Path(out.strip()).name == "Alice_1.safetensors"
    rc, out, _ = run(capfd, "build", "--name", "Alice", *photos[:3], "--overwrite", "--json", *md)
    d = json.loads(out)
    assert rc == 0 and d["path"] == str(path) and d["samples"] == 3 and d["gender"] == "female"
    rc, out, _ = run(capfd, "faces", *md)
    assert rc == 0 and [line.split("\t")[0] for line in out.splitlines()] == ["Alice", "Alice_1"]


def test_build_options_and_output_dir(capfd, md, tmp_path, photos):
    out_dir = tmp_path / "share"
    rc, out, err = run(
        capfd, "build", "--name", "../../x", *photos, "--output-dir", str(out_dir), "--gender", "male", "--blend", "median", "--json", *md
    )
    assert rc == 0, err
    d = json.loads(out)
    assert d["path"] == str(out_dir / "x.safetensors") and d["gender"] == "male"
    from faceswaplab.checkpoints import load_checkpoint

    c = load_checkpoint(d["path"])
    assert c.blend_method == "median" and c.identity.gender == "male"


def test_build_exit_codes(capfd, md, tmp_path, photos):
    empty = str(blank(tmp_path / "empty.png"))
    rc, out, err = run(capfd, "build", "--name", "n", empty, empty, *md)
    assert rc == 4 and out == "" and "no usable face" in err
    rc, out, err = run(capfd, "build", "--name", "n", photos[0], empty, *md)
    assert rc == 0 and "warning: skipped: no face in empty.png" in err
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    rc, out, err = run(capfd, "build", "--name", "n", photos[0], str(bad), *md)
    assert rc == 2 and "bad.png" in err and "Traceback" not in err
    rc, _, err = run(capfd, "build", "--name", "///", photos[0], *md)
    assert rc == 2 and "no usable characters" in err
    rc, _, err = run(capfd, "build", photos[0], *md)  # --name is required
    assert rc == 2


def test_build_with_preview(capfd, md, mdir, tmp_path, photos):
    neutral = photo(tmp_path / "neutral.png", 20, tex=IDENT_B, side=150)
    rc, out, err = run(capfd, "build", "--name", "pv", *photos, "--preview", str(neutral), *md)
    assert rc == 0, err
    prev = mdir / "faces" / "pv.png"
    assert prev.is_file() and "preview" in err
    a = np.asarray(Image.open(prev).convert("RGB")).astype(int)
    b = np.asarray(Image.open(neutral).convert("RGB")).astype(int)
    assert np.abs(a[90:170, 100:180] - b[90:170, 100:180]).mean() > 5


# --------------------------------------------------------------------------- compare


def test_compare_prints_only_the_number(capfd, md, tmp_path, photos):
    rc, out, err = run(capfd, "compare", photos[0], photos[0], *md)
    assert rc == 0 and out == "1.0000\n"
    other = str(photo(tmp_path / "o.png", 3, tex=IDENT_B))
    rc, out, _ = run(capfd, "compare", photos[0], other, *md)
    assert rc == 0 and 0.0 <= float(out) < 0.9
    rc, out, _ = run(capfd, "compare", photos[0], photos[4], *md)
    assert rc == 0 and float(out) > 0.9
    run(capfd, "build", "--name", "me", *photos, *md)
    rc, out, _ = run(capfd, "compare", photos[1], "me", "--json", *md)
    d = json.loads(out)
    assert rc == 0 and d["a"]["kind"] == "image" and d["b"] == {"kind": "checkpoint", "label": "me.safetensors"}
    assert d["similarity"] > 0.9


def test_compare_exit_codes(capfd, md, tmp_path, photos):
    empty = str(blank(tmp_path / "e.png"))
    rc, out, err = run(capfd, "compare", empty, photos[0], *md)
    assert rc == 4 and out == "" and "no face" in err
    rc, out, err = run(capfd, "compare", photos[0], "nobody", *md)
    assert rc == 2 and out == "" and "not found" in err
    rc, out, err = run(capfd, "compare", photos[0], str(tmp_path / "missing.jpg"), *md)
    assert rc == 2 and "does not exist" in err


# --------------------------------------------------------------------------- extract


def test_extract(capfd, md, tmp_path):
    img = fakemodels.make_face_image(
        (520, 300), faces=[(40, 60, 100, fakemodels.FEMALE, 1), (300, 40, 160, fakemodels.MALE, 2)], seed=4
    )
    src = tmp_path / "group.png"
    Image.fromarray(img).save(src)
    out_dir = tmp_path / "crops"
    rc, out, err = run(capfd, "extract", str(src), str(blank(tmp_path / "none.png")), "--output-dir", str(out_dir), *md)
    assert rc == 0, err
    assert out.split() == [str(out_dir / "group_face0.png"), str(out_dir / "group_face1.png")]
    assert "no face found in" in err
    sizes = [Image.open(out_dir / f"group_face{i}.png").size for i in (0, 1)]
    assert abs(sizes[0][0] - 140) <= 2 and abs(sizes[1][0] - 224) <= 2
    rc, out, _ = run(capfd, "extract", str(src), "--output-dir", str(out_dir / "al"), "--aligned", "256", "--json", *md)
    d = json.loads(out)
    assert rc == 0 and [w["face"] for w in d["written"]] == [0, 1]
    assert all(Image.open(w["path"]).size == (256, 256) for w in d["written"])
    rc, _, err = run(capfd, "extract", str(src), "--output-dir", str(out_dir), "--aligned", "100", *md)
    assert rc == 2 and "multiple of 112 or 128" in err
    rc, _, _ = run(capfd, "extract", str(blank(tmp_path / "n2.png")), "--output-dir", str(out_dir / "n"), *md)
    assert rc == 4


# --------------------------------------------------------------------------- swap --face


def test_swap_with_face_checkpoint_end_to_end(capfd, md, tmp_path, photos):
    rc, out, _ = run(capfd, "build", "--name", "swapme", *photos, *md)
    assert rc == 0
    target = photo(tmp_path / "target.png", 30, tex=IDENT_B, side=150, x=100)
    out_png = tmp_path / "out.png"
    rc, out, err = run(capfd, "swap", "--face", "swapme", "--target", str(target), "--output", str(out_png), *md)
    assert rc == 0, err
    a = np.asarray(Image.open(out_png).convert("RGB")).astype(int)
    b = np.asarray(Image.open(target).convert("RGB")).astype(int)
    assert np.abs(a[70:180, 120:230] - b[70:180, 120:230]).mean() > 5  # inside the face: changed
    assert np.array_equal(a[:, 280:], b[:, 280:])  # away from the face: untouched
    # the swapped face now looks like the checkpoint's person
    rc, out, _ = run(capfd, "compare", str(out_png), "swapme", *md)
    to_source = float(out)
    rc, out, _ = run(capfd, "compare", str(target), "swapme", *md)
    before = float(out)
    assert to_source > 0.8 and to_source > before + 0.3, (to_source, before)
    # by path works as well
    by_path = str(Path(md[1]) / "faces" / "swapme.safetensors")
    rc, _, err = run(capfd, "swap", "--face", by_path, "--target", str(target), "--output", str(tmp_path / "o2.png"), *md)
    assert rc == 0, err


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_swap_with_malformed_checkpoint_exits_2(capfd, md, tmp_path, case):
    ckpt = tmp_path / f"{case}.safetensors"
    ckpt.write_bytes(MALFORMED[case][0])
    target = photo(tmp_path / "t.png", 1)
    out_png = tmp_path / "out.png"
    rc, out, err = run(capfd, "swap", "--face", str(ckpt), "--target", str(target), "--output", str(out_png), *md)
    assert rc == 2
    assert out == "" and not out_png.exists()
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: face checkpoint") and "Traceback" not in err


def test_subprocess_no_traceback_on_malformed_checkpoint(tmp_path, mdir):
    """The real entry point: a pickle renamed .safetensors and a truncated file exit 2, one
    line each, no traceback, and the pickle's payload never runs."""
    marker = tmp_path / "PWNED"
    evil = tmp_path / "evil.safetensors"
    evil.write_bytes(evil_pickle(marker))
    trunc = tmp_path / "trunc.safetensors"
    trunc.write_bytes(MALFORMED["truncated-data"][0])
    target = photo(tmp_path / "t.png", 1)
    for ckpt, cmd in ((evil, "swap"), (trunc, "compare")):
        if cmd == "swap":
            argv = ["swap", "--face", str(ckpt), "--target", str(target), "--output", str(tmp_path / "o.png")]
        else:
            argv = ["compare", str(ckpt), str(ckpt)]
        r = subprocess.run(
            [sys.executable, "-m", "faceswaplab", *argv, "--models-dir", str(mdir)],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
        )
        assert r.returncode == 2, r.stderr
        assert r.stdout == ""
        assert "Traceback" not in r.stderr and r.stderr.count("error:") == 1
        assert ckpt.name in r.stderr
    assert not marker.exists()
    assert not (tmp_path / "o.png").exists()


def test_pickle_in_faces_folder_listed_as_refused(capfd, md, mdir):
    (mdir / "faces").mkdir()
    (mdir / "faces" / "legacy.pkl").write_bytes(pickle.dumps({"embedding": [0.0] * 512}))
    rc, out, err = run(capfd, "faces", "--json", *md)
    d = json.loads(out)
    assert rc == 0 and [(c["name"], c["ok"]) for c in d["checkpoints"]] == [("legacy", False)]
    assert "pickle" in d["checkpoints"][0]["error"]
    rc, _, err = run(capfd, "swap", "--face", "legacy.pkl", "--target", "x.png", "--output", "o.png", *md)
    assert rc == 2 and "pickle" in err


# --------------------------------------------------------------------------- content filter


def test_build_compare_extract_refuse_a_blocked_image_exit_5(capfd, md, mdir, tmp_path, photos, monkeypatch):
    """The CLI reaches the same gate as the API: the core functions run the content filter."""
    from faceswaplab import safety

    spy = GateSpy()
    monkeypatch.setattr(safety, "get_detector", lambda: spy)
    bad = str(mark_blocked(Path(photos[1])))
    out_dir = tmp_path / "crops"
    for argv in (
        ["build", "--name", "nope", photos[0], bad, photos[2]],
        ["compare", photos[0], bad],
        ["extract", bad, "--output-dir", str(out_dir)],
    ):
        rc, out, err = run(capfd, *argv, *md)
        # (the stand-in models' checksum warnings are logged once per process: not ours to count)
        lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("WARNING: FaceSwapLab: ")]
        assert rc == 5, (argv[0], err)
        assert out == "" and len(lines) == 1 and lines[0].startswith("error: "), (argv[0], err)
        assert "content filter" in lines[0] and Path(bad).name in lines[0] and "Traceback" not in err
    assert not (mdir / "faces" / "nope.safetensors").exists() and not out_dir.exists()
    assert spy.seen  # the stand-in was the filter that ran
    rc, out, err = run(capfd, "compare", photos[0], photos[2], *md)  # clean images pass
    assert rc == 0 and float(out) > 0.9
