"""Source and reference photos analysed once per job: a cache keyed by what a photo IS.

`prepare_units` resolves every unit's identity; units often share a photo (one person into
several faces, the same upload as source and reference). Keying by content (a hash of the
file's bytes or of the decoded pixels) rather than by path or object makes the same photo
under another name, or a copy of an array, a hit too.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .analysis.face import Face


@dataclass
class SourceCache:
    """(content key, with gender/age) -> (source label, faces). `hits` / `misses` count the
    look-ups (reports and tests read them)."""

    entries: dict[tuple[str, bool], tuple[str, list[Face]]] = field(default_factory=dict)
    hits: int = 0
    misses: int = 0


def content_key(img: Any) -> str | None:
    """A digest of what the photo IS: the bytes of a file, the pixels of an array or a
    LoadedImage; None for anything else (analysed uncached)."""
    h = hashlib.blake2b(digest_size=16)
    if isinstance(img, (str, os.PathLike)):
        try:
            with open(img, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
        except OSError:
            return None  # load_image reports the real problem
        return "file:" + h.hexdigest()
    arr = getattr(img, "rgb", img)
    if isinstance(arr, np.ndarray):
        h.update(repr((arr.shape, str(arr.dtype))).encode())
        h.update(np.ascontiguousarray(arr).data)
        return "pixels:" + h.hexdigest()
    return None
