"""Gradio building blocks shared by the web-ui (gradio 3.41 in A1111, 4.40 in Forge) and the
standalone app (current gradio). Everything version-specific lives here:

- `gr.Image(source=...)` (3.x) vs `gr.Image(sources=[...])` (4+)
- `gr.File(type="file")` (3.x tempfile objects) vs `type="filepath"` (4+ paths)
- `gr.update` (3.x and 4.x) vs returning a component (newer releases)
- Dropdown values outside the choices warn in 4+ unless `allow_custom_value=True`

The builders return components in the exact order of `spec.UNIT_FIELDS` / `POST_FIELDS` /
`JOB_FIELDS`; buttons (refresh) are never part of the returned list.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from . import spec

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


def _choices(field: spec.Field, providers: ChoiceProviders | None) -> list[str]:
    if field.choices is not None:
        return [str(c) for c in field.choices]
    out = [spec.NONE]
    if field.dynamic_choices and providers and field.dynamic_choices in providers:
        try:
            out += [c for c in providers[field.dynamic_choices]() if c != spec.NONE]
        except Exception:  # a broken provider must not break the UI
            pass
    return out


def make(field: spec.Field, value: Any, elem_id: str | None, providers: ChoiceProviders | None, visible: bool = True) -> Any:
    """One gradio component for one spec field."""
    gr = gradio()
    common: dict[str, Any] = {"elem_id": elem_id, "visible": visible}
    if field.info and field.kind not in (spec.IMAGE, spec.FILES):
        common["info"] = field.info
    k = field.kind
    if k == spec.CHECKBOX:
        return gr.Checkbox(label=field.label, value=bool(value), **common)
    if k == spec.IMAGE:
        return image(field.label, elem_id=elem_id, visible=visible)
    if k == spec.FILES:
        return files(field.label, elem_id=elem_id, visible=visible)
    if k == spec.DROPDOWN:
        return dropdown(field.label, _choices(field, providers), value, **common)
    if k == spec.NUMBER:
        return gr.Number(label=field.label, value=value, precision=0 if (field.step or 1) >= 1 else None, **common)
    if k == spec.TEXT:
        return gr.Textbox(label=field.label, value=value, lines=1, max_lines=1, **common)
    if k == spec.SLIDER:
        return gr.Slider(label=field.label, minimum=field.minimum, maximum=field.maximum, step=field.step, value=value, **common)
    if k == spec.RADIO:
        return gr.Radio(label=field.label, choices=_choices(field, providers), value=str(value), **common)
    if k == spec.CHECKBOXGROUP:
        return gr.CheckboxGroup(label=field.label, choices=_choices(field, providers), value=list(value or ()), **common)
    raise ValueError(f"unknown control kind {k!r} for {field.name}")


def _wire_refresh(button: Any, component: Any, field: spec.Field, providers: ChoiceProviders | None) -> None:
    def refresh() -> Any:
        return update(choices=_choices(field, providers))

    button.click(fn=refresh, inputs=[], outputs=[component])


GROUP_TITLES = {"source": "Source", "target": "Target faces", "quality": "Quality", "advanced": "Advanced"}


def unit_panel(
    index: int,
    *,
    id_prefix: str,
    providers: ChoiceProviders | None = None,
    defaults: Mapping[str, Any] | None = None,
    hidden: Sequence[str] = (),
) -> list[Any]:
    """The controls of face unit `index` (0-based), in `spec.UNIT_FIELDS` order. Fields named
    in `hidden` are built invisible (their value still arrives: a folder job's one unit is
    always enabled, say)."""
    gr = gradio()
    defaults = defaults or {}
    made: dict[str, Any] = {}
    for group in ("source", "target", "quality", "advanced"):
        fields = [f for f in spec.UNIT_FIELDS if f.group == group]
        if not fields:
            continue
        ctx = gr.Group() if group == "source" else gr.Accordion(GROUP_TITLES[group], open=group == "target")
        with ctx:
            for f in fields:
                value = defaults.get(f.name, f.default)
                eid = f"{id_prefix}_unit{index + 1}_{f.name}"
                visible = f.name not in hidden
                if f.dynamic_choices and visible:
                    with gr.Row():
                        made[f.name] = make(f, value, eid, providers)
                        _wire_refresh(refresh_button(f"{eid}_refresh"), made[f.name], f, providers)
                else:
                    made[f.name] = make(f, value, eid, providers, visible=visible)
    return [made[f.name] for f in spec.UNIT_FIELDS]


def post_panel(*, id_prefix: str, providers: ChoiceProviders | None = None, defaults: Mapping[str, Any] | None = None) -> list[Any]:
    defaults = defaults or {}
    out = []
    for f in spec.POST_FIELDS:
        out.append(make(f, defaults.get(f.name, f.default), f"{id_prefix}_post_{f.name}", providers))
    return out


def job_panel(*, id_prefix: str, is_img2img: bool, defaults: Mapping[str, Any] | None = None) -> list[Any]:
    defaults = defaults or {}
    out = []
    for f in spec.JOB_FIELDS:
        visible = is_img2img or f.name != "swap_in_source"
        out.append(make(f, defaults.get(f.name, f.default), f"{id_prefix}_job_{f.name}", None, visible=visible))
    return out


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
