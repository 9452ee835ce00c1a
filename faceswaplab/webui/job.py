"""One generation job in the web-ui: script args -> units (once), then every image of the
batch through `pipeline.swap_image` with the units prepared once. Host calls go through
`host`; this module holds what happened (for the infotext, the console and the UI)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import FaceSwapLabError, OptionsError
from ..imageio import to_pil
from ..options import UnitOptions
from ..pipeline import PreparedUnit, prepare_units, swap_image
from ..report import SWAPPED, SwapReport
from ..ui import spec
from . import host

log = logging.getLogger("faceswaplab")

INFO_PREFIX = "FaceSwapLab"


@dataclass
class Job:
    units: list[UnitOptions]
    post: spec.PostOptions
    options: spec.JobOptions
    prepared: list[PreparedUnit] | None = None
    error: str | None = None
    results: list[str] = field(default_factory=list)  # one summary per swapped image
    originals: list[Any] = field(default_factory=list)  # unswapped PIL images (keep_originals)
    swapped_any: bool = False

    @property
    def active(self) -> bool:
        return self.error is None and any(u.enabled and u.has_source for u in self.units)


def parse_args(args: Sequence[Any], n_units: int) -> Job:
    """Positional args as ui() produced them, or the named form: a dict as the first arg
    (`{"units": [...], "postprocessing": {...}}`; the web-ui fills the rest with defaults)."""
    try:
        if args and isinstance(args[0], Mapping):
            units, post, opts = spec.parse_named(args[0], resolve_checkpoint=host.resolve_checkpoint)
            return Job(units, post, opts)
        unit_vals, post_vals, job_vals = spec.split_positional(args, n_units)
        # Disabled units keep their place (unit numbers in reports match the tabs) but their
        # other values are not validated: a half-filled disabled tab must not stop the others.
        units = [
            spec.unit_options(v, where=f"unit {i + 1}", resolve_checkpoint=host.resolve_checkpoint)
            if v.get("enabled")
            else UnitOptions(enabled=False)
            for i, v in enumerate(unit_vals)
        ]
        post = spec.PostOptions.from_dict({k: v for k, v in post_vals.items() if v is not None})
        opts = spec.JobOptions.from_dict(job_vals)
        return Job(units, post, opts)
    except FaceSwapLabError as e:
        return Job([], spec.PostOptions(), spec.JobOptions(), error=e.message)


def prepare(job: Job) -> None:
    if not job.active or job.prepared is not None:
        return
    try:
        job.prepared = prepare_units(host.engine(), job.units)
    except FaceSwapLabError as e:
        job.error = e.message


def swap_pil(job: Job, image: Any) -> tuple[Any, SwapReport | None, list[str]]:
    """Swap one PIL image; returns (image, report, notes). Never raises for expected errors."""
    if not job.active:
        return image, None, []
    prepare(job)
    if job.error is not None or job.prepared is None:
        return image, None, []
    eng = host.engine()
    try:
        result = swap_image(image, prepared=job.prepared, engine=eng)
    except FaceSwapLabError as e:
        return image, _error_report(e.message), []
    rgb, notes = result.image.rgb, []
    if job.post.active and result.report.swapped:
        try:
            rgb, notes = host.postprocess(rgb, job.post)
        except FaceSwapLabError as e:
            notes = [f"post-processing skipped: {e.message}"]
    if result.report.swapped == 0 and not notes:
        return image, result.report, notes
    out = to_pil(rgb, result.image.alpha)
    info = getattr(image, "info", None)
    if info:
        out.info.update({k: v for k, v in info.items() if isinstance(k, str)})
    return out, result.report, notes


def _error_report(message: str) -> SwapReport:
    rep = SwapReport()
    rep.warnings.append(message)
    return rep


def describe(report: SwapReport | None, notes: Sequence[str] = ()) -> str:
    """One line for the infotext and console: what was swapped, similarity, skip reasons."""
    if report is None:
        return "not run"
    if report.blocked or report.swapped == 0:
        text = report.nothing_swapped_reason()
        if report.warnings and not report.units:
            text = "; ".join(report.warnings)
        return text
    bits = [report.summary()]
    bits += list(notes)
    return "; ".join(bits)


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
        for name in INFOTEXT_FIELDS:
            if name in d and d[name] not in (None, (), [], ""):
                v = d[name]
                if isinstance(v, (list, tuple)):
                    v = ",".join(map(str, v))
                out[f"{k} {name}"] = v
    return out


# Unit fields written to (and restored from) the infotext.
INFOTEXT_FIELDS = (
    "source_face_index", "faces", "sort", "gender", "reference_threshold", "min_similarity",
    "min_face_size", "mask_erosion", "mask_blur",
) + tuple(n for n in spec.ENHANCE_NAMES if n != "mask_regions")  # fmt: skip


def infotext_key(unit_index: int, name: str) -> str:
    if name == "checkpoint":
        return f"{INFO_PREFIX} U{unit_index + 1} checkpoint"
    return f"{INFO_PREFIX} U{unit_index + 1} {name}"


def swapped_count(report: SwapReport | None) -> int:
    return 0 if report is None else report.swapped


__all__ = ["Job", "parse_args", "prepare", "swap_pil", "describe", "unit_infotext", "SWAPPED", "np", "OptionsError"]
