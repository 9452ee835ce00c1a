"""Source identities: one embedding (plus gender/age) from photos, a checkpoint, or both.

Blending averages normalised embeddings (weighted by how many photos each part stands for)
and normalises the mean, which is what the swap model's identity space expects.

This module is a leaf below both the checkpoints package and the pipeline (it imports only
the face record), so either can build identities without importing the other.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np

from .analysis.face import Face, normalize
from .analysis.selection import sort_faces


@dataclass(frozen=True)
class Identity:
    embedding: np.ndarray  # normalised float32 [512]
    gender: str | None = None
    age: int | None = None
    samples: int = 1
    label: str = ""
    embeddings: np.ndarray | None = None  # N x 512 normalised, when built from several faces
    skipped: tuple[str, ...] = field(default_factory=tuple)  # sources without a usable face
    # Norm of the mean raw (unnormalised) embedding: swapper kinds trained on raw-scale
    # vectors get `embedding * raw_norm`. None: not known (a v1 checkpoint).
    raw_norm: float | None = None


def blend(parts: Sequence[Identity], method: str = "mean", label: str | None = None) -> Identity:
    """Mean (or median) of normalised embeddings, weighted by sample count; majority gender."""
    if not parts:
        raise ValueError("nothing to blend")
    if len(parts) == 1 and method == "mean":
        return parts[0]
    weights = np.array([max(p.samples, 1) for p in parts], np.float64)
    vecs = np.stack([normalize(p.embedding) for p in parts]).astype(np.float64)
    if method == "mean":
        mean = (vecs * weights[:, None]).sum(axis=0) / weights.sum()
    elif method == "median":
        mean = np.median(np.repeat(vecs, weights.astype(int), axis=0), axis=0)
    else:
        raise ValueError(f"unknown blend method {method!r} (mean or median)")
    genders: Counter[str] = Counter()
    for p, w in zip(parts, weights):
        if p.gender:
            genders[p.gender] += int(w)
    gender = genders.most_common(1)[0][0] if genders else None
    ages = [p.age for p in parts if p.age is not None]
    norms = [(p.raw_norm, w) for p, w in zip(parts, weights) if p.raw_norm is not None]
    raw_norm = float(sum(n * w for n, w in norms) / sum(w for _, w in norms)) if norms else None
    stacked = [p.embeddings if p.embeddings is not None else normalize(p.embedding)[None] for p in parts]
    return Identity(
        embedding=normalize(mean),
        gender=gender,
        age=int(np.median(ages)) if ages else None,
        samples=int(weights.sum()),
        label=label if label is not None else " + ".join(p.label for p in parts if p.label),
        embeddings=np.concatenate(stacked).astype(np.float32),
        skipped=tuple(s for p in parts for s in p.skipped),
        raw_norm=raw_norm,
    )


def mix_with_target(ident: Identity, target: Face, strength: float) -> tuple[np.ndarray, float | None]:
    """(embedding, raw norm) of `strength` x the source identity + (1 - strength) x the target
    face's own, on normalised embeddings and renormalised (the raw norm mixed alike), so a
    user can keep some of the target's likeness with any swapper kind."""
    if strength >= 1.0 or target.embedding is None:
        return ident.embedding, ident.raw_norm
    s = float(max(strength, 0.0))
    mixed = normalize(s * normalize(ident.embedding) + (1.0 - s) * normalize(target.embedding))
    if ident.raw_norm is None or target.raw_norm is None:
        return mixed, ident.raw_norm
    return mixed, s * ident.raw_norm + (1.0 - s) * target.raw_norm


def pick_source_face(faces: Sequence[Face], index: int) -> Face | None:
    """The source face: faces in left-to-right order, `index`-th; the usual single-face case
    is index 0. Returns None when the image has fewer faces."""
    ordered = sort_faces(faces, "left-right")
    return ordered[index] if index < len(ordered) else None


def from_faces(faces: Sequence[tuple[str, Face]], label: str = "") -> Identity:
    """Identity from (name, face) pairs, each face already analysed (embedding, maybe gender)."""
    parts = [
        Identity(embedding=f.embedding, gender=f.gender, age=f.age, samples=1, label=name, raw_norm=f.raw_norm)  # type: ignore[arg-type]
        for name, f in faces
    ]
    ident = blend(parts, label=label)
    if ident.embeddings is None:  # one face: blend returned the part itself
        ident = replace(ident, embeddings=normalize(ident.embedding)[None])
    return ident


def describe_missing(name: str, faces_found: int, index: int) -> str:
    """Why a source image gave no face, in the words reports and infotexts show."""
    if faces_found == 0:
        return f"no face in the source image {name}"
    return f"source face index {index} out of range in {name}: {faces_found} face(s) found"
