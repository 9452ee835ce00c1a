"""One option vocabulary: every option is one dataclass field with its metadata, and every
front end is generated from it. Walks the fields of UnitOptions + EnhanceOptions, PostOptions,
EngineOptions and JobOptions and checks that the CLI flags, the API model fields, the gradio
controls (where gradio is installed), the positional alwayson contract and the web-ui
settings all carry every field meant for them, with the same default; then shows on a small
dataclass of its own that a field definition alone is enough to appear everywhere."""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import pytest

from faceswaplab.cli import common, flags
from faceswaplab.errors import OptionsError
from faceswaplab.options import EngineOptions, EnhanceOptions, JobOptions, PostOptions, UnitOptions, forms
from faceswaplab.options.meta import API, CLI, NAMES, SETTINGS, UI, meta_of, option, options_of, to_json, validate

CLASSES = (UnitOptions, EnhanceOptions, PostOptions, EngineOptions, JobOptions)
NESTED = {(UnitOptions, "enhance")}  # the unit's EnhanceOptions: its own fields are walked


def _instance_defaults(cls):
    return cls() if cls is not UnitOptions else UnitOptions()


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_field_has_metadata(cls):
    for f in dataclasses.fields(cls):
        if (cls, f.name) in NESTED:
            continue
        m = meta_of(f)
        assert m is not None, f"{cls.__name__}.{f.name} has no option metadata"
        assert m.label and m.group and m.fronts, f"{cls.__name__}.{f.name}"


def _cli_namespace(argv=()):
    p = argparse.ArgumentParser()
    common.add_unit_args(p)
    common.add_post_args(p)
    common.add_engine_args(p)
    return p, p.parse_args(list(argv))


@pytest.mark.parametrize("cls", (UnitOptions, EnhanceOptions, PostOptions, EngineOptions), ids=lambda c: c.__name__)
def test_cli_flags_carry_every_cli_field_with_its_default(cls):
    p, ns = _cli_namespace()
    flags_known = {s for a in p._actions for s in a.option_strings}
    default = _instance_defaults(cls)
    for opt in options_of(cls, CLI):
        assert flags.flag_of(opt) in flags_known, opt.name
    built = cls(**flags.values_from_args(cls, ns))
    for opt in options_of(cls, CLI):
        assert getattr(built, opt.name) == getattr(default, opt.name), opt.name
    # and every field not meant for the CLI has no flag
    for opt in options_of(cls):
        if not opt.meta.shown_in(CLI):
            assert flags.flag_of(opt) not in flags_known, opt.name


def test_cli_flag_names_stay_as_documented():
    p, _ = _cli_namespace()
    known = {s for a in p._actions for s in a.option_strings}
    for flag in ("--source", "--face", "--faces", "--reference", "--min-face-size", "--boost", "--mask-regions",
                 "--keep-mouth", "--no-det-retry", "--det-size", "--nsfw-threshold", "--swapper", "--post-restorer",
                 "--post-restorer-visibility", "--post-codeformer-weight", "--post-upscaler", "--post-scale",
                 "--post-upscaler-visibility"):  # fmt: skip
        assert flag in known, flag


def test_api_models_carry_every_api_field_with_its_default():
    models = pytest.importorskip("faceswaplab.api.models")
    dump = models.dump
    unit_fields = set(models.FaceSwapUnit.__fields__ if not models.PYDANTIC_V2 else models.FaceSwapUnit.model_fields)
    expected = {c.name for c in forms.unit_controls(API)}
    assert unit_fields == expected
    unit = dump(models.FaceSwapUnit())
    for cls in (UnitOptions, EnhanceOptions):
        for opt in options_of(cls, API):
            assert unit[opt.public_name] == to_json(opt.meta, opt.default), opt.name
    post = dump(models.PostProcessing())
    assert set(post) == {o.name for o in options_of(PostOptions, API)}
    assert PostOptions.from_dict(post) == PostOptions()
    # the API's defaults build the core's default unit
    assert forms.unit_options(unit) == UnitOptions()


def test_positional_contract_carries_every_ui_field_with_its_default():
    contract = forms.positional_contract(2)
    assert len(contract) == forms.args_length(2) == len(forms.default_args(2))
    for cls, prefix in ((UnitOptions, "unit1."), (EnhanceOptions, "unit2."), (PostOptions, "post."), (JobOptions, "job.")):
        for opt in options_of(cls, UI):
            assert prefix + opt.public_name in contract, opt.name
    units, post, job = forms.split_positional(forms.default_args(2), 2)
    assert PostOptions.from_dict({k: v for k, v in post.items() if v is not None}) == PostOptions()
    assert JobOptions.from_dict(job) == JobOptions()
    for values in units:  # the same defaults, except where a form starts elsewhere (a unit tab is off)
        u = forms.unit_options(values)
        assert u == dataclasses.replace(UnitOptions(), enabled=False)
        assert forms.unit_options({**values, "enabled": True}) == UnitOptions()


def test_settings_carry_every_settings_field_with_its_default():
    from faceswaplab.webui import settings

    defs = {d.key: d for d in settings.definitions()}
    for opt in options_of(EngineOptions, SETTINGS):
        key = opt.meta.setting or opt.name
        assert key in defs, key
        assert defs[key].default == forms.to_form(opt.meta, opt.default), key
    for c in forms.unit_controls(SETTINGS):
        assert defs["default_" + c.name].default == c.form_default, c.name
    assert {"units", "save_originals"} <= set(defs)
    assert defs["units"].default == forms.DEFAULT_UNITS


def test_gradio_controls_carry_every_ui_field_with_its_default():
    gr = pytest.importorskip("gradio")
    from faceswaplab.ui import components

    with gr.Blocks():
        unit = components.unit_panel(0, id_prefix="vocab")
        post = components.post_panel(id_prefix="vocab")
        job = components.job_panel(id_prefix="vocab", is_img2img=True)
    for comps, ctrls in ((unit, forms.unit_controls()), (post, forms.post_controls()), (job, forms.job_controls())):
        assert len(comps) == len(ctrls)
        for comp, c in zip(comps, ctrls):
            assert comp.elem_id.endswith("_" + c.name)
            if c.meta.kind not in ("image", "files"):
                assert comp.value == c.form_default, c.name


# --------------------------------------------------------------------------- a new option


@dataclass(frozen=True)
class Toy:
    """A stand-in options class: four field definitions and nothing else."""

    FLAG_PREFIX: ClassVar[str] = "toy-"

    strength: float = option(0.25, label="Strength", group="quality", minimum=0.0, maximum=1.0, step=0.05, help="how much")
    mode: str = option("soft", label="Mode", group="quality", choices=("soft", "hard"))
    on: bool = option(True, label="On", group="quality", fronts=(CLI, API, UI, SETTINGS))
    parts: tuple = option((), label="Parts", group="quality", value=NAMES, choices=("eyes", "mouth"))

    def __post_init__(self) -> None:
        validate(self)


def test_one_field_definition_is_enough_for_every_front_end():
    # validation, from the same metadata
    with pytest.raises(OptionsError, match="strength must be between 0 and 1"):
        Toy(strength=2)
    with pytest.raises(OptionsError, match="mode must be one of soft, hard"):
        Toy(mode="odd")
    assert Toy(parts="mouth,EYES").parts == ("mouth", "eyes")
    # CLI
    p = argparse.ArgumentParser()
    flags.add_flags(p, Toy, "toy")
    ns = p.parse_args(["--toy-strength", "0.5", "--toy-no-on", "--toy-parts", "eyes"])
    assert flags.options_from_args(Toy, ns) == Toy(strength=0.5, on=False, parts=("eyes",))
    assert flags.options_from_args(Toy, p.parse_args([])) == Toy()
    assert "0-1, default 0.25" in p.format_help()
    # positional / named form
    ctrls = forms.controls(Toy)
    assert [c.name for c in ctrls] == ["strength", "mode", "on", "parts"]
    assert [c.form_default for c in ctrls] == [0.25, "soft", True, []]
    # API
    models = pytest.importorskip("faceswaplab.api.models")
    model = models.model_for("Toy", forms.controls(Toy, API))
    assert models.dump(model()) == {"strength": 0.25, "mode": "soft", "on": True, "parts": []}
    assert Toy(**models.dump(model(strength=0.75))) == Toy(strength=0.75)
    import pydantic

    with pytest.raises(pydantic.ValidationError, match="strenght"):
        model(strenght=1)  # unknown names are refused
    # settings
    assert [c.name for c in forms.controls(Toy, SETTINGS)] == ["on"]


def test_one_field_definition_is_a_gradio_control():
    gr = pytest.importorskip("gradio")
    from faceswaplab.ui import components

    with gr.Blocks():
        comps = [components.make(c, c.form_default, f"toy_{c.name}", None) for c in forms.controls(Toy)]
    assert [type(c).__name__ for c in comps] == ["Slider", "Dropdown", "Checkbox", "CheckboxGroup"]
    assert comps[0].maximum == 1.0 and comps[0].value == 0.25
