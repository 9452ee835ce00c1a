"""`run_batch`: swap the units into every image of a folder (or a list), into an output folder
that mirrors the inputs' relative paths. Only swapped images are written; the manifest says
what happened to every other one and why."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ..engine import Engine
from ..errors import OptionsError
from ..imageio import SAVE_FORMATS, save_image
from ..options import UnitOptions
from ..pipeline import SwapResult
from .inputs import InputFile, PathLike, unique_names
from .job import STATUS_SWAPPED, BatchSummary, Outcome, ProgressCallback, StopCheck, run_job

OUTPUT_FORMATS = ("png", "jpg", "webp", "bmp", "tif")


@dataclass(frozen=True)
class BatchOptions:
    recursive: bool = False  # also the images in sub-folders (the layout is mirrored)
    workers: int = 1  # threads sharing one engine; each holds one image at a time
    output_format: str | None = None  # None: keep each input's format; else png, jpg, webp, bmp, tif
    quality: int = 95  # JPEG / WebP quality (100: lossless WebP)
    redo: bool = False  # process every input again, whatever the manifest says

    def __post_init__(self) -> None:
        fmt = self.output_format
        if fmt is not None:
            fmt = str(fmt).strip().lower().lstrip(".")
            if fmt in ("", "same", "keep"):
                fmt = None
            elif fmt == "jpeg":
                fmt = "jpg"
            elif fmt == "tiff":
                fmt = "tif"
            if fmt is not None and fmt not in OUTPUT_FORMATS:
                raise OptionsError(f"output_format must be one of {', '.join(OUTPUT_FORMATS)} (or 'same'), got {self.output_format!r}")
        object.__setattr__(self, "output_format", fmt)
        q = self.quality
        if isinstance(q, bool) or not isinstance(q, int) or not 1 <= q <= 100:
            raise OptionsError(f"quality must be a whole number from 1 to 100, got {q!r}")


class _BatchHandler:
    def __init__(self, out: Path, inputs: list[InputFile], options: BatchOptions) -> None:
        self.out = out
        self.options = options
        fmt = options.output_format

        def name(key: str) -> str:
            if fmt is None:
                return key
            stem = key.rsplit(".", 1)[0] if "." in key.rsplit("/", 1)[-1] else key
            return f"{stem}.{fmt}"

        self.names = unique_names([i.key for i in inputs], name)

    def job_options(self) -> dict[str, Any]:
        return {"mode": "batch", "output_format": self.options.output_format, "quality": self.options.quality}

    def planned(self, inp: InputFile) -> list[str]:
        return [self.names[inp.key]]

    def finish(self, inp: InputFile, result: SwapResult, outcome: Outcome) -> Outcome:
        if outcome.status != STATUS_SWAPPED:
            return outcome
        rel = self.names[inp.key]
        img = result.image
        save_image(self.out / rel, img.rgb, alpha=img.alpha, meta=img.meta, quality=self.options.quality)
        outcome.output = rel
        outcome.files = [rel]
        return outcome


def run_batch(
    targets: PathLike | Sequence[PathLike],
    output_dir: PathLike,
    units: Sequence[UnitOptions],
    *,
    engine: Engine | None = None,
    options: BatchOptions | None = None,
    on_progress: ProgressCallback | None = None,
    should_stop: StopCheck | None = None,
) -> BatchSummary:
    """Swap `units` into every image of `targets` (a folder, or a list of image files) and
    write the swapped images into `output_dir` under the same relative paths.

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
    options = options or BatchOptions()
    summary, manifest, _inputs, _handler = run_job(
        targets,
        output_dir,
        units,
        lambda out, inputs: _BatchHandler(out, inputs, options),
        engine=engine,
        recursive=options.recursive,
        workers=options.workers,
        redo=options.redo,
        on_progress=on_progress,
        should_stop=should_stop,
    )
    manifest.close()
    return summary


__all__ = ["BatchOptions", "run_batch", "OUTPUT_FORMATS", "SAVE_FORMATS"]
