"""The txt2img/img2img accordion: a `scripts.Script` that is always visible.

Hooks (modules/scripts.py, v1.10.1):
- `process(p, *args)`: parse the args once per job, prepare the units once (identities),
  and for img2img with `swap_in_source`, swap into `p.init_images` before generation.
- `postprocess_image(p, pp, *args)`: swap `pp.image` as each image is produced (every image
  of batch size x batch count, after hires fix).
- `postprocess(p, processed, *args)`: append the unswapped originals (if asked), after the
  swapped images.
"""

from __future__ import annotations

import logging
from typing import Any

from modules import scripts  # the host's; this file is only imported inside the web-ui

from .. import __version__, choices
from ..models import first_run
from ..options import forms
from ..ui import components
from . import host, inpaint, job as jobmod, settings

log = logging.getLogger("faceswaplab")

JOB_ATTR = "_faceswaplab_job"


def units_count() -> int:
    try:
        n = int(settings.host_setting("units"))
    except (TypeError, ValueError):
        n = forms.DEFAULT_UNITS
    return max(1, min(forms.MAX_UNITS, n))


def unit_defaults() -> dict[str, Any]:
    """Default unit options from the settings page."""
    return settings.unit_defaults()


def console(msg: str) -> None:
    print(f"[FaceSwapLab] {msg}", flush=True)


class FaceSwapLabScript(scripts.Script):
    def title(self) -> str:
        return host.TITLE

    def show(self, is_img2img: bool) -> Any:
        return scripts.AlwaysVisible

    def ui(self, is_img2img: bool) -> list[Any]:
        # Called once for the page and again by the API to compute default args: it builds
        # fresh components each time and keeps no state besides the paste mappings.
        n = units_count()
        tab = "img2img" if is_img2img else "txt2img"
        comps = components.accordion(
            title=host.TITLE,
            n_units=n,
            id_prefix=f"faceswaplab_{tab}",
            is_img2img=is_img2img,
            providers=host.choice_providers(),
            unit_defaults=unit_defaults(),
            version=f"v{__version__}",
            notice=choices.models_notice(host.engine),
        )
        names = forms.unit_field_names()
        per = len(names)
        fields: list[tuple[Any, Any]] = []
        for i in range(n):
            for j, name in enumerate(names):
                key = jobmod.infotext_key(i, name)
                if name in jobmod.INFOTEXT_FIELDS or name in ("enabled", "checkpoint"):
                    fields.append((comps[i * per + j], key))
                elif name in jobmod.LIST_INFOTEXT_FIELDS:  # "skin,nose" -> a checkbox group's list
                    fields.append((comps[i * per + j], _list_value(key)))
        self.infotext_fields = fields
        self.paste_field_names = [key for _, key in fields if isinstance(key, str)]
        return comps

    # -- per job --------------------------------------------------------------------------

    def _job(self, p: Any, args: tuple[Any, ...]) -> jobmod.Job:
        j = getattr(p, JOB_ATTR, None)
        if j is None:
            j = jobmod.parse_args(args, units_count())
            setattr(p, JOB_ATTR, j)
            if j.error:
                console(f"not run: {j.error}")
                _comment(p, f"FaceSwapLab: {j.error}")
                p.extra_generation_params[f"{jobmod.INFO_PREFIX} error"] = j.error
            elif j.active:
                p.extra_generation_params.update(jobmod.unit_infotext(j.units))
        return j

    def process(self, p: Any, *args: Any) -> None:
        j = self._job(p, args)
        if not j.active:
            return
        inpaint.begin_job(p)  # inpainting samples with this job's sampler, on this thread
        with first_run.progress_to(host.download_progress):  # first use: models fetched here
            jobmod.prepare(j)
        if j.error:
            console(f"not run: {j.error}")
            _comment(p, f"FaceSwapLab: {j.error}")
            return
        for i, pu in enumerate(j.prepared or []):
            if pu.error and pu.options.enabled:
                console(f"unit {i + 1}: {pu.error}")
        if j.options.swap_in_source and getattr(p, "init_images", None):
            new = []
            for k, img in enumerate(p.init_images):
                if host.interrupted():
                    new.extend(p.init_images[k:])
                    break
                host.set_textinfo(f"FaceSwapLab: swapping into source image {k + 1}")
                out, report = jobmod.swap_pil(j, img)
                text = jobmod.describe(report)
                console(f"source image {k + 1}: {text}")
                p.extra_generation_params[f"{jobmod.INFO_PREFIX} source"] = text
                p.extra_generation_params.update(jobmod.report_infotext(report))
                new.append(out)
            p.init_images = new

    def postprocess_image(self, p: Any, pp: Any, *args: Any) -> None:
        j = self._job(p, args)
        if not j.active or not j.options.swap_in_generated:
            return
        if host.interrupted():
            console("interrupted: image left as generated")
            return
        n = len(j.results) + 1
        host.set_textinfo(f"FaceSwapLab: swapping image {n}")
        original = pp.image
        out, report = jobmod.swap_pil(j, original)
        text = jobmod.describe(report)
        j.results.append(text)
        console(f"image {n}: {text}")
        p.extra_generation_params[f"{jobmod.INFO_PREFIX} result"] = text
        p.extra_generation_params.update(jobmod.report_infotext(report))
        if report is not None and report.swapped:
            j.swapped_any = True
            pp.image = out
            if j.options.keep_originals:
                j.originals.append(original)
        else:
            _comment(p, f"FaceSwapLab: nothing swapped in image {n}: {text}")

    def postprocess(self, p: Any, processed: Any, *args: Any) -> None:
        inpaint.end_job(p)
        j = getattr(p, JOB_ATTR, None)
        if j is None or not j.originals:
            return
        infotexts = getattr(processed, "infotexts", None)
        for k, img in enumerate(j.originals):
            processed.images.append(img)
            if isinstance(infotexts, list):
                infotexts.append(infotexts[0] if infotexts else "")
            if settings.host_setting("save_originals") and getattr(host.shared().opts, "samples_save", False):
                try:
                    host.save_image(
                        img, p.outpath_samples, "", seed=(p.all_seeds[k] if k < len(p.all_seeds) else None),
                        prompt=(p.all_prompts[k] if k < len(p.all_prompts) else None),
                        extension=getattr(host.shared().opts, "samples_format", "png"), p=p, suffix="-faceswaplab-original",
                    )
                except Exception as e:  # saving an extra copy must never fail the job
                    console(f"could not save original {k + 1}: {e}")


def _list_value(key: str) -> Any:
    def value(params: dict[str, Any]) -> Any:
        v = params.get(key)
        if v is None:
            return None
        return [x.strip() for x in str(v).split(",") if x.strip()]

    return value


def _comment(p: Any, text: str) -> None:
    """A short visible message under the result (the web-ui shows p.comments)."""
    fn = getattr(p, "comment", None)
    if callable(fn):
        fn(text)
        return
    comments = getattr(p, "comments", None)
    if isinstance(comments, dict):
        comments[text] = 1
    elif isinstance(comments, list):
        comments.append(text)
