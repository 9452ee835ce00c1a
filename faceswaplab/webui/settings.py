"""The "FaceSwapLab" section of the web-ui's Settings page (`script_callbacks.on_ui_settings`).

`shared.opts.add_option(key, shared.OptionInfo(default, label, component, component_args,
onchange=..., section=...))` as in modules/options.py and modules/shared_options.py (v1.10.1).
Engine settings are read on every job (host.engine_options), so changes apply without a
restart; a providers/threads change also drops cached ONNX sessions. Only the number of
units needs a UI reload (it changes the accordion's layout).
"""

from __future__ import annotations

from typing import Any

from ..options import NSFW_THRESHOLD_RANGE
from ..ui import spec
from . import host


def _options() -> list[tuple[str, Any, str, str, Any, Any]]:
    """(name, default, label, widget, component_args, onchange)."""
    lo, hi = NSFW_THRESHOLD_RANGE
    return [
        ("swapper", "inswapper_128.onnx", "Swapper model file (inswapper-type files in the models directory)",
         "dropdown", lambda: {"choices": host.swapper_files()}, host.reset_engine),
        ("det_size", 640, "Face detection size (det_size)", "slider", {"minimum": 160, "maximum": 2048, "step": 32}, None),
        ("det_thresh", 0.5, "Face detection threshold (det_thresh)", "slider", {"minimum": 0.1, "maximum": 0.99, "step": 0.01}, None),
        ("det_retry", True, "Auto det size: retry at a smaller size when no face is found", "checkbox", None, None),
        ("providers", ["cpu"], "Execution providers (those ONNX Runtime reports here)", "checkboxgroup",
         lambda: {"choices": host.available_providers()}, host.reset_engine),
        ("threads", 0, "ONNX Runtime threads (0: automatic)", "slider", {"minimum": 0, "maximum": 64, "step": 1}, host.reset_engine),
        ("units", spec.DEFAULT_UNITS, "Number of face units (reload the UI after changing)", "slider",
         {"minimum": 1, "maximum": spec.MAX_UNITS, "step": 1}, None),
        ("nsfw_threshold", 0.5, f"Content filter threshold ({lo}-{hi}; it cannot be switched off)", "slider",
         {"minimum": lo, "maximum": hi, "step": 0.01}, None),
        ("checkpoints_dir", "", "Face checkpoints directory (empty: <models dir>/faces)", "textbox", None, None),
        ("save_originals", True, "When keeping the unswapped originals, also save them", "checkbox", None, None),
    ] + _enhance_defaults()


def _enhance_defaults() -> list[tuple[str, Any, str, str, Any, Any]]:
    out = []
    for f in spec.UNIT_FIELDS:
        if f.name not in spec.ENHANCE_NAMES or f.name in ("parser", "mask_regions", "keep_mouth"):
            continue
        label = f"Default: {f.label}"
        if f.kind == spec.SLIDER:
            out.append((f"default_{f.name}", f.default, label, "slider",
                        {"minimum": f.minimum, "maximum": f.maximum, "step": f.step}, None))
        elif f.kind == spec.RADIO:
            out.append((f"default_{f.name}", f.default, label, "radio", {"choices": list(f.choices or ())}, None))
        elif f.kind == spec.DROPDOWN:
            key = f.dynamic_choices

            def args(key: str | None = key) -> dict[str, Any]:
                prov = host.choice_providers().get(key or "")
                return {"choices": [spec.NONE] + (list(prov()) if prov else [])}

            out.append((f"default_{f.name}", spec.NONE, label, "dropdown", args, None))
        elif f.kind == spec.CHECKBOX:
            out.append((f"default_{f.name}", bool(f.default), label, "checkbox", None, None))
    return out


def _widgets() -> dict[str, Any]:
    try:
        import gradio as gr
    except ImportError:  # only under the tests' stand-in host without gradio
        return {}
    return {
        "dropdown": gr.Dropdown, "slider": gr.Slider, "checkbox": gr.Checkbox,
        "checkboxgroup": gr.CheckboxGroup, "textbox": gr.Textbox, "radio": gr.Radio,
    }  # fmt: skip


def register() -> None:
    s = host.shared()
    widgets = _widgets()
    for name, default, label, widget, cargs, onchange in _options():
        info = s.OptionInfo(default, label, widgets.get(widget), cargs, onchange=onchange, section=host.SECTION)
        s.opts.add_option(host.OPT + name, info)


def option_names() -> list[str]:
    return [host.OPT + o[0] for o in _options()]
