"""The standalone app and the batch/dataset panels without a browser: `ui --help`, the message
when gradio is missing, the requirement pins, the panels' actions on stand-in models (progress,
Stop, the web-ui's interrupt and queue), and (where gradio is installed) that the app and the
tab build with the expected tabs. The browser test is tests/test_app_e2e.py."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faceswaplab.errors import BadInputError
from faceswaplab.ui import batch_actions
from tests import fakemodels as fm

ROOT = Path(__file__).resolve().parents[1]


def _pin(path: Path, name: str) -> str | None:
    for line in path.read_text(encoding="utf-8").splitlines():
        m = re.match(rf"^{re.escape(name)}==(\S+)", line.strip(), re.IGNORECASE)
        if m:
            return m.group(1)
    return None


# --------------------------------------------------------------------------- command line


def test_ui_help_runs_without_gradio_and_says_where_it_listens():
    out = subprocess.run(
        [sys.executable, "-m", "faceswaplab", "ui", "--help"], capture_output=True, text=True, cwd=str(ROOT), timeout=120
    )
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split())
    assert "--host ADDR" in text and "--port N" in text and "--models-dir DIR" in text
    assert "default 127.0.0.1" in text and "requirements-app.txt" in text and "--share" in text


def test_cli_parser_does_not_import_gradio():
    code = "import sys, faceswaplab.cli as c; c.build_parser(); print('gradio' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(ROOT), timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_ui_without_gradio_says_how_to_install(monkeypatch, capsys, tmp_path):
    from faceswaplab.cli import main

    monkeypatch.setitem(sys.modules, "gradio", None)  # `import gradio` raises ImportError
    rc = main(["ui", "--models-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2
    assert "pip install -r requirements-app.txt" in err and "Traceback" not in err


def test_ui_bad_port_is_a_usage_error(capsys, tmp_path):
    from faceswaplab.cli import main

    assert main(["ui", "--port", "70000", "--models-dir", str(tmp_path)]) == 2
    assert "--port" in capsys.readouterr().err


def test_requirements_pin_the_app_gradio_apart_from_the_extension():
    app = ROOT / "requirements-app.txt"
    gradio_pin = _pin(app, "gradio")
    assert gradio_pin and re.match(r"^\d+\.\d+\.\d+$", gradio_pin)
    # The tested env installs exactly that gradio and the pinned playwright.
    lock = ROOT / "envs" / "gradio-current.lock.txt"
    assert _pin(lock, "gradio") == gradio_pin
    pw = _pin(ROOT / "requirements-app-test.txt", "playwright")
    assert pw and _pin(lock, "playwright") == pw
    # The extension's install.py reads requirements.txt only, and that never names gradio.
    assert "gradio" not in (ROOT / "requirements.txt").read_text(encoding="utf-8").lower()
    install = (ROOT / "install.py").read_text(encoding="utf-8")
    assert "requirements-app" not in install
    assert '"gradio"' in install.split("NEVER_INSTALL", 1)[1].split("\n", 1)[0]


# --------------------------------------------------------------------------- the Swap tab


@pytest.fixture
def app_engine(models_dir):
    from faceswaplab.engine import Engine
    from faceswaplab.options import EngineOptions

    return Engine(EngineOptions(models_dir=str(models_dir)))


def _unit_values(**changes):
    from faceswaplab.options import forms

    v = {c.name: c.form_default for c in forms.unit_controls()}
    v.update(changes)
    return v


TARGET_FACES = [(170, 140, 170, fm.FEMALE, 3)]


def test_do_swap_writes_a_marked_png_and_reports(app_engine, tmp_path):
    from faceswaplab.imageio import read_edit_mark
    from faceswaplab.ui.app import ResultFiles, do_swap

    target = Image.fromarray(fm.make_face_image(size=(512, 448), faces=TARGET_FACES, seed=5))
    source = Image.fromarray(fm.make_face_image(faces=[(200, 200, 160, fm.MALE, 7)], seed=11))
    results = ResultFiles(tmp_path / "results")
    units = [_unit_values(enabled=True, source_image=source), _unit_values(enabled=False, faces="not validated")]
    path, msg, report = do_swap(app_engine, target, units, results)
    assert path is not None and Path(path).is_file()
    assert read_edit_mark(path)
    assert "1 swapped" in msg and report["swapped"] == 1
    assert "(source image 1)" in msg, "an uploaded source is named by its place, not a placeholder"
    out = np.asarray(Image.open(path).convert("RGB"))
    assert out.shape == np.asarray(target).shape and not np.array_equal(out, np.asarray(target))

    path, msg, _ = do_swap(app_engine, target, [_unit_values(enabled=False)], results)
    assert path is None and "Enable a face unit" in msg
    path, msg, _ = do_swap(app_engine, None, units, results)
    assert path is None and "target image" in msg
    blank = Image.fromarray(fm.make_face_image(faces=[], seed=1))
    path, msg, report = do_swap(app_engine, blank, units, results)
    assert path is None and "Nothing swapped" in msg and "no face" in msg and report["swapped"] == 0
    path, msg, _ = do_swap(app_engine, target, [_unit_values(enabled=True, source_image=source, faces="x,y")], results)
    assert path is None and "Not swapped" in msg


def test_result_files_keep_only_the_newest(app_engine, tmp_path):
    from faceswaplab.imageio import load_image
    from faceswaplab.ui import app

    results = app.ResultFiles(tmp_path / "r")
    img = load_image(np.zeros((8, 8, 3), np.uint8))
    paths = [results.save(img) for _ in range(app.RESULTS_KEPT + 3)]
    assert sum(p.exists() for p in paths) == app.RESULTS_KEPT and paths[-1].exists() and not paths[0].exists()


def test_markdown_text_is_escaped():
    from faceswaplab.ui.components import md_escape

    assert md_escape("unit 1 (<image>): a_b*c") == "unit 1 (&lt;image&gt;): a\\_b\\*c"


# --------------------------------------------------------------------------- batch and dataset panels


@pytest.fixture
def photos(tmp_path):
    d = tmp_path / "photos"
    d.mkdir()
    for i in range(4):
        faces = [(150 + 10 * i, 160, 170, fm.FEMALE, 20 + i)] if i != 2 else []
        Image.fromarray(fm.make_face_image(size=(512, 512), faces=faces, seed=30 + i)).save(d / f"p{i}.png")
    return d


@pytest.fixture
def source_png(tmp_path):
    p = tmp_path / "source.png"
    Image.fromarray(fm.make_face_image(faces=[(200, 200, 160, fm.MALE, 7)], seed=11)).save(p)
    return p


class Bar:
    """Stands in for gr.Progress: records ((done, total), desc)."""

    def __init__(self):
        self.calls = []

    def __call__(self, progress, desc=None, unit=None):
        self.calls.append((progress, desc))


def _batch_values(folder, output, source, **extra):
    v = {"folder": str(folder), "uploads": None, "output": str(output), "recursive": False, "workers": 1,
         "output_format": "same", "quality": 95, "redo": False, "unit": _unit_values(source_image=str(source))}  # fmt: skip
    v.update(extra)
    return v


def test_batch_panel_runs_the_batch_with_progress(app_engine, photos, source_png, tmp_path, monkeypatch):
    from faceswaplab.ui import batch_panel as bp

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))  # the source photo counts as an upload
    hooks = bp.JobHooks()
    bar, host_calls = Bar(), []
    rep = bp.ProgressReporter("Batch", bar=bar, host=lambda d, t, s: host_calls.append((d, t)))
    msg, table, gallery = bp.do_batch(app_engine, _batch_values(photos, tmp_path / "out", source_png), hooks, progress=rep)
    assert "4 input(s)" in msg and "3 swapped" in msg and "1 no-face" in msg, msg
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == ["p0.png", "p1.png", "p3.png"]
    rows = table["data"]
    assert [r[0] for r in rows] == ["p0.png", "p1.png", "p2.png", "p3.png"]
    assert rows[2][1] == "no-face" and rows[0][1] == "swapped" and rows[0][3] and rows[0][4] == "p0.png"
    assert len(gallery) == 3 and gallery[0][1] == "p0.png" and max(gallery[0][0].size) <= batch_actions.THUMB_SIDE
    assert bar.calls[0][0] == 0.0 and bar.calls[-1][0] == (4, 4) and host_calls[-1] == (4, 4)
    # Again: everything is done already (the manifest), nothing is processed twice.
    msg, table, _ = bp.do_batch(app_engine, _batch_values(photos, tmp_path / "out", source_png), hooks)
    assert "4 already done" in msg and all("earlier run" in r[1] for r in table["data"])


def test_batch_panel_stop_and_errors(app_engine, photos, source_png, tmp_path, monkeypatch):
    from faceswaplab.ui import batch_panel as bp

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))
    hooks = bp.JobHooks()
    control = bp.JobControl(hooks)
    assert control.stop() == "No job is running."
    seen = []

    def progress(done, total, item):
        seen.append(item.input)
        if done == 1:
            assert control.stop().startswith("Stopping")

    with control.running("faceswaplab-batch") as should_stop:
        assert not should_stop(), "a Stop pressed before the job started is cleared"
        msg, table, _ = bp.do_batch(
            app_engine, _batch_values(photos, tmp_path / "out", source_png), hooks, progress=progress, should_stop=should_stop
        )
    assert "Stopped" in msg and "not reached" in msg and len(seen) < 4
    # Expected errors become the message; nothing is raised.
    bad = [
        ({"folder": str(tmp_path / "nope")}, "input folder not found"),
        ({"folder": ""}, "give an input folder or upload images"),
        ({"output": ""}, "give an output folder"),
        ({"unit": _unit_values()}, "give a source face"),
        ({"workers": 0}, "workers must be from 1 to 64"),
        ({"output_format": "gif"}, "must be one of png"),
    ]
    for change, text in bad:
        values = {**_batch_values(photos, tmp_path / "o2", source_png), **change}
        msg, table, gallery = bp.do_batch(app_engine, values, hooks)
        assert msg.startswith("**Not run:**") and text in msg, (change, msg)
        assert table["data"] == [[""] * 5] and gallery == []


def test_batch_panel_takes_uploads_and_default_output(app_engine, photos, source_png, tmp_path, monkeypatch):
    from faceswaplab.ui import batch_panel as bp

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))
    hooks = bp.JobHooks(default_output=lambda kind: tmp_path / "default" / kind, allow_paths=False)
    uploads = [str(p) for p in sorted(photos.glob("*.png"))[:2]]
    values = _batch_values("/etc", "/should/be/ignored", source_png, uploads=uploads)
    msg, table, _ = bp.do_batch(app_engine, values, hooks)
    assert "2 swapped" in msg, msg
    assert sorted(p.name for p in (tmp_path / "default" / "batch").glob("*.png")) == ["p0.png", "p1.png"]
    assert not list(Path(tempfile.gettempdir()).glob("faceswaplab-upload-*/p0.png")), "staging folder removed"
    # Paths from outside the upload folder are refused (an API client cannot make it read files).
    with pytest.raises(BadInputError):
        bp.upload_paths(["/etc/hostname"])
    hooks = bp.JobHooks(allow_paths=False)
    msg, _, _ = bp.do_batch(app_engine, _batch_values("", "", source_png), hooks)
    assert "upload the images" in msg


def test_dataset_panel_builds_a_training_set(app_engine, photos, source_png, tmp_path, monkeypatch):
    from faceswaplab.ui import batch_panel as bp

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))
    hooks = bp.JobHooks(default_output=lambda kind: tmp_path / "ds-default" / kind)
    values = {
        "folder": str(photos), "uploads": None, "output": "", "trigger": "ohwx woman", "repeats": 5,
        "caption": "trigger", "caption_template": "{trigger}, a photo", "min_similarity": 0.0, "min_det_score": 0.0, "keep_min_face_size": 64,
        "single_face": True, "recursive": False, "workers": 2, "redo": False,
        "unit": _unit_values(source_image=str(source_png)),
    }  # fmt: skip
    msg, table, sheet, hist = bp.do_dataset(app_engine, values, hooks)
    out = tmp_path / "ds-default" / "dataset" / "ohwx_woman"
    assert "3 kept" in msg, msg
    assert len(list((out / "5_ohwx woman").glob("*.png"))) == 3
    assert (out / "5_ohwx woman" / "p0.txt").read_text(encoding="utf-8").strip() == "ohwx woman, a photo"
    assert sheet is not None and hist is not None and sheet.size[0] > 100
    assert {r[1] for r in table["data"]} == {"kept", "no-face"}, "the table says what the summary line says"
    msg, *_ = bp.do_dataset(app_engine, {**values, "trigger": ""}, hooks)
    assert msg.startswith("**Not run:**") and "trigger" in msg


# --------------------------------------------------------------------------- the web-ui's hooks


@pytest.fixture
def host_env(tmp_path, models_dir, monkeypatch):
    from tests.webui_host import setup_host

    monkeypatch.delenv("FACESWAPLAB_MODELS", raising=False)
    return setup_host(tmp_path / "webui", models_dir)


def test_webui_job_waits_for_the_queue_and_honours_interrupt(host_env, photos, source_png, tmp_path, monkeypatch):
    from modules import call_queue, shared

    from faceswaplab.ui import batch_panel as bp
    from faceswaplab.webui import host

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))
    hooks = host.job_hooks()
    assert hooks.allow_paths and hooks.use_progress
    assert hooks.default_output("batch") == Path(tmp_path / "webui" / "outputs" / "faceswaplab" / "batch")
    control = bp.JobControl(hooks)
    shared.state.interrupted = True  # left over from an earlier generation: cleared by begin()
    control.stop()  # not running: must not interrupt anything of the web-ui's
    shared.state.interrupted = True
    states = []

    def progress(done, total, item):
        states.append((shared.state.job, shared.state.job_no, shared.state.job_count))
        if done == 1:
            shared.state.interrupt()  # the web-ui's Interrupt button / POST /sdapi/v1/interrupt

    # The job waits while the web-ui holds its queue (a generation is running).
    call_queue.queue_lock.acquire()
    result = {}

    def job():
        with control.running("faceswaplab-batch") as should_stop:
            reporter = bp.ProgressReporter("Batch", host=hooks.progress)

            def both(d, t, item):
                reporter(d, t, item)
                progress(d, t, item)

            result["out"] = bp.do_batch(
                host.engine(), _batch_values(photos, tmp_path / "out", source_png), hooks, progress=both, should_stop=should_stop
            )

    t = threading.Thread(target=job)
    t.start()
    t.join(0.5)
    assert t.is_alive() and not result, "the job must wait for the web-ui's queue"
    call_queue.queue_lock.release()
    t.join(120)
    msg = result["out"][0]
    assert "Stopped" in msg and "not reached" in msg, msg
    assert states[0] == ("faceswaplab-batch", 1, 4)
    assert shared.state.job == "", "state.end() after the job"
    # Stop while the job runs calls the web-ui's interrupt too.
    shared.state.begin()
    with control.running("x"):
        control.stop()
        assert shared.state.interrupted
    shared.cmd_opts.hide_ui_dir_config = True
    shared.cmd_opts.no_gradio_queue = True
    try:
        h = host.job_hooks()
        assert not h.allow_paths and not h.use_progress
    finally:
        shared.cmd_opts.hide_ui_dir_config = False
        shared.cmd_opts.no_gradio_queue = False


# --------------------------------------------------------------------------- built with gradio


def _labels(blocks, kind):
    return [b.label for b in blocks.blocks.values() if type(b).__name__ == kind]


def test_app_builds_with_the_expected_tabs(app_engine, tmp_path):
    gr = pytest.importorskip("gradio")
    from faceswaplab.options import forms
    from faceswaplab.ui.app import build_app

    demo = build_app(app_engine, n_units=2, output_root=tmp_path / "out")
    assert isinstance(demo, gr.Blocks)
    tabs = _labels(demo, "Tab")
    expected = ["Swap", "Face 1", "Face 2", "Build checkpoint", "Checkpoints", "Compare", "Extract faces", "Analyse", "Batch", "Dataset"]
    assert [t for t in tabs if t in expected] == expected, tabs
    ids = {getattr(b, "elem_id", None) for b in demo.blocks.values()}
    for eid in ("faceswaplab_app_target", "faceswaplab_app_swap", "faceswaplab_app_result", "faceswaplab_app_unit1_source_image",
                "faceswaplab_batch_run", "faceswaplab_batch_stop", "faceswaplab_dataset_run", "faceswaplab_dataset_trigger"):  # fmt: skip
        assert eid in ids, eid
    unit1 = [b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "faceswaplab_app_unit1_enabled"][0]
    unit2 = [b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "faceswaplab_app_unit2_enabled"][0]
    assert unit1.value is True and unit2.value is False
    # Every unit control of the spec is there, for both units.
    for i in (1, 2):
        for name in forms.unit_field_names():
            assert f"faceswaplab_app_unit{i}_{name}" in ids


@pytest.mark.parametrize("use_progress", [True, False])
def test_tab_progress_follows_the_host_queue(models_dir, use_progress):
    """With the web-ui's --no-gradio-queue, gradio 3 refuses to launch a page with a
    gr.Progress event: the panels then run without one."""
    gr = pytest.importorskip("gradio")
    from faceswaplab.engine import Engine
    from faceswaplab.options import EngineOptions
    from faceswaplab.ui import batch_panel as bp
    from faceswaplab.ui import tab

    eng = Engine(EngineOptions(models_dir=str(models_dir)))
    blocks = tab.build(engine=lambda: eng, jobs=bp.JobHooks(use_progress=use_progress))
    assert {"Batch", "Dataset"} <= set(_labels(blocks, "Tab"))
    fns = blocks.fns.values() if isinstance(blocks.fns, dict) else blocks.fns
    with_progress = [
        f for f in fns if f.fn is not None and any(isinstance(p.default, gr.Progress) for p in inspect.signature(f.fn).parameters.values())
    ]
    assert len(with_progress) == (2 if use_progress else 0)
    from faceswaplab.ui import components

    if components.major() < 4:  # gradio 3 (A1111), launched without a queue
        if use_progress:
            with pytest.raises(ValueError, match="queu"):
                blocks.validate_queue_settings()
        else:
            blocks.validate_queue_settings()
