"""The "FaceSwapLab" tab: build / list / delete face checkpoints, compare two faces, extract
faces, analyse an image, batch and dataset jobs (`batch_panel`). Host-independent (the web-ui
and the standalone app both use it): the caller passes how to get the engine, the checkpoints
folder and how the host runs folder jobs.

The actions are plain functions (`do_build`, `do_compare`...) returning (value, message) so
they are testable without gradio; the gradio wiring only connects them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from ..checkpoints.library import checkpoint_folder, list_checkpoints, sanitize_name
from ..errors import FaceSwapLabError
from ..options import forms
from . import batch_panel, components
from .components import message as esc

EngineFn = Callable[[], Any]


def _paths(files: Any) -> list[Any]:
    return forms.images_value(files, "photo")


def _folder(engine: Any, checkpoints_dir: Optional[Callable[[], Path]]) -> Path:
    if checkpoints_dir is not None:
        return Path(checkpoints_dir())
    return checkpoint_folder(engine.store)


def do_build(engine: Any, files: Any, name: str, gender: str, overwrite: bool, preview: Any, folder: Path) -> tuple[Any, str]:
    """Build through the core's `build_checkpoint` (which runs the content filter), so the tab
    refuses exactly what the CLI and the API refuse."""
    from ..checkpoints.build import build_checkpoint  # lazy: the pipeline loads on first use, not at web-ui start

    try:
        images = _paths(files)
        prev = forms.image_value(preview, "preview image")
        res = build_checkpoint(
            engine, images, name, output_dir=folder, gender=(gender or "auto"), overwrite=bool(overwrite), preview=prev
        )
    except FaceSwapLabError as e:
        return None, f"**Not built:** {esc(e.message)}"
    d = res.to_dict()
    msg = f"Saved **{esc(d['name'])}** from {len(d['used'])} photo(s) (gender {d['gender']}, age {d['age']})."
    if d["skipped"]:
        msg += " Skipped: " + esc("; ".join(d["skipped"]))
    if d["warnings"]:
        msg += " " + esc("; ".join(d["warnings"]))
    preview_img = None
    if res.preview is not None:
        from ..imageio import load_image

        preview_img = load_image(res.preview).rgb
    return preview_img, msg


def list_rows(folder: Path) -> list[list[Any]]:
    """One row per checkpoint file, read from the headers afresh (no restart after adding)."""
    return [
        [i.name, i.samples, i.created or "", "ok" if i.ok else components.clean_text(i.error or "refused")]
        for i in list_checkpoints(None, include_refused=True, folder=folder)
    ]


def do_delete(name: str, folder: Path) -> str:
    if not name or forms.is_none_choice(name):
        return "Choose a checkpoint to delete."
    try:
        stem = sanitize_name(name)
    except FaceSwapLabError as e:
        return esc(e.message)
    p = folder / f"{stem}.safetensors"
    if not p.is_file():
        return esc(f"No checkpoint named {name!r} in the checkpoints folder.")
    p.unlink()
    png = p.with_suffix(".png")
    if png.is_file():
        png.unlink()
    return f"Deleted {esc(stem)}."


def do_compare(engine: Any, a: Any, b: Any) -> str:
    from ..compare import compare_faces

    try:
        ia, ib = forms.image_value(a, "image A"), forms.image_value(b, "image B")
        if ia is None or ib is None:
            return "Give two images."
        res = compare_faces(engine, ia, ib)
    except FaceSwapLabError as e:
        return esc(e.message)
    return f"Similarity: **{res.similarity:.3f}** (1 = same face)"


def do_extract(engine: Any, image: Any, aligned: bool) -> tuple[list[Any], str]:
    from ..extract import extract_faces

    try:
        img = forms.image_value(image, "image")
        if img is None:
            return [], "Give an image."
        faces = extract_faces(engine, img, aligned_size=512 if aligned else None)
    except FaceSwapLabError as e:
        return [], esc(e.message)
    return [f.rgb for f in faces], f"{len(faces)} face(s)"


def label_origin(label: str, box: tuple[int, int, int, int], shape: Sequence[int], scale: float, thick: int) -> tuple[int, int]:
    """Where a face's label goes so that all of it is inside the image: above the box, or
    inside its top when there is no room above; shifted left at the right edge."""
    import cv2

    (w, h), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    x0, y0 = box[0], box[1]
    x = max(0, min(x0, int(shape[1]) - w - 1))
    y = y0 - 4 if y0 - 4 - h >= 0 else y0 + h + 4
    return x, max(h + 1, min(y, int(shape[0]) - base - 1))


def do_analyse(engine: Any, image: Any) -> tuple[Any, str]:
    """Faces with boxes, score, gender and age drawn on the image."""
    import cv2

    from ..analysis.selection import sort_faces

    try:
        img = forms.image_value(image, "image")
        if img is None:
            return None, "Give an image."
        loaded, faces = engine.analyse(img, what="image", attributes=True)
    except FaceSwapLabError as e:
        return None, components.clean_text(e.message)
    out = loaded.rgb.copy()
    lines = []
    thick = max(1, round(max(out.shape[:2]) / 400))
    for i, f in enumerate(sort_faces(faces, "left-right")):
        x0, y0, x1, y1 = (int(round(v)) for v in f.bbox)
        cv2.rectangle(out, (x0, y0), (x1, y1), (0, 255, 0), thick)
        label = f"{i}: {f.det_score:.2f} {f.gender or '?'} {f.age if f.age is not None else '?'}"
        cv2.putText(out, label, label_origin(label, (x0, y0, x1, y1), out.shape, 0.4 * thick, thick),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.4 * thick, (0, 255, 0), thick)  # fmt: skip
        lines.append(f"face {i}: box {[x0, y0, x1, y1]}, score {f.det_score:.2f}, gender {f.gender}, age {f.age}")
    return out, ("\n".join(lines) if lines else "no face found")


def build(
    *,
    engine: EngineFn,
    providers: components.ChoiceProviders | None = None,
    checkpoints_dir: Optional[Callable[[], Path]] = None,
    jobs: Optional[batch_panel.JobHooks] = None,
) -> Any:
    """The tab's gr.Blocks (the web-ui's FaceSwapLab tab)."""
    gr = components.gradio()
    with gr.Blocks(analytics_enabled=False) as blocks:
        build_tabs(engine=engine, providers=providers, checkpoints_dir=checkpoints_dir, jobs=jobs)
    return blocks


def build_tabs(
    *,
    engine: EngineFn,
    providers: components.ChoiceProviders | None = None,
    checkpoints_dir: Optional[Callable[[], Path]] = None,
    jobs: Optional[batch_panel.JobHooks] = None,
    refresh_with: Sequence[Any] = (),
) -> dict[str, Any]:
    """The tab's sub-tabs, in the current gradio context (the web-ui's tab Blocks, or the
    standalone app's Blocks next to its Swap tab): Build checkpoint, Checkpoints, Compare,
    Extract faces, Analyse, Batch, Dataset. `jobs`: how the host runs folder jobs.

    A build or a delete refreshes the checkpoint list, the Checkpoints table and every
    checkpoint dropdown (the tab's own and those in `refresh_with`, from
    `components.collect_dropdowns`). Returns `refresh` (a function giving the table and
    delete-list values, for a host's page-load event) and the tab's `dropdowns`."""
    gr = components.gradio()
    jobs = jobs or batch_panel.JobHooks()
    with components.collect_dropdowns() as dropdowns:
        parts = _build_tabs(gr, engine, providers, checkpoints_dir, jobs)
    every = list(refresh_with) + list(dropdowns)
    for event in parts.pop("changed"):
        components.refresh_dropdowns(gr, event.then, every, kind="checkpoints")
    return {**parts, "dropdowns": list(dropdowns)}


def _build_tabs(gr: Any, engine: EngineFn, providers: Any, checkpoints_dir: Any, jobs: batch_panel.JobHooks) -> dict[str, Any]:

    def folder() -> Path:
        return _folder(engine(), checkpoints_dir)

    with gr.Tab("Build checkpoint"):
        with gr.Row():
            with gr.Column():
                files = components.files("Photos of one person", elem_id="faceswaplab_build_files")
                name = gr.Textbox(label="Name", elem_id="faceswaplab_build_name")
                gender = gr.Radio(["auto", "female", "male"], value="auto", label="Gender")
                overwrite = gr.Checkbox(label="Overwrite an existing checkpoint of that name", value=False)
                preview_in = components.image("Preview target (optional)", elem_id="faceswaplab_build_preview_in")
                go = gr.Button("Build", variant="primary", elem_id="faceswaplab_build_go")
            with gr.Column():
                preview = gr.Image(label="Preview", interactive=False)
                msg = gr.Markdown("", elem_id="faceswaplab_build_message")
        built = go.click(lambda *a: do_build(engine(), *a, folder()), [files, name, gender, overwrite, preview_in], [preview, msg])
    with gr.Tab("Checkpoints"):
        table = gr.Dataframe(headers=["name", "samples", "created", "status"], interactive=False)
        with gr.Row():
            refresh = gr.Button("Refresh list")
            to_delete = components.dropdown("Checkpoint", [forms.NONE], forms.NONE)
            delete = gr.Button("Delete", variant="stop")
        del_msg = gr.Markdown("")

        def refresh_all() -> tuple[Any, Any]:
            rows = list_rows(folder())
            return rows, components.update(choices=[forms.NONE] + [r[0] for r in rows], value=forms.NONE)

        refresh.click(refresh_all, [], [table, to_delete])
        deleted = delete.click(lambda n: do_delete(n, folder()), [to_delete], [del_msg])
        changed = [e.then(refresh_all, [], [table, to_delete]) for e in (built, deleted)]
    with gr.Tab("Compare"):
        with gr.Row():
            a = components.image("Face A")
            b = components.image("Face B")
        cmp_btn = gr.Button("Compare")
        cmp_msg = gr.Markdown("")
        cmp_btn.click(lambda x, y: do_compare(engine(), x, y), [a, b], [cmp_msg])
    with gr.Tab("Extract faces"):
        ex_in = components.image("Image")
        aligned = gr.Checkbox(label="Aligned 512 px crops (else boxes with margin)", value=False)
        ex_btn = gr.Button("Extract")
        gallery = gr.Gallery(label="Faces")
        ex_msg = gr.Markdown("")
        ex_btn.click(lambda x, al: do_extract(engine(), x, al), [ex_in, aligned], [gallery, ex_msg])
    with gr.Tab("Analyse"):
        an_in = components.image("Image")
        an_btn = gr.Button("Analyse")
        an_out = gr.Image(label="Faces", interactive=False)
        an_msg = gr.Textbox(label="Faces found", lines=4, max_lines=30)
        an_btn.click(lambda x: do_analyse(engine(), x), [an_in], [an_out, an_msg])
    with gr.Tab("Batch"):
        batch_panel.build_batch(engine=engine, providers=providers, hooks=jobs)
    with gr.Tab("Dataset"):
        batch_panel.build_dataset(engine=engine, providers=providers, hooks=jobs)
    return {"refresh": refresh_all, "refresh_outputs": [table, to_delete], "changed": changed}


__all__ = ["build", "build_tabs", "do_build", "do_compare", "do_extract", "do_analyse", "do_delete", "list_rows"]
