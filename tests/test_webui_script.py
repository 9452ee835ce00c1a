"""The txt2img/img2img accordion script through a stand-in web-ui (tests/webui_stubs): loading,
postprocess_image over batches, img2img swap-in-source, the named and positional alwayson
forms, infotext, interrupt, keep originals, and the Extras script with None kwargs."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests import fakemodels as fm
from tests.webui_host import setup_host

N_UNITS = 3


@pytest.fixture
def host_env(tmp_path, models_dir, monkeypatch):
    monkeypatch.delenv("FACESWAPLAB_MODELS", raising=False)
    scripts = setup_host(tmp_path / "webui", models_dir)
    from modules import shared

    shared.opts.data["faceswaplab_units"] = N_UNITS
    return scripts


@pytest.fixture
def source_png(tmp_path):
    p = tmp_path / "source.png"
    Image.fromarray(fm.make_face_image(faces=[(220, 220, 200, fm.MALE, 7)], seed=11)).save(p)
    return p


def target_image(seed: int) -> Image.Image:
    return Image.fromarray(fm.make_face_image(faces=[(180, 200, 180, fm.FEMALE, 3 + seed)], seed=seed))


def runner(scripts, is_img2img=False):
    from faceswaplab.options import forms

    r = scripts.ScriptRunner()
    r.initialize_scripts(is_img2img)
    r.setup_ui(arg_counts={"FaceSwapLab": forms.args_length(N_UNITS)})
    return r


def default_args() -> list:
    """The positional args with every control at its default (what ui() components hold)."""
    from faceswaplab.options import forms

    out = []
    for _ in range(N_UNITS):
        out += [c.form_default for c in forms.unit_controls()]
    out += [c.form_default for c in forms.post_controls()] + [c.form_default for c in forms.job_controls()]
    assert out == forms.default_args(N_UNITS)
    return out


def set_arg(args: list, unit: int, name: str, value) -> None:
    from faceswaplab.options import forms

    args[unit * len(forms.unit_controls()) + forms.unit_field_names().index(name)] = value


def set_post(args: list, name: str, value) -> None:
    from faceswaplab.options import forms

    args[N_UNITS * len(forms.unit_controls()) + forms.post_field_names().index(name)] = value


def set_job(args: list, name: str, value) -> None:
    from faceswaplab.options import forms

    args[N_UNITS * len(forms.unit_controls()) + len(forms.post_controls()) + forms.job_field_names().index(name)] = value


def test_loads_like_the_host(host_env):
    from modules import script_callbacks, scripts

    titles = [d.script_class.__name__ for d in scripts.scripts_data]
    assert titles == ["FaceSwapLabScript"], "exactly our Script subclass, no base class picked up"
    assert [d.script_class.name for d in scripts.postprocessing_scripts_data] == ["FaceSwapLab"]
    r = runner(scripts)
    assert [s.title() for s in r.alwayson_scripts] == ["FaceSwapLab"]
    assert r.alwayson_scripts[0].show(False) is scripts.AlwaysVisible
    assert len(script_callbacks.callbacks_app_started) == 1
    assert len(script_callbacks.callbacks_ui_tabs) == 1
    from modules import shared

    assert "faceswaplab_det_size" in shared.opts.data_labels
    assert shared.opts.data_labels["faceswaplab_det_size"].section == ("faceswaplab", "FaceSwapLab")


def test_models_dir_precedence(host_env, tmp_path, monkeypatch):
    from faceswaplab.webui import host
    from modules import paths, shared

    assert host.models_dir_and_source()[0] == (tmp_path / "webui" / "models" / "faceswaplab").resolve()
    monkeypatch.setenv("FACESWAPLAB_MODELS", str(tmp_path / "env"))
    assert host.models_dir_and_source()[0] == tmp_path / "env"
    shared.cmd_opts.faceswaplab_models_dir = str(tmp_path / "flag")
    try:
        assert host.models_dir_and_source()[0] == tmp_path / "flag"
    finally:
        shared.cmd_opts.faceswaplab_models_dir = None
    assert paths.models_path.startswith(str(tmp_path))


def _txt2img(scripts, args, batch_size=2, n_iter=2, **kw):
    from modules import processing

    r = runner(scripts)
    full = [None] * r.alwayson_scripts[0].args_from + list(args)
    p = processing.StableDiffusionProcessingTxt2Img(
        prompt="a photo", batch_size=batch_size, n_iter=n_iter, script_args=full, scripts_runner=r,
        generate=lambda n, i: target_image(n * 10 + i), outpath_samples=str(kw.pop("out", "outputs")), **kw,
    )
    return p, processing.process_images(p)


def test_txt2img_2x2_batch_swaps_every_image(host_env, source_png, tmp_path):
    args = default_args()
    set_arg(args, 0, "enabled", True)
    set_arg(args, 0, "source_image", Image.open(source_png))
    p, res = _txt2img(host_env, args, out=tmp_path / "out")
    assert len(res.images) == 4
    for k, img in enumerate(res.images):
        n, i = divmod(k, 2)
        before = np.asarray(target_image(n * 10 + i))
        after = np.asarray(img)
        assert after.shape == before.shape
        assert np.abs(after.astype(int) - before.astype(int)).mean() > 0.5, f"image {k} not swapped"
    # infotext: units used and the per-image result, never image data
    for text in res.infotexts:
        assert "FaceSwapLab U1 enabled: True" in text
        assert "FaceSwapLab result: " in text and "1 swapped" in text
        assert "base64" not in text and "PIL" not in text
    assert "FaceSwapLab U2 enabled" not in res.infotexts[0]


def test_hires_fix_and_keep_originals(host_env, source_png, tmp_path):
    args = default_args()
    set_arg(args, 0, "enabled", True)
    set_arg(args, 0, "source_image", Image.open(source_png))
    set_job(args, "keep_originals", True)
    p, res = _txt2img(host_env, args, batch_size=2, n_iter=1, enable_hr=True, hr_scale=1.5, out=tmp_path / "o")
    assert len(res.images) == 4, "2 swapped + 2 originals after them"
    assert res.images[0].size == (960, 960)
    assert np.array_equal(np.asarray(res.images[2]), np.asarray(target_image(0).resize((960, 960))))
    assert not np.array_equal(np.asarray(res.images[0]), np.asarray(res.images[2]))
    assert len(res.infotexts) == 4


def test_nothing_swapped_is_visible(host_env, source_png, tmp_path):
    from modules import processing

    args = default_args()
    set_arg(args, 0, "enabled", True)
    set_arg(args, 0, "source_image", Image.open(source_png))
    r = runner(host_env)
    p = processing.StableDiffusionProcessingTxt2Img(
        prompt="x", script_args=[None] + args, scripts_runner=r, outpath_samples=str(tmp_path),
        generate=lambda n, i: Image.fromarray(fm.make_face_image(faces=[], seed=3)),
    )
    res = processing.process_images(p)
    assert "no face found in the target image" in res.comments
    assert "no face found" in res.infotexts[0]


def test_interrupt_leaves_images_alone(host_env, source_png, tmp_path):
    from modules import processing, shared

    args = default_args()
    set_arg(args, 0, "enabled", True)
    set_arg(args, 0, "source_image", Image.open(source_png))
    r = runner(host_env)

    def gen(n, i):
        shared.state.interrupted = True  # the user pressed Interrupt while this image was made
        return target_image(0)

    p = processing.StableDiffusionProcessingTxt2Img(prompt="x", script_args=[None] + args, scripts_runner=r, generate=gen, outpath_samples=str(tmp_path))
    res = processing.process_images(p)
    assert np.array_equal(np.asarray(res.images[0]), np.asarray(target_image(0)))


def test_img2img_swap_in_source(host_env, source_png, tmp_path):
    from modules import processing

    args = default_args()
    set_arg(args, 0, "enabled", True)
    set_arg(args, 0, "source_image", Image.open(source_png))
    set_job(args, "swap_in_source", True)
    set_job(args, "swap_in_generated", False)
    r = runner(host_env, is_img2img=True)
    seen = []

    def gen(n, i):
        seen.append(p.init_images[0])
        return p.init_images[0].copy()

    init = target_image(5)
    p = processing.StableDiffusionProcessingImg2Img(
        init_images=[init], prompt="x", script_args=[None] + args, scripts_runner=r, generate=gen, outpath_samples=str(tmp_path)
    )
    processing.process_images(p)
    assert seen and not np.array_equal(np.asarray(seen[0]), np.asarray(init)), "source swapped before generation"
    assert "FaceSwapLab source" in p.extra_generation_params


def _b64(path) -> str:
    import base64

    return base64.b64encode(open(path, "rb").read()).decode()


def test_named_alwayson_form(host_env, source_png, tmp_path):
    # What the API does: position 0 replaced by the request's first arg, the rest = ui() defaults.
    args = default_args()
    args[0] = {"units": [{"source_images": [_b64(source_png)], "faces": "all"}], "postprocessing": {}}
    p, res = _txt2img(host_env, args, batch_size=1, n_iter=2, out=tmp_path / "o")
    assert all("1 swapped" in t for t in res.infotexts)


def test_named_form_rejects_unknown_fields(host_env, source_png, tmp_path):
    args = default_args()
    args[0] = {"units": [{"source_images": [_b64(source_png)], "facez": "all"}]}
    p, res = _txt2img(host_env, args, batch_size=1, n_iter=1, out=tmp_path / "o")
    assert "facez" in res.comments and "unknown field" in res.comments
    assert "FaceSwapLab error" in res.infotexts[0]
    assert np.array_equal(np.asarray(res.images[0]), np.asarray(target_image(0)))


def test_named_form_refuses_server_paths_in_model_fields(host_env, source_png, tmp_path):
    args = default_args()
    args[0] = {"units": [{"source_images": [_b64(source_png)], "restorer": "../../../../etc/passwd"}]}
    p, res = _txt2img(host_env, args, batch_size=1, n_iter=1, out=tmp_path / "o")
    assert "not a path" in res.comments and "passwd" not in res.comments.replace("restorer", "")
    assert np.array_equal(np.asarray(res.images[0]), np.asarray(target_image(0)))


def test_positional_api_form_with_base64(host_env, source_png, tmp_path):
    args = default_args()
    set_arg(args, 1, "enabled", True)  # unit 2, so unit numbering is checked too
    set_arg(args, 1, "source_images", [_b64(source_png)])
    p, res = _txt2img(host_env, args, batch_size=1, n_iter=1, out=tmp_path / "o")
    assert "FaceSwapLab U2 enabled: True" in res.infotexts[0]
    assert "1 swapped" in res.infotexts[0]


def test_post_processing_is_the_pipelines_step(host_env, source_png, tmp_path):
    """The accordion's post-processing tab runs in swap_image, through the engine's upscalers."""
    args = default_args()
    set_arg(args, 0, "enabled", True)
    set_arg(args, 0, "source_image", Image.open(source_png))
    set_post(args, "upscaler", "lanczos")
    set_post(args, "scale", 2)
    p, res = _txt2img(host_env, args, batch_size=1, n_iter=1, out=tmp_path / "o")
    assert res.images[0].size == (1280, 1280)
    assert "post: upscaled x2 with lanczos" in res.infotexts[0]
    # A post model that does not exist stops the job with one message, before any image.
    args[0] = {"units": [{"source_images": [_b64(source_png)]}], "postprocessing": {"restorer": "nope.onnx"}}
    p, res = _txt2img(host_env, args, batch_size=1, n_iter=1, out=tmp_path / "o2")
    assert "nope.onnx" in res.comments and res.images[0].size == (640, 640)


def test_extras_with_none_kwargs(host_env, source_png):
    from modules import scripts, scripts_postprocessing
    from faceswaplab.options import forms
    from faceswaplab.webui.postprocessing import POST_PREFIX

    cls = scripts.postprocessing_scripts_data[0].script_class
    script = cls()
    names = list(forms.unit_field_names()) + [POST_PREFIX + n for n in forms.post_field_names()]
    img = target_image(1)
    pp = scripts_postprocessing.PostprocessedImage(img)
    scripts_postprocessing.run_with_api_args(script, pp, names)
    assert pp.image is img, "no source configured: passes through untouched"
    # With a source given through the API's named kwargs, it swaps.
    pp2 = scripts_postprocessing.PostprocessedImage(img)
    scripts_postprocessing.run_with_api_args(
        script, pp2, names, {"FaceSwapLab": {"enabled": True, "source_images": [_b64(source_png)]}}
    )
    assert pp2.image is not img and "1 swapped" in pp2.info["FaceSwapLab"]


def test_host_restorer_paths(host_env):
    """Host restorers with a reachable network run on our aligned crop; others whole-image."""
    from faceswaplab.webui import restorers
    from modules import face_restoration, face_restoration_utils

    class NetRestorer(face_restoration_utils.CommonFaceRestoration):
        def name(self):
            return "CodeFormer"

        def load_net(self):
            return lambda x, w=0.5, adain=True: (-x,)  # invert: easy to check

    class PlainRestorer(face_restoration.FaceRestoration):
        def name(self):
            return "Plain"

        def restore(self, np_image):
            return 255 - np_image

    a = restorers.adapt_restorer(NetRestorer("/tmp"))
    b = restorers.adapt_restorer(PlainRestorer())
    face = np.full((512, 512, 3), 40, np.uint8)
    assert isinstance(a, restorers.HostAlignedRestorer) and a.size == 512
    out = a.restore(face, 0.7)
    assert out.shape == face.shape and abs(int(out[0, 0, 0]) - 215) <= 1
    assert isinstance(b, restorers.HostImageRestorer)
    assert b.restore_image(face)[0, 0, 0] == 215


def test_host_services_registered_on_engine(host_env):
    from faceswaplab.webui import host
    from modules import face_restoration, shared, upscaler

    class Plain(face_restoration.FaceRestoration):
        def name(self):
            return "GFPGAN"

        def restore(self, np_image):
            return np_image

    shared.face_restorers[:] = [Plain()]
    lz = upscaler.UpscalerLanczos()
    shared.sd_upscalers[:] = lz.scalers
    host.reset_engine()
    eng = host.engine()
    assert "webui:GFPGAN" in eng.restorer_names()
    assert "webui:Lanczos" in eng.upscaler_names()
    assert "webui:GFPGAN" in host.unit_restorer_names()
    # Post-processing runs in the pipeline through the registered host networks, by their
    # engine names or (as older requests send them) their host names.
    from faceswaplab import postprocess
    from faceswaplab.imageio import load_image
    from faceswaplab.options import PostOptions

    img = load_image(np.asarray(target_image(0)))
    for names in (("webui:GFPGAN", "webui:Lanczos"), ("GFPGAN", "Lanczos")):
        out, notes = postprocess.apply(eng, img, PostOptions(restorer=names[0], upscaler=names[1], scale=2))
        assert out.rgb.shape == (1280, 1280, 3) and len(notes) == 2, notes
        assert "webui:GFPGAN" in notes[0] and "upscaled x2" in notes[1]


def test_settings_change_takes_effect(host_env):
    from faceswaplab.webui import host
    from modules import shared

    e1 = host.engine()
    shared.opts.faceswaplab_det_size = 320
    e2 = host.engine()
    assert e2.options.det_size == 320 and e1 is not e2
    shared.opts.faceswaplab_det_size = 640


def test_duplicate_extension_warning(host_env, tmp_path, capsys):
    from faceswaplab.webui import callbacks
    from modules import paths

    old = tmp_path / "webui" / "extensions" / "sd-webui-faceswaplab" / "scripts"
    old.mkdir(parents=True)
    (old / "faceswaplab.py").write_text("# old extension\n")
    found = callbacks.warn_duplicates()
    assert [p.name for p in found] == ["sd-webui-faceswaplab"]
    assert "another FaceSwapLab extension" in capsys.readouterr().out
    assert paths.extensions_dir.startswith(str(tmp_path))


def test_only_the_adapter_touches_the_host():
    """The core never imports `modules` or gradio; only faceswaplab/webui touches `modules`;
    gradio only in faceswaplab/ui and faceswaplab/webui (lazily)."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "faceswaplab"
    for path in root.rglob("*.py"):
        rel = path.relative_to(root).as_posix()
        text = path.read_text(encoding="utf-8")
        if re.search(r"^\s*(from modules\b|import modules\b)", text, re.M):
            assert rel.startswith("webui/"), f"{rel} imports the web-ui"
        if re.search(r"^\s*(import gradio|from gradio)", text, re.M):
            assert rel.startswith(("ui/", "webui/")), f"{rel} imports gradio"
    scripts_dir = root.parent / "scripts"
    for path in scripts_dir.glob("*.py"):
        assert len(path.read_text().splitlines()) <= 8, f"{path.name} should be a thin shell"
