"""The job manifest: one SQLite file in the output folder that says what was done.

Tables:

* ``items``: one row per input (keyed by its path relative to the target folder) with the
  sha256 of its content, the options hash it was processed with, the outcome (status, reason,
  similarity...) and the files it produced. A row is written only AFTER its files are in
  place, so a row always describes files that exist in full.
* ``pending``: the files a worker is about to write for an input. Written before the files,
  removed in the same transaction that writes the ``items`` row. A job killed in between
  leaves a ``pending`` row; the next run deletes those files (they belong to no record) and
  processes the input again.
* ``meta``: schema version, and the options behind each options hash (for people reading
  the manifest).

The database runs in WAL mode with synchronous=NORMAL: every commit survives the process
being killed at any point (SIGKILL included); only a power cut can lose the last commits,
and then the inputs are simply processed again. One connection is shared by the job's
threads behind a lock.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from ..errors import BadInputError, FaceSwapLabError, WriteError, write_error

MANIFEST_NAME = "faceswaplab-manifest.db"
LOCK_NAME = "faceswaplab-manifest.lock"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    input TEXT PRIMARY KEY,
    input_hash TEXT NOT NULL,
    size INTEGER,
    mtime_ns INTEGER,
    options_hash TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    similarity REAL,
    det_score REAL,
    face_size REAL,
    faces_detected INTEGER,
    output TEXT,
    files TEXT NOT NULL DEFAULT '[]',
    detail TEXT,
    elapsed_s REAL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS pending (input TEXT PRIMARY KEY, files TEXT NOT NULL, started REAL NOT NULL);
"""

_ITEM_COLUMNS = (
    "input", "input_hash", "size", "mtime_ns", "options_hash", "status", "reason", "similarity", "det_score",
    "face_size", "faces_detected", "output", "files", "detail", "elapsed_s", "updated",
)  # fmt: skip


@dataclass
class Record:
    """One row of ``items``. Paths in `output` and `files` are relative to the output folder."""

    input: str
    input_hash: str
    options_hash: str
    status: str
    reason: str | None = None
    similarity: float | None = None
    det_score: float | None = None
    face_size: float | None = None
    faces_detected: int | None = None
    output: str | None = None
    files: list[str] = field(default_factory=list)
    detail: dict[str, Any] | None = None
    size: int | None = None
    mtime_ns: int | None = None
    elapsed_s: float | None = None
    updated: float = 0.0

    def to_row(self) -> tuple[Any, ...]:
        d = dict(self.__dict__)
        d["files"] = json.dumps(self.files)
        d["detail"] = None if self.detail is None else json.dumps(self.detail, default=str)
        d["updated"] = self.updated or time.time()
        return tuple(d[c] for c in _ITEM_COLUMNS)

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> "Record":
        d = dict(zip(_ITEM_COLUMNS, row))
        d["files"] = json.loads(d["files"] or "[]")
        d["detail"] = json.loads(d["detail"]) if d["detail"] else None
        return cls(**d)


class ManifestError(FaceSwapLabError):
    exit_code = 2
    http_status = 409


_FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG)


def output_dir_error(folder: Path, e: OSError) -> FaceSwapLabError:
    """A folder the job cannot write: full (exit 6, could not write the output) or not
    writable at all (read-only, permissions: exit 2, choose another folder)."""
    if e.errno in _FULL:
        return write_error("the job's files", folder, e)
    return BadInputError(
        f"output folder {folder} cannot be written ({e.strerror or e}); choose a folder you can write to"
    )


def ensure_output_dir(folder: Path) -> None:
    """Create the output folder and check it can be written, before any work: a read-only
    mount or a folder without permission is one line naming the folder, not an internal error."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / LOCK_NAME, os.O_WRONLY | os.O_CREAT, 0o666)
        os.close(fd)
    except OSError as e:
        raise output_dir_error(folder, e) from None


def _db_error(path: Path, e: sqlite3.Error) -> FaceSwapLabError:
    text = str(e).lower()
    folder = path.parent
    if "full" in text or "disk i/o" in text:
        return WriteError(
            f"could not write the manifest in {folder} ({e}); free some disk space and run again "
            "(finished images are kept)"
        )
    if "readonly" in text or "read-only" in text or "unable to open" in text:
        return BadInputError(f"output folder {folder} cannot be written ({e}); choose a folder you can write to")
    return ManifestError(
        f"the manifest {path} cannot be opened ({e}); if it is damaged, delete it "
        "(the job then processes every input again) or use another output folder"
    )


class Manifest:
    """The SQLite manifest of one output folder. Thread-safe (one connection, one lock)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self.lock: JobLock | None = None  # the job's folder lock, released by close()
        try:
            self._db = sqlite3.connect(str(self.path), timeout=30.0, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            row = self._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if row is None:
                self._db.execute("INSERT INTO meta(key, value) VALUES('schema', ?)", (str(SCHEMA_VERSION),))
            elif int(row[0]) > SCHEMA_VERSION:
                raise ManifestError(
                    f"the manifest {self.path} was written by a newer FaceSwapLab (schema {row[0]}); "
                    "upgrade, or use another output folder"
                )
        except sqlite3.DatabaseError as e:
            raise _db_error(self.path, e) from None

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """A failed manifest write (disk full, read-only) is its one-line error, not a bug."""
        with self._lock:
            try:
                yield
            except sqlite3.OperationalError as e:
                raise _db_error(self.path, e) from None

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            try:
                self._db.close()
            except sqlite3.Error:
                pass
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    def __enter__(self) -> "Manifest":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- reads -----------------------------------------------------------------------------

    def get(self, key: str) -> Record | None:
        with self._lock:
            row = self._db.execute(f"SELECT {', '.join(_ITEM_COLUMNS)} FROM items WHERE input=?", (key,)).fetchone()
        return Record.from_row(row) if row else None

    def records(self, keys: Iterable[str] | None = None) -> list[Record]:
        with self._lock:
            rows = self._db.execute(f"SELECT {', '.join(_ITEM_COLUMNS)} FROM items ORDER BY input").fetchall()
        recs = [Record.from_row(r) for r in rows]
        if keys is not None:
            wanted = set(keys)
            recs = [r for r in recs if r.input in wanted]
        return recs

    def pending(self) -> dict[str, list[str]]:
        with self._lock:
            rows = self._db.execute("SELECT input, files FROM pending").fetchall()
        return {k: json.loads(f) for k, f in rows}

    # -- writes ----------------------------------------------------------------------------

    def set_options(self, options_hash: str, options: dict[str, Any]) -> None:
        with self._writing():
            self._db.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)",
                (f"options:{options_hash}", json.dumps(options, sort_keys=True, default=str)),
            )

    def begin(self, key: str, files: Sequence[str]) -> None:
        """Say which files are about to be written for `key` (before writing them)."""
        with self._writing():
            self._db.execute(
                "INSERT OR REPLACE INTO pending(input, files, started) VALUES(?, ?, ?)",
                (key, json.dumps(list(files)), time.time()),
            )

    def record(self, rec: Record) -> None:
        """Write the outcome of `rec.input` (after its files are in place) and clear its
        pending row, in one transaction."""
        with self._writing():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    f"INSERT OR REPLACE INTO items({', '.join(_ITEM_COLUMNS)}) "
                    f"VALUES({', '.join('?' for _ in _ITEM_COLUMNS)})",
                    rec.to_row(),
                )
                self._db.execute("DELETE FROM pending WHERE input=?", (rec.input,))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def drop_pending(self, key: str) -> None:
        with self._writing():
            self._db.execute("DELETE FROM pending WHERE input=?", (key,))

    def forget(self, keys: Iterable[str]) -> None:
        with self._writing():
            self._db.executemany("DELETE FROM items WHERE input=?", [(k,) for k in keys])


class JobLock:
    """An exclusive lock on the output folder for the duration of a job, so two jobs (two
    processes, or two calls in one web-ui) never write one folder at once: the second would
    take the first's in-flight files for leftovers of a killed run. The lock file stays (an
    empty file); the lock itself dies with the process that holds it."""

    def __init__(self, output_dir: Path) -> None:
        self.path = output_dir / LOCK_NAME
        self._fh: Any = None

    def acquire(self) -> "JobLock":
        try:
            fh = open(self.path, "a+b")
        except OSError as e:
            raise output_dir_error(self.path.parent, e) from None
        try:
            if os.name == "nt":
                import msvcrt

                fh.seek(0)
                msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            raise ManifestError(
                f"another job is writing to {self.path.parent} right now; wait for it to finish, "
                "or use another output folder"
            ) from None
        self._fh = fh
        return self

    def release(self) -> None:
        fh, self._fh = self._fh, None
        if fh is None:
            return
        try:
            if os.name == "nt":
                import msvcrt

                fh.seek(0)
                msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)
            else:
                import fcntl

                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        except OSError:
            pass
        finally:
            fh.close()


def open_manifest(output_dir: Path) -> Manifest:
    ensure_output_dir(output_dir)
    return Manifest(output_dir / MANIFEST_NAME)


def safe_child(output_dir: Path, rel: str) -> Path | None:
    """`output_dir / rel` if it stays inside `output_dir` (manifest paths are never trusted
    to point elsewhere), else None."""
    p = Path(os.path.normpath(output_dir / rel))
    try:
        p.relative_to(output_dir)
    except ValueError:
        return None
    return p
