"""Gradio building blocks shared by the web-ui (gradio 3.41 in A1111, 4.40 in Forge) and the
standalone app (current gradio). Everything version-specific lives here:

- `gr.Image(source=...)` (3.x) vs `gr.Image(sources=[...])` (4+)
- `gr.File(type="file")` (3.x tempfile objects) vs `type="filepath"` (4+ paths)
- `gr.update` (3.x and 4.x) vs returning a component (newer releases)
- Dropdown values outside the choices warn in 4+ unless `allow_custom_value=True`

Every control is generated from an option's field metadata (`make(control, ...)`, the
controls listed by `faceswaplab.options.forms`); the builders return components in the
positional contract's order (`forms.unit_controls()`, `post_controls()`, `job_controls()`),
and buttons (refresh) are never part of the returned list.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from ..options import forms
from ..options.meta import CHECKBOX, CHECKBOXGROUP, DROPDOWN, FILES, IMAGE, INT, NUMBER, RADIO, SLIDER, TEXT
from ..options.forms import NONE, Control

ChoiceProviders = Mapping[str, Callable[[], Sequence[str]]]


def gradio():
    import gradio as gr

    return gr


def major() -> int:
    gr = gradio()
    try:
        return int(str(gr.__version__).split(".")[0])
    except ValueError:
        return 4


def update(**kwargs: Any) -> Any:
    gr = gradio()
    fn = getattr(gr, "update", None)
    if fn is not None:
        return fn(**kwargs)
    return gr.Dropdown(**kwargs)  # pragma: no cover - releases without gr.update


def md_escape(text: Any) -> str:
    """Text (a reason, a file name) shown inside gr.Markdown as it is: no HTML tags taken
    away (a source named "<image>" vanished), no emphasis from * or _."""
    import html
    import re

    return re.sub(r"([\\`*_\[\]])", r"\\\1", html.escape(str(text), quote=False))


def image(label: str, elem_id: str | None = None, **kw: Any) -> Any:
    gr = gradio()
    if major() >= 4:
        return gr.Image(label=label, type="pil", sources=["upload", "clipboard"], elem_id=elem_id, **kw)
    return gr.Image(label=label, type="pil", source="upload", elem_id=elem_id, **kw)


def result_image(label: str, elem_id: str | None = None, **kw: Any) -> Any:
    """An output image that shows a file as written (PNG, lossless): gradio 4+ re-encodes
    arrays as WebP by default, and only a file keeps FaceSwapLab's edit mark."""
    gr = gradio()
    if _accepts(gr.Image, "format"):
        kw.setdefault("format", "png")
    return gr.Image(label=label, type="filepath", interactive=False, elem_id=elem_id, **kw)


def _accepts(cls: Any, name: str) -> bool:
    import inspect

    try:
        return name in inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):
        return False


def files(label: str, elem_id: str | None = None, **kw: Any) -> Any:
    gr = gradio()
    ftype = "filepath" if major() >= 4 else "file"
    return gr.File(label=label, file_count="multiple", file_types=["image"], type=ftype, elem_id=elem_id, **kw)


def dropdown(label: str, choices: Sequence[str], value: Any, elem_id: str | None = None, **kw: Any) -> Any:
    gr = gradio()
    choices = list(choices)
    if value not in choices and value is not None:
        choices = [value] + choices
    return gr.Dropdown(label=label, choices=choices, value=value, elem_id=elem_id, allow_custom_value=True, **kw)


def refresh_button(elem_id: str | None = None) -> Any:
    gr = gradio()
    return gr.Button(value="\U0001f504", elem_id=elem_id, elem_classes=["faceswaplab-refresh"], scale=0, min_width=40)


def _choices(control: Control, providers: ChoiceProviders | None) -> list[str]:
    fixed = control.form_choices()
    if fixed is not None:
        return fixed
    key = control.meta.dynamic
    out = [NONE] if control.meta.kind == DROPDOWN and control.default is None else []
    if key and providers and key in providers:
        try:
            out += [c for c in providers[key]() if c != NONE and c not in out]
        except Exception:  # a broken provider must not break the UI
            pass
    return out


def make(control: Control, value: Any, elem_id: str | None, providers: ChoiceProviders | None, visible: bool = True) -> Any:
    """One gradio component for one option, from its metadata (label, help, range, choices)."""
    gr = gradio()
    m = control.meta
    common: dict[str, Any] = {"elem_id": elem_id, "visible": visible}
    if m.help and m.kind not in (IMAGE, FILES):
        common["info"] = m.help
    k = m.kind
    if k == CHECKBOX:
        return gr.Checkbox(label=m.label, value=bool(value), **common)
    if k == IMAGE:
        return image(m.label, elem_id=elem_id, visible=visible)
    if k == FILES:
        return files(m.label, elem_id=elem_id, visible=visible)
    if k == DROPDOWN:
        return dropdown(m.label, _choices(control, providers), value, **common)
    if k == NUMBER:
        return gr.Number(label=m.label, value=value, precision=0 if m.value == INT else None, **common)
    if k == TEXT:
        return gr.Textbox(label=m.label, value=value, lines=1, max_lines=1, **common)
    if k == SLIDER:
        return gr.Slider(label=m.label, minimum=m.minimum, maximum=m.maximum, step=m.step, value=value, **common)
    if k == RADIO:
        return gr.Radio(label=m.label, choices=_choices(control, providers), value=str(value), **common)
    if k == CHECKBOXGROUP:
        return gr.CheckboxGroup(label=m.label, choices=_choices(control, providers), value=list(value or ()), **common)
    raise ValueError(f"unknown control kind {k!r} for {control.name}")


def _wire_refresh(button: Any, component: Any, control: Control, providers: ChoiceProviders | None) -> None:
    def refresh() -> Any:
        return update(choices=_choices(control, providers))

    button.click(fn=refresh, inputs=[], outputs=[component])


def control(c: Control, *, elem_id: str, providers: ChoiceProviders | None, value: Any = None, visible: bool = True) -> Any:
    """`make` with the control's starting value, and a refresh button beside a dropdown whose
    choices come from the models folder (files added while the UI runs show up)."""
    gr = gradio()
    value = c.form_default if value is None else value
    if c.meta.dynamic and visible and c.meta.kind == DROPDOWN:
        with gr.Row():
            comp = make(c, value, elem_id, providers)
            _wire_refresh(refresh_button(f"{elem_id}_refresh"), comp, c, providers)
        return comp
    return make(c, value, elem_id, providers, visible=visible)


GROUP_TITLES = {"source": "Source", "target": "Target faces", "quality": "Quality", "advanced": "Advanced"}


def unit_panel(
    index: int,
    *,
    id_prefix: str,
    providers: ChoiceProviders | None = None,
    defaults: Mapping[str, Any] | None = None,
    hidden: Sequence[str] = (),
) -> list[Any]:
    """The controls of face unit `index` (0-based), in `forms.unit_controls()` order. Fields
    named in `hidden` are built invisible (their value still arrives: a folder job's one unit
    is always enabled, say)."""
    gr = gradio()
    defaults = defaults or {}
    ctrls = forms.unit_controls()
    made: dict[str, Any] = {}
    groups = list(dict.fromkeys(c.meta.group for c in ctrls))
    for group in [g for g in GROUP_TITLES if g in groups] + [g for g in groups if g not in GROUP_TITLES]:
        members = [c for c in ctrls if c.meta.group == group]
        ctx = gr.Group() if group == "source" else gr.Accordion(GROUP_TITLES.get(group, group.capitalize()), open=group == "target")
        with ctx:
            for c in members:
                made[c.name] = control(
                    c, elem_id=f"{id_prefix}_unit{index + 1}_{c.name}", providers=providers,
                    value=defaults.get(c.name), visible=c.name not in hidden,
                )  # fmt: skip
    return [made[c.name] for c in ctrls]


def post_panel(*, id_prefix: str, providers: ChoiceProviders | None = None, defaults: Mapping[str, Any] | None = None) -> list[Any]:
    defaults = defaults or {}
    return [
        control(c, elem_id=f"{id_prefix}_post_{c.name}", providers=providers, value=defaults.get(c.name))
        for c in forms.post_controls()
    ]


def job_panel(*, id_prefix: str, is_img2img: bool, defaults: Mapping[str, Any] | None = None) -> list[Any]:
    defaults = defaults or {}
    return [
        control(c, elem_id=f"{id_prefix}_job_{c.name}", providers=None, value=defaults.get(c.name),
                visible=is_img2img or c.name != "swap_in_source")  # fmt: skip
        for c in forms.job_controls()
    ]


def accordion(
    *,
    title: str,
    n_units: int,
    id_prefix: str,
    is_img2img: bool,
    providers: ChoiceProviders | None = None,
    unit_defaults: Mapping[str, Any] | None = None,
    post_defaults: Mapping[str, Any] | None = None,
    version: str = "",
    notice: str = "",
) -> list[Any]:
    """The whole FaceSwapLab accordion: unit tabs + a post-processing tab. Returns the
    components in positional-contract order. `notice` (missing models...) is shown on top."""
    gr = gradio()
    comps: list[Any] = []
    with gr.Accordion(f"{title} {version}".strip(), open=False, elem_id=f"{id_prefix}_accordion"):
        if notice:
            gr.Markdown(notice, elem_id=f"{id_prefix}_notice")
        with gr.Tabs(elem_id=f"{id_prefix}_tabs"):
            for i in range(n_units):
                with gr.Tab(f"Face {i + 1}", elem_id=f"{id_prefix}_unit{i + 1}_tab"):
                    comps += unit_panel(i, id_prefix=id_prefix, providers=providers, defaults=unit_defaults)
            with gr.Tab("Post-processing", elem_id=f"{id_prefix}_post_tab"):
                comps += post_panel(id_prefix=id_prefix, providers=providers, defaults=post_defaults)
                comps += job_panel(id_prefix=id_prefix, is_img2img=is_img2img)
    return comps
