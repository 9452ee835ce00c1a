"""The app's "Video" tab: a clip (upload or a path on the server), one face unit, the video
options, a preview of one frame before running, progress with ETA, Stop, and the result in a
player with the track report.

The actions (`preview_frame`, `do_video`) are plain functions over the core (`swap_image` for
the preview, `run_video` for the job: the functions the CLI calls), so they are tested
without gradio; `build_video_tab` is only the wiring. Controls are generated from the
options' metadata (UnitOptions, PostOptions, VideoOptions).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

import numpy as np

from ..errors import BadInputError, FaceSwapLabError
from ..options import PostOptions, VideoOptions, forms
from . import components
from .confine import check_choices, check_writable, folder_label
from .job_control import JobControl, JobHooks

VIDEO_ID = "faceswaplab_video"
Progress = Callable[[str, int, int], None]


def resolve_video(upload: Any, path: Any, confine: Any = None) -> str:
    """The clip to swap: an upload (a file path from gr.Video / gr.File) or a typed path
    (inside the input root when `confine`d)."""
    for typed, v in ((False, upload), (True, path)):
        if isinstance(v, dict):
            v = v.get("path") or v.get("name") or v.get("video")
        v = getattr(v, "name", v)
        if isinstance(v, str) and v.strip():
            if typed and confine is not None:
                return str(confine.input_path(v.strip(), "video file"))
            return v.strip()
    raise BadInputError("give a video: upload one or type its path on the server")


def _unit(unit_values: Mapping[str, Any]) -> Any:
    values = dict(unit_values)
    values["enabled"] = True
    return forms.unit_options(values, where="video unit")


def _post(post_values: Optional[Mapping[str, Any]]) -> PostOptions:
    return PostOptions.from_dict({k: v for k, v in (post_values or {}).items() if v is not None})


def _video_options(values: Optional[Mapping[str, Any]]) -> VideoOptions:
    return VideoOptions.from_dict({k: v for k, v in (values or {}).items() if v is not None})


def preview_frame(engine: Any, video: str, at: float, unit_values: Mapping[str, Any],
                  post_values: Optional[Mapping[str, Any]] = None) -> tuple[Optional[np.ndarray], str]:  # fmt: skip
    """One frame at `at` seconds swapped with the image pipeline (what the job does to a frame
    before smoothing), and a message. Expected errors become the message."""
    from ..pipeline import swap_image
    from ..video import io as vio

    try:
        info = vio.probe(video)
        frame = None
        for fr in vio.decode(video, info):
            frame = fr
            if fr.time >= float(at or 0.0) - 1e-9:
                break
        if frame is None:
            return None, "The video has no frames."
        result = swap_image(frame.rgb, [_unit(unit_values)], _post(post_values), engine=engine)
    except FaceSwapLabError as e:
        return None, f"**No preview:** {components.message(e.message)}"
    r = result.report
    text = components.message(r.summary()) if r.swapped else f"**Nothing swapped:** {components.message(r.nothing_swapped_reason())}"
    return result.rgb, f"Frame at {frame.time:.2f} s: {text}"


class EtaProgress:
    """run_video's (phase, done, total) -> a gr.Progress-like callable, with the ETA of the
    current phase in its text."""

    def __init__(self, bar: Any = None) -> None:
        self.bar = bar
        self.phase: Optional[str] = None
        self.t0 = time.monotonic()
        self.last = ""

    def __call__(self, phase: str, done: int, total: int) -> None:
        if phase != self.phase:
            self.phase, self.t0 = phase, time.monotonic()
        eta = ""
        if total and 0 < done < total:
            left = (time.monotonic() - self.t0) / done * (total - done)
            eta = f", about {left:.0f} s left"
        self.last = f"{phase}: {done}/{total or '?'} frames{eta}"
        if self.bar is not None:
            try:
                self.bar((done, total) if total else 0.0, desc=self.last, unit="frames")
            except Exception:  # a progress display must never break a job
                pass


def do_video(engine: Any, video: str, output: Optional[str], unit_values: Mapping[str, Any],
             post_values: Optional[Mapping[str, Any]], video_values: Optional[Mapping[str, Any]], *,
             out_dir: Path, should_stop: Callable[[], bool] | None = None,
             progress: Optional[Progress] = None, confine: Any = None) -> tuple[Optional[str], str, Any]:  # fmt: skip
    """(output file or None, message, report dict). Expected errors become the message; a
    stopped job says how to continue (the same output path resumes it). `confine`: a typed
    output file stays inside the output root."""
    from ..video import run_video

    try:
        typed = output.strip() if isinstance(output, str) and output.strip() else ""
        if typed and confine is not None:
            out = str(confine.output_path(typed, "output file"))
        else:
            out = typed or str(out_dir / (Path(video).stem + "_swapped.mp4"))
        folder = Path(os.path.abspath(out)).parent
        check_writable(folder, folder_label(folder, confine))
        report = run_video(video, out, [_unit(unit_values)], engine=engine, options=_video_options(video_values),
                           post=_post(post_values), on_progress=progress, stop=should_stop)  # fmt: skip
    except FaceSwapLabError as e:
        return None, f"**Not done:** {components.message(e.message)}", None
    lines = [components.message(report.line())] + [components.message(t) for t in report.track_lines()]
    return report.output, "\n\n".join(lines), report.to_dict()


def build_video_tab(engine: Any, *, providers: Any = None, output_root: Optional[Path] = None,
                    hooks: Optional[JobHooks] = None) -> None:  # fmt: skip
    """The Video tab, inside the caller's gr.Tabs (the app's)."""
    gr = components.gradio()
    hooks = hooks or JobHooks()
    control = JobControl(hooks)
    out_dir = Path(output_root) if output_root is not None else Path(os.path.abspath("faceswaplab-output")) / "video"
    shown_out = hooks.confine.shown(out_dir) if hooks.confine is not None else str(out_dir)
    with gr.Tab("Video", elem_id=f"{VIDEO_ID}_tab"):
        with gr.Row():
            with gr.Column():
                upload = gr.Video(label="Video", elem_id=f"{VIDEO_ID}_upload")
                path = gr.Textbox(label="... or a video file on the server", placeholder="clip.mp4" if hooks.confine is not None else "/path/to/clip.mp4",
                                  visible=hooks.allow_paths, max_lines=1, elem_id=f"{VIDEO_ID}_path")  # fmt: skip
                output = gr.Textbox(label="Output file (empty: in the output folder)", max_lines=1,
                                    placeholder=os.path.join(shown_out, "<name>_swapped.mp4"), visible=hooks.allow_paths,
                                    elem_id=f"{VIDEO_ID}_output")  # fmt: skip
                with gr.Row():
                    at = gr.Number(label="Preview at (seconds)", value=0.0, minimum=0, elem_id=f"{VIDEO_ID}_at")
                    preview_btn = gr.Button("Preview frame", elem_id=f"{VIDEO_ID}_preview_button")
                with gr.Row():
                    run_btn = gr.Button("Swap video", variant="primary", elem_id=f"{VIDEO_ID}_run")
                    stop_btn = gr.Button("Stop", variant="stop", elem_id=f"{VIDEO_ID}_stop")
            with gr.Column():
                preview = components.result_image("Preview", elem_id=f"{VIDEO_ID}_preview")
                player = gr.Video(label="Result", interactive=False, elem_id=f"{VIDEO_ID}_result")
                message = gr.Markdown("", elem_id=f"{VIDEO_ID}_message")
                with gr.Accordion("Report", open=False):
                    report = gr.JSON(label="Report", elem_id=f"{VIDEO_ID}_report")
        with gr.Accordion("Video options", open=True):
            video_ctrls = forms.controls(VideoOptions)
            video_comps = [components.control(c, elem_id=f"{VIDEO_ID}_{c.name}", providers=None) for c in video_ctrls]
        with gr.Accordion("Face unit", open=True):
            unit_comps = components.unit_panel(0, id_prefix=VIDEO_ID, providers=providers, defaults={"enabled": True},
                                               hidden=("enabled",))  # fmt: skip
        with gr.Accordion("Post-processing (each frame)", open=False):
            post_comps = components.post_panel(id_prefix=VIDEO_ID, providers=providers)

    unit_names, post_names = forms.unit_field_names(), forms.post_field_names()
    video_names = [c.name for c in video_ctrls]
    nu, npost = len(unit_names), len(post_names)

    def split(values: tuple[Any, ...]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        return (dict(zip(unit_names, values[:nu])), dict(zip(post_names, values[nu : nu + npost])),
                dict(zip(video_names, values[nu + npost :])))  # fmt: skip

    def checked(up: Any, typed: Any, values: tuple[Any, ...]) -> tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]:
        video = resolve_video(up, typed if hooks.allow_paths else None, hooks.confine)
        u, p, v = split(values)
        if hooks.confine is not None:
            check_choices(u, forms.unit_controls(), hooks.choices, "video unit")
            check_choices(p, forms.post_controls(), hooks.choices, "post-processing")
        return video, u, p, v

    def run_preview(up: Any, typed: Any, seconds: Any, *values: Any) -> tuple[Any, str]:
        try:
            video, u, p, _ = checked(up, typed, values)
        except FaceSwapLabError as e:
            return None, f"**No preview:** {components.message(e.message)}"
        return preview_frame(engine, video, float(seconds or 0.0), u, p)

    def run_job(up: Any, typed: Any, out: Any, *values: Any, progress: Any = gr.Progress()) -> tuple[Any, str, Any]:
        try:
            video, u, p, v = checked(up, typed, values)
        except FaceSwapLabError as e:
            return None, f"**Not done:** {components.message(e.message)}", None
        with control.running("video") as should_stop:
            return do_video(engine, video, out if hooks.allow_paths else None, u, p, v, out_dir=out_dir,
                            should_stop=should_stop, progress=EtaProgress(progress if hooks.use_progress else None),
                            confine=hooks.confine)  # fmt: skip

    inputs = unit_comps + post_comps + video_comps
    preview_btn.click(run_preview, inputs=[upload, path, at] + inputs, outputs=[preview, message])
    start = run_btn.click(lambda: "", inputs=[], outputs=[message], queue=False)
    start.then(run_job, inputs=[upload, path, output] + inputs, outputs=[player, message, report],
               **components.progress_on(start.then, player))  # fmt: skip
    stop_btn.click(control.stop, inputs=[], outputs=[message])


__all__ = ["build_video_tab", "do_video", "preview_frame", "resolve_video", "EtaProgress"]
