"""ui() built with the real gradio package (3.41.2 in the A1111 env, 4.40 in the Forge env, the
newest in the gradio-current env; skipped where gradio is absent): built twice (the web-ui
calls it again for API defaults), its components in the positional-contract order and count,
their default values usable as positional args, the Extras panel and the tab."""

from __future__ import annotations

import pytest

gr = pytest.importorskip("gradio")

from tests.webui_host import setup_host  # noqa: E402


@pytest.fixture
def host_env(tmp_path, models_dir, monkeypatch):
    monkeypatch.delenv("FACESWAPLAB_MODELS", raising=False)
    return setup_host(tmp_path / "webui", models_dir)


@pytest.mark.parametrize("is_img2img", [False, True])
def test_ui_twice_matches_positional_contract(host_env, is_img2img):
    from faceswaplab.options import forms
    from faceswaplab.options import meta as m
    from faceswaplab.webui.script import units_count

    script = host_env.scripts_data[0].script_class()
    n = units_count()
    assert n == forms.DEFAULT_UNITS
    kinds = {
        m.CHECKBOX: gr.Checkbox, m.IMAGE: gr.Image, m.FILES: gr.File, m.DROPDOWN: gr.Dropdown,
        m.NUMBER: gr.Number, m.TEXT: gr.Textbox, m.SLIDER: gr.Slider, m.RADIO: gr.Radio,
        m.CHECKBOXGROUP: gr.CheckboxGroup,
    }
    contract = forms.positional_contract(n)
    fields = [c for _ in range(n) for c in forms.unit_controls()] + list(forms.post_controls()) + list(forms.job_controls())
    built = []
    for _ in range(2):
        with gr.Blocks():
            comps = script.ui(is_img2img)
        built.append(comps)
        assert len(comps) == len(contract) == forms.args_length(n)
        for c, f, name in zip(comps, fields, contract):
            assert isinstance(c, kinds[f.meta.kind]), name
            assert name.endswith("." + f.name)
    assert len(built[0]) == len(built[1])
    assert all(a is not b for a, b in zip(*built)), "fresh components on every call"
    # infotext / paste mappings point at components of the latest ui()
    assert script.paste_field_names and all(isinstance(k, str) for k in script.paste_field_names)
    # The API's default args are the components' values: they must parse as a job that does nothing.
    from faceswaplab.webui import job

    j = job.parse_args([c.value for c in built[1]], n)
    assert j.error is None and not j.active


def test_extras_ui_and_tab_build(host_env):
    from faceswaplab.options import forms
    from faceswaplab.webui.postprocessing import POST_PREFIX
    from modules import script_callbacks

    script = host_env.postprocessing_scripts_data[0].script_class()
    with gr.Blocks():
        controls = script.ui()
    assert list(controls) == list(forms.unit_field_names()) + [POST_PREFIX + n for n in forms.post_field_names()]
    tabs = script_callbacks.ui_tabs_callback()
    assert [(t[1], t[2]) for t in tabs] == [("FaceSwapLab", "faceswaplab_tab")]
    assert isinstance(tabs[0][0], gr.Blocks)


def test_settings_components(host_env):
    from modules import shared

    labels = {k: v for k, v in shared.opts.data_labels.items() if k.startswith("faceswaplab_")}
    assert {"faceswaplab_swapper", "faceswaplab_providers", "faceswaplab_units", "faceswaplab_nsfw_threshold"} <= set(labels)
    for key, info in labels.items():
        assert info.component is not None, key
        args = info.component_args() if callable(info.component_args) else (info.component_args or {})
        with gr.Blocks():
            info.component(label=info.label, value=info.default, **args)
    prov = labels["faceswaplab_providers"].component_args()["choices"]
    assert "cpu" in prov
    assert labels["faceswaplab_swapper"].component_args()["choices"] == ["inswapper_128.onnx"]
