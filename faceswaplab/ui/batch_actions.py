"""What the Batch and Dataset panels do, as plain functions testable without gradio: the
panel's named values -> the same `run_batch` / `run_dataset` the CLI calls -> what the panel
shows (a message, a table, thumbnails or the dataset's report images).

The values are the options' own names (BatchOptions, DatasetOptions, PostOptions under
`post`, the unit's controls under `unit`), checked by the options themselves; expected errors
become the message, never an exception.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

from ..batch import BatchOptions, DatasetOptions, run_batch, run_dataset
from ..models import first_run
from ..errors import BadInputError, FaceSwapLabError, OptionsError
from ..options import PostOptions, UnitOptions
from ..options import forms
from ..options.forms import is_upload_path
from ..options.meta import UI, options_of
from .components import md_escape, message
from .confine import check_choices, check_writable, folder_label
from .job_control import JobHooks

TABLE_HEADERS = ["input", "status", "reason", "similarity", "output"]
TABLE_LIMIT = 1000  # rows shown (the manifest has them all)
GALLERY_LIMIT = 24
THUMB_SIDE = 256

Progress = Optional[Callable[[int, int, Any], None]]
StopCheck = Optional[Callable[[], bool]]


# --------------------------------------------------------------------------- inputs, outputs


def upload_paths(uploads: Any) -> list[str]:
    """Paths of uploaded files (gradio 3: tempfile wrappers; 4+: paths or FileData dicts).
    Only files in the upload (temp) folder are taken, as for images (forms.image_value)."""
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
        if not is_upload_path(path):
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
        p = hooks.confine.input_path(text) if hooks.confine is not None else Path(os.path.expanduser(text))
        if not p.is_dir():
            raise BadInputError(f"input folder not found: {os.path.basename(text.rstrip('/')) or text}")
        return str(p.resolve()), None
    if hooks.allow_paths:
        raise OptionsError("give an input folder or upload images")
    raise OptionsError("upload the images to process")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "dataset"


def resolve_output(text: Any, kind: str, hooks: JobHooks, sub: str = "") -> Path:
    """The job's output folder (typed, else the default), created and proven writable: an
    unwritable one is one line naming it, before the job starts."""
    typed = str(text or "").strip() if hooks.allow_paths else ""
    if typed:
        out = hooks.confine.output_path(typed) if hooks.confine is not None else Path(os.path.abspath(os.path.expanduser(typed)))
    elif hooks.default_output is not None:
        base = Path(hooks.default_output(kind))
        out = base / _slug(sub) if sub else base
    else:
        raise OptionsError("give an output folder")
    check_writable(out, folder_label(out, hooks.confine))
    return out


def _unit(values: Mapping[str, Any], where: str, hooks: JobHooks) -> UnitOptions:
    data = dict(values)
    data["enabled"] = True
    if hooks.confine is not None:
        check_choices(data, forms.unit_controls(), hooks.choices, where)
    unit = forms.unit_options(data, where=where, resolve_checkpoint=hooks.resolve_checkpoint)
    if not unit.has_source:
        raise OptionsError(f"{where}: give a source face (a photo or a face checkpoint)")
    return unit


def job_options(cls: type, values: Mapping[str, Any]) -> Any:
    """`cls` (BatchOptions, DatasetOptions) from the panel's values of its controls; a
    missing or None value means the option's default."""
    given = {o.name: values[o.name] for o in options_of(cls, UI) if values.get(o.name) is not None}
    for o in options_of(cls, UI):
        if o.required and o.name not in given:
            given[o.name] = ""  # the option's own check says what is missing (the trigger word)
    return cls(**given)


def post_options(values: Mapping[str, Any], hooks: Optional[JobHooks] = None) -> PostOptions:
    post = dict(values.get("post") or {})
    if hooks is not None and hooks.confine is not None:
        check_choices(post, forms.post_controls(), hooks.choices, "post-processing")
    return PostOptions.from_dict({k: v for k, v in post.items() if v is not None})


# --------------------------------------------------------------------------- results


def summary_markdown(summary: Any, confine: Any = None) -> str:
    """The job's summary line, where its files went (full paths on this computer; relative to
    the app's roots on a network address) and its warnings."""

    def where(p: Any) -> str:
        return md_escape(folder_label(Path(p), confine)) if confine is not None else f"`{p}`"

    lines = [f"**{md_escape(summary.line())}**"]
    if summary.stopped:
        lines.append("Stopped: what was finished is recorded; run again with the same options to continue.")
    lines.append(f"Output folder: {where(summary.output_dir)}")
    if summary.dataset_dir:
        lines.append(f"Training folder: {where(summary.dataset_dir)}; report: {where(summary.report_dir)}")
    if confine is None:
        lines.append(f"Manifest: `{summary.manifest}`")
    for w in summary.warnings:
        lines.append(f"Warning: {message(w)}")
    return "\n\n".join(lines)


def result_rows(summary: Any) -> list[list[Any]]:
    """One row per input; a dataset's swapped images are "kept", as its summary line says."""
    rows = []
    names = {"swapped": "kept"} if getattr(summary, "kind", "") == "dataset" else {}
    for item in summary.items[:TABLE_LIMIT]:
        sim = "" if item.similarity is None else f"{item.similarity:.3f}"
        shown = names.get(item.status, item.status)
        status = f"{shown} (earlier run)" if item.skipped else shown
        out = os.path.relpath(item.output, summary.output_dir) if item.output else ""
        rows.append([item.input, status, clean_reason(item.reason), sim, out])
    return rows


def clean_reason(reason: Any) -> str:
    from .components import clean_text

    return clean_text(reason) if reason else ""


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


def report_image(summary: Any, name: str) -> Any:
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
    engine: Any, values: Mapping[str, Any], hooks: JobHooks, *, progress: Progress = None, should_stop: StopCheck = None
) -> tuple[str, Any, list[Any]]:
    """Run a batch job from the panel's named values (`folder`, `uploads`, `output`, the
    BatchOptions fields, `post` = PostOptions values, `unit` = the unit's values).
    Returns (message, table value, gallery items); expected errors become the message."""
    staging = None
    try:
        unit = _unit(values.get("unit") or {}, "batch unit", hooks)
        options = job_options(BatchOptions, values)
        post = post_options(values, hooks)
        targets, staging = resolve_targets(values.get("folder"), values.get("uploads"), hooks)
        out = resolve_output(values.get("output"), "batch", hooks)
        _started(progress, "loading models and the source face")
        with first_run.progress_to(getattr(progress, "download", None)):  # first use: models fetched
            summary = run_batch(
                targets, out, [unit], engine=engine, options=options, post=post, on_progress=progress, should_stop=should_stop
            )
    except FaceSwapLabError as e:
        return f"**Not run:** {message(e.message)}", table_value([]), []
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    return summary_markdown(summary, hooks.confine), table_value(result_rows(summary)), gallery_items(summary)


def do_dataset(
    engine: Any, values: Mapping[str, Any], hooks: JobHooks, *, progress: Progress = None, should_stop: StopCheck = None
) -> tuple[str, Any, Any, Any]:
    """Run a dataset job from the panel's named values (`folder`, `uploads`, `output`, the
    DatasetOptions fields, `post`, `unit`). Returns (message, table value, contact sheet,
    similarity histogram)."""
    staging = None
    try:
        unit = _unit(values.get("unit") or {}, "dataset identity", hooks)
        options = job_options(DatasetOptions, values)
        post = post_options(values, hooks)
        targets, staging = resolve_targets(values.get("folder"), values.get("uploads"), hooks)
        out = resolve_output(values.get("output"), "dataset", hooks, sub=options.trigger)
        _started(progress, "loading models and the identity")
        with first_run.progress_to(getattr(progress, "download", None)):
            summary = run_dataset(
                targets, out, unit, options, engine=engine, post=post, on_progress=progress, should_stop=should_stop
            )
    except FaceSwapLabError as e:
        return f"**Not run:** {message(e.message)}", table_value([]), None, None
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    return (
        summary_markdown(summary, hooks.confine),
        table_value(result_rows(summary)),
        report_image(summary, "contact_sheet.png"),
        report_image(summary, "similarity_histogram.png"),
    )


__all__ = [
    "do_batch", "do_dataset", "upload_paths", "stage_uploads", "resolve_targets", "resolve_output", "job_options",
    "post_options", "summary_markdown", "result_rows", "table_value", "gallery_items", "report_image",
    "TABLE_HEADERS", "GALLERY_LIMIT", "THUMB_SIDE",
]  # fmt: skip
