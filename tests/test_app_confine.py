"""The app on a network address and the app's messages, without a browser: typed folders
confined to the input/output roots (`ui.confine`), dropdowns taking only listed names,
an unwritable output folder as one line, uploads that are not images decoded by our decoder
(not gradio's), messages naming files by name, and the event wiring (one progress overlay
per job, lists refreshed on page load). The browser side is tests/test_app_e2e.py."""

from __future__ import annotations

import argparse
import io
import os
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from faceswaplab.errors import OptionsError, WriteError
from faceswaplab.ui import batch_actions
from faceswaplab.ui.confine import Confinement, check_choices, check_writable
from faceswaplab.ui.job_control import JobHooks
from tests import fakemodels as fm


@pytest.fixture
def roots(tmp_path):
    inp, out = tmp_path / "in", tmp_path / "out"
    (inp / "photos").mkdir(parents=True)
    out.mkdir()
    (tmp_path / "secret").mkdir()
    return Confinement.of(inp, out), tmp_path


# --------------------------------------------------------------------------- confinement


@pytest.mark.parametrize("typed", ["/etc", "../../..", "~/..", "../secret", "photos/../../secret", "/"])
def test_typed_input_folder_outside_the_root_is_refused_without_server_paths(roots, typed):
    confine, tmp = roots
    with pytest.raises(OptionsError) as info:
        confine.input_path(typed)
    msg = info.value.message
    assert "--input-root" in msg and "\n" not in msg
    assert str(tmp) not in msg and "/etc" not in msg and os.path.expanduser("~") not in msg


def test_relative_and_inside_paths_are_taken_relative_to_the_root(roots):
    confine, tmp = roots
    assert confine.input_path("photos") == (tmp / "in" / "photos").resolve()
    assert confine.input_path(str(tmp / "in" / "photos")) == (tmp / "in" / "photos").resolve()
    assert confine.output_path("run1") == (tmp / "out" / "run1").resolve()
    with pytest.raises(OptionsError, match="--output-root"):
        confine.output_path("../in")
    assert confine.shown(tmp / "out" / "run1" / "batch") == "out/run1/batch"


def test_a_symlink_out_of_the_root_is_refused(roots):
    confine, tmp = roots
    (tmp / "in" / "escape").symlink_to(tmp / "secret")
    with pytest.raises(OptionsError):
        confine.input_path("escape")


def test_batch_panel_confined_refuses_outside_folders_and_forged_dropdowns(models_dir, roots, tmp_path, monkeypatch):
    from faceswaplab import choices
    from faceswaplab.engine import Engine
    from faceswaplab.options import EngineOptions, forms

    engine = Engine(EngineOptions(models_dir=str(models_dir)))
    confine, tmp = roots
    hooks = JobHooks(default_output=lambda kind: tmp / "out" / kind, confine=confine, choices=choices.providers(engine))
    face = tmp / "in" / "photos" / "a.png"
    Image.fromarray(fm.make_face_image(faces=[(150, 140, 170, fm.FEMALE, 3)], seed=1)).save(face)
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp))  # the source stands in for an upload
    src = tmp / "src.png"
    Image.fromarray(fm.make_face_image(faces=[(200, 200, 160, fm.MALE, 7)], seed=2)).save(src)
    unit = {c.name: c.form_default for c in forms.unit_controls()}
    unit["source_image"] = str(src)

    def run(**changes):
        values = {"folder": "photos", "uploads": None, "output": "", "unit": dict(unit), **changes}
        return batch_actions.do_batch(engine, values, hooks)[0]

    msg = run(folder="/etc")
    assert msg.startswith("**Not run:**") and "--input-root" in msg and "/etc" not in msg and str(tmp) not in msg
    msg = run(output="/tmp/anywhere")
    assert "--output-root" in msg and "/tmp" not in msg, msg
    msg = run(unit={**unit, "restorer": "/etc/shadow"})
    assert "not a path" in msg and "shadow" not in msg, msg
    msg = run(unit={**unit, "parser": "../../../../etc/passwd"})
    assert "not a path" in msg and "passwd" not in msg, msg
    msg = run(unit={**unit, "checkpoint": "nobody"})
    assert "is not in the list" in msg, msg
    msg = run(post={"upscaler": "/etc/x.onnx"})
    assert "post-processing" in msg and "not a path" in msg, msg
    assert not (tmp / "out" / "batch").exists() or not any((tmp / "out" / "batch").iterdir())
    msg = run(unit={**unit, "swapper": "inswapper_128.onnx"}, post={"upscaler": "lanczos"})  # listed: it runs
    assert "1 input(s)" in msg and "Output folder: out/batch" in msg and str(tmp) not in msg, msg


def test_listed_names_pass_the_dropdown_check(models_dir):
    from faceswaplab import choices
    from faceswaplab.engine import Engine
    from faceswaplab.options import EngineOptions, forms

    provs = choices.providers(Engine(EngineOptions(models_dir=str(models_dir))))
    assert "inswapper_128.onnx" in provs["swappers"]()
    check_choices({"swapper": "inswapper_128", "upscale": "lanczos", "restorer": "None", "checkpoint": ""},
                  forms.unit_controls(), provs, "unit 1")  # fmt: skip
    with pytest.raises(OptionsError, match="not in the list"):
        check_choices({"upscale": "esrgan_secret"}, forms.unit_controls(), provs, "unit 1")


# --------------------------------------------------------------------------- command line


def _ui_args(*argv: str) -> argparse.Namespace:
    from faceswaplab.cli import build_parser

    return build_parser().parse_args(["ui", *argv])


def test_ui_confines_only_on_a_network_address(tmp_path):
    from faceswaplab.cli.ui_cmd import confinement

    assert confinement(_ui_args()) is None
    assert confinement(_ui_args("--host", "0.0.0.0", "--auth", "u:p", "--allow-server-paths")) is None
    c = confinement(_ui_args("--host", "0.0.0.0", "--auth", "u:p", "--input-root", str(tmp_path),
                             "--output-root", str(tmp_path / "o")))  # fmt: skip
    assert c is not None and c.input_root == tmp_path.resolve() and c.output_root == (tmp_path / "o").resolve()
    c = confinement(_ui_args("--host", "0.0.0.0", "--auth", "u:p"))
    assert c.input_root == Path.cwd().resolve() and c.output_root.name == "faceswaplab-output"


def test_ui_help_documents_the_roots():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "faceswaplab", "ui", "--help"], capture_output=True, text=True, timeout=120)
    text = " ".join(out.stdout.split())
    assert "--input-root DIR" in text and "--output-root" in text and "--allow-server-paths" in text


# --------------------------------------------------------------------------- unwritable output


def test_unwritable_output_folder_is_one_line_naming_it(models_dir, tmp_path, photos_dir=None):
    blocker = tmp_path / "results"
    blocker.write_text("a file where the folder should be", encoding="utf-8")
    with pytest.raises(Exception) as info:
        check_writable(blocker / "batch", "results/batch")
    assert isinstance(info.value, WriteError) or "is a file" in str(info.value)
    msg = info.value.message
    assert "results/batch" in msg and "Errno" not in msg and str(tmp_path) not in msg and "\n" not in msg


def test_batch_panel_unwritable_output_is_a_message_not_an_app_error(models_dir, tmp_path, monkeypatch):
    from faceswaplab.engine import Engine
    from faceswaplab.options import EngineOptions, forms

    engine = Engine(EngineOptions(models_dir=str(models_dir)))
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))
    (tmp_path / "photos").mkdir()
    Image.fromarray(fm.make_face_image(faces=[(150, 140, 170, fm.FEMALE, 3)], seed=1)).save(tmp_path / "photos" / "a.png")
    src = tmp_path / "src.png"
    Image.fromarray(fm.make_face_image(faces=[(200, 200, 160, fm.MALE, 7)], seed=2)).save(src)
    (tmp_path / "ro").write_text("x", encoding="utf-8")
    unit = {c.name: c.form_default for c in forms.unit_controls()}
    unit["source_image"] = str(src)
    values = {"folder": str(tmp_path / "photos"), "uploads": None, "output": str(tmp_path / "ro" / "out"), "unit": unit}
    msg, table, gallery = batch_actions.do_batch(engine, values, JobHooks())
    assert msg.startswith("**Not run:**") and "cannot write to the output folder 'out'" in msg, msg
    assert "Errno" not in msg and "AppError" not in msg and gallery == []


# --------------------------------------------------------------------------- uploads, messages


def _bomb_png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (1, 1)).save(buf, "PNG")
    data = buf.getvalue()
    ihdr = bytearray(data[16:29])
    ihdr[0:8] = struct.pack(">II", width, height)
    chunk = struct.pack(">I", 13) + b"IHDR" + bytes(ihdr) + struct.pack(">I", zlib.crc32(b"IHDR" + bytes(ihdr)) & 0xFFFFFFFF)
    return data[:8] + chunk + data[33:]


def _bad_upload(folder: Path, kind: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if kind == "text":
        p = folder / "notes.png"
        p.write_text("these are my notes\n" * 20, encoding="utf-8")
    elif kind == "empty":
        p = folder / "empty.png"
        p.write_bytes(b"")
    elif kind == "truncated":
        buf = io.BytesIO()
        Image.fromarray(fm.make_face_image(seed=4)).save(buf, "PNG")
        p = folder / "cut.png"
        p.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    else:
        p = folder / "bomb.png"
        p.write_bytes(_bomb_png(40000, 40000))
    return p


WORDS = {"text": "not an image", "empty": "empty", "truncated": "truncated", "bomb": "too large"}


@pytest.mark.parametrize("kind", sorted(WORDS))
def test_bad_target_upload_is_our_decoders_one_line_by_file_name(models_dir, tmp_path, monkeypatch, kind):
    from faceswaplab.engine import Engine
    from faceswaplab.options import EngineOptions, forms
    from faceswaplab.ui.app import ResultFiles, do_swap

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))
    upload = _bad_upload(tmp_path / "gradio" / "0123abcd", kind)  # where gradio keeps an upload
    src = tmp_path / "src.png"
    Image.fromarray(fm.make_face_image(faces=[(200, 200, 160, fm.MALE, 7)], seed=2)).save(src)
    unit = {c.name: c.form_default for c in forms.unit_controls()}
    unit.update(enabled=True, source_image=str(src))
    engine = Engine(EngineOptions(models_dir=str(models_dir)))
    path, msg, report = do_swap(engine, str(upload), [unit], ResultFiles(tmp_path / "results"))
    assert path is None and msg.startswith("**Not swapped:**"), msg
    assert upload.name.replace("_", "\\_") in msg and WORDS[kind] in msg, msg
    assert str(tmp_path) not in msg and "/gradio/" not in msg and "\n" not in msg


def test_upload_image_hands_over_the_file_undecoded(tmp_path):
    gr = pytest.importorskip("gradio")
    if int(gr.__version__.split(".")[0]) < 4:
        pytest.skip("gradio 3 uploads arrive as PIL images")
    from gradio.data_classes import FileData

    from faceswaplab.ui import components

    notes = _bad_upload(tmp_path, "text")
    comp = components.image("Target image")
    assert comp.get_block_name() == "image", "the browser keeps gradio's Image component"
    with pytest.raises(OSError):  # what gradio alone does with it (PIL.UnidentifiedImageError)
        type(comp).preprocess(comp, FileData(path=str(notes), orig_name="notes.png"))
    assert comp.preprocess(FileData(path=str(notes), orig_name="notes.png")) == str(notes)
    assert comp.preprocess(None) is None


def test_clean_text_names_files_by_name():
    from faceswaplab.ui.components import clean_text, message

    text = "target image '/tmp/gradio/5f2a9c/holiday photo.png' is not an image; source '<PIL image>'"
    assert clean_text("image '/tmp/gradio/5f2a9c/beach.png' is truncated") == "image 'beach.png' is truncated"
    cleaned = clean_text(text)
    assert "/tmp" not in cleaned and "<PIL image>" not in cleaned and "the upload" in cleaned
    assert message("a_b.png") == "a\\_b.png"


def test_analyse_labels_stay_inside_the_image():
    import cv2

    from faceswaplab.ui.tab import label_origin

    label = "0: 0.99 female 33"
    scale, thick = 0.4, 1
    (w, h), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    for box, shape in (((190, 2, 199, 40), (100, 200)), ((0, 0, 50, 50), (60, 60)), ((10, 50, 60, 99), (100, 100))):
        x, y = label_origin(label, box, shape, scale, thick)
        assert x >= 0 and x + w <= max(shape[1], w), (box, x)
        assert y - h >= 0 and y < shape[0], (box, y)


# --------------------------------------------------------------------------- wiring


def _deps(demo) -> list[dict]:
    return demo.get_config_file()["dependencies"] if hasattr(demo, "get_config_file") else demo.config["dependencies"]


def test_jobs_show_one_progress_overlay_and_lists_refresh_on_load(models_dir, tmp_path):
    gr = pytest.importorskip("gradio")
    if int(gr.__version__.split(".")[0]) < 5:
        pytest.skip("show_progress_on is gradio 5+")
    from faceswaplab.engine import Engine
    from faceswaplab.options import EngineOptions
    from faceswaplab.ui.app import ResultFiles, build_app

    demo = build_app(Engine(EngineOptions(models_dir=str(models_dir))), output_root=tmp_path, results=ResultFiles(tmp_path / "r"))
    deps = _deps(demo)
    queued = [d for d in deps if d.get("queue") is not False and len(d.get("outputs", [])) >= 2]
    assert queued, "the jobs are queued events with several outputs"
    jobs = [d for d in queued if d.get("show_progress_on")]
    assert len(jobs) >= 4, "swap, batch, dataset and video each show progress on one output"
    for d in jobs:
        assert len(d["show_progress_on"]) == 1
    loads = [d for d in deps if any(t[1] == "load" for t in d.get("targets", []))]
    by_id = {b["id"]: b for b in demo.get_config_file()["components"]}
    outs = [by_id[o] for d in loads for o in d["outputs"]]
    assert any(o.get("props", {}).get("elem_id") == "faceswaplab_app_unit1_checkpoint" for o in outs)
    assert any(o.get("props", {}).get("elem_id") == "faceswaplab_batch_unit1_checkpoint" for o in outs)


def test_confined_page_shows_no_server_path(models_dir, tmp_path):
    """On a network address the page itself (header, placeholders, hints) names folders by
    their names or relative to the roots; on 127.0.0.1 it shows the full paths."""
    import json

    gr = pytest.importorskip("gradio")
    if int(gr.__version__.split(".")[0]) < 4:
        pytest.skip("the app runs on the app's gradio")
    from faceswaplab.engine import Engine
    from faceswaplab.options import EngineOptions
    from faceswaplab.ui.app import ResultFiles, build_app

    engine = Engine(EngineOptions(models_dir=str(models_dir)))
    out = tmp_path / "srv" / "faceswaplab-output"
    confine = Confinement.of(tmp_path / "srv", out)
    (tmp_path / "srv").mkdir()
    demo = build_app(engine, output_root=out, results=ResultFiles(tmp_path / "r"), confine=confine)
    page = json.dumps(demo.get_config_file()["components"])
    assert str(tmp_path) not in page and str(models_dir) not in page
    assert "faceswaplab-output/batch" in page  # the default output, relative to the root
    local = build_app(engine, output_root=out, results=ResultFiles(tmp_path / "r2"))
    assert str(out) in json.dumps(local.get_config_file()["components"])


def test_dataset_histogram_title_counts_what_its_legend_counts(models_dir, tmp_path, monkeypatch):
    from faceswaplab.batch import dataset_report
    from faceswaplab.engine import Engine
    from faceswaplab.options import EngineOptions, forms

    engine = Engine(EngineOptions(models_dir=str(models_dir)))
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(3):
        faces = [(150 + 10 * i, 160, 170, fm.FEMALE, 20 + i)] if i != 1 else []  # p1: no face
        Image.fromarray(fm.make_face_image(size=(512, 512), faces=faces, seed=30 + i)).save(photos / f"p{i}.png")
    src = tmp_path / "src.png"
    Image.fromarray(fm.make_face_image(faces=[(200, 200, 160, fm.MALE, 7)], seed=2)).save(src)
    drawn = []
    real_draw = dataset_report.draw_histogram

    def spy(path, kept, rejected, **kw):
        drawn.append((list(kept), list(rejected), kw["title"]))
        return real_draw(path, kept, rejected, **kw)

    monkeypatch.setattr(dataset_report, "draw_histogram", spy)
    unit = {c.name: c.form_default for c in forms.unit_controls()}
    unit["source_image"] = str(src)
    values = {"folder": str(photos), "uploads": None, "output": str(tmp_path / "ds"), "trigger": "ohwx",
              "min_similarity": 0.0, "min_det_score": 0.0, "unit": unit}  # fmt: skip
    msg, table, sheet, hist = batch_actions.do_dataset(engine, values, JobHooks())
    assert "2 kept" in msg and hist is not None, msg
    kept_sims, rejected_sims, title = drawn[-1]
    # the legend says kept (len(kept_sims)) and rejected (len(rejected_sims)): so must the title
    assert f"({len(kept_sims)} kept, {len(rejected_sims)} rejected" in title, title
    assert "1 without a similarity not shown" in title, title  # the photo without a face
