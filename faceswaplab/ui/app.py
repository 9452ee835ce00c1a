"""The standalone app (`python -m faceswaplab ui`): a gradio Blocks built from the same parts
as the web-ui. The Swap tab's face units and post-processing are `components.unit_panel` /
`post_panel` (the accordion's controls, generated from the options' metadata and parsed by
the same `forms.unit_options` into UnitOptions and PostOptions for `pipeline.swap_image`);
the other tabs are the web-ui's FaceSwapLab tab (`tab.build_tabs`:
checkpoints, compare, extract, analyse, batch and dataset with progress and Stop).

The app runs on the gradio in requirements-app.txt. It binds to 127.0.0.1 unless told
otherwise, never opens a share link unless asked, and sends no analytics.
"""

from __future__ import annotations

import atexit
import inspect
import os
import shutil
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from .. import __version__
from ..choices import models_notice
from ..choices import providers as choice_providers
from ..errors import BadInputError, FaceSwapLabError
from ..options import PostOptions, UnitOptions
from ..options import forms
from . import batch_panel, components, tab

APP_ID = "faceswaplab_app"
TITLE = "FaceSwapLab"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
RESULTS_KEPT = 20  # result files kept in the app's temporary folder

RESPONSIBLE_USE = (
    "Only swap faces of people who agreed to it, never to deceive, harass or impersonate. "
    "Every result is marked in its metadata as edited by FaceSwapLab; a content filter runs on every image."
)


def disable_analytics() -> None:
    """Before gradio is imported: no usage reports, no version check."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"


def require_gradio(install_hint: str = "pip install -r requirements-app.txt") -> Any:
    """gradio, or a BadInputError (exit code 2) that says how to install it."""
    try:
        import gradio
    except ImportError as e:
        raise BadInputError(f"the app needs gradio ({e}); install it with: {install_hint}") from None
    return gradio


def checkpoints_dir(engine: Any) -> Path:
    if engine.options.faces_dir:
        return Path(engine.options.faces_dir)
    from ..checkpoints import checkpoint_folder

    return checkpoint_folder(engine.store)


class ResultFiles:
    """Swap results as PNG files (the edit mark is written into the file; a lossless image
    reaches the browser), in one temporary folder removed at exit; the newest few kept."""

    def __init__(self, folder: Optional[Path] = None) -> None:
        self.folder = folder or Path(tempfile.mkdtemp(prefix="faceswaplab-app-"))
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._files: list[Path] = []
        atexit.register(shutil.rmtree, self.folder, True)

    def save(self, image: Any) -> Path:
        from ..imageio import save_image

        path = save_image(self.folder / f"faceswaplab-{uuid.uuid4().hex[:12]}.png", image.rgb, alpha=image.alpha, meta=image.meta)
        with self._lock:
            self._files.append(path)
            old, self._files = self._files[:-RESULTS_KEPT], self._files[-RESULTS_KEPT:]
        for p in old:
            try:
                p.unlink()
            except OSError:
                pass
        return path


def units_from_values(unit_values: Sequence[Mapping[str, Any]]) -> list[UnitOptions]:
    """The Swap tab's unit controls -> UnitOptions (disabled units keep their place, and
    their half-filled controls are not validated), as the web-ui accordion does."""
    return [
        forms.unit_options(v, where=f"unit {i + 1}") if v.get("enabled") else UnitOptions(enabled=False)
        for i, v in enumerate(unit_values)
    ]


def do_swap(
    engine: Any,
    target: Any,
    unit_values: Sequence[Mapping[str, Any]],
    results: ResultFiles,
    post_values: Optional[Mapping[str, Any]] = None,
) -> tuple[Optional[str], str, Any]:
    """(result file or None, message, report dict). Expected errors become the message."""
    from ..pipeline import swap_image

    try:
        img = forms.image_value(target, "target image")
        if img is None:
            return None, "Give a target image.", None
        units = units_from_values(unit_values)
        if not any(u.enabled and u.has_source for u in units):
            return None, "Enable a face unit and give it a source face (a photo or a face checkpoint).", None
        post = PostOptions.from_dict({k: v for k, v in (post_values or {}).items() if v is not None})
        result = swap_image(img, units, post, engine=engine)
    except FaceSwapLabError as e:
        return None, f"**Not swapped:** {components.md_escape(e.message)}", None
    report = result.report
    lines = []
    if report.swapped:
        path: Optional[str] = str(results.save(result.image))
        lines.append(components.md_escape(report.summary()))
    else:
        path = None
        lines.append(f"**Nothing swapped:** {components.md_escape(report.nothing_swapped_reason())}")
    lines += [f"Warning: {components.md_escape(w)}" for w in report.warnings]
    return path, "\n\n".join(lines), report.to_dict()


def build_app(
    engine: Any,
    *,
    n_units: int = forms.DEFAULT_UNITS,
    output_root: Optional[Path] = None,
    results: Optional[ResultFiles] = None,
) -> Any:
    """The app's gr.Blocks: a Swap tab (target, N face units, result and report), then the
    FaceSwapLab tab's sub-tabs (checkpoints, compare, extract, analyse, batch, dataset)."""
    gr = components.gradio()
    n_units = max(1, min(forms.MAX_UNITS, int(n_units)))
    providers = choice_providers(engine)
    results = results or ResultFiles()
    root = Path(output_root) if output_root is not None else Path(os.path.abspath("faceswaplab-output"))
    hooks = batch_panel.JobHooks(default_output=lambda kind: root / kind)

    def get_engine() -> Any:
        return engine

    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        gr.Markdown(f"## {TITLE} v{__version__}\n\nModels: `{engine.store.models_dir}`. {RESPONSIBLE_USE}", elem_id=f"{APP_ID}_header")
        notice = models_notice(engine)
        if notice:
            gr.Markdown(notice, elem_id=f"{APP_ID}_notice")
        with gr.Tabs(elem_id=f"{APP_ID}_tabs"):
            with gr.Tab("Swap", elem_id=f"{APP_ID}_swap_tab"):
                with gr.Row():
                    with gr.Column():
                        target = components.image("Target image", elem_id=f"{APP_ID}_target")
                        swap = gr.Button("Swap", variant="primary", elem_id=f"{APP_ID}_swap")
                    with gr.Column():
                        result = components.result_image("Result", elem_id=f"{APP_ID}_result")
                        message = gr.Markdown("", elem_id=f"{APP_ID}_message")
                        with gr.Accordion("Report", open=False):
                            report = gr.JSON(label="Report", elem_id=f"{APP_ID}_report")
                unit_comps: list[Any] = []
                with gr.Tabs(elem_id=f"{APP_ID}_units"):
                    for i in range(n_units):
                        with gr.Tab(f"Face {i + 1}", elem_id=f"{APP_ID}_unit{i + 1}_tab"):
                            unit_comps += components.unit_panel(
                                i, id_prefix=APP_ID, providers=providers, defaults={"enabled": i == 0}
                            )
                    with gr.Tab("Post-processing", elem_id=f"{APP_ID}_post_tab"):
                        post_comps = components.post_panel(id_prefix=APP_ID, providers=providers)
            tab.build_tabs(engine=get_engine, providers=providers, checkpoints_dir=lambda: checkpoints_dir(engine), jobs=hooks)
            from .video_panel import build_video_tab  # the Video tab (faceswaplab/ui/video_panel.py)
            build_video_tab(engine, providers=providers, output_root=root / "video", hooks=hooks)

        names = forms.unit_field_names()
        per = len(names)

        def run_swap(target_value: Any, *values: Any) -> tuple[Any, str, Any]:
            unit_values = [dict(zip(names, values[i * per : (i + 1) * per])) for i in range(n_units)]
            post_values = dict(zip(forms.post_field_names(), values[n_units * per :]))
            return do_swap(engine, target_value, unit_values, results, post_values)

        swap.click(run_swap, inputs=[target] + unit_comps + post_comps, outputs=[result, message, report])
    return demo


def launch_kwargs(demo: Any, *, host: str, port: int, share: bool) -> dict[str, Any]:
    params = inspect.signature(demo.launch).parameters
    kw: dict[str, Any] = {"server_name": host, "server_port": port, "share": bool(share), "inbrowser": False}
    if "show_error" in params:
        kw["show_error"] = True
    if "ssr_mode" in params:
        kw["ssr_mode"] = False  # no Node server beside the app
    return kw


def launch(
    engine: Any,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    share: bool = False,
    n_units: int = forms.DEFAULT_UNITS,
    output_root: Optional[Path] = None,
    block: bool = True,
    auth: Optional[list[tuple[str, str]]] = None,
) -> Any:
    """Build and serve the app (blocks until Ctrl-C unless `block` is False); `auth`: the
    (user, password) pairs gradio's login accepts (`ui --auth`)."""
    disable_analytics()
    demo = build_app(engine, n_units=n_units, output_root=output_root)
    demo.queue()
    kw = launch_kwargs(demo, host=host, port=port, share=share)
    if not block:
        kw["prevent_thread_lock"] = True
    if auth:
        kw["auth"] = list(auth)
    quiet = "quiet" in inspect.signature(demo.launch).parameters
    if quiet:  # gradio's own banner advises `launch(share=True)`, which a CLI user cannot type
        kw["quiet"] = True
    demo.launch(**kw)
    if quiet:
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        print(f"FaceSwapLab app on http://{shown}:{port}" + (f" (share link: {demo.share_url})" if share and getattr(demo, "share_url", None) else ""))
        if not share:
            print("For a public link, start it with: faceswaplab ui --share")
    return demo


__all__ = ["build_app", "launch", "do_swap", "units_from_values", "choice_providers", "ResultFiles", "models_notice"]
