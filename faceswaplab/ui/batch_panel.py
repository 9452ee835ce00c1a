"""The "Batch" and "Dataset" panels of the FaceSwapLab tab, shared by the web-ui and the
standalone app: only the gradio wiring. The controls are generated from the options'
metadata (RunOptions / BatchOptions / DatasetOptions, one unit, PostOptions), the actions are
`batch_actions.do_batch` / `do_dataset` (plain functions over `run_batch` / `run_dataset`,
the functions the CLI calls) and Stop and progress are `job_control`'s.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from ..batch import BatchOptions, DatasetOptions
from ..options import forms
from . import components
from .batch_actions import (
    GALLERY_LIMIT,
    TABLE_HEADERS,
    do_batch,
    do_dataset,
    resolve_output,
    resolve_targets,
    upload_paths,
)
from .job_control import JobControl, JobHooks, ProgressReporter

EngineFn = Callable[[], Any]


def _options(gr: Any, cls: type, id_prefix: str, groups: tuple[str, ...], hooks: JobHooks) -> dict[str, Any]:
    """The controls of `cls`'s fields in `groups` (sub-folders only where folders can be typed)."""
    out = {}
    for c in forms.controls(cls):
        if c.meta.group in groups:
            visible = hooks.allow_paths or c.name != "recursive"
            out[c.name] = components.control(c, elem_id=f"{id_prefix}_{c.name}", providers=None, visible=visible)
    return out


def _source_inputs(gr: Any, id_prefix: str, hooks: JobHooks, kind: str, cls: type) -> dict[str, Any]:
    named: dict[str, Any] = {}
    confined = hooks.confine is not None
    named["folder"] = gr.Textbox(
        label="Input folder (inside the app's input folder)" if confined else "Input folder (on the server)",
        placeholder="photos" if confined else "/path/to/photos", visible=hooks.allow_paths,
        elem_id=f"{id_prefix}_folder", max_lines=1,
    )  # fmt: skip
    named["uploads"] = components.files(
        "Images to process" if not hooks.allow_paths else "... or upload images", elem_id=f"{id_prefix}_uploads"
    )
    default = ""
    if hooks.default_output is not None:
        try:
            default = str(hooks.default_output(kind))
            default = hooks.confine.shown(default) if confined else default
        except Exception:
            default = ""
    hint = f"empty: {default}" + ("/<trigger>" if kind == "dataset" else "") if default else "/path/to/output"
    named["output"] = gr.Textbox(
        label="Output folder (inside the app's output folder)" if confined else "Output folder (on the server)",
        placeholder=hint, visible=hooks.allow_paths,
        elem_id=f"{id_prefix}_output", max_lines=1,
    )  # fmt: skip
    with gr.Row():
        named.update(_options(gr, cls, id_prefix, ("run",), hooks))
    return named


def _unit_inputs(gr: Any, id_prefix: str, providers: Any, title: str) -> dict[str, Any]:
    with gr.Accordion(title, open=True):
        comps = components.unit_panel(
            0, id_prefix=id_prefix, providers=providers, defaults={"enabled": True}, hidden=("enabled",)
        )
    return dict(zip(forms.unit_field_names(), comps))


def _post_inputs(gr: Any, id_prefix: str, providers: Any) -> dict[str, Any]:
    with gr.Accordion("Post-processing (every kept image, after the swap)", open=False):
        comps = components.post_panel(id_prefix=id_prefix, providers=providers)
    return dict(zip(forms.post_field_names(), comps))


def _wire(
    gr: Any,
    button: Any,
    inputs: Mapping[str, Mapping[str, Any]],
    outputs: list[Any],
    action: Callable[..., Any],
    engine: EngineFn,
    hooks: JobHooks,
    control: JobControl,
    label: str,
    notes: tuple[Any, Any],
) -> None:
    """Connect `button` to `action`. `inputs` maps "" (the panel's own values), "unit" and
    "post" to named components; they go to gradio as a set (the function gets one dict keyed
    by component), so a gr.Progress parameter can follow it; every gradio release since 3
    supports both. `notes` = (status, message): both are cleared when a run starts (an old
    result or "Stopping: ..." must not look like this run's), the status again when it ends.
    The progress overlay shows on the message only (one indicator per job)."""

    def run(data: Mapping[Any, Any], bar: Any) -> Any:
        values: dict[str, Any] = {name: data.get(comp) for name, comp in inputs[""].items()}
        for key in ("unit", "post"):
            values[key] = {name: data.get(comp) for name, comp in inputs[key].items()}
        reporter = ProgressReporter(label, bar=bar, host=hooks.progress)
        with control.running(f"faceswaplab-{label.lower()}") as should_stop:
            return action(engine(), values, hooks, progress=reporter, should_stop=should_stop)

    if hooks.use_progress:

        def fn(data, progress=gr.Progress()):  # noqa: B008 - gradio finds Progress by its default
            return run(data, progress)

    else:

        def fn(data):  # type: ignore[misc]
            return run(data, None)

    comps = {comp for group in inputs.values() for comp in group.values()}
    status, msg = notes
    start = button.click(lambda: ("", ""), inputs=[], outputs=[status, msg], queue=False)
    job = start.then(fn, inputs=comps, outputs=outputs, **components.progress_on(start.then, outputs[0]))
    job.then(lambda: "", inputs=[], outputs=[status], queue=False)


def _buttons(gr: Any, id_prefix: str, run_label: str) -> tuple[Any, Any, Any, Any]:
    with gr.Row():
        run = gr.Button(run_label, variant="primary", elem_id=f"{id_prefix}_run")
        stop = gr.Button("Stop", variant="stop", elem_id=f"{id_prefix}_stop")
    status = gr.Markdown("", elem_id=f"{id_prefix}_status")
    msg = gr.Markdown("", elem_id=f"{id_prefix}_message")
    return run, stop, status, msg


def build_batch(
    *, engine: EngineFn, providers: components.ChoiceProviders | None, hooks: JobHooks, id_prefix: str = "faceswaplab_batch"
) -> dict[str, Any]:
    """The Batch panel in the current gradio context. Returns its components by name."""
    gr = components.gradio()
    control = JobControl(hooks)
    with gr.Row():
        with gr.Column():
            named = _source_inputs(gr, id_prefix, hooks, "batch", BatchOptions)
            with gr.Row():
                named.update(_options(gr, BatchOptions, id_prefix, ("output",), hooks))
            unit = _unit_inputs(gr, id_prefix, providers, "Face (source and options)")
            post = _post_inputs(gr, id_prefix, providers)
        with gr.Column():
            run, stop, status, msg = _buttons(gr, id_prefix, "Run batch")
            table = gr.Dataframe(headers=list(TABLE_HEADERS), interactive=False, elem_id=f"{id_prefix}_table")
            gallery = gr.Gallery(label=f"Swapped (first {GALLERY_LIMIT})", elem_id=f"{id_prefix}_gallery")
    inputs = {"": named, "unit": unit, "post": post}
    _wire(gr, run, inputs, [msg, table, gallery], do_batch, engine, hooks, control, "Batch", (status, msg))
    stop.click(control.stop, inputs=[], outputs=[status], queue=False)
    return {
        **named, "unit": unit, "post": post, "run": run, "stop": stop, "message": msg, "table": table,
        "gallery": gallery, "control": control,
    }  # fmt: skip


def build_dataset(
    *, engine: EngineFn, providers: components.ChoiceProviders | None, hooks: JobHooks, id_prefix: str = "faceswaplab_dataset"
) -> dict[str, Any]:
    """The Dataset panel (LoRA training set) in the current gradio context."""
    gr = components.gradio()
    control = JobControl(hooks)
    with gr.Row():
        with gr.Column():
            named = _source_inputs(gr, id_prefix, hooks, "dataset", DatasetOptions)
            named.update(_options(gr, DatasetOptions, id_prefix, ("dataset", "output"), hooks))
            with gr.Accordion("Filters (rejected images go to report/rejected/ with the reason)", open=False):
                named.update(_options(gr, DatasetOptions, id_prefix, ("filter",), hooks))
            unit = _unit_inputs(gr, id_prefix, providers, "Identity (source photos or a face checkpoint) and quality")
            post = _post_inputs(gr, id_prefix, providers)
        with gr.Column():
            run, stop, status, msg = _buttons(gr, id_prefix, "Build dataset")
            sheet = gr.Image(label="Contact sheet (kept, then rejected)", interactive=False, type="pil")
            hist = gr.Image(label="Similarity histogram", interactive=False, type="pil")
            table = gr.Dataframe(headers=list(TABLE_HEADERS), interactive=False, elem_id=f"{id_prefix}_table")
    inputs = {"": named, "unit": unit, "post": post}
    _wire(gr, run, inputs, [msg, table, sheet, hist], do_dataset, engine, hooks, control, "Dataset", (status, msg))
    stop.click(control.stop, inputs=[], outputs=[status], queue=False)
    return {**named, "unit": unit, "post": post, "run": run, "stop": stop, "message": msg, "table": table, "control": control}


# The panel's building blocks by their usual names (the tab and the web-ui adapter take
# JobHooks from here).
__all__ = [
    "JobHooks", "JobControl", "ProgressReporter", "do_batch", "do_dataset", "build_batch", "build_dataset",
    "upload_paths", "resolve_targets", "resolve_output",
]  # fmt: skip
