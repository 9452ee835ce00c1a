"""Folder jobs (`faceswaplab.batch.run_batch`) on stand-in models: outputs and manifest,
skip on re-run, re-processing on changed content or options, filters and their reasons,
progress and stop, bounded memory, recovery of what a killed run left, and the CLI."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from faceswaplab.batch import LOCK_NAME, MANIFEST_NAME, BatchOptions, run_batch
from faceswaplab.batch import runner as job_mod
from faceswaplab.batch.manifest import Manifest
from faceswaplab.engine import Engine
from faceswaplab.errors import BadInputError, ModelMissingError, NoFaceError, OptionsError
from faceswaplab.imageio import load_image, read_edit_mark
from faceswaplab.options import EngineOptions, UnitOptions
from tests import fakemodels as fm
from tests.batch_helpers import ROOT, SIZE, MarkerNSFW, face_image, make_target_folder, manifest_rows, save, temp_files


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- outputs, manifest


def test_batch_outputs_and_manifest_match(tmp_path, eng, unit):
    target = tmp_path / "in"
    expected = make_target_folder(target, 8, extras=True)
    out = tmp_path / "out"
    seen = []
    summary = run_batch(target, out, [unit], engine=eng, on_progress=lambda d, t, item: seen.append((d, t, item)))

    assert summary.total == len(expected) == summary.processed
    assert summary.skipped == 0 and not summary.stopped and summary.not_reached == 0
    assert [d for d, _, _ in seen] == list(range(1, len(expected) + 1))
    assert all(t == len(expected) for _, t, _ in seen)
    assert {it.input: it.status for _, _, it in seen} == expected
    assert summary.counts == {"swapped": 9, "no-face": 1, "blocked": 1, "error": 1}

    rows = manifest_rows(out)
    assert set(rows) == set(expected)
    hashes = {r["options_hash"] for r in rows.values()}
    assert hashes == {summary.options_hash}
    for name, status in expected.items():
        r = rows[name]
        assert r["status"] == status, (name, r["reason"])
        assert r["input_hash"] == sha(target / name)
        if status == "swapped":
            assert r["output"] == name and json.loads(r["files"]) == [name]
            assert 0.3 < r["similarity"] <= 1.0
            assert r["faces_detected"] >= 1
            img = load_image(out / name)
            assert img.size == (SIZE, SIZE)
            assert not np.array_equal(img.rgb, load_image(target / name).rgb)
            assert read_edit_mark(out / name) is not None
        else:
            assert r["output"] is None and json.loads(r["files"]) == []
            assert not (out / name).exists()
            assert r["reason"]
    assert rows["noface.png"]["reason"] == "no face found in the target image"
    assert "content filter" in rows["nsfw.png"]["reason"]
    assert "broken.png" in rows["broken.png"]["reason"]
    assert rows["two.png"]["faces_detected"] == 2
    # exactly the outputs and the manifest, nothing else (no temp files)
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted([n for n, s in expected.items() if s == "swapped"] + [MANIFEST_NAME, LOCK_NAME])


def test_second_run_does_nothing(tmp_path, eng, unit):
    target = tmp_path / "in"
    expected = make_target_folder(target, 6, extras=True)
    out = tmp_path / "out"
    first = run_batch(target, out, [unit], engine=eng)
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.suffix in (".png", ".jpg")}
    rows_before = manifest_rows(out)

    calls = []
    second = run_batch(target, out, [unit], engine=eng, on_progress=lambda d, t, it: calls.append(it))
    assert second.processed == 0 and second.skipped == len(expected)
    assert second.counts == first.counts
    assert all(it.skipped for it in calls) and len(calls) == len(expected)
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.suffix in (".png", ".jpg")} == before
    assert manifest_rows(out) == rows_before  # not even a timestamp changed


def test_changed_content_or_options_are_processed_again(tmp_path, eng, unit):
    target = tmp_path / "in"
    make_target_folder(target, 4)
    out = tmp_path / "out"
    first = run_batch(target, out, [unit], engine=eng)
    old_out = (out / "img01.png").read_bytes()

    save(face_image(40, side=100), target / "img01.png")  # new content under the same name
    second = run_batch(target, out, [unit], engine=eng)
    assert second.processed == 1 and second.skipped == 3
    assert [it.input for it in second.items if not it.skipped] == ["img01.png"]
    assert (out / "img01.png").read_bytes() != old_out
    assert manifest_rows(out)["img01.png"]["input_hash"] == sha(target / "img01.png")

    # touching a file without changing it (new mtime) is not a change
    os.utime(target / "img02.png", ns=(1, 1))
    assert run_batch(target, out, [unit], engine=eng).processed == 0

    # another option that changes the output: everything again, still one record per input
    changed = UnitOptions(source_images=unit.source_images, mask_blur=0.2)
    third = run_batch(target, out, [changed], engine=eng)
    assert third.processed == 4 and third.options_hash != first.options_hash
    rows = manifest_rows(out)
    assert len(rows) == 4 and {r["options_hash"] for r in rows.values()} == {third.options_hash}

    # the same identity from a copy of the source under another path: same hash, nothing to do
    copy = tmp_path / "elsewhere" / "same.png"
    copy.parent.mkdir()
    copy.write_bytes(Path(unit.source_images[0]).read_bytes())
    again = run_batch(target, out, [UnitOptions(source_images=(str(copy),), mask_blur=0.2)], engine=eng)
    assert again.processed == 0 and again.options_hash == third.options_hash

    # redo processes everything whatever the manifest says
    assert run_batch(target, out, [changed], engine=eng, options=BatchOptions(redo=True)).processed == 4


def test_filtered_faces_are_recorded_with_their_reason(tmp_path, eng, source_path):
    target = tmp_path / "in"
    make_target_folder(target, 3)
    out = tmp_path / "out"
    female_only = UnitOptions(source_images=(str(source_path),), gender="female")
    summary = run_batch(target, out, [female_only], engine=eng)
    assert summary.counts == {"filtered": 3}
    for r in manifest_rows(out).values():
        assert r["status"] == "filtered"
        assert "filtered by gender" in r["reason"] and "male" in r["reason"]
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST_NAME, LOCK_NAME]

    reverted = UnitOptions(source_images=(str(source_path),), min_similarity=0.99)
    summary = run_batch(target, tmp_path / "out2", [reverted], engine=eng)
    assert summary.counts == {"filtered": 3}
    for r in manifest_rows(tmp_path / "out2").values():
        assert "below similarity" in r["reason"] and r["similarity"] is not None


def test_recursive_list_and_output_format(tmp_path, eng, unit):
    target = tmp_path / "in"
    save(face_image(1), target / "a.png")
    save(face_image(2), target / "sub" / "b.jpg")
    save(face_image(3), target / "sub" / "deeper" / "c.webp")
    save(face_image(4), target / ".hidden.png")
    (target / "notes.txt").write_text("not an image")

    flat = run_batch(target, tmp_path / "flat", [unit], engine=eng)
    assert [it.input for it in flat.items] == ["a.png"]

    rec = run_batch(target, tmp_path / "rec", [unit], engine=eng, options=BatchOptions(recursive=True, output_format="png"))
    assert sorted(it.input for it in rec.items) == ["a.png", "sub/b.jpg", "sub/deeper/c.webp"]
    for rel in ("a.png", "sub/b.png", "sub/deeper/c.png"):
        assert load_image(tmp_path / "rec" / rel).size == (SIZE, SIZE)

    # an output folder inside the target folder is never read as input
    inside = run_batch(target, target / "out", [unit], engine=eng, options=BatchOptions(recursive=True))
    assert inside.total == 3
    assert run_batch(target, target / "out", [unit], engine=eng, options=BatchOptions(recursive=True)).processed == 0

    # a list of files: keys relative to their common folder
    files = [target / "a.png", target / "sub" / "b.jpg"]
    listed = run_batch(files, tmp_path / "list", [unit], engine=eng)
    assert sorted(it.input for it in listed.items) == ["a.png", "sub/b.jpg"]
    assert (tmp_path / "list" / "sub" / "b.jpg").is_file()

    # two inputs that would land on the same output name get distinct names
    save(face_image(5), tmp_path / "clash" / "x.jpg")
    save(face_image(6), tmp_path / "clash" / "x.png")
    clash = run_batch(tmp_path / "clash", tmp_path / "clash-out", [unit], engine=eng, options=BatchOptions(output_format="png"))
    outs = sorted(Path(it.output).name for it in clash.items)
    assert len(set(outs)) == 2 and all(o.startswith("x-") and o.endswith(".png") for o in outs)


def test_bad_arguments_fail_before_anything_is_written(tmp_path, eng, unit, source_path, models_dir):
    target = tmp_path / "in"
    make_target_folder(target, 2)
    with pytest.raises(BadInputError, match="does not exist"):
        run_batch(tmp_path / "nope", tmp_path / "o1", [unit], engine=eng)
    with pytest.raises(BadInputError, match="must not be the target folder"):
        run_batch(target, target, [unit], engine=eng)
    with pytest.raises(BadInputError, match="workers"):
        run_batch(target, tmp_path / "o2", [unit], engine=eng, options=BatchOptions(workers=0))
    with pytest.raises(OptionsError):
        BatchOptions(output_format="gif")
    with pytest.raises(BadInputError, match="no enabled unit"):
        run_batch(target, tmp_path / "o3", [UnitOptions()], engine=eng)
    noface = save(fm.make_face_image((SIZE, SIZE), [], seed=5), tmp_path / "noface-source.png")
    with pytest.raises(NoFaceError, match="no face in the source image"):
        run_batch(target, tmp_path / "o4", [UnitOptions(source_images=(str(noface),))], engine=eng)
    empty_models = tmp_path / "no-models"
    empty_models.mkdir()
    bare = Engine(EngineOptions(models_dir=str(empty_models)), nsfw_detector=MarkerNSFW())
    with pytest.raises(ModelMissingError, match="det_10g.onnx"):
        run_batch(target, tmp_path / "o5", [unit], engine=bare)
    # the swapper is checked up front too, not on the first image
    partial = tmp_path / "partial-models"
    import shutil

    shutil.copytree(models_dir / "buffalo_l", partial / "buffalo_l")
    with pytest.raises(ModelMissingError, match="inswapper"):
        run_batch(target, tmp_path / "o6", [unit], engine=Engine(EngineOptions(models_dir=str(partial)), nsfw_detector=MarkerNSFW()))
    for name in ("o1", "o2", "o3", "o4", "o5", "o6"):
        assert not (tmp_path / name).exists()


# --------------------------------------------------------------------------- workers, progress, stop


def test_two_workers_give_the_same_outputs_with_bounded_memory(tmp_path, eng, unit, monkeypatch):
    target = tmp_path / "in"
    make_target_folder(target, 10, extras=True)
    one = run_batch(target, tmp_path / "w1", [unit], engine=eng)

    lock = threading.Lock()
    local = threading.local()
    live = {"now": 0, "max": 0}
    real_load, real_process = job_mod.load_image, job_mod._process

    def counting_load(*a, **k):
        with lock:
            live["now"] += 1
            live["max"] = max(live["max"], live["now"])
        local.loaded = True
        return real_load(*a, **k)

    def counting_process(*a, **k):
        local.loaded = False
        try:
            return real_process(*a, **k)  # the decoded image is dropped when this returns
        finally:
            if local.loaded:
                with lock:
                    live["now"] -= 1

    monkeypatch.setattr(job_mod, "load_image", counting_load)
    monkeypatch.setattr(job_mod, "_process", counting_process)
    two = run_batch(target, tmp_path / "w2", [unit], engine=eng, options=BatchOptions(workers=2))
    assert 1 <= live["max"] <= 2  # never more images decoded at once than workers
    assert two.counts == one.counts and two.options_hash == one.options_hash
    r1, r2 = manifest_rows(tmp_path / "w1"), manifest_rows(tmp_path / "w2")
    for name, row in r1.items():
        assert r2[name]["status"] == row["status"] and r2[name]["similarity"] == row["similarity"]
        if row["output"]:
            a = load_image(tmp_path / "w1" / row["output"]).rgb
            b = load_image(tmp_path / "w2" / row["output"]).rgb
            assert np.array_equal(a, b)


@pytest.mark.parametrize("workers", [1, 2])
def test_should_stop_then_resume(tmp_path, eng, unit, workers):
    target = tmp_path / "in"
    expected = make_target_folder(target, 12)
    out = tmp_path / "out"
    progress = []
    summary = run_batch(
        target, out, [unit], engine=eng, options=BatchOptions(workers=workers),
        on_progress=lambda d, t, it: progress.append(d), should_stop=lambda: len(progress) >= 3,
    )  # fmt: skip
    assert summary.stopped and summary.not_reached > 0
    assert 3 <= summary.processed <= 3 + workers + 1  # the images in flight are finished
    assert len(manifest_rows(out)) == summary.processed
    assert not temp_files(out)

    rest = run_batch(target, out, [unit], engine=eng, options=BatchOptions(workers=workers))
    assert not rest.stopped
    assert rest.skipped == summary.processed and rest.processed == len(expected) - summary.processed
    assert len(manifest_rows(out)) == len(expected)


def test_progress_callback_runs_in_the_calling_thread(tmp_path, eng, unit):
    target = tmp_path / "in"
    make_target_folder(target, 4)
    threads = set()
    run_batch(target, tmp_path / "out", [unit], engine=eng, options=BatchOptions(workers=2),
              on_progress=lambda d, t, it: threads.add(threading.get_ident()),
              should_stop=lambda: threads.add(threading.get_ident()) or False)  # fmt: skip
    assert threads == {threading.get_ident()}


def test_model_error_during_the_job_stops_it_and_keeps_what_was_done(tmp_path, eng, unit, monkeypatch):
    from faceswaplab.errors import ModelCorruptError

    target = tmp_path / "in"
    make_target_folder(target, 6)
    real = job_mod.swap_image
    calls = {"n": 0}

    def flaky(*a, **k):
        calls["n"] += 1
        if calls["n"] == 4:
            raise ModelCorruptError("the restorer model is broken")
        return real(*a, **k)

    monkeypatch.setattr(job_mod, "swap_image", flaky)
    with pytest.raises(ModelCorruptError):
        run_batch(target, tmp_path / "out", [unit], engine=eng)
    rows = manifest_rows(tmp_path / "out")
    assert len(rows) == 3 and all(r["status"] == "swapped" for r in rows.values())
    monkeypatch.setattr(job_mod, "swap_image", real)
    rest = run_batch(target, tmp_path / "out", [unit], engine=eng)
    assert rest.processed == 3 and rest.skipped == 3


# --------------------------------------------------------------------------- crash recovery (in process)


def test_resume_removes_what_an_interrupted_run_left(tmp_path, eng, unit):
    """The states a kill can leave, made by hand: a temporary file from save_image, an output
    written but not recorded (its pending row still there), a record with a stale output."""
    target = tmp_path / "in"
    make_target_folder(target, 4)
    out = tmp_path / "out"
    run_batch(target, out, [unit], engine=eng)
    good = (out / "img00.png").read_bytes()

    # killed after writing img01's output, before recording it, under other options
    with Manifest(out / MANIFEST_NAME) as m:
        m.forget(["img01.png"])
        m.begin("img01.png", ["img01.png", "sub/orphan.png"])
    save(face_image(9), out / "sub" / "orphan.png")
    # killed in the middle of writing: save_image's hidden temporary files
    tmp1 = out / ".img02.png.0123abcd.tmp"
    tmp2 = out / "sub" / ".x.png.deadbeef.tmp"
    tmp1.write_bytes(b"half an image")
    tmp2.write_bytes(b"half an image")
    user_file = out / ".keep.tmp"  # not one of ours: left alone
    user_file.write_text("mine")

    summary = run_batch(target, out, [unit], engine=eng)
    assert summary.processed == 1 and summary.skipped == 3
    assert [it.input for it in summary.items if not it.skipped] == ["img01.png"]
    assert not tmp1.exists() and not tmp2.exists() and user_file.exists()
    assert not (out / "sub" / "orphan.png").exists()
    assert (out / "img01.png").is_file() and (out / "img00.png").read_bytes() == good
    assert len(manifest_rows(out)) == 4


def test_changed_outcome_removes_the_old_output(tmp_path, eng, unit, source_path):
    target = tmp_path / "in"
    make_target_folder(target, 2)
    out = tmp_path / "out"
    run_batch(target, out, [unit], engine=eng)
    assert (out / "img00.png").is_file()
    # the same inputs with options under which nothing is swapped: the outputs of the
    # earlier options would describe another job, so they go
    run_batch(target, out, [UnitOptions(source_images=(str(source_path),), gender="female")], engine=eng)
    assert not (out / "img00.png").exists() and not (out / "img01.png").exists()
    # and a format change moves the output
    run_batch(target, out, [unit], engine=eng, options=BatchOptions(output_format="webp"))
    assert sorted(p.name for p in out.iterdir() if p.suffix in (".png", ".webp")) == ["img00.webp", "img01.webp"]


# --------------------------------------------------------------------------- CLI


def cli(*args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "faceswaplab", *args], cwd=str(ROOT), env=env, capture_output=True, text=True, timeout=120
    )


def test_cli_batch_exit_codes_and_json(tmp_path, models_dir, source_path):
    target = tmp_path / "in"
    expected = make_target_folder(target, 3)
    save(fm.make_face_image((SIZE, SIZE), [], seed=99), target / "noface.png")
    (target / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    out = tmp_path / "out"
    common = ["--models-dir", str(models_dir), "--source", str(source_path)]

    r = cli("batch", "--target-dir", str(target), "--output-dir", str(out), "--workers", "2", "--json", *common)
    assert r.returncode == 0, r.stderr  # images without a face or unreadable ones do not fail the job
    data = json.loads(r.stdout)
    assert data["total"] == len(expected) + 2 and data["processed"] == data["total"]
    assert data["counts"] == {"swapped": 3, "no-face": 1, "error": 1}
    assert {i["input"]: i["status"] for i in data["items"]}["broken.jpg"] == "error"
    assert sorted(p.name for p in out.iterdir()) == sorted(list(expected) + [MANIFEST_NAME, LOCK_NAME])

    r = cli("batch", "--target-dir", str(target), "--output-dir", str(out), "--json", *common)
    assert r.returncode == 0 and json.loads(r.stdout)["skipped"] == len(expected) + 2



def test_cli_batch_refusals_exit_before_the_job(tmp_path, models_dir, source_path, capsys):
    from faceswaplab.cli import main

    target = tmp_path / "in"
    make_target_folder(target, 1)
    save(fm.make_face_image((SIZE, SIZE), [], seed=99), target / "noface.png")
    out = tmp_path / "out"
    common = ["--models-dir", str(models_dir), "--source", str(source_path), "--no-progress"]

    assert main(["batch", "--target-dir", str(tmp_path / "missing"), "--output-dir", str(out), *common]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["batch", "--target-dir", str(target), "--output-dir", str(out), "--models-dir", str(models_dir)]) == 2
    assert "--source" in capsys.readouterr().err
    assert main(["batch", "--output-dir", str(out), *common]) == 2
    assert main(["batch", "--target-dir", str(target), "--output-dir", str(out), "--workers", "0", *common]) == 2
    assert main(["dataset", "--target-dir", str(target), "--output-dir", str(out), *common]) == 2  # no --trigger
    assert main(["batch", "--target-dir", str(target), "--output-dir", str(out), "--source", str(source_path),
                 "--models-dir", str(tmp_path / "no-models")]) == 3  # fmt: skip
    assert "det_10g.onnx" in capsys.readouterr().err
    assert main(["batch", "--target-dir", str(target), "--output-dir", str(out), "--models-dir", str(models_dir),
                 "--source", str(target / "noface.png")]) == 4  # fmt: skip
    assert "no face in the source image" in capsys.readouterr().err
    assert not out.exists()


def test_cli_batch_list_units_file_and_models_env(tmp_path, models_dir, source_path, monkeypatch, capfd):
    from faceswaplab.cli import main

    target = tmp_path / "in"
    make_target_folder(target, 2)
    monkeypatch.setenv("FACESWAPLAB_MODELS", str(models_dir))
    # a list of files, the models folder from the environment, JSON on stdout only
    code = main(["batch", "--targets", str(target / "img00.png"), str(target / "img01.png"), "--output-dir",
                 str(tmp_path / "listed"), "--source", str(source_path), "--output-format", "webp", "--json"])  # fmt: skip
    captured = capfd.readouterr()
    assert code == 0, captured.err
    assert json.loads(captured.out)["counts"] == {"swapped": 2}
    assert sorted(p.name for p in (tmp_path / "listed").glob("*.webp")) == ["img00.webp", "img01.webp"]

    units = tmp_path / "units.json"
    units.write_text(json.dumps([{"source": str(source_path), "faces": "all"}]))
    code = main(["batch", "--target-dir", str(target), "--output-dir", str(tmp_path / "out"), "--units", str(units)])
    assert code == 0, capfd.readouterr().err
    assert sorted(p.name for p in (tmp_path / "out").glob("img*")) == ["img00.png", "img01.png"]
    assert main(["batch", "--target-dir", str(target), "--output-dir", str(tmp_path / "o2"), "--units", str(units),
                 "--source", str(source_path)]) == 2  # fmt: skip


def test_a_killed_overwrite_invalidates_the_earlier_record(tmp_path, eng, unit):
    """Options A recorded; a run with options B killed while rewriting img00's output (same
    path); back to options A: img00 must be made again, not skipped with a file of B."""
    target = tmp_path / "in"
    make_target_folder(target, 2)
    out = tmp_path / "out"
    run_batch(target, out, [unit], engine=eng)
    with Manifest(out / MANIFEST_NAME) as m:
        m.begin("img00.png", ["img00.png"])
    save(face_image(33), out / "img00.png")  # what run B had written
    again = run_batch(target, out, [unit], engine=eng)
    assert [it.input for it in again.items if not it.skipped] == ["img00.png"]
    rows = manifest_rows(out)
    assert rows["img00.png"]["status"] == "swapped" and (out / "img00.png").is_file()
    assert not np.array_equal(load_image(out / "img00.png").rgb, face_image(33))


def test_a_damaged_manifest_is_reported(tmp_path, eng, unit):
    from faceswaplab.batch.manifest import ManifestError

    target = tmp_path / "in"
    make_target_folder(target, 1)
    out = tmp_path / "out"
    out.mkdir()
    (out / MANIFEST_NAME).write_bytes(b"this is not a database" * 100)
    with pytest.raises(ManifestError, match="cannot be opened"):
        run_batch(target, out, [unit], engine=eng)


def test_two_jobs_never_write_one_folder_at_once(tmp_path, eng, unit):
    from faceswaplab.batch.manifest import JobLock, ManifestError

    target = tmp_path / "in"
    make_target_folder(target, 1)
    out = tmp_path / "out"
    out.mkdir()
    held = JobLock(out).acquire()  # another job (same process here; flock also spans processes)
    try:
        with pytest.raises(ManifestError, match="another job"):
            run_batch(target, out, [unit], engine=eng)
    finally:
        held.release()
    assert run_batch(target, out, [unit], engine=eng).processed == 1
    assert run_batch(target, out, [unit], engine=eng).skipped == 1  # released after each job


def test_a_failing_progress_callback_stops_the_job_cleanly(tmp_path, eng, unit):
    target = tmp_path / "in"
    make_target_folder(target, 6)
    out = tmp_path / "out"

    def boom(done, total, item):
        if done == 2:
            raise RuntimeError("the UI went away")

    with pytest.raises(RuntimeError, match="UI went away"):
        run_batch(target, out, [unit], engine=eng, options=BatchOptions(workers=2), on_progress=boom)
    rest = run_batch(target, out, [unit], engine=eng)
    assert rest.skipped >= 2 and rest.skipped + rest.processed == 6
    assert len(manifest_rows(out)) == 6 and not temp_files(out)
