"""Which target faces a unit swaps: sort order, indices, gender and reference filters.

Pure functions over Face records. Indices, the gender filter and the reference filter all
refer to ONE list, the faces in the unit's sort order, so "face 1, female" never means a face
from a differently ordered list (a known bug of earlier tools).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .face import Face, similarity

_SORT_KEYS = {
    "left-right": lambda f: (f.center[0], f.center[1]),
    "right-left": lambda f: (-f.center[0], f.center[1]),
    "top-bottom": lambda f: (f.center[1], f.center[0]),
    "bottom-top": lambda f: (-f.center[1], f.center[0]),
    "large-small": lambda f: (-f.area, f.center[0]),
    "small-large": lambda f: (f.area, f.center[0]),
    "best-worst": lambda f: (-f.det_score, f.center[0]),
}


def sort_faces(faces: Sequence[Face], order: str) -> list[Face]:
    try:
        key = _SORT_KEYS[order]
    except KeyError:
        raise ValueError(f"unknown sort order {order!r}") from None
    return sorted(faces, key=key)


@dataclass
class Candidate:
    """A face the unit looked at, with the decision taken for it."""

    position: int  # index in the sorted list (what --faces refers to)
    face: Face | None
    reason: str | None = None  # None: selected for swapping
    reference_similarity: float | None = None


def select_faces(
    faces: Sequence[Face],
    *,
    indices: tuple[int, ...] | None,
    order: str,
    gender: str = "any",
    source_gender: str | None = None,
    reference: np.ndarray | None = None,
    reference_threshold: float = 0.5,
    min_face_size: int = 0,
) -> list[Candidate]:
    """Decide, for every face the unit names, whether it is swapped and if not why.

    `indices` None means all faces. An index past the end yields a Candidate with no face and
    reason "index out of range". Gender "same" compares with `source_gender`.
    """
    ordered = sort_faces(faces, order)
    wanted = range(len(ordered)) if indices is None else indices
    out: list[Candidate] = []
    want_gender = source_gender if gender == "same" else (None if gender == "any" else gender)
    missing = [pos for pos in wanted if pos >= len(ordered)]
    for pos in wanted:
        if pos >= len(ordered):
            continue
        face = ordered[pos]
        cand = Candidate(pos, face)
        if want_gender is not None and face.gender != want_gender:
            cand.reason = f"filtered by gender: face is {face.gender or 'unknown'}, unit wants {want_gender}"
        elif reference is not None:
            if face.embedding is None:
                raise ValueError("reference selection needs face embeddings")
            cand.reference_similarity = similarity(face.embedding, reference)
            if cand.reference_similarity < reference_threshold:
                cand.reason = (
                    f"not the reference person: similarity {cand.reference_similarity:.2f} "
                    f"< {reference_threshold:.2f}"
                )
        if cand.reason is None and face.size < min_face_size:
            cand.reason = f"too small: {face.size:.0f} px < {min_face_size} px"
        out.append(cand)
    if len(missing) == 1:
        out.append(Candidate(missing[0], None, f"index out of range: face {missing[0]} requested, {len(ordered)} found"))
    elif missing:  # one entry for them all: a long index list must not cost one report line each
        out.append(Candidate(missing[0], None, f"index out of range: faces {_runs(missing)} requested, {len(ordered)} found"))
    return out


def _runs(indices: Sequence[int], shown: int = 5) -> str:
    """[3, 4, 5, 9] -> "3-5, 9" (the first `shown` runs, then how many indices in all)."""
    runs: list[list[int]] = []
    for i in sorted(set(indices)):
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    text = ", ".join(f"{a}-{b}" if b > a else str(a) for a, b in runs[:shown])
    return text + (f", ... ({len(set(indices))} indices)" if len(runs) > shown else "")


def largest(faces: Sequence[Face]) -> Face | None:
    return max(faces, key=lambda f: f.area) if faces else None
