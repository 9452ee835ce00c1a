"""The "FaceSwapLab" section of the web-ui's Settings page (`script_callbacks.on_ui_settings`),
generated from the options' metadata: the engine fields marked for settings, the web-ui's own
settings below (`HostSettings`), and the per-unit defaults (`default_<name>`, the unit fields
marked for settings, used by new units and by Extras API calls).

`shared.opts.add_option(key, shared.OptionInfo(default, label, component, component_args,
onchange=..., section=...))` as in modules/options.py and modules/shared_options.py (v1.10.1).
Engine settings are read on every job (host.engine_options), so changes apply without a
restart; a change of a field marked `restart` (providers, threads, swapper) also drops cached
ONNX sessions. Only the number of units needs a UI reload (it changes the accordion's layout).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

from ..options import EngineOptions
from ..options.forms import DEFAULT_UNITS, MAX_UNITS, NONE, Control, controls, to_form, unit_controls
from ..options.meta import CHECKBOX, CHECKBOXGROUP, DROPDOWN, NUMBER, RADIO, SETTINGS, SLIDER, TEXT, option, options_of
from . import host


@dataclass(frozen=True)
class HostSettings:
    """Settings that only the web-ui has (the accordion's layout, the job's saving)."""

    # fmt: off
    units: int = option(DEFAULT_UNITS, label="Number of face units (reload the UI after changing)", group="job",
                        fronts=(SETTINGS,), minimum=1, maximum=MAX_UNITS, step=1)
    save_originals: bool = option(True, label="When keeping the unswapped originals, also save them", group="job",
                                  fronts=(SETTINGS,))
    # fmt: on


class Setting(NamedTuple):
    key: str  # without the faceswaplab_ prefix
    default: Any
    label: str
    widget: str
    component_args: Any  # a dict, or a callable returning one (choices read when the page renders)
    onchange: Callable[[], None] | None


_WIDGETS = {SLIDER: "slider", DROPDOWN: "dropdown", CHECKBOX: "checkbox", CHECKBOXGROUP: "checkboxgroup",
            TEXT: "textbox", RADIO: "radio", NUMBER: "number"}  # fmt: skip
UNIT_DEFAULT_PREFIX = "default_"


def _choice_providers() -> dict[str, Callable[[], list[str]]]:
    return {**host.choice_providers(), "swappers": host.swapper_files, "providers": host.available_providers}


def _args(c: Control) -> Any:
    m = c.meta
    if m.kind == SLIDER:
        return {"minimum": m.minimum, "maximum": m.maximum, "step": m.step}
    if m.choices is not None:
        return {"choices": c.form_choices()}
    if m.dynamic:

        def args(key: str = m.dynamic, none: bool = c.default is None) -> dict[str, Any]:
            prov = _choice_providers().get(key)
            names = list(prov()) if prov else []
            return {"choices": ([NONE] if none and m.kind == DROPDOWN else []) + names}

        return args
    return None


def _setting(c: Control, key: str, label: str) -> Setting:
    onchange = host.reset_engine if c.meta.restart else None
    return Setting(key, to_form(c.meta, c.default), label, _WIDGETS[c.meta.kind], _args(c), onchange)


def definitions() -> list[Setting]:
    """Every FaceSwapLab setting, in page order."""
    out = [_setting(c, c.meta.setting or c.target, c.meta.label) for c in controls(EngineOptions, SETTINGS)]
    out += [_setting(c, c.target, c.meta.label) for c in controls(HostSettings, SETTINGS)]
    out += [_setting(c, UNIT_DEFAULT_PREFIX + c.name, f"Default: {c.meta.label}") for c in unit_controls(SETTINGS)]
    return out


def host_setting(name: str) -> Any:
    """A HostSettings value from the settings page, else its default."""
    for o in options_of(HostSettings):
        if o.name == name:
            return host.opt(name, o.default)
    raise KeyError(name)


def unit_defaults() -> dict[str, Any]:
    """The per-unit defaults set on the settings page (only those set)."""
    out = {}
    for c in unit_controls(SETTINGS):
        v = host.opt(UNIT_DEFAULT_PREFIX + c.name, None)
        if v is not None:
            out[c.name] = v
    return out


def _widgets() -> dict[str, Any]:
    try:
        import gradio as gr
    except ImportError:  # only under the tests' stand-in host without gradio
        return {}
    return {
        "dropdown": gr.Dropdown, "slider": gr.Slider, "checkbox": gr.Checkbox, "checkboxgroup": gr.CheckboxGroup,
        "textbox": gr.Textbox, "radio": gr.Radio, "number": gr.Number,
    }  # fmt: skip


def register() -> None:
    s = host.shared()
    widgets = _widgets()
    for d in definitions():
        info = s.OptionInfo(d.default, d.label, widgets.get(d.widget), d.component_args, onchange=d.onchange, section=host.SECTION)
        s.opts.add_option(host.OPT + d.key, info)
