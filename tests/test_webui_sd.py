"""The web-ui's Stable Diffusion side through the stand-in host (tests/webui_stubs).

Per-face inpainting via img2img: what the host is asked (mask, size, denoise, prompt, seed,
sampler, no scripts, nothing saved), that only the face changes, the infotext, the named and
positional forms, Extras, the API, failures, the GPU lock, and the clear error outside the
web-ui. Dataset captions from the host's BLIP and DeepBooru: after the trigger word, models
loaded once and freed after the job, a failure falling back with a note."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from PIL import Image

from tests import fakemodels as fm
from tests.test_webui_script import N_UNITS, _b64, _txt2img, default_args, set_arg, target_image
from tests.webui_host import setup_host


@pytest.fixture
def host_env(tmp_path, models_dir, monkeypatch):
    monkeypatch.delenv("FACESWAPLAB_MODELS", raising=False)
    scripts = setup_host(tmp_path / "webui", models_dir)
    from modules import processing, shared

    shared.opts.data["faceswaplab_units"] = N_UNITS
    processing.inpaint_calls.clear()
    yield scripts
    shared.sd_model = "tiny-sd1 (stub)"


@pytest.fixture
def source_png(tmp_path):
    p = tmp_path / "source.png"
    Image.fromarray(fm.make_face_image(faces=[(220, 220, 200, fm.MALE, 7)], seed=11)).save(p)
    return p


def _run(host_env, source_png, tmp_path, out="o", sampler="DPM++ 2M", **unit):
    args = default_args()
    args[0] = {"units": [{"source_images": [_b64(source_png)], **unit}]}
    return _txt2img(host_env, args, batch_size=1, n_iter=1, out=tmp_path / out, sampler_name=sampler, cfg_scale=5.5)


def test_after_the_swap_rediffuses_only_the_face(host_env, source_png, tmp_path):
    from modules import processing, shared

    _, plain = _run(host_env, source_png, tmp_path, out="plain")
    assert processing.inpaint_calls == []
    shared.state.job_no, shared.state.job_count = 0, 1
    p, res = _run(
        host_env, source_png, tmp_path, inpaint_when="after", inpaint_denoise=0.25, inpaint_seed=1234,
        inpaint_prompt="a photo of a [gender], detailed skin", inpaint_negative="blurry", inpaint_steps=12,
    )  # fmt: skip
    assert len(processing.inpaint_calls) == 1, "one pass per swapped face"
    call = processing.inpaint_calls[0]
    assert call["size"] == (512, 512) and call["init"].shape == (512, 512, 3) and call["mask"].shape == (512, 512)
    assert call["denoise"] == 0.25 and call["seed"] == 1234 and call["steps"] == 12
    assert call["prompt"] == "a photo of a woman, detailed skin" and call["negative"] == "blurry"
    assert call["sampler"] == "DPM++ 2M" and call["cfg_scale"] == 5.5, "the job's sampler and CFG"
    assert call["scripts"] is None, "no alwayson script (ours included) runs inside the face's pass"
    assert call["do_not_save_samples"] is True and call["sd_model"] == shared.sd_model
    # the mask is the swap's soft mask: 1 in the middle of the face, 0 at the crop's rim, soft between
    m = call["mask"]
    assert m[256, 256] > 0.99 and m[:8].max() == 0 and 0.05 < m.mean() < 0.6
    assert ((m > 0.05) & (m < 0.95)).mean() > 0.01
    # the face pass was a swapped face, and only the face changed compared to the plain swap
    a, b = np.asarray(plain.images[0]).astype(int), np.asarray(res.images[0]).astype(int)
    changed = np.abs(a - b).max(axis=2) > 0
    assert changed.any()
    ys, xs = np.nonzero(changed)
    from faceswaplab.webui import host

    _, faces = host.engine().analyse(np.asarray(target_image(0)))
    x0, y0, x1, y1 = faces[0].bbox[:4]
    pad = 0.15 * (x1 - x0)
    assert xs.min() > x0 - pad and xs.max() < x1 + pad and ys.min() > y0 - pad and ys.max() < y1 + pad
    assert changed[int((y0 + y1) / 2), int((x0 + x1) / 2)], "the face's centre was re-diffused"
    text = res.infotexts[0]
    assert "FaceSwapLab U1 inpaint seeds: 1234" in text and "FaceSwapLab U1 inpaint_denoise: 0.25" in text
    assert "FaceSwapLab U1 inpaint_when: after" in text and "inpainted after the swap" in text
    assert shared.state.job_no == 1, "the outer job's progress is put back after the nested pass"


def test_before_the_swap_diffuses_the_original_face(host_env, source_png, tmp_path):
    from modules import processing

    from faceswaplab import geometry
    from faceswaplab.webui import host

    _run(host_env, source_png, tmp_path, inpaint_when="before", inpaint_seed=7, inpaint_size=384)
    call = processing.inpaint_calls[0]
    assert call["size"] == (384, 384)
    _, faces = host.engine().analyse(np.asarray(target_image(0)))
    crop = geometry.warp_to_aligned(np.asarray(target_image(0)), geometry.ffhq_matrix(faces[0].kps, 384), 384)
    assert np.abs(call["init"].astype(int) - crop.astype(int)).mean() < 1.0, "the target's own face, not the swap"


def test_random_seed_is_recorded(host_env, source_png, tmp_path):
    from modules import processing

    p, res = _run(host_env, source_png, tmp_path, inpaint_when="after")
    seed = processing.inpaint_calls[0]["seed"]
    assert seed >= 0 and f"FaceSwapLab U1 inpaint seeds: {seed}" in res.infotexts[0]
    assert processing.inpaint_calls[0]["prompt"] == "a photo of a face"


def test_unknown_sampler_is_one_message(host_env, source_png, tmp_path):
    from modules import processing

    p, res = _run(host_env, source_png, tmp_path, inpaint_when="after", inpaint_sampler="Heun++ 9")
    assert "unknown inpaint_sampler 'Heun++ 9'" in res.comments and "Euler a" in res.comments
    assert processing.inpaint_calls == [] and np.array_equal(np.asarray(res.images[0]), np.asarray(target_image(0)))


def test_no_checkpoint_keeps_the_swap_and_says_why(host_env, source_png, tmp_path):
    from modules import processing, shared

    _, plain = _run(host_env, source_png, tmp_path, out="plain")
    shared.sd_model = None
    p, res = _run(host_env, source_png, tmp_path, inpaint_when="after")
    assert processing.inpaint_calls == []
    assert np.array_equal(np.asarray(res.images[0]), np.asarray(plain.images[0])), "the swap stays"
    assert "no Stable Diffusion checkpoint is loaded" in res.infotexts[0]


def test_positional_form_and_extras_take_the_fields(host_env, source_png, tmp_path):
    from modules import processing, scripts, scripts_postprocessing

    from faceswaplab.options import forms
    from faceswaplab.webui.postprocessing import POST_PREFIX

    args = default_args()
    set_arg(args, 0, "enabled", True)
    set_arg(args, 0, "source_image", Image.open(source_png))
    set_arg(args, 0, "inpaint_when", "after")
    set_arg(args, 0, "inpaint_seed", 99)
    _txt2img(host_env, args, batch_size=1, n_iter=1, out=tmp_path / "pos")
    assert [c["seed"] for c in processing.inpaint_calls] == [99]
    # Extras: no generation runs, so the default sampler is used; the host runs Extras under
    # its queue lock (a plain, non-re-entrant lock): the pass must not wait for it
    from modules.call_queue import queue_lock

    cls = scripts.postprocessing_scripts_data[0].script_class
    names = list(forms.unit_field_names()) + [POST_PREFIX + n for n in forms.post_field_names()]
    pp = scripts_postprocessing.PostprocessedImage(target_image(1))
    _under_host_lock(queue_lock, lambda: scripts_postprocessing.run_with_api_args(
        cls(), pp, names, {"FaceSwapLab": {"enabled": True, "source_images": [_b64(source_png)],
                                           "inpaint_when": "after", "inpaint_seed": 5}},
    ))  # fmt: skip
    assert processing.inpaint_calls[-1]["seed"] == 5 and processing.inpaint_calls[-1]["sampler"] == "Euler a"
    assert "inpainted after the swap" in pp.info["FaceSwapLab"] or "1 swapped" in pp.info["FaceSwapLab"]


def _under_host_lock(lock, fn, timeout=60):
    """Run fn in a thread holding `lock`, as the host runs generations and Extras; fails
    instead of hanging when fn waits for the lock it already holds."""
    box: list = []

    def run():
        with lock:
            box.append(fn())

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout)
    assert box, "deadlock: the pass waited for the queue lock the host holds for it"
    return box[0]


def test_inside_a_generation_under_the_hosts_lock(host_env, source_png, tmp_path):
    from modules import processing
    from modules.call_queue import queue_lock

    p, res = _under_host_lock(queue_lock, lambda: _run(host_env, source_png, tmp_path, inpaint_when="after", inpaint_seed=3))
    assert [c["seed"] for c in processing.inpaint_calls] == [3]


def test_outside_a_generation_the_pass_waits_for_the_gpu_lock(host_env):
    from modules.call_queue import queue_lock

    from faceswaplab.enhance.inpaint import InpaintRequest
    from faceswaplab.webui.inpaint import HostInpainter

    req = InpaintRequest("a face", "", 0.3, 4, None, 3, 64)
    done: list[bool] = []
    face, mask = np.full((64, 64, 3), 100, np.uint8), np.ones((64, 64), np.float32)
    with queue_lock:
        t = threading.Thread(target=lambda: done.append(HostInpainter().inpaint(face, mask, req).image.shape == (64, 64, 3)))
        t.start()
        time.sleep(0.3)
        assert done == [], "sampled beside a running generation"
    t.join(10)
    assert done == [True]


def test_outside_the_webui_it_is_a_clear_error(models_dir, source_png):
    from faceswaplab.engine import Engine
    from faceswaplab.errors import OptionsError
    from faceswaplab.options import EngineOptions, UnitOptions
    from faceswaplab.pipeline import swap_image

    unit = UnitOptions(source_images=(str(source_png),)).__class__.from_dict(
        {"source_images": [str(source_png)], "inpaint_when": "after"}
    )
    with pytest.raises(OptionsError, match="needs the web-ui"):
        swap_image(np.asarray(target_image(0)), [unit], engine=Engine(EngineOptions(models_dir=str(models_dir))))


def _api(engine, tmp_path):
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx")
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from faceswaplab.api import routes
    from faceswaplab.api.handlers import ApiContext

    app = FastAPI()
    routes.register(app, ApiContext(engine=lambda: engine, checkpoints_dir=lambda: tmp_path))
    return TestClient(app, raise_server_exceptions=False)


def _body(source_png, **unit):
    import base64
    import io

    buf = io.BytesIO()
    target_image(0).save(buf, format="PNG")
    return {"image": base64.b64encode(buf.getvalue()).decode(), "units": [{"source_images": [_b64(source_png)], **unit}]}


def test_api_served_by_the_webui_inpaints_and_reports(host_env, source_png, tmp_path):
    from modules import processing

    from faceswaplab.webui import host

    with _api(host.engine(), tmp_path) as c:
        r = c.post("/faceswaplab/v1/swap", json=_body(source_png, inpaint_when="after", inpaint_seed=42, inpaint_denoise=0.3))
    assert r.status_code == 200, r.text
    face = r.json()["report"]["units"][0]["faces"][0]
    assert face["status"] == "swapped" and face["inpaint"]["seed"] == 42 and face["inpaint"]["denoise"] == 0.3
    assert face["inpaint"]["when"] == "after" and face["inpaint"]["sampler"] == "Euler a"
    assert [c["seed"] for c in processing.inpaint_calls] == [42]


def test_standalone_api_and_cli_say_it_needs_the_webui(models_dir, source_png, tmp_path):
    import json
    import subprocess
    import sys

    from faceswaplab.engine import Engine
    from faceswaplab.options import EngineOptions

    with _api(Engine(EngineOptions(models_dir=str(models_dir))), tmp_path) as c:
        r = c.post("/faceswaplab/v1/swap", json=_body(source_png, inpaint_when="before"))
    assert r.status_code == 400 and "needs the web-ui" in r.json()["detail"]
    units = tmp_path / "units.json"
    units.write_text(json.dumps([{"source_images": [str(source_png)], "inpaint_when": "after"}]))
    target = tmp_path / "t.png"
    target_image(0).save(target)
    proc = subprocess.run(
        [sys.executable, "-m", "faceswaplab", "swap", "--units", str(units), "--target", str(target),
         "--output", str(tmp_path / "out.png"), "--models-dir", str(models_dir)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2 and "needs the web-ui" in proc.stderr, proc.stderr
    assert not (tmp_path / "out.png").exists()


def _dataset(tmp_path, caption):
    from faceswaplab.batch import DatasetOptions, run_dataset
    from faceswaplab.options import UnitOptions
    from faceswaplab.webui import host

    folder = tmp_path / "photos"
    folder.mkdir(exist_ok=True)
    for i in range(2):
        target_image(i).save(folder / f"p{i}.png")
    src = tmp_path / "src.png"
    Image.fromarray(fm.make_face_image(faces=[(220, 220, 200, fm.MALE, 7)], seed=11)).save(src)
    out = tmp_path / f"ds-{caption}"
    run_dataset(folder, out, UnitOptions(source_images=(str(src),)), DatasetOptions(trigger="sks", caption=caption),
                engine=host.engine())  # fmt: skip
    texts = sorted(p.read_text() for p in (out / "10_sks").glob("*.txt"))
    import json

    return texts, json.loads((out / "report" / "summary.json").read_text())


def test_dataset_captions_from_blip_and_deepbooru(host_env, tmp_path):
    from modules import deepbooru, devices, shared

    shared.interrogator.events.clear()
    deepbooru.model.events.clear()
    gc = devices.gc_calls
    texts, _ = _dataset(tmp_path, "trigger+blip")
    assert len(texts) == 2 and all(t.startswith("sks, a photo, a picture 640x640 mostly ") for t in texts), texts
    ev = shared.interrogator.events
    assert ev[0] == "load_blip" and "load_clip" not in ev and ev.count("caption") == 2 and ev[-1] == "unload"
    assert shared.interrogator.blip_model.where == "cpu" and devices.gc_calls > gc, "freed after the job"
    texts, _ = _dataset(tmp_path, "trigger+deepbooru")
    assert texts == ["sks, a photo, 1person, solo, portrait, 640px\n"] * 2
    assert deepbooru.model.events == ["start", "tag", "tag", "stop"]
    texts, _ = _dataset(tmp_path, "deepbooru")
    assert texts == ["1person, solo, portrait, 640px\n"] * 2


def test_dataset_caption_failure_falls_back_to_the_trigger(host_env, tmp_path):
    from modules import shared

    shared.interrogator.blip_model = None
    shared.interrogator.events.clear()
    shared.interrogator.fail = True
    try:
        texts, report = _dataset(tmp_path, "trigger+blip")
    finally:
        shared.interrogator.fail = False
    assert texts == ["sks, a photo\n"] * 2
    notes = [i["caption_note"] for i in report["items"] if i["status"] == "swapped"]
    assert len(notes) == 2 and all("blip could not be loaded" in n and "no BLIP model" in n and "used the template" in n for n in notes)
    assert shared.interrogator.events.count("load_blip") == 1, "a model that failed to load is not retried per image"


ROUND2_FIELDS = {"swapper": "inswapper_128", "identity_strength": 0.6, "mask_areas": ["upper-face", "mouth"],
                 "inpaint_when": "after", "inpaint_denoise": 0.3, "inpaint_seed": 11, "inpaint_steps": 8}  # fmt: skip


def test_round2_fields_in_both_forms_and_the_infotext(host_env, source_png, tmp_path):
    from modules import processing

    p, named = _run(host_env, source_png, tmp_path, out="named", **ROUND2_FIELDS)
    args = default_args()
    set_arg(args, 0, "enabled", True)
    set_arg(args, 0, "source_image", Image.open(source_png))
    for k, v in ROUND2_FIELDS.items():
        set_arg(args, 0, k, v)
    _, positional = _txt2img(host_env, args, batch_size=1, n_iter=1, out=tmp_path / "pos", sampler_name="DPM++ 2M")
    assert [c["seed"] for c in processing.inpaint_calls] == [11, 11]
    assert np.array_equal(np.asarray(named.images[0]), np.asarray(positional.images[0])), "same fields, same result"
    for text in (named.infotexts[0], positional.infotexts[0]):
        assert "FaceSwapLab U1 identity_strength: 0.6" in text and "FaceSwapLab U1 mask_areas: upper-face,mouth" in text
        assert "FaceSwapLab U1 swapper: inswapper_128" in text and "FaceSwapLab U1 inpaint_steps: 8" in text
        ran = text.split("FaceSwapLab U1 ran: ", 1)[1]
        assert ran.startswith("swapper inswapper_128.onnx") and "area mask (upper-face, mouth)" in ran
        assert "identity strength 0.6" in ran and "inpainted after the swap" in ran


def test_infotext_pastes_back_into_the_accordion(host_env):
    from modules import script_callbacks

    from faceswaplab.options import UnitOptions
    from faceswaplab.webui import job as jobmod

    gr = pytest.importorskip("gradio")
    script = host_env.scripts_data[0].script_class()
    with gr.Blocks():
        script.ui(False)
    unit = UnitOptions.from_dict({"source_images": ["x.png"], **ROUND2_FIELDS, "swapper": "ghost_3_256"})
    params = jobmod.unit_infotext([unit])
    assert params["FaceSwapLab U1 swapper"] == "ghost_3_256"
    script_callbacks.infotext_pasted_callback("", params)
    assert "FaceSwapLab U1 swapper" not in params, "a swapper this web-ui lacks is left out"
    params["FaceSwapLab U1 swapper"] = "inswapper_128"
    script_callbacks.infotext_pasted_callback("", params)
    assert params["FaceSwapLab U1 swapper"] == "inswapper_128", "a listed model name is kept"
    restored = {}
    for comp, key in script.infotext_fields:
        v = key(params) if callable(key) else params.get(key)
        if v is not None:
            restored[comp.elem_id.split("_unit1_", 1)[-1] if "_unit1_" in str(comp.elem_id) else comp.elem_id] = v
    assert restored["mask_areas"] == ["upper-face", "mouth"]
    assert restored["inpaint_when"] == "after" and float(restored["inpaint_denoise"]) == 0.3
    assert restored["swapper"] == "inswapper_128" and float(restored["identity_strength"]) == 0.6
