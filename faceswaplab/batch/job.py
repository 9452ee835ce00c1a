"""The folder job engine shared by `run_batch` and `run_dataset`.

One job = the units prepared once (identities resolved once), then every input through
`pipeline.swap_image` on `workers` threads that share one Engine (ONNX Runtime sessions are
safe to `run` from several threads; the session cache is locked). Each worker decodes one
image at a time, so at most `workers` images (plus their swapped copies) are in memory,
whatever the size of the folder.

Crash safety, in order, for each input:

1. the worker says in the manifest which files it is about to write (``pending``);
2. it writes them, each atomically (temporary file + rename: `imageio.save_image`);
3. the caller's thread records the outcome (``items``) and clears ``pending`` in one
   transaction, then deletes files an earlier record of the same input made and this one
   did not (options changed: the output moved or the image is no longer kept).

Killed anywhere, the next run deletes the files of ``pending`` rows and stray temporary files,
and processes those inputs again; a recorded input is never processed twice (unless its
content or the options changed, or `redo` is set).

Callbacks (`on_progress(done, total, item)`, `should_stop()`) and the manifest writes all run
in the caller's thread; only decoding, swapping and writing images run on the workers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import queue
import re
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

import numpy as np

from .. import safety
from ..engine import Engine
from ..errors import BadInputError, FaceSwapLabError, ModelError, NoFaceError
from ..imageio import LoadedImage, load_image
from ..options import EngineOptions, UnitOptions
from ..pipeline import preflight, PreparedUnit, SwapResult, prepare_units, swap_image
from ..report import SWAPPED, SwapReport
from .inputs import InputFile, PathLike, collect_inputs, file_sha256
from .manifest import MANIFEST_NAME, JobLock, Manifest, Record, open_manifest, safe_child

log = logging.getLogger("faceswaplab")

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

# imageio.save_image's temporary files: ".<name>.<8 hex>.tmp" next to the target.
TEMP_FILE_RE = re.compile(r"^\..+\.[0-9a-f]{8}\.tmp$")


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


# ------------------------------------------------------------------------------ helpers


def swapped_faces(report: SwapReport) -> list[Any]:
    return [f for u in report.units for f in u.faces if f.status == SWAPPED]


def classify(report: SwapReport) -> Outcome:
    """Status of one swap result: swapped, blocked, no-face, or filtered (and why)."""
    faces = swapped_faces(report)
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
        "unit": u.unit,
        "status": u.status,
        "reason": u.reason,
        "faces": [
            {k: getattr(f, k) for k in ("position", "status", "reason", "bbox", "det_score", "similarity")}
            for f in u.faces
        ],
    }


def _digest(v: np.ndarray | None) -> str | None:
    if v is None:
        return None
    q = np.round(np.asarray(v, np.float64).reshape(-1) * 1e4).astype(np.int64)
    return hashlib.sha256(q.tobytes()).hexdigest()[:16]


def options_fingerprint(
    prepared: Sequence[PreparedUnit], engine_options: EngineOptions, job: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """(hash, the options it covers): the unit, engine and job options that change outputs.

    Sources are represented by the identity they resolved to (an embedding digest), so the
    same photos under another path hash the same, and a changed checkpoint hashes differently.
    Models folder, providers and thread count are left out: they do not change the result.
    """
    units = []
    for p in prepared:
        d = p.options.to_dict()
        for k in ("source_images", "face", "reference_image", "source_face_index"):
            d.pop(k, None)
        d["status"] = p.status
        d["identity"] = _digest(p.identity.embedding) if p.identity is not None else None
        d["identity_gender"] = p.identity.gender if p.identity is not None else None
        d["reference"] = _digest(p.reference)
        units.append(d)
    eo = engine_options
    engine = {
        "det_size": eo.det_size,
        "det_thresh": eo.det_thresh,
        "det_retry": eo.det_retry,
        "nsfw_threshold": safety.clamp_threshold(eo.nsfw_threshold),
        "swapper": eo.swapper,
    }
    data = {"units": units, "engine": engine, "job": job}
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16], data


def prepare_job(engine: Engine, units: Sequence[UnitOptions]) -> tuple[list[PreparedUnit], list[str]]:
    """Preflight the models and resolve the units once. Raises NoFaceError (exit code 4)
    when no unit has a usable source face; returns the warnings about units that cannot
    swap."""
    units = list(units)
    if not any(u.enabled and u.has_source for u in units):
        raise BadInputError("no enabled unit with a source: give source images or a face checkpoint")
    preflight(engine, units)
    prepared = prepare_units(engine, units)
    usable = [p for p in prepared if p.status == "ok" and p.identity is not None]
    problems = [f"unit {i + 1}: {p.error}" for i, p in enumerate(prepared) if p.active and p.status != "ok"]
    if not usable:
        raise NoFaceError("nothing can be swapped: " + ("; ".join(problems) or "no usable source face"))
    warnings = problems + [f"unit {i + 1}: {w}" for i, p in enumerate(prepared) if p.identity for w in p.identity.skipped]
    return prepared, warnings


def remove_stale_temp_files(folder: Path, skip: Sequence[Path] = ()) -> list[Path]:
    """Delete temporary files left by a killed job (`imageio.save_image`'s and ours)."""
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    skipped = [Path(os.path.abspath(s)) for s in skip]
    for root, dirs, names in os.walk(folder):
        rootp = Path(root)
        dirs[:] = [d for d in dirs if not any(_within(rootp / d, s) for s in skipped)]
        for n in names:
            if TEMP_FILE_RE.match(n):
                p = rootp / n
                try:
                    p.unlink()
                    removed.append(p)
                except OSError:
                    pass
    return removed


def _within(child: Path, parent: Path) -> bool:
    try:
        child.relative_to(parent)
        return True
    except ValueError:
        return False


def write_text_atomic(path: Path, text: str) -> None:
    """Text file via temporary file + fsync + rename (the same naming as save_image's)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name[:120]}.{os.urandom(4).hex()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _unlink_quiet(path: Path | None) -> None:
    if path is None:
        return
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as e:
        log.warning("could not delete %s: %s", path, e)


# ------------------------------------------------------------------------------ the runner


class _Fatal:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_WORKER_DONE = object()


def run_job(
    targets: PathLike | Sequence[PathLike],
    output_dir: PathLike,
    units: Sequence[UnitOptions],
    handler_factory: Callable[[Path, list[InputFile]], Handler],
    *,
    engine: Engine | None = None,
    recursive: bool = False,
    workers: int = 1,
    redo: bool = False,
    on_progress: ProgressCallback | None = None,
    should_stop: StopCheck | None = None,
) -> tuple[BatchSummary, Manifest, list[InputFile], Handler]:
    """Run a job to the end (or until `should_stop()`); the manifest is returned open."""
    t_start = time.perf_counter()
    try:
        workers = int(workers)
    except (TypeError, ValueError):
        raise BadInputError(f"workers must be a whole number from 1 to 64, got {workers!r}") from None
    if not 1 <= workers <= 64:
        raise BadInputError(f"workers must be a whole number from 1 to 64, got {workers}")
    out = Path(os.path.abspath(os.fspath(output_dir)))
    if out.exists() and not out.is_dir():
        raise BadInputError(f"output folder '{output_dir}' exists and is not a folder")
    folder, inputs = collect_inputs(targets, recursive=recursive, exclude=[out])
    if folder is not None and folder == out:
        raise BadInputError("the output folder must not be the target folder (inputs would be overwritten)")
    engine = engine or Engine()
    prepared, warnings = prepare_job(engine, units)  # models and sources, before touching the output
    handler = handler_factory(out, inputs)
    input_paths = {os.path.normcase(str(i.path)) for i in inputs}
    for inp in inputs:
        for rel in handler.planned(inp):
            if os.path.normcase(str(out / rel)) in input_paths:
                raise BadInputError(f"the output for '{inp.key}' would overwrite an input ({out / rel}); choose another output folder")
    opts_hash, opts = options_fingerprint(prepared, engine.options, handler.job_options())

    out.mkdir(parents=True, exist_ok=True)
    lock = JobLock(out).acquire()
    try:
        manifest = open_manifest(out)
    except BaseException:
        lock.release()
        raise
    manifest.lock = lock  # released when the manifest is closed
    try:
        manifest.set_options(opts_hash, opts)
        _recover(manifest, out, folder)
        summary = BatchSummary(output_dir=str(out), manifest=str(out / MANIFEST_NAME), options_hash=opts_hash)
        summary.total = len(inputs)
        summary.warnings.extend(warnings)
        _run_workers(
            inputs, out, manifest, handler, engine, prepared, opts_hash, workers, redo, summary, on_progress, should_stop
        )
        summary.elapsed_s = round(time.perf_counter() - t_start, 3)
        return summary, manifest, inputs, handler
    except BaseException:
        manifest.close()
        raise


def _recover(manifest: Manifest, out: Path, target_folder: Path | None) -> None:
    """Undo what a killed run left half done: files of unrecorded inputs, temporary files."""
    for key, files in manifest.pending().items():
        doomed = set(files)
        prev = manifest.get(key)
        if prev is not None and doomed & set(prev.files):
            # the killed run was overwriting this record's files (other options, or --redo):
            # they may hold either version now, so the record no longer describes them
            doomed |= set(prev.files)
            manifest.forget([key])
        for rel in sorted(doomed):
            _unlink_quiet(safe_child(out, rel))
        manifest.drop_pending(key)
    skip = [target_folder] if target_folder is not None and _within(target_folder, out) else []
    removed = remove_stale_temp_files(out, skip=skip)
    if removed:
        log.info("removed %d temporary file(s) left by an interrupted job", len(removed))


def _run_workers(
    inputs: list[InputFile],
    out: Path,
    manifest: Manifest,
    handler: Handler,
    engine: Engine,
    prepared: list[PreparedUnit],
    opts_hash: str,
    workers: int,
    redo: bool,
    summary: BatchSummary,
    on_progress: ProgressCallback | None,
    should_stop: StopCheck | None,
) -> None:
    stop = threading.Event()
    results: queue.Queue[Any] = queue.Queue()
    source = iter(inputs)
    source_lock = threading.Lock()

    def next_input() -> InputFile | None:
        if stop.is_set():
            return None
        with source_lock:
            return next(source, None)

    def worker() -> None:
        try:
            while True:
                inp = next_input()
                if inp is None:
                    break
                try:
                    results.put(_process(inp, out, manifest, handler, engine, prepared, opts_hash, redo))
                except BaseException as e:  # model missing, disk full...: stop the whole job
                    stop.set()
                    results.put(_Fatal(e))
                    break
        finally:
            results.put(_WORKER_DONE)

    threads = [threading.Thread(target=worker, name=f"faceswaplab-batch-{i}", daemon=True) for i in range(workers)]
    for t in threads:
        t.start()
    alive = len(threads)
    done = 0
    fatal: BaseException | None = None  # from a worker: a model or the disk failed
    error: BaseException | None = None  # from this thread: a callback or the manifest failed
    interrupted = False
    counts: dict[str, int] = {}
    t0 = time.perf_counter()
    while alive:
        try:
            try:
                msg = results.get(timeout=0.1)
            except queue.Empty:
                msg = None
            if not stop.is_set() and should_stop is not None and should_stop():
                stop.set()
                summary.stopped = True
            if msg is None:
                continue
            if msg is _WORKER_DONE:
                alive -= 1
                continue
            if isinstance(msg, _Fatal):
                fatal = fatal or msg.exc
                continue
            if error is not None:
                continue  # not recorded: its pending row makes the next run redo it
            rec, item = msg
            if rec is not None:
                _commit(manifest, out, rec)
            done += 1
            if item.skipped:
                summary.skipped += 1
            else:
                summary.processed += 1
            counts[item.status] = counts.get(item.status, 0) + 1
            summary.items.append(item)
            if on_progress is not None:
                on_progress(done, len(inputs), item)
        except KeyboardInterrupt:  # finish what the workers hold, record it, then stop
            stop.set()
            interrupted = True
        except BaseException as e:  # noqa: BLE001 - stop the workers cleanly, then re-raise
            stop.set()
            error = error or e
    for t in threads:
        t.join()
    busy = time.perf_counter() - t0
    summary.counts = {s: counts.get(s, 0) for s in STATUSES if counts.get(s, 0)}
    summary.not_reached = len(inputs) - done
    summary.stopped = summary.stopped or interrupted or summary.not_reached > 0
    summary.images_per_s = round(summary.processed / busy, 3) if summary.processed and busy > 0 else 0.0
    if fatal is not None:
        raise fatal
    if error is not None:
        raise error
    if interrupted:
        raise KeyboardInterrupt


def _commit(manifest: Manifest, out: Path, rec: Record) -> None:
    """Record the outcome (its files are in place), then delete what an earlier record of the
    same input produced and this one did not."""
    prev = manifest.get(rec.input)
    manifest.record(rec)
    if prev is not None:
        keep = set(rec.files)
        for rel in prev.files:
            if rel not in keep:
                _unlink_quiet(safe_child(out, rel))


def _process(
    inp: InputFile,
    out: Path,
    manifest: Manifest,
    handler: Handler,
    engine: Engine,
    prepared: list[PreparedUnit],
    opts_hash: str,
    redo: bool,
) -> tuple[Record | None, ItemResult]:
    t0 = time.perf_counter()
    try:
        st = os.stat(inp.path)
    except OSError as e:
        item = ItemResult(inp.key, str(inp.path), STATUS_ERROR, reason=f"cannot read '{inp.path}': {e.strerror or e}")
        rec = Record(inp.key, "", opts_hash, STATUS_ERROR, reason=item.reason)
        return rec, item
    prev = manifest.get(inp.key)
    if not redo and prev is not None and prev.options_hash == opts_hash and prev.status in FINAL_STATUSES:
        same = prev.size == st.st_size and prev.mtime_ns == st.st_mtime_ns
        digest = None if same else file_sha256(inp.path)
        if same or digest == prev.input_hash:
            item = ItemResult(
                inp.key, str(inp.path), prev.status, prev.reason, prev.similarity,
                output=str(out / prev.output) if prev.output else None,
                faces_detected=prev.faces_detected, skipped=True,
            )  # fmt: skip
            return None, item
    else:
        digest = None
    digest = digest or file_sha256(inp.path)

    outcome: Outcome
    planned: list[str] = []
    try:
        loaded: LoadedImage = load_image(inp.path, what="target image")
        result = swap_image(loaded, prepared=prepared, engine=engine)
        del loaded
        outcome = classify(result.report)
        planned = handler.planned(inp)
        manifest.begin(inp.key, planned)
        outcome = handler.finish(inp, result, outcome)
    except ModelError:
        raise  # a model is missing or broken: every image would fail, stop the job
    except BadInputError as e:  # unreadable image, odd pixels: recorded, the job goes on
        outcome = Outcome(STATUS_ERROR, reason=e.message)
    except FaceSwapLabError:
        raise  # cannot write the output (disk full, permissions): stop the job
    except Exception as e:
        log.debug("internal error on %s", inp.path, exc_info=True)
        outcome = Outcome(STATUS_FAILED, reason=f"internal error: {type(e).__name__}: {e}")
    if outcome.status in (STATUS_ERROR, STATUS_FAILED):
        for rel in planned:  # whatever was written before the failure belongs to no record
            _unlink_quiet(safe_child(out, rel))
    elapsed = round(time.perf_counter() - t0, 4)
    rec = Record(
        input=inp.key, input_hash=digest, options_hash=opts_hash, status=outcome.status, reason=outcome.reason,
        similarity=outcome.similarity, det_score=outcome.det_score, face_size=outcome.face_size,
        faces_detected=outcome.faces_detected, output=outcome.output, files=list(outcome.files),
        detail=outcome.detail, size=st.st_size, mtime_ns=st.st_mtime_ns, elapsed_s=elapsed,
    )  # fmt: skip
    item = ItemResult(
        inp.key, str(inp.path), outcome.status, outcome.reason, outcome.similarity,
        output=str(out / outcome.output) if outcome.output else None,
        faces_detected=outcome.faces_detected, elapsed_s=elapsed,
    )  # fmt: skip
    return rec, item
