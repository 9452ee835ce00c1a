"""sha256 and signature results of model files, cached by absolute path, size and mtime.

Hashing a 554 MB file at every start is too slow, so results are kept in
`.faceswaplab-digests.json` in the models dir and trusted while a file's size and mtime_ns
hold. The file is written with `durable.atomic_write`, so a crash never leaves half of it;
if the folder is not writable the cache stays in memory.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from ..durable import atomic_write

__all__ = ["CACHE_NAME", "DigestCache", "cache_for", "sha256_file"]

log = logging.getLogger("faceswaplab")

CACHE_NAME = ".faceswaplab-digests.json"

_HASH_CHUNK = 1 << 20

# One lock for every cache: held only around dict access and the small JSON write, never
# while hashing or parsing a model.
_LOCK = threading.Lock()
_CACHES: dict[str, DigestCache] = {}


def sha256_file(path: Path) -> str:
    """Stream the file through sha256 (module-level so tests can count calls)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_HASH_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


class DigestCache:
    """sha256 and signature results by absolute path, valid while size and mtime_ns hold.

    Persisted as JSON in the models dir; if the folder is not writable it stays in memory."""

    def __init__(self, file: Path) -> None:
        self.file = file
        self.entries: dict[str, dict[str, Any]] = {}
        self.persistent = True
        self._load()

    def _load(self) -> None:
        try:
            data = json.loads(self.file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        files = data.get("files") if isinstance(data, dict) else None
        if not isinstance(files, dict):
            return
        for key, e in files.items():
            if (
                isinstance(e, dict)
                and isinstance(e.get("size"), int)
                and isinstance(e.get("mtime_ns"), int)
                and os.path.exists(key)  # drop entries of files that are gone
            ):
                self.entries[key] = e

    def lookup(self, key: str, size: int, mtime_ns: int) -> dict[str, Any] | None:
        with _LOCK:
            e = self.entries.get(key)
            if e is None or e.get("size") != size or e.get("mtime_ns") != mtime_ns:
                return None
            return dict(e)

    def update(self, key: str, size: int, mtime_ns: int, **fields: Any) -> None:
        with _LOCK:
            e = self.entries.get(key)
            if e is None or e.get("size") != size or e.get("mtime_ns") != mtime_ns:
                e = {"size": size, "mtime_ns": mtime_ns}  # stale: start again
            if "signatures" in fields:
                sigs = dict(e.get("signatures") or {})
                sigs.update(fields.pop("signatures"))
                e["signatures"] = sigs
            e.update(fields)
            self.entries[key] = e
            self._save_locked()

    def _save_locked(self) -> None:
        if not self.persistent or not self.file.parent.is_dir():
            return
        payload = json.dumps({"version": 1, "files": self.entries}, indent=1, sort_keys=True)
        try:
            atomic_write(self.file, payload, make_parents=False)
        except OSError as e:
            self.persistent = False
            log.debug("faceswaplab: digest cache not written (%s); keeping it in memory", e)


def cache_for(models_dir: Path) -> DigestCache:
    key = str(models_dir)
    with _LOCK:
        cache = _CACHES.get(key)
    if cache is not None:
        return cache
    fresh = DigestCache(models_dir / CACHE_NAME)  # reads the file outside the lock
    with _LOCK:
        return _CACHES.setdefault(key, fresh)
