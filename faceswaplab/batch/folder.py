"""`run_batch`: swap the units into every image of a folder (or a list), into an output folder
that mirrors the inputs' relative paths. Only swapped images are written; the manifest says
what happened to every other one and why."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ..engine import Engine
from ..imageio import SAVE_FORMATS, save_image
from ..options import PostOptions, UnitOptions
from ..options.job import DEFAULT_PNG_COMPRESSION
from ..options.meta import CLI, UI, option, validate
from ..pipeline import SwapResult, preflight
from ..postprocess import apply as apply_post
from .inputs import InputFile, PathLike, unique_names
from .results import STATUS_SWAPPED, BatchSummary, Outcome, ProgressCallback, StopCheck
from .runner import run_job

OUTPUT_FORMATS = ("png", "jpg", "webp", "bmp", "tif")
_FRONTS = (CLI, UI)
_FORMAT_ALIASES = {"": "same", "keep": "same", "jpeg": "jpg", "tiff": "tif"}


@dataclass(frozen=True)
class RunOptions:
    """How a folder job runs (batch and dataset alike), not what it writes."""

    # fmt: off
    recursive: bool = option(False, label="Include sub-folders", group="run", fronts=_FRONTS,
                             help="also process images in sub-folders of the target folder (the layout is mirrored)")
    workers: int = option(1, label="Workers (images processed at once)", group="run", fronts=_FRONTS,
                          minimum=1, maximum=64, step=1, metavar="N",
                          help="images processed at once, sharing the models (threads; each holds one image)")
    redo: bool = option(False, label="Redo everything (ignore the manifest)", group="run", fronts=_FRONTS,
                        help="process every image again, even those the manifest says are done")
    png_compression: int = option(DEFAULT_PNG_COMPRESSION, label="PNG compression level", group="output",
                                  fronts=_FRONTS, minimum=0, maximum=9, step=1, metavar="N",
                                  help="zlib level of PNG outputs: 0 stores, 9 is smallest and slowest; "
                                       "the same pixels and metadata at every level (not part of the manifest's "
                                       "job: changing it redoes nothing)")
    # fmt: on

    def __post_init__(self) -> None:
        validate(self)


@dataclass(frozen=True)
class BatchOptions(RunOptions):
    # fmt: off
    output_format: str | None = option("same", label="Output format", group="output", fronts=_FRONTS,
                                       choices=OUTPUT_FORMATS + ("same",),
                                       help="file format of the outputs (same: each input's own)")
    quality: int = option(95, label="JPEG/WebP quality", group="output", fronts=_FRONTS, minimum=1, maximum=100,
                          step=1, metavar="Q", help="JPEG/WebP quality (100: lossless WebP)")
    # fmt: on

    def __post_init__(self) -> None:
        fmt = self.output_format
        if fmt is None:
            fmt = "same"
        fmt = str(fmt).strip().lower().lstrip(".")
        object.__setattr__(self, "output_format", _FORMAT_ALIASES.get(fmt, fmt))
        validate(self)
        if self.output_format == "same":  # None: keep each input's format
            object.__setattr__(self, "output_format", None)


class _BatchHandler:
    def __init__(self, out: Path, inputs: list[InputFile], options: BatchOptions, engine: Engine, post: PostOptions) -> None:
        self.out = out
        self.options = options
        self.engine = engine
        self.post = post
        fmt = options.output_format

        def name(key: str) -> str:
            if fmt is None:
                return key
            stem = key.rsplit(".", 1)[0] if "." in key.rsplit("/", 1)[-1] else key
            return f"{stem}.{fmt}"

        self.names = unique_names([i.key for i in inputs], name)

    def job_options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {"mode": "batch", "output_format": self.options.output_format, "quality": self.options.quality}
        if self.post.active:
            opts["post"] = self.post.to_dict()
        return opts

    def planned(self, inp: InputFile) -> list[str]:
        return [self.names[inp.key]]

    def finish(self, inp: InputFile, result: SwapResult, outcome: Outcome) -> Outcome:
        if outcome.status != STATUS_SWAPPED:
            return outcome
        rel = self.names[inp.key]
        img = finish_post(self.engine, result, self.post)
        save_image(self.out / rel, img.rgb, alpha=img.alpha, meta=img.meta, quality=self.options.quality,
                   png_compression=self.options.png_compression)
        outcome.output = rel
        outcome.files = [rel]
        return outcome


def finish_post(engine: Engine, result: SwapResult, post: PostOptions) -> Any:
    """The pipeline's post-processing step on a folder job's swapped image (the runner swaps
    with the units only; the job's post options are applied here, before the image is written)."""
    if not post.active or not result.report.swapped:
        return result.image
    image, notes = apply_post(engine, result.image, post)
    result.report.postprocessing = notes
    return image


def check_post(engine: Engine, post: PostOptions) -> None:
    """Before any image: the post-processing models exist (one message naming what is missing)."""
    if post.active:
        preflight(engine, [], post)


def run_batch(
    targets: PathLike | Sequence[PathLike],
    output_dir: PathLike,
    units: Sequence[UnitOptions],
    *,
    engine: Engine | None = None,
    options: BatchOptions | None = None,
    post: PostOptions | None = None,
    on_progress: ProgressCallback | None = None,
    should_stop: StopCheck | None = None,
) -> BatchSummary:
    """Swap `units` into every image of `targets` (a folder, or a list of image files),
    post-process each swapped image with `post`, and write them into `output_dir` under the
    same relative paths.

    Before any image: model files are loaded (ModelError, CLI exit 3, when one is missing),
    the units' sources are analysed once (NoFaceError, exit 4, when no unit has a usable
    source face), and bad arguments raise BadInputError (exit 2). After that, what happens
    to each image is recorded in `output_dir`/faceswaplab-manifest.db and never raises:
    swapped, no-face, blocked, filtered (with the reason), error (unreadable image).

    Re-running skips inputs already recorded with the same content and options. `on_progress
    (done, total, item)` is called after each input (also skipped ones) and `should_stop()`
    is polled about ten times a second; both run in the calling thread. When it returns
    True, the inputs being processed are finished and recorded, and the summary says
    `stopped`. Supported inputs: `imageio.IMAGE_EXTENSIONS`.
    """
    from . import rerun

    options = options or BatchOptions()
    post = post or PostOptions()
    engine = engine or Engine()
    key = None
    if not options.redo:  # a finished folder answers from its manifest, loading no model
        job = {k: v for k, v in dataclasses.asdict(options).items() if k not in ("workers", "redo")}
        key = rerun.request_key(units, engine.options, job, post, lambda face: _resolve_face(engine, face))
        done = rerun.finished_summary(targets, output_dir, key, recursive=options.recursive, on_progress=on_progress)
        if done is not None:
            return done
    check_post(engine, post)
    summary, manifest, _inputs, _handler = run_job(
        targets,
        output_dir,
        units,
        lambda out, inputs: _BatchHandler(out, inputs, options, engine, post),
        engine=engine,
        recursive=options.recursive,
        workers=options.workers,
        redo=options.redo,
        on_progress=on_progress,
        should_stop=should_stop,
    )
    manifest.close()
    if not summary.stopped:
        rerun.remember(Path(summary.manifest), key, summary.options_hash)
    return summary


def _resolve_face(engine: Engine, face: str) -> Path:
    from ..checkpoints.library import resolve_checkpoint

    return resolve_checkpoint(face, engine.store, folder=engine.options.faces_dir)


__all__ = ["RunOptions", "BatchOptions", "run_batch", "finish_post", "check_post", "OUTPUT_FORMATS", "SAVE_FORMATS"]
