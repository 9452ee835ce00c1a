"""What a folder job reports: the outcome of each input and the summary of a run.

Kept apart from the runner so that front ends (CLI, web-ui panel, app) and the job kinds
(batch, dataset) can read results without importing the machinery that produces them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from ..pipeline import SwapResult
from ..report import SWAPPED, SwapReport
from .inputs import InputFile

__all__ = [
    "FINAL_STATUSES",
    "STATUSES",
    "STATUS_BLOCKED",
    "STATUS_ERROR",
    "STATUS_FAILED",
    "STATUS_FILTERED",
    "STATUS_NO_FACE",
    "STATUS_SWAPPED",
    "BatchSummary",
    "Handler",
    "ItemResult",
    "Outcome",
    "ProgressCallback",
    "StopCheck",
    "classify",
]

# Outcomes of one input.
STATUS_SWAPPED = "swapped"  # swapped (batch: output written; dataset: kept)
STATUS_NO_FACE = "no-face"  # no face found in the target image
STATUS_BLOCKED = "blocked"  # the content filter blocked the image
STATUS_FILTERED = "filtered"  # faces found, but none swapped/kept (selection or dataset filters)
STATUS_ERROR = "error"  # the image could not be read (unreadable, truncated, too large...)
STATUS_FAILED = "failed"  # an unexpected internal error; retried on the next run
STATUSES = (STATUS_SWAPPED, STATUS_NO_FACE, STATUS_BLOCKED, STATUS_FILTERED, STATUS_ERROR, STATUS_FAILED)
FINAL_STATUSES = frozenset(STATUSES) - {STATUS_FAILED}

ProgressCallback = Callable[[int, int, "ItemResult"], None]
StopCheck = Callable[[], bool]


@dataclass
class ItemResult:
    """What happened to one input in this run (given to `on_progress` and kept in the summary)."""

    input: str  # the input's key: its path relative to the target folder
    path: str  # the input file
    status: str
    reason: str | None = None
    similarity: float | None = None
    output: str | None = None  # the main output file (absolute), if any
    faces_detected: int | None = None
    skipped: bool = False  # True: done by an earlier run, nothing was processed now
    elapsed_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BatchSummary:
    output_dir: str
    manifest: str
    options_hash: str
    kind: str = "batch"  # batch | dataset
    total: int = 0  # inputs in this job
    processed: int = 0  # processed in this run
    skipped: int = 0  # already done by an earlier run
    not_reached: int = 0  # left when the job was stopped
    counts: dict[str, int] = field(default_factory=dict)  # outcome -> inputs (this run + earlier)
    stopped: bool = False
    elapsed_s: float = 0.0
    images_per_s: float = 0.0  # processed inputs per second (skipped ones not counted)
    warnings: list[str] = field(default_factory=list)
    items: list[ItemResult] = field(default_factory=list)
    dataset_dir: str | None = None  # dataset jobs: the <repeats>_<trigger> folder
    report_dir: str | None = None  # dataset jobs: the report folder

    def to_dict(self, items: bool = True) -> dict[str, Any]:
        d = asdict(self)
        if not items:
            d.pop("items")
        return d

    def line(self) -> str:
        names = {STATUS_SWAPPED: "kept"} if self.kind == "dataset" else {}
        parts = [f"{n} {names.get(s, s)}" for s, n in self.counts.items() if n]
        head = f"{self.total} input(s): " + (", ".join(parts) if parts else "nothing done")
        extra = []
        if self.skipped:
            extra.append(f"{self.skipped} already done")
        if self.not_reached:
            extra.append(f"{self.not_reached} not reached (stopped)")
        if self.processed:
            extra.append(f"{self.processed} processed at {self.images_per_s:.2f} images/s")
        return head + (f" ({'; '.join(extra)})" if extra else "")


@dataclass
class Outcome:
    """What a handler made of one input: its record fields and the files it wrote."""

    status: str
    reason: str | None = None
    similarity: float | None = None
    det_score: float | None = None
    face_size: float | None = None
    faces_detected: int | None = None
    output: str | None = None  # relative to the output folder
    files: list[str] = field(default_factory=list)  # relative to the output folder
    detail: dict[str, Any] | None = None


class Handler(Protocol):
    """What a job does with each swap result (the batch and dataset jobs differ only here)."""

    def job_options(self) -> dict[str, Any]:
        """Everything besides units and engine that changes the outputs (hashed)."""

    def planned(self, inp: InputFile) -> list[str]:
        """Every file (relative to the output folder) this input may produce."""

    def finish(self, inp: InputFile, result: SwapResult, outcome: Outcome) -> Outcome:
        """Apply the job's filters and write the files; return the final outcome."""


# ------------------------------------------------------------------------------ classifying a swap result


def _swapped_faces(report: SwapReport) -> list[Any]:
    return [f for u in report.units for f in u.faces if f.status == SWAPPED]


def classify(report: SwapReport) -> Outcome:
    """Status of one swap result: swapped, blocked, no-face, or filtered (and why)."""
    faces = _swapped_faces(report)
    out = Outcome(STATUS_FILTERED, faces_detected=report.faces_detected)
    out.detail = {"units": [_unit_detail(u) for u in report.units], "warnings": list(report.warnings)}
    if report.blocked:
        out.status, out.reason = STATUS_BLOCKED, report.block_reason or "blocked by the content filter"
        return out
    if faces:
        out.status = STATUS_SWAPPED
        sims = [f.similarity for f in faces if f.similarity is not None]
        out.similarity = min(sims) if sims else None
        dets = [f.det_score for f in faces if f.det_score is not None]
        out.det_score = min(dets) if dets else None
        sizes = [min(f.bbox[2] - f.bbox[0], f.bbox[3] - f.bbox[1]) for f in faces if f.bbox]
        out.face_size = round(float(min(sizes)), 1) if sizes else None
        return out
    if report.faces_detected == 0:
        out.status, out.reason = STATUS_NO_FACE, "no face found in the target image"
        return out
    out.reason = report.nothing_swapped_reason()
    sims = [f.similarity for u in report.units for f in u.faces if f.similarity is not None]
    out.similarity = min(sims) if sims else None
    return out


def _unit_detail(u: Any) -> dict[str, Any]:
    return {
        "unit": u.unit + 1,  # numbered from 1, as every report shows units
        "status": u.status,
        "reason": u.reason,
        "faces": [
            {k: getattr(f, k) for k in ("position", "status", "reason", "bbox", "det_score", "gender", "age", "similarity")}
            for f in u.faces
        ],
    }
