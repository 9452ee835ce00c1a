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

import contextlib
import os
import re
from typing import Any, Callable, Iterator, Mapping, Sequence

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


_PATHLIKE = re.compile(r"(?:[A-Za-z]:)?(?:[\\/][^\s'\"`,;()\[\]{}<>\\/]+){2,}")


def clean_text(text: Any) -> str:
    """A message with every file path cut to its file name: the browser never sees gradio's
    temporary upload folders (or any other server path), and an image handed over as a PIL
    image is "the upload", not "<PIL image>"."""
    out = _PATHLIKE.sub(lambda m: os.path.basename(m.group(0).rstrip("/\\")), str(text))
    return out.replace("'<PIL image>'", "the upload").replace("<PIL image>", "the upload").replace(" (PIL image)", "")


def message(text: Any) -> str:
    """`clean_text`, escaped for gr.Markdown."""
    return md_escape(clean_text(text))


def image(label: str, elem_id: str | None = None, **kw: Any) -> Any:
    """An image upload. gradio 4+: handed over as the uploaded file's path, undecoded
    (`undecoded_upload`); 3.x: a PIL image."""
    gr = gradio()
    if major() >= 4:
        comp = gr.Image(label=label, type="filepath", sources=["upload", "clipboard"], elem_id=elem_id, **kw)
        return undecoded_upload(comp)
    return gr.Image(label=label, type="pil", source="upload", elem_id=elem_id, **kw)


def undecoded_upload(comp: Any) -> Any:
    """`comp` (a gr.Image) gives the uploaded file's path without opening it. Why: gradio's
    own preprocessing opens every upload with PIL, so a text file named .png, a truncated
    file, an empty one or a decompression bomb became gradio's "Could not preprocess input
    component" toast and a server traceback; FaceSwapLab's decoder (`imageio.load_image`,
    through `forms.image_value`) reads the file instead and says in one line what is wrong
    with it, naming the file. Set on the instance (gradio calls `block.preprocess`): a
    subclass would make gradio 4+ write a .pyi stub next to this module."""
    gradio_preprocess = comp.preprocess

    def preprocess(payload: Any) -> Any:
        if payload is None:
            return None
        path = getattr(payload, "path", None)
        if path is None:  # a data: URL (pasted): gradio decodes it, as before
            return gradio_preprocess(payload)
        return path

    comp.preprocess = preprocess
    return comp


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


def progress_on(event: Any, component: Any) -> dict[str, Any]:
    """Keyword arguments that put a job's progress overlay on `component` only (gradio 5+'s
    `show_progress_on`); older releases show it on every output, as before."""
    return {"show_progress_on": [component]} if _accepts_fn(event, "show_progress_on") else {}


def _accepts_fn(fn: Any, name: str) -> bool:
    import inspect

    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


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


def make(
    control: Control, value: Any, elem_id: str | None, providers: ChoiceProviders | None, visible: bool = True,
    height: int | None = None, brief: bool = False,
) -> Any:
    """One gradio component for one option, from its metadata (label, help, range, choices);
    `height`: of an image or files upload, `brief`: without the help line (the app's compact
    panels)."""
    gr = gradio()
    m = control.meta
    common: dict[str, Any] = {"elem_id": elem_id, "visible": visible}
    # a true-by-default bool's help describes its CLI switch-off flag (--no-...), not the box
    flag_help = m.kind == CHECKBOX and control.default is True and bool(m.flag)
    if m.help and m.kind not in (IMAGE, FILES) and not brief and not flag_help:
        common["info"] = m.help
    k = m.kind
    if k == CHECKBOX:
        return gr.Checkbox(label=m.label, value=bool(value), **common)
    sized = {"height": height} if height else {}
    if k == IMAGE:
        return image(m.label, elem_id=elem_id, visible=visible, **sized)
    if k == FILES:
        return files(m.label, elem_id=elem_id, visible=visible, **sized)
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


# Dynamic dropdowns built while a collector is open: (component, control, providers), so a
# host can refresh them all on page load, or the checkpoint ones after a build or delete.
_COLLECTORS: list[list[tuple[Any, Control, Any]]] = []


@contextlib.contextmanager
def collect_dropdowns() -> Iterator[list[tuple[Any, Control, Any]]]:
    """Collect the dynamic dropdowns (`control` entries with a choices provider) built inside."""
    bucket: list[tuple[Any, Control, Any]] = []
    _COLLECTORS.append(bucket)
    try:
        yield bucket
    finally:
        _COLLECTORS.remove(bucket)


def refresh_dropdowns(gr: Any, trigger: Any, dropdowns: Sequence[tuple[Any, Control, Any]], *, kind: str | None = None) -> Any:
    """Wire `trigger` (an event such as `demo.load`, or a Dependency's `.then`) to re-read the
    choices of `dropdowns` (those of one provider `kind`, or all). Returns the event or None."""
    chosen = [d for d in dropdowns if kind is None or d[1].meta.dynamic == kind]
    if not chosen:
        return None

    def refresh() -> Any:
        out = [update(choices=_choices(c, prov)) for _, c, prov in chosen]
        return out if len(out) > 1 else out[0]

    return trigger(refresh, inputs=[], outputs=[d[0] for d in chosen], queue=False, show_progress="hidden")


def _wire_refresh(button: Any, component: Any, control: Control, providers: ChoiceProviders | None) -> None:
    def refresh() -> Any:
        return update(choices=_choices(control, providers))

    button.click(fn=refresh, inputs=[], outputs=[component])


def control(
    c: Control, *, elem_id: str, providers: ChoiceProviders | None, value: Any = None, visible: bool = True,
    height: int | None = None, compact: bool = False,
) -> Any:
    """`make` with the control's starting value, and a refresh button beside a dropdown whose
    choices come from the models folder (files added while the UI runs show up). `compact`
    (the app, which re-reads every list on page load and after a build or delete): no refresh
    button and no help line, so two controls fit side by side."""
    gr = gradio()
    value = c.form_default if value is None else value
    if c.meta.dynamic and visible and c.meta.kind == DROPDOWN:
        if compact:
            comp = make(c, value, elem_id, providers, brief=True)
        else:
            with gr.Row():
                comp = make(c, value, elem_id, providers)
                _wire_refresh(refresh_button(f"{elem_id}_refresh"), comp, c, providers)
        for bucket in _COLLECTORS:
            bucket.append((comp, c, providers))
        return comp
    return make(c, value, elem_id, providers, visible=visible, height=height, brief=compact)


GROUP_TITLES = {"source": "Source", "target": "Target faces", "quality": "Quality", "advanced": "Advanced",
                "inpaint": "Inpainting (Stable Diffusion)"}


def unit_panel(
    index: int,
    *,
    id_prefix: str,
    providers: ChoiceProviders | None = None,
    defaults: Mapping[str, Any] | None = None,
    hidden: Sequence[str] = (),
    open_groups: Sequence[str] = ("target",),
    compact: bool = False,
    hidden_groups: Sequence[str] = (),
) -> list[Any]:
    """The controls of face unit `index` (0-based), in `forms.unit_controls()` order. Fields
    named in `hidden` are built invisible (their value still arrives: a folder job's one unit
    is always enabled, say), and so are whole `hidden_groups` (the app has no Stable Diffusion
    to inpaint with); the accordions of `open_groups` start open. `compact` (the app's Swap
    tab): the source controls two to a row with short uploads, so the source face, the target
    and the Swap button fit on one screen."""
    gr = gradio()
    defaults = defaults or {}
    ctrls = forms.unit_controls()
    made: dict[str, Any] = {}
    groups = list(dict.fromkeys(c.meta.group for c in ctrls))
    for group in [g for g in GROUP_TITLES if g in groups] + [g for g in groups if g not in GROUP_TITLES]:
        members = [c for c in ctrls if c.meta.group == group]
        if group in hidden_groups:
            ctx = gr.Group(visible=False)
        elif group == "source":
            ctx = gr.Group()
        else:
            ctx = gr.Accordion(GROUP_TITLES.get(group, group.capitalize()), open=group in open_groups)
        with ctx:
            rows = _pairs(members) if compact and group == "source" else [[c] for c in members]
            for row in rows:
                with gr.Row() if len(row) > 1 else contextlib.nullcontext():
                    for c in row:
                        made[c.name] = control(
                            c, elem_id=f"{id_prefix}_unit{index + 1}_{c.name}", providers=providers,
                            value=defaults.get(c.name), visible=c.name not in hidden and group not in hidden_groups,
                            height=COMPACT_UPLOAD_HEIGHT if compact else None, compact=compact and group == "source",
                        )  # fmt: skip
    return [made[c.name] for c in ctrls]


COMPACT_UPLOAD_HEIGHT = 180


def _pairs(members: Sequence[Control]) -> list[list[Control]]:
    """Checkboxes on their own line, the other controls two to a row, in order."""
    rows: list[list[Control]] = []
    for c in members:
        if c.meta.kind != CHECKBOX and rows and len(rows[-1]) == 1 and rows[-1][0].meta.kind != CHECKBOX:
            rows[-1].append(c)
        else:
            rows.append([c])
    return rows


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
