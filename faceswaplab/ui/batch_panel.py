"""The "Batch" and "Dataset" panels of the FaceSwapLab tab, shared by the web-ui and the
standalone app: a folder (or uploaded images) through `faceswaplab.batch.run_batch` /
`run_dataset`, the same functions the CLI calls, with a progress bar and a Stop button.

Host-independent: the host describes itself with `JobHooks`. In the web-ui a job waits for
the web-ui's queue lock, shows in `shared.state` and stops on the web-ui's Interrupt (the
adapter in `faceswaplab.webui.host`); in the app the panel's Stop button is enough.

The actions (`do_batch`, `do_dataset`) are plain functions returning what the panel shows,
testable without gradio; `build_batch` / `build_dataset` only wire them to components.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ContextManager, Iterator, Mapping, Optional, Sequence

from ..errors import BadInputError, FaceSwapLabError, OptionsError
from . import components, spec

log = logging.getLogger("faceswaplab")

EngineFn = Callable[[], Any]
# progress(done, total, text): a host's own progress display (the web-ui's shared.state).
HostProgress = Callable[[int, int, str], None]

TABLE_HEADERS = ["input", "status", "reason", "similarity", "output"]
TABLE_LIMIT = 1000  # rows shown (the manifest has them all)
GALLERY_LIMIT = 24
THUMB_SIDE = 256
WORKERS_MAX = 8
FORMAT_CHOICES = ("same", "png", "jpg", "webp", "bmp", "tif")


@dataclass
class JobHooks:
    """What the host adds to a folder job.

    - `context(name)`: a context manager around the whole job (web-ui: its queue lock, so a
      job never runs beside a generation, and shared.state.begin/end);
    - `interrupted()`: the host's interrupt flag, polled with the panel's Stop;
    - `interrupt()`: what Stop also does while a job of this panel runs (web-ui:
      shared.state.interrupt(), so the web-ui's progress shows the job stopping);
    - `progress(done, total, text)`: the host's own progress display;
    - `default_output(kind)`: the output folder when none is typed ("batch" / "dataset");
    - `allow_paths`: folders on the server may be typed (the web-ui's --hide-ui-dir-config
      turns this off: uploads only, outputs in the default folder);
    - `use_progress`: drive a gr.Progress bar (needs the gradio queue; the web-ui's
      --no-gradio-queue turns it off);
    - `resolve_checkpoint(name)`: a checkpoint dropdown name -> what the core loads.
    """

    context: Optional[Callable[[str], ContextManager[Any]]] = None
    interrupted: Optional[Callable[[], bool]] = None
    interrupt: Optional[Callable[[], None]] = None
    progress: Optional[HostProgress] = None
    default_output: Optional[Callable[[str], Path]] = None
    allow_paths: bool = True
    use_progress: bool = True
    resolve_checkpoint: Optional[Callable[[str], str]] = None


class JobControl:
    """Stop for one panel: Stop sets an event the running job polls, together with the
    host's interrupt. Stop outside a running job does nothing (in the web-ui it must not
    interrupt a generation)."""

    def __init__(self, hooks: JobHooks) -> None:
        self.hooks = hooks
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._running = 0

    @contextlib.contextmanager
    def running(self, name: str) -> Iterator[Callable[[], bool]]:
        """Clear a stale Stop, enter the host's context (this may wait for the web-ui's
        queue), and yield `should_stop`. A Stop pressed while waiting still counts."""
        self._event.clear()
        ctx = self.hooks.context(name) if self.hooks.context is not None else contextlib.nullcontext()
        with ctx:
            with self._lock:
                self._running += 1
            try:
                yield self.should_stop
            finally:
                with self._lock:
                    self._running -= 1

    @property
    def is_running(self) -> bool:
        with self._lock:
            return self._running > 0

    def should_stop(self) -> bool:
        if self._event.is_set():
            return True
        fn = self.hooks.interrupted
        try:
            return bool(fn is not None and fn())
        except Exception:  # a broken host hook must not stop or break the job
            return False

    def stop(self) -> str:
        if not self.is_running:
            self._event.set()  # a job still waiting for the host's queue stops when it starts
            return "No job is running."
        self._event.set()
        if self.hooks.interrupt is not None:
            try:
                self.hooks.interrupt()
            except Exception as e:
                log.warning("FaceSwapLab: host interrupt failed: %s", e)
        return "Stopping: the images in progress are finished and recorded, then the job ends. Run again to continue."


class ProgressReporter:
    """on_progress(done, total, item) for run_batch/run_dataset -> a gr.Progress (or any
    callable taking ((done, total), desc=..., unit=...)) and the host's progress."""

    def __init__(self, label: str, bar: Any = None, host: Optional[HostProgress] = None) -> None:
        self.label = label
        self.bar = bar
        self.host = host
        self.counts: Counter[str] = Counter()
        self.calls = 0

    def start(self, text: str) -> None:
        self._show(0, None, f"{self.label}: {text}")

    def __call__(self, done: int, total: int, item: Any) -> None:
        self.calls += 1
        self.counts["done earlier" if item.skipped else item.status] += 1
        text = f"{self.label} {done}/{total}: {item.input} {'(done earlier)' if item.skipped else item.status}"
        self._show(done, total, text)

    def _show(self, done: int, total: Optional[int], text: str) -> None:
        if self.bar is not None:
            try:
                self.bar((done, total) if total else 0.0, desc=text, unit="images")
            except Exception as e:  # progress display must never break a job
                log.debug("progress display failed: %s", e)
        if self.host is not None:
            try:
                self.host(done, total or 0, text)
            except Exception as e:
                log.debug("host progress failed: %s", e)


# --------------------------------------------------------------------------- inputs, outputs


def upload_paths(uploads: Any) -> list[str]:
    """Paths of uploaded files (gradio 3: tempfile wrappers; 4+: paths or FileData dicts).
    Only files in the upload (temp) folder are taken, as for images (spec.image_value)."""
    if uploads is None:
        return []
    items = uploads if isinstance(uploads, (list, tuple)) else [uploads]
    out = []
    for item in items:
        path = None
        if isinstance(item, str):
            path = item
        elif isinstance(item, Mapping):
            path = item.get("path") or item.get("name")
        else:
            path = getattr(item, "name", None) or getattr(item, "path", None)
        if not isinstance(path, str) or not path:
            continue
        if not spec._upload_path(path):
            raise BadInputError(f"uploaded file not found in the upload folder: {os.path.basename(path)}")
        out.append(path)
    return out


def stage_uploads(paths: Sequence[str]) -> Path:
    """Copy the uploads into one new temporary folder under their own names (gradio keeps
    each upload in its own hashed folder), so the job's input names are the file names."""
    staging = Path(tempfile.mkdtemp(prefix="faceswaplab-upload-"))
    used: set[str] = set()
    for p in paths:
        name = os.path.basename(p) or "image.png"
        stem, ext = os.path.splitext(name)
        candidate, n = name, 1
        while candidate.lower() in used:
            n += 1
            candidate = f"{stem}-{n}{ext}"
        used.add(candidate.lower())
        shutil.copyfile(p, staging / candidate)
    return staging


def resolve_targets(folder: Any, uploads: Any, hooks: JobHooks) -> tuple[Any, Optional[Path]]:
    """(what the job reads, a staging folder to remove afterwards or None)."""
    paths = upload_paths(uploads)
    text = str(folder or "").strip() if hooks.allow_paths else ""
    if paths and text:
        raise OptionsError("give either an input folder or uploaded images, not both")
    if paths:
        staging = stage_uploads(paths)
        return str(staging), staging
    if text:
        p = Path(os.path.expanduser(text))
        if not p.is_dir():
            raise BadInputError(f"input folder not found: {text}")
        return str(p.resolve()), None
    if hooks.allow_paths:
        raise OptionsError("give an input folder or upload images")
    raise OptionsError("upload the images to process")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "dataset"


def resolve_output(text: Any, kind: str, hooks: JobHooks, sub: str = "") -> Path:
    typed = str(text or "").strip() if hooks.allow_paths else ""
    if typed:
        return Path(os.path.abspath(os.path.expanduser(typed)))
    if hooks.default_output is not None:
        base = Path(hooks.default_output(kind))
        return base / _slug(sub) if sub else base
    raise OptionsError("give an output folder")


def _unit(values: Mapping[str, Any], where: str, hooks: JobHooks) -> Any:
    data = dict(values)
    data["enabled"] = True
    unit = spec.unit_options(data, where=where, resolve_checkpoint=hooks.resolve_checkpoint)
    if not unit.has_source:
        raise OptionsError(f"{where}: give a source face (a photo or a face checkpoint)")
    return unit


def _int(name: str, v: Any, lo: int, hi: int) -> int:
    try:
        n = int(float(v))
    except (TypeError, ValueError):
        raise OptionsError(f"{name} must be a whole number, got {v!r}") from None
    if not lo <= n <= hi:
        raise OptionsError(f"{name} must be from {lo} to {hi}, got {n}")
    return n


def _float(name: str, v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        raise OptionsError(f"{name} must be a number, got {v!r}") from None


# --------------------------------------------------------------------------- results


def summary_markdown(summary: Any) -> str:
    esc = components.md_escape
    lines = [f"**{esc(summary.line())}**"]
    if summary.stopped:
        lines.append("Stopped: what was finished is recorded; run again with the same options to continue.")
    lines.append(f"Output folder: `{summary.output_dir}`")
    if summary.dataset_dir:
        lines.append(f"Training folder: `{summary.dataset_dir}`; report: `{summary.report_dir}`")
    lines.append(f"Manifest: `{summary.manifest}`")
    for w in summary.warnings:
        lines.append(f"Warning: {esc(w)}")
    return "\n\n".join(lines)


def result_rows(summary: Any) -> list[list[Any]]:
    rows = []
    for item in summary.items[:TABLE_LIMIT]:
        sim = "" if item.similarity is None else f"{item.similarity:.3f}"
        status = f"{item.status} (earlier run)" if item.skipped else item.status
        out = os.path.relpath(item.output, summary.output_dir) if item.output else ""
        rows.append([item.input, status, item.reason or "", sim, out])
    return rows


def table_value(rows: list[list[Any]]) -> Any:
    """A Dataframe value every gradio release takes, also when there is no row."""
    return {"headers": list(TABLE_HEADERS), "data": rows or [[""] * len(TABLE_HEADERS)]}


def _thumb(path: str) -> Any:
    from PIL import Image

    with Image.open(path) as im:
        im.thumbnail((THUMB_SIDE, THUMB_SIDE))
        return im.convert("RGB")


def gallery_items(summary: Any) -> list[tuple[Any, str]]:
    """Thumbnails of the swapped (kept) outputs, as images: gradio 5+ serves only files in
    its own folders, and an output folder can be anywhere."""
    out = []
    for item in summary.items:
        if len(out) >= GALLERY_LIMIT:
            break
        if item.status != "swapped" or not item.output:
            continue
        try:
            out.append((_thumb(item.output), item.input))
        except Exception:  # a file moved away since: skip it in the preview
            continue
    return out


def _report_image(summary: Any, name: str) -> Any:
    if not summary.report_dir:
        return None
    p = Path(summary.report_dir) / name
    if not p.is_file():
        return None
    from PIL import Image

    with Image.open(p) as im:
        return im.convert("RGB")


# --------------------------------------------------------------------------- actions


def _started(progress: Any, text: str) -> None:
    start = getattr(progress, "start", None)
    if start is not None:
        start(text)


def do_batch(
    engine: Any,
    values: Mapping[str, Any],
    hooks: JobHooks,
    *,
    progress: Optional[Callable[[int, int, Any], None]] = None,
    should_stop: Optional[Callable[[], bool]] = None,
) -> tuple[str, Any, list[Any]]:
    """Run a batch job from the panel's named values (`folder`, `uploads`, `output`,
    `recursive`, `workers`, `output_format`, `quality`, `redo`, `unit` = the unit's values).
    Returns (message, table value, gallery items); expected errors become the message."""
    from ..batch import BatchOptions, run_batch

    staging = None
    try:
        unit = _unit(values.get("unit") or {}, "batch unit", hooks)
        options = BatchOptions(
            recursive=bool(values.get("recursive")),
            workers=_int("workers", values.get("workers", 1), 1, 64),
            output_format=str(values.get("output_format") or "same"),
            quality=_int("quality", values.get("quality", 95), 1, 100),
            redo=bool(values.get("redo")),
        )
        targets, staging = resolve_targets(values.get("folder"), values.get("uploads"), hooks)
        out = resolve_output(values.get("output"), "batch", hooks)
        _started(progress, "loading models and the source face")
        summary = run_batch(
            targets, out, [unit], engine=engine, options=options, on_progress=progress, should_stop=should_stop
        )
    except FaceSwapLabError as e:
        return f"**Not run:** {components.md_escape(e.message)}", table_value([]), []
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    return summary_markdown(summary), table_value(result_rows(summary)), gallery_items(summary)


def do_dataset(
    engine: Any,
    values: Mapping[str, Any],
    hooks: JobHooks,
    *,
    progress: Optional[Callable[[int, int, Any], None]] = None,
    should_stop: Optional[Callable[[], bool]] = None,
) -> tuple[str, Any, Any, Any]:
    """Run a dataset job from the panel's named values (`folder`, `uploads`, `output`,
    `trigger`, `repeats`, `caption`, `min_similarity`, `min_det_score`, `min_face_size`,
    `single_face`, `recursive`, `workers`, `redo`, `unit`). Returns (message, table value,
    contact sheet, similarity histogram)."""
    from ..batch import DatasetOptions, run_dataset

    staging = None
    try:
        unit = _unit(values.get("unit") or {}, "dataset identity", hooks)
        options = DatasetOptions(
            trigger=str(values.get("trigger") or ""),
            repeats=_int("repeats", values.get("repeats", 10), 1, 10000),
            caption=str(values.get("caption") or ""),
            min_similarity=_float("min_similarity", values.get("min_similarity", 0.0)),
            min_det_score=_float("min_det_score", values.get("min_det_score", 0.0)),
            min_face_size=_int("min_face_size", values.get("min_face_size", 64), 0, 100000),
            single_face=bool(values.get("single_face", True)),
            recursive=bool(values.get("recursive")),
            workers=_int("workers", values.get("workers", 1), 1, 64),
            redo=bool(values.get("redo")),
        )
        targets, staging = resolve_targets(values.get("folder"), values.get("uploads"), hooks)
        out = resolve_output(values.get("output"), "dataset", hooks, sub=options.trigger)
        _started(progress, "loading models and the identity")
        summary = run_dataset(targets, out, unit, options, engine=engine, on_progress=progress, should_stop=should_stop)
    except FaceSwapLabError as e:
        return f"**Not run:** {components.md_escape(e.message)}", table_value([]), None, None
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    return (
        summary_markdown(summary),
        table_value(result_rows(summary)),
        _report_image(summary, "contact_sheet.png"),
        _report_image(summary, "similarity_histogram.png"),
    )


# --------------------------------------------------------------------------- gradio wiring


def _source_inputs(gr: Any, id_prefix: str, hooks: JobHooks, kind: str) -> dict[str, Any]:
    named: dict[str, Any] = {}
    named["folder"] = gr.Textbox(
        label="Input folder (on the server)", placeholder="/path/to/photos", visible=hooks.allow_paths,
        elem_id=f"{id_prefix}_folder", max_lines=1,
    )  # fmt: skip
    named["uploads"] = components.files(
        "Images to process" if not hooks.allow_paths else "... or upload images", elem_id=f"{id_prefix}_uploads"
    )
    default = ""
    if hooks.default_output is not None:
        try:
            default = str(hooks.default_output(kind))
        except Exception:
            default = ""
    hint = f"empty: {default}" + ("/<trigger>" if kind == "dataset" else "") if default else "/path/to/output"
    named["output"] = gr.Textbox(
        label="Output folder (on the server)", placeholder=hint, visible=hooks.allow_paths,
        elem_id=f"{id_prefix}_output", max_lines=1,
    )  # fmt: skip
    with gr.Row():
        named["recursive"] = gr.Checkbox(label="Include sub-folders", value=False, visible=hooks.allow_paths)
        named["redo"] = gr.Checkbox(label="Redo everything (ignore the manifest)", value=False)
    named["workers"] = gr.Slider(
        label="Workers (images processed at once)", minimum=1, maximum=WORKERS_MAX, step=1, value=1
    )
    return named


def _unit_inputs(gr: Any, id_prefix: str, providers: Any, title: str) -> dict[str, Any]:
    with gr.Accordion(title, open=True):
        comps = components.unit_panel(
            0, id_prefix=id_prefix, providers=providers, defaults={"enabled": True}, hidden=("enabled",)
        )
    return dict(zip(spec.unit_field_names(), comps))


def _wire(
    gr: Any,
    button: Any,
    named: Mapping[str, Any],
    unit: Mapping[str, Any],
    outputs: list[Any],
    action: Callable[..., Any],
    engine: EngineFn,
    hooks: JobHooks,
    control: JobControl,
    label: str,
) -> None:
    """Connect `button` to `action`. Inputs go as a set (the function gets one dict keyed
    by component), so a gr.Progress parameter can follow it; every gradio release since 3
    supports both."""
    by_comp = [(name, comp) for name, comp in named.items()]
    unit_comps = [(name, comp) for name, comp in unit.items()]

    def run(data: Mapping[Any, Any], bar: Any) -> Any:
        values = {name: data.get(comp) for name, comp in by_comp}
        values["unit"] = {name: data.get(comp) for name, comp in unit_comps}
        reporter = ProgressReporter(label, bar=bar, host=hooks.progress)
        with control.running(f"faceswaplab-{label.lower()}") as should_stop:
            return action(engine(), values, hooks, progress=reporter, should_stop=should_stop)

    if hooks.use_progress:

        def fn(data, progress=gr.Progress()):  # noqa: B008 - gradio finds Progress by its default
            return run(data, progress)

    else:

        def fn(data):  # type: ignore[misc]
            return run(data, None)

    inputs = {comp for _, comp in by_comp} | {comp for _, comp in unit_comps}
    button.click(fn, inputs=inputs, outputs=outputs)


def build_batch(
    *, engine: EngineFn, providers: components.ChoiceProviders | None, hooks: JobHooks, id_prefix: str = "faceswaplab_batch"
) -> dict[str, Any]:
    """The Batch panel in the current gradio context. Returns its components by name."""
    gr = components.gradio()
    control = JobControl(hooks)
    with gr.Row():
        with gr.Column():
            named = _source_inputs(gr, id_prefix, hooks, "batch")
            with gr.Row():
                named["output_format"] = gr.Dropdown(label="Output format", choices=list(FORMAT_CHOICES), value="same")
                named["quality"] = gr.Slider(label="JPEG/WebP quality", minimum=1, maximum=100, step=1, value=95)
            unit = _unit_inputs(gr, id_prefix, providers, "Face (source and options)")
        with gr.Column():
            with gr.Row():
                run = gr.Button("Run batch", variant="primary", elem_id=f"{id_prefix}_run")
                stop = gr.Button("Stop", variant="stop", elem_id=f"{id_prefix}_stop")
            status = gr.Markdown("", elem_id=f"{id_prefix}_status")
            msg = gr.Markdown("", elem_id=f"{id_prefix}_message")
            table = gr.Dataframe(headers=list(TABLE_HEADERS), interactive=False, elem_id=f"{id_prefix}_table")
            gallery = gr.Gallery(label=f"Swapped (first {GALLERY_LIMIT})", elem_id=f"{id_prefix}_gallery")
    _wire(gr, run, named, unit, [msg, table, gallery], do_batch, engine, hooks, control, "Batch")
    stop.click(control.stop, inputs=[], outputs=[status], queue=False)
    return {**named, "unit": unit, "run": run, "stop": stop, "message": msg, "table": table, "gallery": gallery, "control": control}


def build_dataset(
    *, engine: EngineFn, providers: components.ChoiceProviders | None, hooks: JobHooks, id_prefix: str = "faceswaplab_dataset"
) -> dict[str, Any]:
    """The Dataset panel (LoRA training set) in the current gradio context."""
    from ..batch import DEFAULT_CAPTION

    gr = components.gradio()
    control = JobControl(hooks)
    with gr.Row():
        with gr.Column():
            named = _source_inputs(gr, id_prefix, hooks, "dataset")
            with gr.Row():
                named["trigger"] = gr.Textbox(label="Trigger word", placeholder="ohwx woman", elem_id=f"{id_prefix}_trigger", max_lines=1)
                named["repeats"] = gr.Number(label="Repeats (folder <repeats>_<trigger>)", value=10, precision=0)
            named["caption"] = gr.Textbox(label="Caption template ({trigger}, {name})", value=DEFAULT_CAPTION, max_lines=1)
            with gr.Accordion("Filters (rejected images go to report/rejected/ with the reason)", open=False):
                named["single_face"] = gr.Checkbox(label="Exactly one face per photo", value=True)
                named["min_face_size"] = gr.Number(label="Minimum face size (px, shorter side)", value=64, precision=0)
                named["min_det_score"] = gr.Slider(label="Minimum detection score", minimum=0.0, maximum=1.0, step=0.01, value=0.0)
                named["min_similarity"] = gr.Slider(
                    label="Minimum similarity of the result to the identity", minimum=0.0, maximum=1.0, step=0.01, value=0.0
                )
            unit = _unit_inputs(gr, id_prefix, providers, "Identity (source photos or a face checkpoint) and quality")
        with gr.Column():
            with gr.Row():
                run = gr.Button("Build dataset", variant="primary", elem_id=f"{id_prefix}_run")
                stop = gr.Button("Stop", variant="stop", elem_id=f"{id_prefix}_stop")
            status = gr.Markdown("", elem_id=f"{id_prefix}_status")
            msg = gr.Markdown("", elem_id=f"{id_prefix}_message")
            sheet = gr.Image(label="Contact sheet (kept, then rejected)", interactive=False, type="pil")
            hist = gr.Image(label="Similarity histogram", interactive=False, type="pil")
            table = gr.Dataframe(headers=list(TABLE_HEADERS), interactive=False, elem_id=f"{id_prefix}_table")
    _wire(gr, run, named, unit, [msg, table, sheet, hist], do_dataset, engine, hooks, control, "Dataset")
    stop.click(control.stop, inputs=[], outputs=[status], queue=False)
    return {**named, "unit": unit, "run": run, "stop": stop, "message": msg, "table": table, "control": control}


__all__ = [
    "JobHooks",
    "JobControl",
    "ProgressReporter",
    "do_batch",
    "do_dataset",
    "build_batch",
    "build_dataset",
    "upload_paths",
    "resolve_targets",
    "resolve_output",
]
