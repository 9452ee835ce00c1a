"""Dataset mode (`faceswaplab.batch.run_dataset`): the LoRA layout and captions, the filters
and their reasons, the content filter's blocks recorded like other rejections, the report
files, resume, options changes, and the CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faceswaplab.batch import LOCK_NAME, MANIFEST_NAME, DatasetOptions, run_dataset
from faceswaplab.engine import Engine
from faceswaplab.errors import OptionsError
from faceswaplab.imageio import load_image
from faceswaplab.options import EngineOptions, UnitOptions
from tests import fakemodels as fm
from tests.batch_helpers import SIZE, MarkerNSFW, blocked_image, face_image, manifest_rows, save, temp_files


def make_photos(folder: Path) -> dict[str, str]:
    """Photos for a dataset: 6 good ones and one of each kind of reject."""
    expected = {}
    for i in range(6):
        save(face_image(i), folder / f"good{i}.png")
        expected[f"good{i}"] = "swapped"
    save(fm.make_face_image((SIZE, SIZE), [], seed=90), folder / "noface.png")
    expected["noface"] = "no-face"
    two = fm.make_face_image((SIZE, SIZE), [(10, 10, 90, fm.MALE, 201), (140, 140, 100, fm.MALE, 202)], seed=91)
    save(two, folder / "two.png")
    expected["two"] = "filtered"
    save(fm.make_face_image((SIZE, SIZE), [(100, 100, 40, fm.MALE, 203)], seed=92), folder / "small.png")
    expected["small"] = "filtered"
    save(blocked_image(60), folder / "nsfw.png")
    expected["nsfw"] = "blocked"
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    expected["broken"] = "error"
    return expected


def test_dataset_layout_captions_and_report(tmp_path, eng, unit):
    target = tmp_path / "photos"
    expected = make_photos(target)
    out = tmp_path / "ds"
    opts = DatasetOptions(trigger="sks woman", repeats=5, caption="photo of {trigger}, {name}")
    summary = run_dataset(target, out, unit, opts, engine=eng)
    assert summary.kind == "dataset"
    assert summary.counts == {"swapped": 6, "no-face": 1, "blocked": 1, "filtered": 2, "error": 1}
    assert "6 kept" in summary.line()
    assert Path(summary.dataset_dir) == out / "5_sks woman" and Path(summary.report_dir) == out / "report"

    # the training folder holds exactly the kept images and their captions, nothing else
    folder = out / "5_sks woman"
    kept = sorted(n for n, s in expected.items() if s == "swapped")
    assert sorted(p.name for p in folder.iterdir()) == sorted([f"{n}.png" for n in kept] + [f"{n}.txt" for n in kept])
    for n in kept:
        img = load_image(folder / f"{n}.png")
        assert img.size == (SIZE, SIZE) and img.alpha is None
        with Image.open(folder / f"{n}.png") as im:
            assert im.format == "PNG" and im.mode == "RGB"
        assert (folder / f"{n}.txt").read_text(encoding="utf-8") == f"photo of sks woman, {n}\n"
    # the training folder is the only <repeats>_<name> folder kohya would read
    assert sorted(p.name for p in out.iterdir()) == sorted(["5_sks woman", "report", MANIFEST_NAME, LOCK_NAME])

    report = out / "report"
    data = json.loads((report / "summary.json").read_text())
    assert data["kept"] == 6 and data["rejected"] == 5 and data["inputs"] == 11 and data["not_processed"] == 0
    assert data["counts"]["swapped"] == 6 and data["counts"]["blocked"] == 1
    assert data["trigger"] == "sks woman" and data["repeats"] == 5 and data["dataset_dir"] == "5_sks woman"
    assert {i["name"]: i["status"] for i in data["items"]} == expected
    assert data["similarity"]["min"] <= data["similarity"]["median"] <= data["similarity"]["max"]

    with open(report / "rejected.csv", newline="", encoding="utf-8") as fh:
        rejected = {row["name"]: row for row in csv.DictReader(fh)}
    assert set(rejected) == {"noface", "two", "small", "nsfw", "broken"}
    assert rejected["noface"]["reason"] == "no face found in the target image"
    assert "2 faces detected" in rejected["two"]["reason"]
    assert "face too small: 40 px < 64 px" in rejected["small"]["reason"]
    assert "content filter" in rejected["nsfw"]["reason"]
    assert "broken.jpg" in rejected["broken"]["reason"]
    # rejected copies: the swapped result (or the original when nothing was swapped); a
    # blocked image is never copied nor thumbnailed, an unreadable one cannot be
    assert sorted(p.name for p in (report / "rejected").iterdir()) == ["noface.png", "small.png", "two.png"]
    assert rejected["two"]["copy"] == "report/rejected/two.png" and rejected["nsfw"]["copy"] == ""
    two_src = load_image(target / "two.png").rgb
    assert not np.array_equal(load_image(report / "rejected" / "two.png").rgb, two_src)  # shows the swap
    thumbs = sorted(p.stem for p in (report / "thumbs").iterdir())
    assert thumbs == sorted(kept + ["noface", "small", "two"])

    for name in ("similarity_histogram.png", "contact_sheet.png"):
        with Image.open(report / name) as im:
            im.load()
            assert im.format == "PNG" and im.width >= 300 and im.height >= 200
    assert not temp_files(out)


def test_similarity_det_score_and_face_filters(tmp_path, eng, unit):
    target = tmp_path / "photos"
    for i in range(8):
        save(face_image(i), target / f"p{i}.png")
    base = run_dataset(target, tmp_path / "all", unit, DatasetOptions(trigger="sks"), engine=eng)
    assert base.counts == {"swapped": 8}
    rows = manifest_rows(tmp_path / "all")
    sims = sorted(r["similarity"] for r in rows.values())
    threshold = round((sims[3] + sims[4]) / 2, 4)  # half of them below

    s = run_dataset(target, tmp_path / "sim", unit, DatasetOptions(trigger="sks", min_similarity=threshold), engine=eng)
    assert s.counts == {"swapped": 4, "filtered": 4}
    for name, r in manifest_rows(tmp_path / "sim").items():
        if r["similarity"] < threshold:
            assert r["status"] == "filtered"
            assert f"similarity to the identity {r['similarity']:.2f} < {threshold:.2f}" in r["reason"]
            assert (tmp_path / "sim" / "report" / "rejected" / name).is_file()
            assert not (tmp_path / "sim" / "10_sks" / name).exists()
        else:
            assert r["status"] == "swapped" and (tmp_path / "sim" / "10_sks" / name).is_file()

    # the unit's own min_similarity acts as the dataset filter (keeps the swap for the report)
    u = UnitOptions(source_images=unit.source_images, min_similarity=threshold)
    s2 = run_dataset(target, tmp_path / "sim2", u, DatasetOptions(trigger="sks"), engine=eng)
    assert s2.counts == s.counts

    dets = sorted(r["det_score"] for r in rows.values())
    d = run_dataset(target, tmp_path / "det", unit, DatasetOptions(trigger="sks", min_det_score=dets[-1] + 0.001), engine=eng)
    assert d.counts == {"filtered": 8}
    assert all("detection score" in r["reason"] for r in manifest_rows(tmp_path / "det").values())

    sizes = sorted(r["face_size"] for r in rows.values())
    f = run_dataset(target, tmp_path / "size", unit, DatasetOptions(trigger="sks", keep_min_face_size=int(sizes[-1]) + 1), engine=eng)
    assert f.counts == {"filtered": 8}
    assert all("face too small" in r["reason"] for r in manifest_rows(tmp_path / "size").values())

    # several faces allowed: the two-face photo is kept
    two = fm.make_face_image((SIZE, SIZE), [(10, 10, 90, fm.MALE, 201), (140, 140, 100, fm.MALE, 202)], seed=91)
    save(two, tmp_path / "two" / "two.png")
    many = run_dataset(tmp_path / "two", tmp_path / "many", unit, DatasetOptions(trigger="sks", single_face=False), engine=eng)
    assert many.counts == {"swapped": 1}
    one = run_dataset(tmp_path / "two", tmp_path / "one", unit, DatasetOptions(trigger="sks"), engine=eng)
    assert one.counts == {"filtered": 1}


def test_resume_and_options_change_keep_only_kept_images_in_the_folder(tmp_path, eng, unit):
    target = tmp_path / "photos"
    for i in range(6):
        save(face_image(i), target / f"p{i}.png")
    out = tmp_path / "ds"
    calls = []
    stopped = run_dataset(target, out, unit, DatasetOptions(trigger="sks"), engine=eng,
                          on_progress=lambda d, t, it: calls.append(it), should_stop=lambda: len(calls) >= 2)  # fmt: skip
    assert stopped.stopped and stopped.not_reached > 0
    assert any("not processed yet" in w for w in stopped.warnings)
    data = json.loads((out / "report" / "summary.json").read_text())
    assert data["not_processed"] == stopped.not_reached  # the report is written when stopped too

    done = run_dataset(target, out, unit, DatasetOptions(trigger="sks"), engine=eng)
    assert done.skipped == stopped.processed and done.processed + done.skipped == 6
    assert len(list((out / "10_sks").glob("*.png"))) == 6
    again = run_dataset(target, out, unit, DatasetOptions(trigger="sks"), engine=eng)
    assert again.processed == 0

    # new trigger and repeats: the images move, the old training folder is emptied
    moved = run_dataset(target, out, unit, DatasetOptions(trigger="ohwx", repeats=3), engine=eng)
    assert moved.processed == 6
    assert not list((out / "10_sks").iterdir())
    assert len(list((out / "3_ohwx").glob("*.png"))) == 6 and len(list((out / "3_ohwx").glob("*.txt"))) == 6
    # a filter that rejects everything: nothing may stay in the training folder
    strict = run_dataset(target, out, unit, DatasetOptions(trigger="ohwx", repeats=3, min_similarity=0.999), engine=eng)
    assert strict.counts == {"filtered": 6}
    assert not list((out / "3_ohwx").iterdir())
    assert len(list((out / "report" / "rejected").glob("*.png"))) == 6
    assert not temp_files(out)


def test_dataset_option_checks():
    with pytest.raises(OptionsError, match="trigger"):
        DatasetOptions(trigger="  ")
    with pytest.raises(OptionsError, match="folder name"):
        DatasetOptions(trigger="a/b")
    with pytest.raises(OptionsError, match="folder name"):
        DatasetOptions(trigger="..")
    with pytest.raises(OptionsError, match=r"must contain \{trigger\}"):
        DatasetOptions(trigger="sks", caption="a photo")
    with pytest.raises(OptionsError, match="unknown field"):
        DatasetOptions(trigger="sks", caption="{trigger} {style}")
    with pytest.raises(OptionsError, match="repeats"):
        DatasetOptions(trigger="sks", repeats=0)
    with pytest.raises(OptionsError, match="min_similarity"):
        DatasetOptions(trigger="sks", min_similarity=1.5)
    o = DatasetOptions(trigger=" sks ", repeats="20")
    assert o.trigger == "sks" and o.folder_name == "20_sks" and o.caption_for("x") == "sks, a photo"


def test_cli_dataset(tmp_path, models_dir, source_path, capfd):
    from faceswaplab.cli import main

    target = tmp_path / "photos"
    for i in range(3):
        save(face_image(i), target / f"p{i}.png")
    save(fm.make_face_image((SIZE, SIZE), [(100, 100, 40, fm.MALE, 203)], seed=92), target / "small.png")
    out = tmp_path / "ds"
    code = main(["dataset", "--target-dir", str(target), "--output-dir", str(out), "--source", str(source_path),
                 "--trigger", "sks", "--repeats", "7", "--caption-template", "{trigger} person", "--models-dir",
                 str(models_dir), "--json", "--workers", "2"])  # fmt: skip
    captured = capfd.readouterr()
    assert code == 0, captured.err
    data = json.loads(captured.out)
    assert data["counts"] == {"swapped": 3, "filtered": 1} and data["kind"] == "dataset"
    assert data["dataset_dir"] == str(out / "7_sks")
    assert sorted(p.name for p in (out / "7_sks").iterdir()) == sorted(
        [f"p{i}.png" for i in range(3)] + [f"p{i}.txt" for i in range(3)]
    )
    assert (out / "7_sks" / "p0.txt").read_text() == "sks person\n"
    # the CLI's default minimum face size is the dataset's (64 px)
    assert "too small" in {i["input"]: i["reason"] for i in data["items"]}["small.png"]
    for name in ("summary.json", "rejected.csv", "similarity_histogram.png", "contact_sheet.png"):
        assert (out / "report" / name).is_file()

    assert main(["dataset", "--target-dir", str(target), "--output-dir", str(out), "--source", str(source_path),
                 "--trigger", "sks", "--caption-template", "no trigger", "--models-dir", str(models_dir)]) == 2  # fmt: skip
    assert main(["dataset", "--target-dir", str(target), "--output-dir", str(out), "--trigger", "sks",
                 "--models-dir", str(models_dir)]) == 2  # fmt: skip


def test_enhancement_options_reach_the_swap_and_missing_models_fail_first(tmp_path, models_dir, unit):
    import dataclasses
    import shutil

    from faceswaplab.errors import ModelMissingError
    from faceswaplab.options import EnhanceOptions

    models = tmp_path / "models"
    shutil.copytree(models_dir, models)
    fm.write_restorer(models / "restorers" / "fake-restorer.onnx", size=512, mode="filter")
    eng = Engine(EngineOptions(models_dir=str(models)), nsfw_detector=MarkerNSFW())
    target = tmp_path / "photos"
    for i in range(2):
        save(face_image(i), target / f"p{i}.png")

    plain = run_dataset(target, tmp_path / "plain", unit, DatasetOptions(trigger="sks"), engine=eng)
    restored_unit = dataclasses.replace(unit, enhance=EnhanceOptions(restorer="fake-restorer.onnx"))
    restored = run_dataset(target, tmp_path / "restored", restored_unit, DatasetOptions(trigger="sks"), engine=eng)
    assert plain.counts == restored.counts == {"swapped": 2}
    assert restored.options_hash != plain.options_hash
    a = load_image(tmp_path / "plain" / "10_sks" / "p0.png").rgb
    b = load_image(tmp_path / "restored" / "10_sks" / "p0.png").rgb
    assert not np.array_equal(a, b)

    missing = dataclasses.replace(unit, enhance=EnhanceOptions(restorer="not-there.onnx"))
    with pytest.raises(ModelMissingError, match="not-there.onnx"):
        run_dataset(target, tmp_path / "never", missing, DatasetOptions(trigger="sks"), engine=eng)
    assert not (tmp_path / "never").exists()
