"""The Extras tab: a `scripts_postprocessing.ScriptPostprocessing` named "FaceSwapLab" with
one unit's controls and the global post-processing controls.

Through `/sdapi/v1/extra-single-image` every extension kwarg arrives as None
(ScriptPostprocessingRunner.create_args_for_run, modules/scripts_postprocessing.py): None
means "the settings defaults", and with no source configured the image passes through.
"""

from __future__ import annotations

from typing import Any

from modules import scripts_postprocessing  # the host's

from ..errors import FaceSwapLabError
from ..options import JobOptions, PostOptions
from ..options import forms
from ..ui import components
from . import host, job as jobmod
from .progress import queue_lock_held
from .script import console, unit_defaults

POST_PREFIX = "post_"


class FaceSwapLabPostprocessing(scripts_postprocessing.ScriptPostprocessing):
    name = host.TITLE
    order = 20000

    def ui(self) -> dict[str, Any]:
        import gradio as gr

        with gr.Accordion(host.TITLE, open=False, elem_id="faceswaplab_extras_accordion"):
            unit = components.unit_panel(0, id_prefix="faceswaplab_extras", providers=host.choice_providers(), defaults=unit_defaults())
            with gr.Accordion("Post-processing", open=False):
                post = components.post_panel(id_prefix="faceswaplab_extras", providers=host.choice_providers())
        out = {name: c for name, c in zip(forms.unit_field_names(), unit)}
        out.update({POST_PREFIX + name: c for name, c in zip(forms.post_field_names(), post)})
        return out

    def process(self, pp: Any, **args: Any) -> None:
        unit_vals = {k: v for k, v in args.items() if not k.startswith(POST_PREFIX)}
        post_vals = {k[len(POST_PREFIX):]: v for k, v in args.items() if k.startswith(POST_PREFIX)}
        try:
            unit = forms.unit_options(
                unit_vals, where="FaceSwapLab (Extras)", defaults=unit_defaults(),
                resolve_checkpoint=host.resolve_checkpoint, strict=False,
            )
            post = PostOptions.from_dict({k: v for k, v in post_vals.items() if v is not None})
        except FaceSwapLabError as e:
            console(f"Extras: not run: {e.message}")
            pp.info[host.TITLE] = f"not run: {e.message}"
            return
        if not (unit.enabled and unit.has_source):
            return  # nothing configured: the image passes through untouched
        j = jobmod.Job([unit], post, JobOptions())
        with queue_lock_held():  # Extras runs under the host's queue lock (UI and API alike)
            out, report = jobmod.swap_pil(j, pp.image)
        text = jobmod.describe(report)
        console(f"Extras: {text}")
        pp.info[host.TITLE] = text
        if report is not None and report.swapped:
            pp.image = out
