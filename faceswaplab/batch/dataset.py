"""Dataset mode: one identity swapped into a folder of photos, enhanced, the broken results
filtered out, written in the layout LoRA trainers (kohya-ss sd-scripts and the tools built on
it) read::

    OUTPUT/
      <repeats>_<trigger>/        only the kept images: trainers read every image here
        NAME.png                  the swapped photo (RGB PNG)
        NAME.txt                  its caption: the template ("{trigger}, a photo"), then in
                                  the web-ui optionally BLIP's caption or DeepBooru's tags
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

import re
import string
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

from ..durable import atomic_write
from ..engine import Engine
from ..errors import OptionsError, write_error
from ..imageio import save_image
from ..options import PostOptions, UnitOptions
from ..options.meta import CLI, NUMBER, STR, UI, option, validate
from ..pipeline import SwapResult
from .captions import CAPTION_MODES, Captions
from .dataset_report import REPORT_DIR, write_report
from .folder import RunOptions, check_post, finish_post
from .inputs import InputFile, PathLike, unique_names
from .results import (
    STATUS_BLOCKED,
    STATUS_FILTERED,
    STATUS_SWAPPED,
    BatchSummary,
    Outcome,
    ProgressCallback,
    StopCheck,
)
from .runner import run_job
from .sheets import make_thumbnail

THUMB_SIZE = 192
DEFAULT_CAPTION = "{trigger}, a photo"
CAPTION_FIELDS = ("trigger", "name", "gender")
_FRONTS = (CLI, UI)
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


@dataclass(frozen=True, kw_only=True)
class DatasetOptions(RunOptions):
    """What a dataset keeps and how it is laid out (the run options come from RunOptions)."""

    # fmt: off
    trigger: str = option(label="Trigger word", group="dataset", value=STR, fronts=_FRONTS, metavar="WORD",
                          help="the trigger word: folder <repeats>_<trigger>, and in every caption")
    repeats: int = option(10, label="Repeats (folder <repeats>_<trigger>)", group="dataset", fronts=_FRONTS,
                          minimum=1, maximum=10000, step=1, kind=NUMBER, metavar="N",
                          help="kohya's repeats per epoch, the training folder's number prefix")
    caption: str = option("trigger", label="Captions", group="dataset", fronts=_FRONTS, choices=CAPTION_MODES,
                          metavar="MODE",
                          help="trigger: the template only; blip / deepbooru (web-ui only): the host's BLIP caption "
                               "or DeepBooru tags; trigger+blip / trigger+deepbooru: the template, then those")
    caption_template: str = option(DEFAULT_CAPTION, label="Caption template ({trigger}, {name}, {gender})",
                                   group="dataset", fronts=_FRONTS, metavar="TEMPLATE",
                                   help="caption template with {trigger}; optionally {name} (the image's name) and "
                                        "{gender} (woman or man, from the attribute model)")
    min_similarity: float = option(0.0, label="Minimum similarity of the result to the identity", group="filter",
                                   fronts=_FRONTS, minimum=0.0, maximum=1.0, step=0.01, metavar="X",
                                   help="reject results whose swapped face is less similar than this to the identity "
                                        "(0: off)")
    min_det_score: float = option(0.0, label="Minimum detection score", group="filter", fronts=_FRONTS,
                                  minimum=0.0, maximum=1.0, step=0.01, metavar="X",
                                  help="reject photos whose face was detected with a lower score (0: off)")
    keep_min_face_size: int = option(64, label="Minimum face size to keep a photo (px, shorter side)", group="filter",
                                     fronts=_FRONTS, minimum=0, step=1, metavar="PX",
                                     help="reject photos whose face box is smaller than this, shorter side in px "
                                          "(0: off)")
    single_face: bool = option(True, label="Exactly one face per photo", group="filter", fronts=_FRONTS,
                               flag="allow-multiple-faces",
                               help="keep photos with several faces (default: exactly one face)")
    sheet_limit: int = option(96, label="Thumbnails per section of the contact sheet", group="dataset", fronts=(),
                              minimum=0, step=1)
    # fmt: on

    def __post_init__(self) -> None:
        if self.caption is None:
            object.__setattr__(self, "caption", "trigger")
        if self.caption_template is None:
            object.__setattr__(self, "caption_template", DEFAULT_CAPTION)
        if self.caption not in CAPTION_MODES:  # round 1's `caption` was the template: still accepted
            object.__setattr__(self, "caption_template", self.caption)
            object.__setattr__(self, "caption", "trigger")
        validate(self)
        object.__setattr__(self, "trigger", validate_trigger(self.trigger))
        object.__setattr__(self, "caption_template", validate_caption(self.caption_template))

    @property
    def folder_name(self) -> str:
        return f"{self.repeats}_{self.trigger}"

    def caption_for(self, name: str, gender: str = "person") -> str:
        """The template's text (no host captioner)."""
        return self.caption_template.format(trigger=self.trigger, name=name, gender=gender)

    def job_options(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("recursive", "workers", "redo", "sheet_limit"):
            d.pop(k)
        return {"mode": "dataset", **d}

    def filters(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("min_similarity", "min_det_score", "keep_min_face_size", "single_face")}


def _name_of(key: str) -> str:
    stem = key.rsplit(".", 1)[0] if "." in key.rsplit("/", 1)[-1] else key
    name = re.sub(r"[\\/]+", "_", stem).strip() or "image"
    return name


class _DatasetHandler:
    def __init__(
        self, out: Path, inputs: list[InputFile], options: DatasetOptions, engine: Engine, post: PostOptions, captions: Captions
    ) -> None:
        self.out = out
        self.captions = captions
        self.options = options
        self.engine = engine
        self.post = post
        self.names = unique_names([i.key for i in inputs], _name_of)

    def job_options(self) -> dict[str, Any]:
        opts = self.options.job_options()
        if self.post.active:
            opts["post"] = self.post.to_dict()
        return opts

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
        if o.keep_min_face_size and outcome.face_size is not None and outcome.face_size < o.keep_min_face_size:
            reasons.append(f"face too small: {outcome.face_size:.0f} px < {o.keep_min_face_size} px")
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
        img = finish_post(self.engine, result, self.post) if outcome.status == STATUS_SWAPPED else result.image
        name = self.names[inp.key]
        if outcome.status == STATUS_SWAPPED:
            save_image(self.out / paths["image"], img.rgb, meta=img.meta, png_compression=self.options.png_compression)
            text, note = self.captions.text_for(name, img.rgb, result.report)
            if note:
                outcome.detail = {**(outcome.detail or {}), "caption_note": note}
            try:
                atomic_write(self.out / paths["caption"], text + "\n")
            except OSError as e:  # disk full, read-only: the job stops with exit 6
                raise write_error("a caption", self.out / self.options.folder_name, e) from None
            outcome.output = paths["image"]
            files = [paths["image"], paths["caption"]]
        else:
            save_image(self.out / paths["rejected"], img.rgb, meta=img.meta,
                       png_compression=self.options.png_compression)
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
    post: PostOptions | None = None,
    on_progress: ProgressCallback | None = None,
    should_stop: StopCheck | None = None,
) -> BatchSummary:
    """Build a LoRA training set: swap `unit`'s identity (source photos and/or a face
    checkpoint, with its enhancement options) into every photo of `targets`, post-process the
    kept ones with `post`, keep what passes the filters in `output_dir`/<repeats>_<trigger>/
    with captions, and write the report in `output_dir`/report/.

    Errors before the job and the callbacks behave as in `run_batch`. The unit's own
    `min_similarity` is applied as a dataset filter (the swap is kept in the rejected copy,
    so the report shows what failed); the report is written even when the job is stopped.
    """
    if unit.min_similarity and not options.min_similarity:
        options = _replace(options, min_similarity=unit.min_similarity)
    unit = _unit_replace(unit, min_similarity=0.0)
    post = post or PostOptions()
    engine = engine or Engine()
    check_post(engine, post)
    captions = Captions(engine, options.caption, options.caption_template, options.trigger)
    try:
        summary, manifest, inputs, handler = run_job(
            targets,
            output_dir,
            [unit],
            lambda out, inp: _DatasetHandler(out, inp, options, engine, post, captions),
            engine=engine,
            recursive=options.recursive,
            workers=options.workers,
            redo=options.redo,
            on_progress=on_progress,
            should_stop=should_stop,
        )
    finally:
        captions.close()  # the host's captioning model is freed with the job
    try:
        out = Path(summary.output_dir)
        summary.kind = "dataset"
        summary.dataset_dir = str(out / options.folder_name)
        summary.report_dir = str(out / REPORT_DIR)
        try:
            write_report(out, manifest, inputs, handler.names, options, summary)
        except OSError as e:  # the images and captions are in place; only the report failed
            raise write_error("the dataset report", out / REPORT_DIR, e) from None
    finally:
        manifest.close()
    return summary


def _replace(o: DatasetOptions, **changes: Any) -> DatasetOptions:
    import dataclasses

    return dataclasses.replace(o, **changes)


def _unit_replace(u: UnitOptions, **changes: Any) -> UnitOptions:
    import dataclasses

    return dataclasses.replace(u, **changes)


__all__ = ["DatasetOptions", "run_dataset", "validate_trigger", "validate_caption", "DEFAULT_CAPTION", "REPORT_DIR"]
