"""Dataset mode: one identity swapped into a folder of photos, enhanced, the broken results
filtered out, written in the layout LoRA trainers (kohya-ss sd-scripts and the tools built on
it) read::

    OUTPUT/
      <repeats>_<trigger>/        only the kept images: trainers read every image here
        NAME.png                  the swapped photo (RGB PNG)
        NAME.txt                  its caption, from the template ("{trigger}, a photo")
      report/                     outside the training folder
        summary.json              counts per outcome, the options, every input's outcome
        rejected.csv              name, status, reason, similarity of each rejected input
        rejected/NAME.png         each rejected image (the swapped result, or the original
                                  when nothing was swapped); blocked images are never copied
        similarity_histogram.png  kept vs rejected similarity, with the threshold
        contact_sheet.png         thumbnails of kept and rejected images with their labels
        thumbs/NAME.jpg           the thumbnails the sheet is drawn from
      faceswaplab-manifest.db     what was done (resume, skip)
      faceswaplab-manifest.lock   held while a job runs

Filters (each rejection is recorded with its reason, like the content filter's blocks):
exactly one face in the photo, minimum detection score, minimum face size, and minimum
similarity of the swapped face to the identity (measured by the pipeline on the result).
"""

from __future__ import annotations

import csv
import io
import json
import re
import string
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

from ..engine import Engine
from ..errors import OptionsError
from ..imageio import save_image
from ..options import UnitOptions
from ..pipeline import SwapResult
from .inputs import InputFile, PathLike, unique_names
from .job import (
    STATUS_BLOCKED,
    STATUS_ERROR,
    STATUS_FAILED,
    STATUS_FILTERED,
    STATUS_SWAPPED,
    STATUSES,
    BatchSummary,
    Outcome,
    ProgressCallback,
    StopCheck,
    run_job,
    write_text_atomic,
)
from .manifest import Manifest, Record
from .sheets import KEPT_COLOUR, NEUTRAL_COLOUR, REJECTED_COLOUR, Tile, draw_contact_sheet, draw_histogram, make_thumbnail

REPORT_DIR = "report"
THUMB_SIZE = 192
DEFAULT_CAPTION = "{trigger}, a photo"
CAPTION_FIELDS = ("trigger", "name")
_BAD_TRIGGER_CHARS = set('<>:"/\\|?*')


def validate_trigger(trigger: Any) -> str:
    t = str(trigger or "").strip()
    if not t:
        raise OptionsError("trigger must be a word (the token the LoRA learns, e.g. 'sks')")
    bad = sorted({c for c in t if c in _BAD_TRIGGER_CHARS or ord(c) < 32})
    if bad or t.startswith(".") or len(t) > 100:
        shown = "".join(bad) if bad else t[:20]
        raise OptionsError(
            f"trigger {t!r} cannot be part of a folder name ({shown!r}); use letters, digits, spaces, '-' or '_'"
        )
    return t


def validate_caption(template: Any) -> str:
    text = str(template if template is not None else DEFAULT_CAPTION)
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
    except ValueError as e:
        raise OptionsError(f"caption template {text!r} is not valid ({e}); write it like '{{trigger}}, a photo'") from None
    unknown = sorted({f for f in fields if f not in CAPTION_FIELDS})
    if unknown:
        raise OptionsError(
            f"caption template: unknown field(s) {', '.join('{' + f + '}' for f in unknown)}; "
            f"use {', '.join('{' + f + '}' for f in CAPTION_FIELDS)}"
        )
    if "trigger" not in fields:
        raise OptionsError(f"caption template {text!r} must contain {{trigger}} (the trigger word)")
    return text


@dataclass(frozen=True)
class DatasetOptions:
    trigger: str
    repeats: int = 10  # kohya's per-folder repeat count: the folder is <repeats>_<trigger>
    caption: str = DEFAULT_CAPTION  # fields: {trigger}, {name} (the image's name)
    min_similarity: float = 0.0  # swapped face vs the identity (0 = off)
    min_det_score: float = 0.0  # detection score of the face (0 = off)
    min_face_size: int = 64  # shorter side of the face box, in pixels
    single_face: bool = True  # keep only photos with exactly one face
    recursive: bool = False
    workers: int = 1
    redo: bool = False
    sheet_limit: int = 96  # thumbnails per section of the contact sheet

    def __post_init__(self) -> None:
        object.__setattr__(self, "trigger", validate_trigger(self.trigger))
        object.__setattr__(self, "caption", validate_caption(self.caption))
        try:
            repeats = int(self.repeats)
        except (TypeError, ValueError):
            raise OptionsError(f"repeats must be a whole number from 1 to 10000, got {self.repeats!r}") from None
        if not 1 <= repeats <= 10000:
            raise OptionsError(f"repeats must be a whole number from 1 to 10000, got {repeats}")
        object.__setattr__(self, "repeats", repeats)
        for name in ("min_similarity", "min_det_score"):
            try:
                v = float(getattr(self, name))
            except (TypeError, ValueError):
                raise OptionsError(f"{name} must be a number between 0 and 1, got {getattr(self, name)!r}") from None
            if not 0.0 <= v <= 1.0:
                raise OptionsError(f"{name} must be between 0 and 1, got {v}")
            object.__setattr__(self, name, v)
        try:
            size = int(self.min_face_size)
        except (TypeError, ValueError):
            raise OptionsError(f"min_face_size must be a whole number of pixels, got {self.min_face_size!r}") from None
        if size < 0:
            raise OptionsError(f"min_face_size must be 0 or more pixels, got {size}")
        object.__setattr__(self, "min_face_size", size)
        object.__setattr__(self, "single_face", bool(self.single_face))
        object.__setattr__(self, "sheet_limit", max(0, int(self.sheet_limit)))

    @property
    def folder_name(self) -> str:
        return f"{self.repeats}_{self.trigger}"

    def caption_for(self, name: str) -> str:
        return self.caption.format(trigger=self.trigger, name=name)

    def job_options(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("recursive", "workers", "redo", "sheet_limit"):
            d.pop(k)
        return {"mode": "dataset", **d}


def _name_of(key: str) -> str:
    stem = key.rsplit(".", 1)[0] if "." in key.rsplit("/", 1)[-1] else key
    name = re.sub(r"[\\/]+", "_", stem).strip() or "image"
    return name


class _DatasetHandler:
    def __init__(self, out: Path, inputs: list[InputFile], options: DatasetOptions) -> None:
        self.out = out
        self.options = options
        self.names = unique_names([i.key for i in inputs], _name_of)

    def job_options(self) -> dict[str, Any]:
        return self.options.job_options()

    def paths(self, inp: InputFile) -> dict[str, str]:
        name = self.names[inp.key]
        folder = self.options.folder_name
        return {
            "image": f"{folder}/{name}.png",
            "caption": f"{folder}/{name}.txt",
            "rejected": f"{REPORT_DIR}/rejected/{name}.png",
            "thumb": f"{REPORT_DIR}/thumbs/{name}.jpg",
        }

    def planned(self, inp: InputFile) -> list[str]:
        return list(self.paths(inp).values())

    def filter_reasons(self, outcome: Outcome) -> list[str]:
        o = self.options
        reasons = []
        if o.single_face and outcome.faces_detected is not None and outcome.faces_detected != 1:
            reasons.append(f"{outcome.faces_detected} faces detected; the dataset keeps photos with exactly one face")
        if o.min_face_size and outcome.face_size is not None and outcome.face_size < o.min_face_size:
            reasons.append(f"face too small: {outcome.face_size:.0f} px < {o.min_face_size} px")
        if o.min_det_score and outcome.det_score is not None and outcome.det_score < o.min_det_score:
            reasons.append(f"detection score {outcome.det_score:.2f} < {o.min_det_score:.2f}")
        if o.min_similarity and (outcome.similarity is None or outcome.similarity < o.min_similarity):
            shown = "unknown" if outcome.similarity is None else f"{outcome.similarity:.2f}"
            reasons.append(f"similarity to the identity {shown} < {o.min_similarity:.2f}")
        return reasons

    def finish(self, inp: InputFile, result: SwapResult, outcome: Outcome) -> Outcome:
        paths = self.paths(inp)
        if outcome.status == STATUS_SWAPPED:
            reasons = self.filter_reasons(outcome)
            if reasons:
                outcome.status, outcome.reason = STATUS_FILTERED, "; ".join(reasons)
        if outcome.status == STATUS_BLOCKED:
            return outcome  # never copied, never thumbnailed
        img = result.image
        name = self.names[inp.key]
        if outcome.status == STATUS_SWAPPED:
            save_image(self.out / paths["image"], img.rgb, meta=img.meta)
            write_text_atomic(self.out / paths["caption"], self.options.caption_for(name) + "\n")
            outcome.output = paths["image"]
            files = [paths["image"], paths["caption"]]
        else:
            save_image(self.out / paths["rejected"], img.rgb, meta=img.meta)
            files = [paths["rejected"]]
        save_image(self.out / paths["thumb"], make_thumbnail(img.rgb, THUMB_SIZE), quality=85, mark_edited=False)
        outcome.files = files + [paths["thumb"]]
        return outcome


def run_dataset(
    targets: PathLike | Sequence[PathLike],
    output_dir: PathLike,
    unit: UnitOptions,
    options: DatasetOptions,
    *,
    engine: Engine | None = None,
    on_progress: ProgressCallback | None = None,
    should_stop: StopCheck | None = None,
) -> BatchSummary:
    """Build a LoRA training set: swap `unit`'s identity (source photos and/or a face
    checkpoint, with its enhancement options) into every photo of `targets`, keep what passes
    the filters in `output_dir`/<repeats>_<trigger>/ with captions, and write the report in
    `output_dir`/report/.

    Errors before the job and the callbacks behave as in `run_batch`. The unit's own
    `min_similarity` is applied as a dataset filter (the swap is kept in the rejected copy,
    so the report shows what failed); the report is written even when the job is stopped.
    """
    if unit.min_similarity and not options.min_similarity:
        options = _replace(options, min_similarity=unit.min_similarity)
    unit = _unit_replace(unit, min_similarity=0.0)
    summary, manifest, inputs, handler = run_job(
        targets,
        output_dir,
        [unit],
        lambda out, inp: _DatasetHandler(out, inp, options),
        engine=engine,
        recursive=options.recursive,
        workers=options.workers,
        redo=options.redo,
        on_progress=on_progress,
        should_stop=should_stop,
    )
    try:
        out = Path(summary.output_dir)
        summary.kind = "dataset"
        summary.dataset_dir = str(out / options.folder_name)
        summary.report_dir = str(out / REPORT_DIR)
        write_report(out, manifest, inputs, handler, options, summary)  # type: ignore[arg-type]
    finally:
        manifest.close()
    return summary


def _replace(o: DatasetOptions, **changes: Any) -> DatasetOptions:
    import dataclasses

    return dataclasses.replace(o, **changes)


def _unit_replace(u: UnitOptions, **changes: Any) -> UnitOptions:
    import dataclasses

    return dataclasses.replace(u, **changes)


# ------------------------------------------------------------------------------ the report


def write_report(
    out: Path,
    manifest: Manifest,
    inputs: list[InputFile],
    handler: _DatasetHandler,
    options: DatasetOptions,
    summary: BatchSummary,
) -> None:
    by_key = {r.input: r for r in manifest.records([i.key for i in inputs])}
    recs: list[Record] = []
    missing = 0
    for inp in inputs:
        r = by_key.get(inp.key)
        if r is None or r.options_hash != summary.options_hash:
            missing += 1
            continue
        recs.append(r)
    report = out / REPORT_DIR
    report.mkdir(parents=True, exist_ok=True)
    counts = {s: 0 for s in STATUSES}
    for r in recs:
        counts[r.status] = counts.get(r.status, 0) + 1
    kept = [r for r in recs if r.status == STATUS_SWAPPED]
    rejected = [r for r in recs if r.status != STATUS_SWAPPED]

    def entry(r: Record) -> dict[str, Any]:
        return {
            "input": r.input,
            "name": handler.names.get(r.input),
            "status": r.status,
            "reason": r.reason,
            "similarity": r.similarity,
            "det_score": r.det_score,
            "face_size": r.face_size,
            "faces_detected": r.faces_detected,
            "output": r.output,
            "files": r.files,
        }

    data = {
        "dataset_dir": options.folder_name,
        "trigger": options.trigger,
        "repeats": options.repeats,
        "caption": options.caption,
        "filters": {
            "min_similarity": options.min_similarity,
            "min_det_score": options.min_det_score,
            "min_face_size": options.min_face_size,
            "single_face": options.single_face,
        },
        "options_hash": summary.options_hash,
        "inputs": len(inputs),
        "kept": len(kept),
        "rejected": len(rejected),
        "not_processed": missing,
        "counts": {k: v for k, v in counts.items()},
        "similarity": _stats([r.similarity for r in kept]),
        "items": [entry(r) for r in recs],
    }
    write_text_atomic(report / "summary.json", json.dumps(data, indent=2) + "\n")

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["name", "input", "status", "reason", "similarity", "copy"])
    for r in rejected:
        copy = next((f for f in r.files if f.startswith(f"{REPORT_DIR}/rejected/")), "")
        w.writerow([handler.names.get(r.input, ""), r.input, r.status, r.reason or "", _fmt(r.similarity), copy])
    write_text_atomic(report / "rejected.csv", buf.getvalue())

    draw_histogram(
        report / "similarity_histogram.png",
        [r.similarity for r in kept if r.similarity is not None],
        [r.similarity for r in rejected if r.similarity is not None],
        threshold=options.min_similarity or None,
        title=f"similarity of the swapped face to the identity ({len(kept)} kept, {len(rejected)} rejected)",
    )

    def tile(r: Record) -> Tile:
        thumb = next((out / f for f in r.files if f.startswith(f"{REPORT_DIR}/thumbs/")), None)
        sim = f"sim {r.similarity:.2f}" if r.similarity is not None else ""
        if r.status == STATUS_SWAPPED:
            return Tile(thumb, [handler.names.get(r.input, r.input), sim], KEPT_COLOUR)
        colour = NEUTRAL_COLOUR if r.status in (STATUS_ERROR, STATUS_FAILED, STATUS_BLOCKED) else REJECTED_COLOUR
        return Tile(thumb, [handler.names.get(r.input, r.input), f"{r.status} {sim}".strip(), r.reason or ""], colour)

    lim = options.sheet_limit
    draw_contact_sheet(
        report / "contact_sheet.png",
        [
            (f"kept: {len(kept)}", [tile(r) for r in kept[:lim]], max(0, len(kept) - lim)),
            (f"rejected: {len(rejected)}", [tile(r) for r in rejected[:lim]], max(0, len(rejected) - lim)),
        ],
    )
    if missing:
        summary.warnings.append(f"{missing} input(s) not processed yet (the job was stopped); run it again to finish")


def _fmt(v: float | None) -> str:
    return "" if v is None else f"{v:.4f}"


def _stats(values: Sequence[float | None]) -> dict[str, float] | None:
    vs = sorted(v for v in values if v is not None)
    if not vs:
        return None
    return {"min": vs[0], "median": vs[len(vs) // 2], "mean": round(sum(vs) / len(vs), 4), "max": vs[-1]}


__all__ = ["DatasetOptions", "run_dataset", "validate_trigger", "validate_caption", "DEFAULT_CAPTION", "REPORT_DIR"]
