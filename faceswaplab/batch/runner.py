"""The folder job runner shared by `run_batch` and `run_dataset`.

One job = the units prepared once (identities resolved once), then every input through
`pipeline.swap_image` on `workers` threads that share one Engine (ONNX Runtime sessions are
safe to `run` from several threads; the session cache is locked). Each worker decodes one
image at a time, so at most `workers` images (plus their swapped copies) are in memory,
whatever the size of the folder.

Crash safety, in order, for each input:

1. the worker says in the manifest which files it is about to write (``pending``);
2. it writes them, each atomically (`durable.atomic_write`, via `imageio.save_image`);
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

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..durable import TEMP_NAME_RE, unlink_quiet
from ..engine import Engine
from ..errors import BadInputError, FaceSwapLabError, ModelError
from ..imageio import LoadedImage, load_image
from ..options import UnitOptions
from ..pipeline import PreparedUnit, swap_image
from .inputs import InputFile, PathLike, collect_inputs, file_sha256
from .manifest import MANIFEST_NAME, JobLock, Manifest, Record, ensure_output_dir, open_manifest, safe_child
from .prepare import options_fingerprint, prepare_job
from .results import (
    FINAL_STATUSES,
    STATUS_ERROR,
    STATUS_FAILED,
    STATUSES,
    BatchSummary,
    Handler,
    ItemResult,
    Outcome,
    ProgressCallback,
    StopCheck,
    classify,
)

__all__ = ["remove_stale_temp_files", "run_job"]

log = logging.getLogger("faceswaplab")


def remove_stale_temp_files(folder: Path, skip: Sequence[Path] = ()) -> list[Path]:
    """Delete the temporary files of `durable.atomic_write` that a killed job left behind."""
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    skipped = [Path(os.path.abspath(s)) for s in skip]
    for root, dirs, names in os.walk(folder):
        rootp = Path(root)
        dirs[:] = [d for d in dirs if not any(_within(rootp / d, s) for s in skipped)]
        for n in names:
            if TEMP_NAME_RE.match(n):
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
    engine = worker_engine(engine or Engine(), workers)
    prepared, warnings = prepare_job(engine, units)  # models and sources, before touching the output
    handler = handler_factory(out, inputs)
    input_paths = {os.path.normcase(str(i.path)) for i in inputs}
    for inp in inputs:
        for rel in handler.planned(inp):
            if os.path.normcase(str(out / rel)) in input_paths:
                raise BadInputError(f"the output for '{inp.key}' would overwrite an input ({out / rel}); choose another output folder")
    opts_hash, opts = options_fingerprint(prepared, engine.options, handler.job_options())

    ensure_output_dir(out)  # a read-only or unwritable folder: one line naming it, exit 2
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


def cpu_cores() -> int:
    """The cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def worker_threads(workers: int, cores: int | None = None) -> int:
    """ONNX Runtime threads per session when `workers` images run at once: the cores shared
    out (each worker's sessions get cores / workers), so workers do not oversubscribe."""
    return max(1, (cores or cpu_cores()) // max(1, int(workers)))


def worker_engine(engine: Engine, workers: int) -> Engine:
    """The engine the workers share: with several workers and automatic threads (0), one
    whose sessions use worker_threads(workers) threads each (and, being below the core
    count, do not spin: models/sessions.py). With 2 workers on 2 cores, default threads
    made 2 workers slower than 1 (190 ms CPU per image instead of 110)."""
    if workers > 1 and engine.options.threads == 0:
        return engine.with_options(threads=worker_threads(workers))
    return engine


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
            unlink_quiet(safe_child(out, rel))
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
                unlink_quiet(safe_child(out, rel))


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
            unlink_quiet(safe_child(out, rel))
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
