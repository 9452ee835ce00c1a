"""Folder jobs: `run_batch` (swap into every image of a folder) and `run_dataset` (build a
LoRA training set), with a manifest in the output folder for resume and skip.

Both share one runner (`runner.py`; outcomes and summaries in `results.py`): units prepared
once, worker threads sharing one Engine, images streamed one per worker, every output
written atomically and recorded after it is in place. Front ends (CLI, web-ui panel,
standalone app) call these two functions with an optional `on_progress(done, total, item)`
and `should_stop() -> bool`.
"""

from .dataset import DEFAULT_CAPTION, REPORT_DIR, DatasetOptions, run_dataset, validate_caption, validate_trigger
from .folder import OUTPUT_FORMATS, BatchOptions, run_batch
from .results import (
    FINAL_STATUSES,
    STATUS_BLOCKED,
    STATUS_ERROR,
    STATUS_FAILED,
    STATUS_FILTERED,
    STATUS_NO_FACE,
    STATUS_SWAPPED,
    STATUSES,
    BatchSummary,
    ItemResult,
    ProgressCallback,
    StopCheck,
)
from .manifest import LOCK_NAME, MANIFEST_NAME, Manifest, Record

__all__ = [
    "run_batch",
    "run_dataset",
    "BatchOptions",
    "DatasetOptions",
    "BatchSummary",
    "ItemResult",
    "ProgressCallback",
    "StopCheck",
    "Manifest",
    "Record",
    "MANIFEST_NAME",
    "LOCK_NAME",
    "REPORT_DIR",
    "DEFAULT_CAPTION",
    "OUTPUT_FORMATS",
    "STATUSES",
    "FINAL_STATUSES",
    "STATUS_SWAPPED",
    "STATUS_NO_FACE",
    "STATUS_BLOCKED",
    "STATUS_FILTERED",
    "STATUS_ERROR",
    "STATUS_FAILED",
    "validate_trigger",
    "validate_caption",
]
