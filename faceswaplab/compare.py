"""How alike two faces are: each side an image or a face checkpoint.

The number is the cosine of the two normalised identity embeddings (the recognizer's space,
the one the swapper takes), so "is the swap the right person?" and "which checkpoint is
this?" are answered on the scale the pipeline's similarity checks use. Images pass the
content filter here, once each, whichever front end asked.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import safety
from .analysis.face import Face, similarity
from .checkpoints.container import PICKLE_SUFFIXES, SUFFIX
from .checkpoints.format import Checkpoint, load_checkpoint
from .checkpoints.library import is_bare_name, resolve_checkpoint
from .errors import NoFaceError
from .identity import Identity, pick_source_face
from .imageio import SAVE_FORMATS, load_image

if TYPE_CHECKING:
    from .engine import Engine


@dataclass
class CompareSide:
    kind: str  # "image" | "checkpoint"
    label: str
    embedding: np.ndarray
    faces: list[Face] = field(default_factory=list)  # every face found (images)
    face: Face | None = None  # the face compared (images)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind, "label": self.label}
        if self.kind == "image":
            d["faces_found"] = len(self.faces)
            d["face"] = self.face.summary() if self.face is not None else None
        return d


@dataclass
class CompareResult:
    similarity: float  # cosine of normalised embeddings, clamped to [0, 1]
    a: CompareSide
    b: CompareSide

    def to_dict(self) -> dict[str, Any]:
        return {"similarity": round(self.similarity, 6), "a": self.a.to_dict(), "b": self.b.to_dict()}


def _looks_like_checkpoint(ref: Any) -> bool:
    """A command line gives both kinds as plain text; decide which one a reference names."""
    if isinstance(ref, (Identity, Checkpoint)):
        return True
    if not isinstance(ref, (str, os.PathLike)):
        return False
    text = os.fspath(ref)
    if isinstance(text, bytes):
        return False
    suffix = Path(text).suffix.lower()
    if suffix == SUFFIX or suffix in PICKLE_SUFFIXES:
        return True
    if Path(os.path.expanduser(text)).exists():
        return False  # an existing file of another kind: an image
    # a name that is no file: a checkpoint name unless it plainly names an image
    return is_bare_name(text.strip()) and suffix not in SAVE_FORMATS


def _compare_side(engine: "Engine", ref: Any, index: int, what: str) -> CompareSide:
    if isinstance(ref, Checkpoint):
        return CompareSide("checkpoint", ref.name, ref.identity.embedding)
    if isinstance(ref, Identity):
        return CompareSide("checkpoint", ref.label or "identity", ref.embedding)
    if _looks_like_checkpoint(ref):
        ck = load_checkpoint(resolve_checkpoint(ref, engine.store, folder=engine.options.faces_dir))
        return CompareSide("checkpoint", ck.path.name if ck.path else ck.name, ck.identity.embedding)
    loaded = load_image(ref, what=what)
    label = loaded.source
    safety.ensure_allowed(
        loaded.rgb, engine.options.nsfw_threshold, detector=engine.nsfw_detector, what=f"{what} ({label})",
        threads=engine.options.threads,
    )
    _, faces = engine.analyse(loaded, what=what, attributes=False)
    face = pick_source_face(faces, index)
    if face is None or face.embedding is None:
        if not faces:
            raise NoFaceError(f"no face found in {what} ({label})")
        raise NoFaceError(f"face index {index} out of range in {what} ({label}): {len(faces)} face(s) found")
    return CompareSide("image", label, face.embedding, faces=faces, face=face)


def compare_faces(engine: "Engine", a: Any, b: Any, *, index_a: int = 0, index_b: int = 0) -> CompareResult:
    """Similarity of two faces: each side an image (its `index`-th face from the left, the first
    by default) or a checkpoint (name, path, Checkpoint or Identity). NoFaceError when an image
    has no such face, BlockedError when the content filter blocks an image."""
    side_a = _compare_side(engine, a, index_a, "image A")
    side_b = _compare_side(engine, b, index_b, "image B")
    return CompareResult(similarity(side_a.embedding, side_b.embedding), side_a, side_b)


__all__ = ["CompareSide", "CompareResult", "compare_faces"]
