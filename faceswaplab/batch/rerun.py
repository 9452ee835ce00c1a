"""A re-run over a finished batch folder answers from the manifest without loading a model.

Why: the manifest's options hash covers the identity the sources resolve to (an embedding),
so checking it needs the detector and the recognition model: seconds of loading to skip
images that are all done. So each finished run also records a *request key*, a hash of the
request as given (unit options with every source file by content, engine, job and
post-processing options), next to the options hash it led to. A later run with the same key,
over inputs whose every record is final and whose files are unchanged (size and mtime), is
the summary of those records; anything else (a new or changed input, other options,
--redo) takes the normal path, which decides as before.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from ..options import EngineOptions, PostOptions, UnitOptions
from .inputs import InputFile, PathLike, collect_inputs, file_sha256
from .manifest import MANIFEST_NAME, Record
from .results import FINAL_STATUSES, STATUSES, BatchSummary, ItemResult

_KEY_PREFIX = "request:"


def _file_digest(value: Any) -> str | None:
    """A source named by path, by content; None for anything else (arrays, images)."""
    if not isinstance(value, (str, os.PathLike)):
        return None
    try:
        return file_sha256(Path(os.fspath(value)))
    except OSError:
        return None


def request_key(
    units: Sequence[UnitOptions], engine_options: EngineOptions, job: dict[str, Any], post: PostOptions,
    resolve_face: Callable[[str], Path],
) -> str | None:
    """The hash of the request as given, or None when it cannot be told from files alone."""
    out_units = []
    for u in units:
        d = u.to_dict()
        sources = []
        for s in u.source_images:
            digest = _file_digest(s)
            if digest is None:
                return None
            sources.append(digest)
        d["source_images"] = sources
        if u.face:
            try:
                d["face"] = file_sha256(resolve_face(u.face))
            except Exception:  # the normal path says what is wrong with it
                return None
        if u.reference_image is not None:
            d["reference_image"] = _file_digest(u.reference_image)
            if d["reference_image"] is None:
                return None
        out_units.append(d)
    eo = dataclasses.asdict(engine_options)
    for k in ("models_dir", "providers", "threads"):
        eo.pop(k, None)
    data = {"units": out_units, "engine": eo, "job": job, "post": post.to_dict()}
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:24]


def remember(manifest_path: Path, key: str | None, options_hash: str) -> None:
    """Record which options hash `key` led to (after a run that finished)."""
    if key is None:
        return
    try:
        db = sqlite3.connect(str(manifest_path), timeout=30.0)
        try:
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", (_KEY_PREFIX + key, options_hash))
            db.commit()
        finally:
            db.close()
    except sqlite3.Error:
        pass  # only an optimisation: the next run takes the normal path


def finished_summary(
    targets: PathLike | Sequence[PathLike], output_dir: PathLike, key: str | None, *, recursive: bool,
    on_progress: Callable[[int, int, ItemResult], None] | None = None,
) -> BatchSummary | None:
    """The summary of a job that is already done in `output_dir`, or None (run it)."""
    if key is None:
        return None
    t0 = time.perf_counter()
    out = Path(os.path.abspath(os.fspath(output_dir)))
    db_path = out / MANIFEST_NAME
    if not db_path.is_file():
        return None
    try:
        folder, inputs = collect_inputs(targets, recursive=recursive, exclude=[out])
    except Exception:  # the normal path reports it
        return None
    if folder is not None and folder == out:
        return None
    records = _read(db_path, key, inputs)
    if records is None:
        return None
    opts_hash, recs = records
    summary = BatchSummary(output_dir=str(out), manifest=str(db_path), options_hash=opts_hash, total=len(inputs))
    counts: dict[str, int] = {}
    for done, (inp, rec) in enumerate(zip(inputs, recs), start=1):
        item = ItemResult(
            inp.key, str(inp.path), rec.status, rec.reason, rec.similarity,
            output=str(out / rec.output) if rec.output else None, faces_detected=rec.faces_detected, skipped=True,
        )  # fmt: skip
        summary.items.append(item)
        counts[rec.status] = counts.get(rec.status, 0) + 1
        if on_progress is not None:
            on_progress(done, len(inputs), item)
    summary.skipped = len(inputs)
    summary.counts = {s: counts[s] for s in STATUSES if counts.get(s)}
    summary.elapsed_s = round(time.perf_counter() - t0, 3)
    return summary


def _read(db_path: Path, key: str, inputs: list[InputFile]) -> tuple[str, list[Record]] | None:
    from .manifest import _ITEM_COLUMNS

    try:
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5.0)
    except sqlite3.Error:
        return None
    try:
        row = db.execute("SELECT value FROM meta WHERE key=?", (_KEY_PREFIX + key,)).fetchone()
        if row is None or db.execute("SELECT COUNT(*) FROM pending").fetchone()[0]:
            return None
        opts_hash = row[0]
        recs = []
        for inp in inputs:
            r = db.execute(f"SELECT {', '.join(_ITEM_COLUMNS)} FROM items WHERE input=?", (inp.key,)).fetchone()
            if r is None:
                return None
            rec = Record.from_row(r)
            try:
                st = os.stat(inp.path)
            except OSError:
                return None
            if rec.options_hash != opts_hash or rec.status not in FINAL_STATUSES:
                return None
            if rec.size != st.st_size or rec.mtime_ns != st.st_mtime_ns:
                return None
            if any(not (db_path.parent / f).exists() for f in rec.files):
                return None
            recs.append(rec)
        return opts_hash, recs
    except sqlite3.Error:
        return None
    finally:
        db.close()


__all__ = ["request_key", "remember", "finished_summary"]
