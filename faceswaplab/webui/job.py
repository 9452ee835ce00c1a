"""One generation job in the web-ui: script args -> units (once), then every image of the
batch through `pipeline.swap_image` with the units prepared once. Host calls go through
`host`; this module holds what happened (for the infotext, the console and the UI)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence


from ..errors import FaceSwapLabError
from ..imageio import to_pil
from ..options import JobOptions, PostOptions, UnitOptions
from ..options import forms
from ..options.meta import IMAGE_VALUE, IMAGES, NAMES
from ..pipeline import PreparedUnit, prepare_units, swap_image
from ..postprocess import resolve as resolve_post
from ..report import SWAPPED, SwapReport
from . import host

log = logging.getLogger("faceswaplab")

INFO_PREFIX = "FaceSwapLab"


@dataclass
class Job:
    units: list[UnitOptions]
    post: PostOptions
    options: JobOptions
    prepared: list[PreparedUnit] | None = None
    error: str | None = None
    results: list[str] = field(default_factory=list)  # one summary per swapped image
    originals: list[Any] = field(default_factory=list)  # unswapped PIL images (keep_originals)
    swapped_any: bool = False

    @property
    def active(self) -> bool:
        return self.error is None and any(u.enabled and u.has_source for u in self.units)


def _no_paths(named: Mapping[str, Any]) -> None:
    """The named form comes from HTTP clients: its model fields take names, never server
    paths (the same check as /faceswaplab/v1, faceswaplab/api/guard.py)."""
    from ..api.guard import POST_MODEL_FIELDS, UNIT_MODEL_FIELDS, check_fields

    for i, unit in enumerate(named.get("units") or []):
        if isinstance(unit, Mapping):
            check_fields(unit, UNIT_MODEL_FIELDS, f"unit {i + 1}: ", None)
    post = named.get("postprocessing")
    if isinstance(post, Mapping):
        check_fields(post, POST_MODEL_FIELDS, "postprocessing: ", None)


def parse_args(args: Sequence[Any], n_units: int) -> Job:
    """Positional args as ui() produced them, or the named form: a dict as the first arg
    (`{"units": [...], "postprocessing": {...}}`; the web-ui fills the rest with defaults)."""
    try:
        if args and isinstance(args[0], Mapping):
            _no_paths(args[0])
            units, post, opts = forms.parse_named(args[0], resolve_checkpoint=host.resolve_checkpoint)
            return Job(units, post, opts)
        unit_vals, post_vals, job_vals = forms.split_positional(args, n_units)
        # Disabled units keep their place (unit numbers in reports match the tabs) but their
        # other values are not validated: a half-filled disabled tab must not stop the others.
        units = [
            forms.unit_options(v, where=f"unit {i + 1}", resolve_checkpoint=host.resolve_checkpoint)
            if v.get("enabled")
            else UnitOptions(enabled=False)
            for i, v in enumerate(unit_vals)
        ]
        post = PostOptions.from_dict({k: v for k, v in post_vals.items() if v is not None})
        opts = JobOptions.from_dict(job_vals)
        return Job(units, post, opts)
    except FaceSwapLabError as e:
        return Job([], PostOptions(), JobOptions(), error=e.message)


def prepare(job: Job) -> None:
    """Resolve the units' identities and the post-processing models once per job, so a
    missing model is one message before the first image."""
    if not job.active or job.prepared is not None:
        return
    try:
        eng = host.engine()
        resolve_post(eng, job.post)
        job.prepared = prepare_units(eng, job.units)
    except FaceSwapLabError as e:
        job.error = e.message


def swap_pil(job: Job, image: Any) -> tuple[Any, SwapReport | None]:
    """Swap (and post-process) one PIL image; returns (image, report). Never raises for
    expected errors."""
    if not job.active:
        return image, None
    prepare(job)
    if job.error is not None or job.prepared is None:
        return image, None
    try:
        result = swap_image(image, post=job.post, prepared=job.prepared, engine=host.engine())
    except FaceSwapLabError as e:
        return image, _error_report(e.message)
    if result.report.swapped == 0:
        return image, result.report
    out = to_pil(result.image.rgb, result.image.alpha)
    info = getattr(image, "info", None)
    if info:
        out.info.update({k: v for k, v in info.items() if isinstance(k, str)})
    return out, result.report


def _error_report(message: str) -> SwapReport:
    rep = SwapReport()
    rep.warnings.append(message)
    return rep


def describe(report: SwapReport | None) -> str:
    """One line for the infotext and console: what was swapped, similarity, skip reasons,
    what the post-processing did."""
    if report is None:
        return "not run"
    if report.blocked or report.swapped == 0:
        text = report.nothing_swapped_reason()
        if report.warnings and not report.units:
            text = "; ".join(report.warnings)
        return text
    return report.summary()


def unit_infotext(units: Sequence[UnitOptions]) -> dict[str, Any]:
    """Settings of the units used, as infotext fields (never image data): restorable with
    "send to" through infotext_fields / paste_field_names."""
    out: dict[str, Any] = {}
    for i, u in enumerate(units):
        if not (u.enabled and u.has_source):
            continue
        d = u.to_dict()
        k = f"{INFO_PREFIX} U{i + 1}"
        out[f"{k} enabled"] = True
        if u.face:
            import os

            out[f"{k} checkpoint"] = os.path.basename(str(u.face)).removesuffix(".safetensors")
        if u.source_images:
            out[f"{k} sources"] = len(u.source_images)
        for name in INFOTEXT_FIELDS + LIST_INFOTEXT_FIELDS:
            if name in d and d[name] not in (None, (), [], ""):
                v = d[name]
                if isinstance(v, (list, tuple)):
                    v = ",".join(map(str, v))
                out[f"{k} {name}"] = v
    return out


def pasted(infotext: str, params: dict[str, Any], available: Any) -> list[str]:
    """on_infotext_pasted: a pasted model name this web-ui does not have (another machine's
    checkpoint, a deleted swapper) is dropped, so its dropdown keeps a valid value instead of
    an unknown name; returns one message per dropped value for the console."""
    from ..api.guard import is_listed  # the engine's own name matching (suffix, host prefix)

    dropped = []
    for key in list(params):
        if not str(key).startswith(f"{INFO_PREFIX} U"):
            continue
        name = str(key).split(" ", 2)[-1]
        listed = available(name)
        value = params[key]
        if not listed or value in (None, "", "None"):
            continue  # not a model name, or nothing to compare with
        if not is_listed(str(value), listed):
            params.pop(key)
            dropped.append(f"{key}: {value!r} is not available here; the setting was left as it was")
    return dropped


def report_infotext(report: SwapReport | None) -> dict[str, Any]:
    """Per unit, what ran on the swapped faces (swapper, boost, masks, restorer, inpainting:
    the faces' notes, once each) and the seeds its inpainting actually used (a -1 setting
    draws them), so an image says how it was made and can be re-diffused the same way."""
    out: dict[str, Any] = {}
    for u in report.units if report is not None else []:
        done = [f for f in u.faces if f.status == SWAPPED]
        if not done:
            continue
        ran = [f"swapper {u.swapper}"] if u.swapper else []
        ran += list(dict.fromkeys(n for f in done for n in f.notes))
        out[f"{INFO_PREFIX} U{u.unit + 1} ran"] = "; ".join(ran)
        seeds = [str(f.inpaint["seed"]) for f in done if f.inpaint and "seed" in f.inpaint]
        if seeds:
            out[f"{INFO_PREFIX} U{u.unit + 1} inpaint seeds"] = " ".join(seeds)
    return out


# Unit fields written to (and restored from) the infotext: every unit control whose value is
# one plain value (images are never written; a list would not paste back into its control).
INFOTEXT_FIELDS = tuple(
    c.name
    for c in forms.unit_controls()
    if c.meta.value not in (IMAGE_VALUE, IMAGES, NAMES) and c.name not in ("enabled", "checkpoint")
)


# List-valued unit fields (mask regions, mask areas): written comma-separated, pasted back as
# lists (script.ui maps them with a callable key).
LIST_INFOTEXT_FIELDS = tuple(
    c.name for c in forms.unit_controls() if c.meta.value == NAMES and c.meta.choices is not None
)


def infotext_key(unit_index: int, name: str) -> str:
    if name == "checkpoint":
        return f"{INFO_PREFIX} U{unit_index + 1} checkpoint"
    return f"{INFO_PREFIX} U{unit_index + 1} {name}"


__all__ = ["Job", "parse_args", "prepare", "swap_pil", "describe", "unit_infotext", "report_infotext", "LIST_INFOTEXT_FIELDS", "pasted", "INFOTEXT_FIELDS", "SWAPPED"]
