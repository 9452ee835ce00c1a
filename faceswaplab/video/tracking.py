"""Faces followed across frames, and the tracks a unit swaps.

Per-frame selection ("face 0, left to right") swaps the wrong person as soon as two people
cross. Here detections are linked into tracks (box overlap with the track's last box plus
embedding similarity with the track's mean), a face that left and came back is re-identified
by embedding, and a unit's face indices, sort order, gender and reference filters are applied
ONCE per track, in the first frame where that track appears. Pure functions over arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ..analysis.face import Face
from ..analysis.selection import select_faces
from . import smoothing

MATCH_MIN_SIM = 0.35  # a detection overlapping a track joins it only if it also looks alike
REID_SIM = 0.6  # a new detection continues an earlier, vanished track when this alike
MIN_IOU = 0.1


@dataclass
class Detection:
    bbox: np.ndarray  # [4]
    kps: np.ndarray  # [5, 2]
    score: float
    embedding: np.ndarray  # [512], normalised
    raw_norm: float | None = None
    gender: str | None = None


@dataclass
class Track:
    id: int
    dets: dict[int, Detection] = field(default_factory=dict)
    emb_sum: np.ndarray | None = None
    # filled by `smooth_tracks`: frame -> (kps [5,2], bbox [4], filled)
    path: dict[int, tuple[np.ndarray, np.ndarray, bool]] = field(default_factory=dict)

    @property
    def first(self) -> int:
        return min(self.dets)

    @property
    def last(self) -> int:
        return max(self.dets)

    @property
    def embedding(self) -> np.ndarray:
        v = np.asarray(self.emb_sum, np.float64)
        return (v / max(float(np.linalg.norm(v)), 1e-9)).astype(np.float32)

    @property
    def gender(self) -> str | None:
        votes = [d.gender for d in self.dets.values() if d.gender]
        return max(set(votes), key=votes.count) if votes else None

    def add(self, frame: int, det: Detection) -> None:
        self.dets[frame] = det
        e = np.asarray(det.embedding, np.float64)
        self.emb_sum = e.copy() if self.emb_sum is None else self.emb_sum + e

    def face(self, frame: int) -> Face:
        """A Face record at `frame` (smoothed keypoints, the track's identity and gender)."""
        kps, bbox, _ = self.path[frame]
        det = self.dets.get(frame) or self.dets[min(self.dets, key=lambda f: abs(f - frame))]
        return Face(bbox=np.asarray(bbox, np.float32), kps=np.asarray(kps, np.float32), det_score=float(det.score),
                    embedding=self.embedding, raw_norm=det.raw_norm, gender=self.gender)  # fmt: skip


def iou(a: np.ndarray, b: np.ndarray) -> float:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, float(x1 - x0)) * max(0.0, float(y1 - y0))
    union = float((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])) - inter
    return inter / union if union > 0 else 0.0


def build_tracks(frames: Sequence[tuple[int, list[Detection]]], max_lost: int) -> list[Track]:
    """Link detections (frame number, detections), in frame order, into tracks.

    A detection joins the live track (seen within `max_lost` frames) it overlaps best among
    those that look alike; failing that the most similar earlier track that is not in this
    frame (re-identification, at any distance in time); otherwise it starts a new track."""
    tracks: list[Track] = []
    for frame, dets in frames:
        taken: set[int] = set()
        pairs = []
        for di, d in enumerate(dets):
            for t in tracks:
                if frame - t.last > max_lost:
                    continue
                o = iou(t.dets[t.last].bbox, d.bbox)
                s = float(np.dot(t.embedding, d.embedding))
                if o >= MIN_IOU and s >= MATCH_MIN_SIM:
                    pairs.append((o + s, di, t.id))
        assigned: dict[int, Track] = {}
        by_id = {t.id: t for t in tracks}
        for _, di, tid in sorted(pairs, key=lambda p: -p[0]):
            if di in assigned or tid in taken:
                continue
            assigned[di] = by_id[tid]
            taken.add(tid)
        for di, d in enumerate(dets):
            if di in assigned:
                continue
            best, best_s = None, REID_SIM
            for t in tracks:
                if t.id in taken or t.last >= frame:
                    continue
                s = float(np.dot(t.embedding, d.embedding))
                if s >= best_s:
                    best, best_s = t, s
            if best is None:
                best = Track(id=len(tracks) + 1)
                tracks.append(best)
            assigned[di] = best
            taken.add(best.id)
        for di, t in assigned.items():
            t.add(frame, dets[di])
    return tracks


def smooth_tracks(tracks: list[Track], times: np.ndarray, strength: float, max_step: int, every: int = 1) -> None:
    """Fill each track's short gaps (at most `max_step` frames between two detections) and
    smooth its keypoints over time; `times` maps frame number -> seconds. With detection on
    every `every`th frame only, a run's last detection also holds for the frames after it
    that were not looked at."""
    for t in tracks:
        t.path = {}
        for run in smoothing.segments(sorted(t.dets), max_step):
            known = np.asarray(run)
            span = np.arange(run[0], run[-1] + 1)
            kps = np.stack([t.dets[f].kps for f in run]).astype(np.float64)
            box = np.stack([t.dets[f].bbox for f in run]).astype(np.float64)
            if len(span) != len(known):
                kps = smoothing.interpolate(known, kps, span)
                box = smoothing.interpolate(known, box, span)
            size = np.minimum(box[:, 2] - box[:, 0], box[:, 3] - box[:, 1])
            sm = smoothing.smooth(kps.reshape(len(span), -1), times[span], size, strength).reshape(kps.shape)
            for i, f in enumerate(span):
                t.path[int(f)] = (sm[i], box[i], int(f) not in t.dets)
            for f in range(run[-1] + 1, min(run[-1] + every, len(times))):
                t.path[f] = (sm[-1], box[-1], True)


def choose_tracks(tracks: list[Track], *, indices: tuple[int, ...] | None, order: str, gender: str,
                  source_gender: str | None, reference: np.ndarray | None, reference_threshold: float,
                  min_face_size: int) -> dict[int, str | None]:  # fmt: skip
    """For one unit: track id -> None (swapped) or why not. Each track is judged in its first
    frame among the faces present then, with the unit's own selection rules; a unit naming N
    faces never swaps more than N tracks at the same time."""
    out: dict[int, str | None] = {}
    for t in sorted(tracks, key=lambda t: (t.first, t.id)):
        f = t.first
        present = [u for u in tracks if f in u.dets]
        faces = [u.face(f) if f in u.path else None for u in present]
        pairs = [(u, fc) for u, fc in zip(present, faces) if fc is not None]
        cands = select_faces([fc for _, fc in pairs], indices=indices, order=order, gender=gender,
                             source_gender=source_gender, reference=reference,
                             reference_threshold=reference_threshold, min_face_size=min_face_size)  # fmt: skip
        mine = next((fc for u, fc in pairs if u is t), None)
        reason: str | None = "not among the unit's faces in its first frame"
        for c in cands:
            if c.face is mine:
                reason = c.reason
                break
        if reason is None and indices is not None:
            live = [u for u in tracks if out.get(u.id, "x") is None and u.first <= f <= u.last]
            if len(live) >= len(indices):
                reason = f"the unit already swaps {len(live)} face(s) at frame {f}"
        out[t.id] = reason
    return out
