"""The CLI's faults from the hardening probe (issue 13, section 4) and its output (issue 14,
section 4): each answer is one line with the documented exit code, never "internal error".
Each test fails on the code before the fix."""

from __future__ import annotations

import errno
import json
import logging
import os
import time
from pathlib import Path

import pytest
from PIL import Image

from faceswaplab.cli import main
from tests import fakemodels as fm
from tests.batch_helpers import make_target_folder


@pytest.fixture
def files(tmp_path):
    src = tmp_path / "face.png"
    Image.fromarray(fm.make_face_image(faces=[(220, 220, 200, fm.MALE, 7)], seed=11)).save(src)
    tgt = tmp_path / "photo.png"
    Image.fromarray(fm.make_face_image(faces=[(180, 200, 180, fm.FEMALE, 3)], seed=2)).save(tgt)
    empty = tmp_path / "empty.png"
    Image.fromarray(fm.make_face_image(faces=[], seed=8)).save(empty)
    return {"src": src, "tgt": tgt, "empty": empty, "dir": tmp_path}


def run(args, capfd):
    code = main([str(a) for a in args])
    out, err = capfd.readouterr()
    return code, out, err


def swap_args(files, models_dir, *extra, src=None, tgt=None, out=None):
    return ["swap", "--source", src or files["src"], "--target", tgt or files["tgt"],
            "--output", out or files["dir"] / "out.png", "--models-dir", models_dir, *extra]  # fmt: skip


# --- swap -----------------------------------------------------------------------------------


def test_output_equal_to_target_is_refused_unless_overwrite(files, models_dir, capfd):
    before = files["tgt"].read_bytes()
    code, out, err = run(swap_args(files, models_dir, out=files["tgt"]), capfd)
    assert code == 2 and "is the --target file" in err and "--overwrite" in err
    assert files["tgt"].read_bytes() == before, "the input is untouched"
    same = files["dir"] / "." / "photo.png"  # another spelling of the same file
    code, _, err = run(swap_args(files, models_dir, out=same), capfd)
    assert code == 2
    code, _, err = run(swap_args(files, models_dir, "--overwrite", out=files["tgt"]), capfd)
    assert code == 0, err
    assert files["tgt"].read_bytes() != before


def test_source_without_face_names_only_the_source(files, models_dir, capfd):
    code, _, err = run(swap_args(files, models_dir, src=files["empty"]), capfd)
    assert code == 4
    assert "no face in the source image" in err and "target" not in err.split("error:", 1)[1], err


def test_json_numbers_units_from_one_and_no_target_face_is_not_ok(files, models_dir, capfd):
    code, out, _ = run(swap_args(files, models_dir, "--json"), capfd)
    assert code == 0
    assert json.loads(out)["units"][0]["unit"] == 1
    code, out, _ = run(swap_args(files, models_dir, "--json", tgt=files["empty"]), capfd)
    assert code == 4
    doc = json.loads(out)  # one JSON document: the report and the error
    assert doc["units"][0]["status"] == "no-target-face"
    assert doc["error"]["exit_code"] == 4 and "no face" in doc["error"]["message"]


def test_json_failure_prints_an_error_object(files, models_dir, capfd):
    code, out, err = run(swap_args(files, models_dir, "--json", tgt=files["dir"] / "missing.png"), capfd)
    assert code == 2 and err.startswith("error:")
    doc = json.loads(out)
    assert set(doc) == {"error"} and doc["error"]["exit_code"] == 2 and "missing.png" in doc["error"]["message"]


def test_json_has_the_custom_model_warnings_and_quiet_silences_stderr(files, models_dir, capfd, monkeypatch):
    from faceswaplab.models import store as store_mod

    monkeypatch.setattr(store_mod, "_WARNED", set())
    code, out, err = run(swap_args(files, models_dir, "--json"), capfd)
    assert code == 0
    warnings = json.loads(out)["warnings"]
    assert len([w for w in warnings if "sha256" in w]) == 1, "once per models folder (three custom files there)"
    assert err.count("sha256") == 1
    monkeypatch.setattr(store_mod, "_WARNED", set())
    code, out, err = run(swap_args(files, models_dir, "--quiet"), capfd)
    assert code == 0 and err == "" and out == ""


def test_write_failure_has_its_own_exit_code(files, models_dir, capfd, monkeypatch):
    from faceswaplab.imageio import save as save_mod

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(save_mod, "atomic_write", full)
    code, out, err = run(swap_args(files, models_dir, "--json"), capfd)
    assert code == 6, err
    assert "could not write" in err and "No space left" in err and "internal error" not in err
    assert json.loads(out)["error"]["exit_code"] == 6


def test_exit_code_6_is_documented():
    root = Path(__file__).resolve().parents[1]
    for doc in (root / "README.md", root / "docs" / "api.md"):
        text = doc.read_text(encoding="utf-8")
        assert "could not write" in text, doc
    assert "| 6 |" in (root / "README.md").read_text(encoding="utf-8")


# --- extract and build ----------------------------------------------------------------------


def test_extract_min_face_size_is_validated(files, models_dir, capfd):
    code, _, err = run(["extract", files["tgt"], "--output-dir", files["dir"] / "crops", "--min-face-size", "-5",
                        "--models-dir", models_dir], capfd)  # fmt: skip
    assert code == 2 and "min_face_size must be 0 or more, got -5" in err


def test_build_says_when_it_wrote_name_1(files, models_dir, capfd):
    faces = files["dir"] / "faces"
    args = ["build", "--name", "anna", files["src"], "--output-dir", faces, "--models-dir", models_dir]
    assert run(args, capfd)[0] == 0
    code, out, err = run(args, capfd)
    assert code == 0 and out.strip().endswith("anna_1.safetensors")
    assert "a checkpoint named anna exists, so this one was saved as anna_1" in err
    code, out, _ = run(args + ["--json"], capfd)
    assert any("saved as anna_2" in w for w in json.loads(out)["warnings"])


def test_build_write_failure_exits_6(files, models_dir, capfd, monkeypatch):
    from faceswaplab.checkpoints import library

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(library, "atomic_write", full)
    code, _, err = run(["build", "--name", "x", files["src"], "--output-dir", files["dir"] / "f", "--models-dir", models_dir], capfd)
    assert code == 6 and "could not write the face checkpoint" in err


def test_stale_temp_files_are_swept_when_the_faces_folder_is_written(files, models_dir, capfd):
    faces = files["dir"] / "faces"
    faces.mkdir()
    stale = faces / ".anna.safetensors.0123abcd.tmp"
    fresh = faces / ".bob.safetensors.89abcdef.tmp"
    other = faces / ".notes.txt"
    for p in (stale, fresh, other):
        p.write_bytes(b"x")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    code, _, err = run(["build", "--name", "anna", files["src"], "--output-dir", faces, "--models-dir", models_dir], capfd)
    assert code == 0, err
    assert not stale.exists(), "a killed save's temp file (ours, over a minute old) is removed"
    assert fresh.exists(), "a save in progress keeps its temp file"
    assert other.exists(), "files that are not ours stay"


# --- batch and dataset ----------------------------------------------------------------------


def test_symlink_loop_in_a_batch_folder_is_one_error(files, models_dir, capfd):
    folder = files["dir"] / "targets"
    make_target_folder(folder, n=2)
    (folder / "loop.png").symlink_to("loop.png")
    (folder / "dangling.png").symlink_to("nowhere.png")
    code, out, err = run(["batch", "--source", files["src"], "--target-dir", folder, "--output-dir", files["dir"] / "o",
                          "--models-dir", models_dir, "--json", "--no-progress"], capfd)  # fmt: skip
    assert code == 0, err
    summary = json.loads(out)
    by_name = {i["input"]: i for i in summary["items"]}
    assert by_name["loop.png"]["status"] == "error" and "symbolic links" in by_name["loop.png"]["reason"]
    assert by_name["dangling.png"]["status"] == "error"
    assert sum(1 for i in summary["items"] if i["status"] == "swapped") == 2


def _read_only(monkeypatch, folder: Path) -> None:
    """`folder` behaves like a read-only mount (the tests may run as root, where chmod does
    not stop writes): creating anything in it fails with EROFS."""
    real_open, real_mkdir = os.open, Path.mkdir

    def ro_open(path, flags, *a, **k):
        if str(path).startswith(str(folder)) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, *a, **k)

    def ro_mkdir(self, *a, **k):
        if str(self).startswith(str(folder)) and not self.exists():
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        return real_mkdir(self, *a, **k)

    monkeypatch.setattr(os, "open", ro_open)
    monkeypatch.setattr(Path, "mkdir", ro_mkdir)
    import builtins

    real_builtin_open = builtins.open

    def ro_builtin_open(file, mode="r", *a, **k):
        if str(file).startswith(str(folder)) and any(c in mode for c in "wax+"):
            raise OSError(errno.EROFS, "Read-only file system", str(file))
        return real_builtin_open(file, mode, *a, **k)

    monkeypatch.setattr(builtins, "open", ro_builtin_open)


@pytest.mark.parametrize("command", ["batch", "dataset"])
def test_read_only_output_folder_is_exit_2_naming_it(files, models_dir, capfd, monkeypatch, command):
    folder = files["dir"] / "targets"
    make_target_folder(folder, n=1)
    out_dir = files["dir"] / "ro"
    out_dir.mkdir()
    _read_only(monkeypatch, out_dir)
    extra = ["--trigger", "anna"] if command == "dataset" else []
    code, _, err = run([command, "--source", files["src"], "--target-dir", folder, "--output-dir", out_dir,
                        "--models-dir", models_dir, "--no-progress", *extra], capfd)  # fmt: skip
    assert code == 2, err
    assert f"output folder {out_dir} cannot be written" in err and "Read-only" in err
    assert "internal error" not in err


def test_full_disk_manifest_does_not_advise_deleting_it(tmp_path):
    import sqlite3

    from faceswaplab.batch.manifest import _db_error
    from faceswaplab.errors import WriteError

    e = _db_error(tmp_path / "faceswaplab-manifest.db", sqlite3.OperationalError("database or disk is full"))
    assert isinstance(e, WriteError) and e.exit_code == 6 and "delete" not in e.message


def test_min_face_size_is_validated_in_batch_too(files, models_dir, capfd, caplog):
    folder = files["dir"] / "targets"
    make_target_folder(folder, n=1)
    with caplog.at_level(logging.ERROR):
        code, _, err = run(["batch", "--source", files["src"], "--target-dir", folder, "--output-dir", files["dir"] / "o",
                            "--models-dir", models_dir, "--min-face-size", "-5"], capfd)  # fmt: skip
    assert code == 2 and "min_face_size must be 0 or more, got -5" in err


@pytest.mark.parametrize("command", ["batch", "dataset"])
def test_full_disk_in_a_folder_job_exits_6(files, models_dir, capfd, monkeypatch, command):
    from faceswaplab.batch import dataset as dataset_mod
    from faceswaplab.imageio import save as save_mod

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(dataset_mod if command == "dataset" else save_mod, "atomic_write", full)
    folder = files["dir"] / "targets"
    make_target_folder(folder, n=2)
    extra = ["--trigger", "anna", "--keep-min-face-size", "0"] if command == "dataset" else []
    code, _, err = run([command, "--source", files["src"], "--target-dir", folder, "--output-dir", files["dir"] / "o",
                        "--models-dir", models_dir, "--no-progress", *extra], capfd)  # fmt: skip
    assert code == 6, err
    assert "could not write" in err and "No space left" in err and "internal error" not in err


def test_face_index_lists_are_capped_in_the_cli_and_units_files(files, models_dir, capfd):
    t0 = time.monotonic()
    code, _, err = run(swap_args(files, models_dir, "--faces", ",".join(map(str, range(100000)))), capfd)
    assert code == 2 and "at most 1000 indices, got 100000" in err
    code, _, err = run(swap_args(files, models_dir, "--faces", "0,10000"), capfd)
    assert code == 2 and "indices go from 0 to 9999, got 10000" in err
    units = files["dir"] / "units.json"
    units.write_text(json.dumps([{"source_images": [str(files["src"])], "faces": list(range(5000))}]))
    code, _, err = run(["swap", "--units", units, "--target", files["tgt"], "--output", files["dir"] / "o.png",
                        "--models-dir", models_dir], capfd)  # fmt: skip
    assert code == 2 and "at most 1000 indices" in err
    assert time.monotonic() - t0 < 30 and not (files["dir"] / "out.png").exists()
