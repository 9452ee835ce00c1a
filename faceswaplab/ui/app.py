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
from .confine import Confinement, check_choices

APP_ID = "faceswaplab_app"
TITLE = "FaceSwapLab"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
RESULTS_KEPT = 20  # result files kept in the app's temporary folder
TARGET_HEIGHT = 420  # px: the target and the result beside the compact source panel
APP_HIDDEN_GROUPS = ("inpaint",)  # inpainting needs the web-ui's Stable Diffusion

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
    confine: Optional[Confinement] = None,
) -> tuple[Optional[str], str, Any]:
    """(result file or None, message, report dict). Expected errors become the message, with
    files named by their names (never gradio's upload folders). `confine` (the app on a
    network address): model and checkpoint dropdowns take only listed names."""
    from ..pipeline import swap_image

    try:
        img = forms.image_value(target, "target image")
        if img is None:
            return None, "Give a target image.", None
        if confine is not None:
            provs = choice_providers(engine)
            for i, v in enumerate(unit_values):
                if v.get("enabled"):
                    check_choices(v, forms.unit_controls(), provs, f"unit {i + 1}")
            check_choices(post_values or {}, forms.post_controls(), provs, "post-processing")
        units = units_from_values(unit_values)
        if not any(u.enabled and u.has_source for u in units):
            return None, "Enable a face unit and give it a source face (a photo or a face checkpoint).", None
        post = PostOptions.from_dict({k: v for k, v in (post_values or {}).items() if v is not None})
        result = swap_image(img, units, post, engine=engine)
    except FaceSwapLabError as e:
        return None, f"**Not swapped:** {components.message(e.message)}", None
    report = result.report
    lines = []
    if report.swapped:
        path: Optional[str] = str(results.save(result.image))
        lines.append(components.message(report.summary()))
    else:
        path = None
        lines.append(f"**Nothing swapped:** {components.message(report.nothing_swapped_reason())}")
    lines += [f"Warning: {components.message(w)}" for w in report.warnings]
    return path, "\n\n".join(lines), _clean_report(report.to_dict())


def _clean_report(value: Any) -> Any:
    """The report as the page shows it: every string with paths cut to file names."""
    if isinstance(value, str):
        return components.clean_text(value)
    if isinstance(value, Mapping):
        return {k: _clean_report(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean_report(v) for v in value]
    return value


def build_app(
    engine: Any,
    *,
    n_units: int = forms.DEFAULT_UNITS,
    output_root: Optional[Path] = None,
    results: Optional[ResultFiles] = None,
    confine: Optional[Confinement] = None,
) -> Any:
    """The app's gr.Blocks: a Swap tab (source faces and target side by side, Swap below
    both, the result beside), then the FaceSwapLab tab's sub-tabs (checkpoints, compare,
    extract, analyse, batch, dataset) and Video. Every models/checkpoints dropdown re-reads
    its list when the page loads, and the checkpoint ones after a build or delete.
    `confine` (`ui` on a network address): typed paths and dropdowns limited (`ui.confine`)."""
    gr = components.gradio()
    n_units = max(1, min(forms.MAX_UNITS, int(n_units)))
    providers = choice_providers(engine)
    results = results or ResultFiles()
    root = Path(output_root) if output_root is not None else Path(os.path.abspath("faceswaplab-output"))
    hooks = batch_panel.JobHooks(default_output=lambda kind: root / kind, confine=confine, choices=providers)

    def get_engine() -> Any:
        return engine

    models_shown = f"`{engine.store.models_dir}`" if confine is None else f"`{Path(engine.store.models_dir).name}`"
    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo, components.collect_dropdowns() as dropdowns:
        gr.Markdown(f"## {TITLE} v{__version__}\n\nModels: {models_shown}. {RESPONSIBLE_USE}", elem_id=f"{APP_ID}_header")
        notice = models_notice(engine)
        if notice:
            gr.Markdown(components.clean_text(notice) if confine is not None else notice, elem_id=f"{APP_ID}_notice")
        with gr.Tabs(elem_id=f"{APP_ID}_tabs"):
            with gr.Tab("Swap", elem_id=f"{APP_ID}_swap_tab"):
                target, swap, result, message, report, unit_comps, post_comps = _swap_tab(gr, n_units, providers)
            parts = tab.build_tabs(
                engine=get_engine, providers=providers, checkpoints_dir=lambda: checkpoints_dir(engine), jobs=hooks,
                refresh_with=list(dropdowns),
            )  # fmt: skip
            from .video_panel import build_video_tab  # the Video tab (faceswaplab/ui/video_panel.py)
            build_video_tab(engine, providers=providers, output_root=root / "video", hooks=hooks)

        names = forms.unit_field_names()
        per = len(names)

        def run_swap(target_value: Any, *values: Any) -> tuple[Any, str, Any]:
            unit_values = [dict(zip(names, values[i * per : (i + 1) * per])) for i in range(n_units)]
            post_values = dict(zip(forms.post_field_names(), values[n_units * per :]))
            return do_swap(engine, target_value, unit_values, results, post_values, confine)

        start = swap.click(lambda: "", inputs=[], outputs=[message], queue=False)
        start.then(run_swap, inputs=[target] + unit_comps + post_comps, outputs=[result, message, report],
                   **components.progress_on(start.then, result))  # fmt: skip
        demo.load(parts["refresh"], inputs=[], outputs=parts["refresh_outputs"], queue=False)
        components.refresh_dropdowns(gr, demo.load, list(dropdowns))
    return demo


def _swap_tab(gr: Any, n_units: int, providers: Any) -> tuple[Any, ...]:
    """Source faces (the unit tabs, enhancement options folded) and the target side by side,
    Swap under both, the result, message and report beside them; stacked on a phone."""
    unit_comps: list[Any] = []
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=320):
            with gr.Row(equal_height=False):
                with gr.Column(min_width=300):
                    with gr.Tabs(elem_id=f"{APP_ID}_units"):
                        for i in range(n_units):
                            with gr.Tab(f"Face {i + 1}", elem_id=f"{APP_ID}_unit{i + 1}_tab"):
                                unit_comps += components.unit_panel(
                                    i, id_prefix=APP_ID, providers=providers, defaults={"enabled": i == 0}, open_groups=(),
                                    compact=True, hidden_groups=APP_HIDDEN_GROUPS,
                                )
                        with gr.Tab("Post-processing", elem_id=f"{APP_ID}_post_tab"):
                            post_comps = components.post_panel(id_prefix=APP_ID, providers=providers)
                with gr.Column(min_width=300):
                    target = components.image("Target image", elem_id=f"{APP_ID}_target", height=TARGET_HEIGHT)
            swap = gr.Button("Swap", variant="primary", elem_id=f"{APP_ID}_swap")
        with gr.Column(scale=1, min_width=300):
            result = components.result_image("Result", elem_id=f"{APP_ID}_result", height=TARGET_HEIGHT)
            message = gr.Markdown("", elem_id=f"{APP_ID}_message")
            with gr.Accordion("Report", open=False):
                report = gr.JSON(label="Report", elem_id=f"{APP_ID}_report")
    return target, swap, result, message, report, unit_comps, post_comps


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
    confine: Optional[Confinement] = None,
) -> Any:
    """Build and serve the app (blocks until Ctrl-C unless `block` is False); `auth`: the
    (user, password) pairs gradio's login accepts (`ui --auth`); `confine`: see `ui.confine`."""
    disable_analytics()
    demo = build_app(engine, n_units=n_units, output_root=output_root, confine=confine)
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
