"""The video job's manifest and its chunk files, in a folder beside the output
(`OUT.faceswaplab/`), so a killed job continues where it stopped.

`manifest.json` (rewritten atomically after each step) holds the job key (input file, its
size and mtime, every option), the analysed chunks (faces found per frame, in
`analysis-NNNNN.npz`) and the swapped chunks (encoded frames, in `chunk-NNNNN.mp4`). A file
is listed only after it is complete under its final name, so whatever a kill -9 leaves is
either listed and whole, or unlisted and deleted by the next run. The final OUT is muxed
once from the listed chunks, through a temporary name renamed into place; then the folder is
removed.
"""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from ..durable import atomic_write, fsync_dir, temp_path_for
from ..errors import WriteError, write_error
from .tracking import Detection

STATE_SUFFIX = ".faceswaplab"
MANIFEST = "manifest.json"
VERSION = 1


def state_dir(output: Path) -> Path:
    return output.with_name(output.name + STATE_SUFFIX)


class JobState:
    def __init__(self, output: Path, key: str) -> None:
        self.dir = state_dir(output)
        self.key = key
        self.resumed = False
        self.data: dict[str, Any] = {"version": VERSION, "key": key, "frames": None, "analysed": {}, "chunks": {}}
        path = self.dir / MANIFEST
        try:
            if path.is_file():
                old = json.loads(path.read_text(encoding="utf-8"))
                if old.get("version") == VERSION and old.get("key") == key:
                    self.data = old
                    self.resumed = bool(old.get("analysed") or old.get("chunks"))
            self.dir.mkdir(parents=True, exist_ok=True)
            self._clean()
            self.save()
        except OSError as e:
            raise write_error("the video job's work folder", self.dir, e) from None

    def _clean(self) -> None:
        """Delete what belongs to no record: a kill's half-written files, an older job's."""
        keep = {MANIFEST} | set(self.data["analysed"].values()) | {c["file"] for c in self.data["chunks"].values()}
        for p in self.dir.iterdir():
            if p.name not in keep:
                p.unlink() if p.is_file() else shutil.rmtree(p, ignore_errors=True)

    def save(self) -> None:
        atomic_write(self.dir / MANIFEST, json.dumps(self.data, indent=1, sort_keys=True))

    # --- analysis: faces per frame ------------------------------------------------------

    def analysed(self, chunk: int) -> bool:
        return str(chunk) in self.data["analysed"]

    def record_analysis(self, chunk: int, pts: list[int], times: list[float], faces: list[list[Detection]],
                        checked: int) -> None:  # fmt: skip
        """Store one chunk's timestamps and detections (frame-relative), then list it."""
        rows = [(i, d) for i, dets in enumerate(faces) for d in dets]
        arrays = {
            "pts": np.asarray(pts, np.int64), "times": np.asarray(times, np.float64),
            "frame": np.asarray([i for i, _ in rows], np.int32).reshape(-1),
            "bbox": np.asarray([d.bbox for _, d in rows], np.float32).reshape(-1, 4),
            "kps": np.asarray([d.kps for _, d in rows], np.float32).reshape(-1, 5, 2),
            "score": np.asarray([d.score for _, d in rows], np.float32).reshape(-1),
            "emb": np.asarray([d.embedding for _, d in rows], np.float32).reshape(len(rows), -1),
            "raw_norm": np.asarray([d.raw_norm or 0.0 for _, d in rows], np.float32).reshape(-1),
            "gender": np.asarray([{"female": 0, "male": 1}.get(d.gender or "", -1) for _, d in rows], np.int8),
            "checked": np.asarray([checked], np.int32),
        }  # fmt: skip
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        name = f"analysis-{chunk:05d}.npz"
        atomic_write(self.dir / name, buf.getvalue())
        self.data["analysed"][str(chunk)] = name
        self.save()

    def load_analysis(self, chunk: int) -> tuple[np.ndarray, np.ndarray, list[list[Detection]], int]:
        with np.load(self.dir / self.data["analysed"][str(chunk)]) as z:
            pts, times = z["pts"], z["times"]
            faces: list[list[Detection]] = [[] for _ in range(len(pts))]
            genders = {0: "female", 1: "male"}
            for j, i in enumerate(z["frame"]):
                faces[int(i)].append(Detection(z["bbox"][j], z["kps"][j], float(z["score"][j]), z["emb"][j],
                                               float(z["raw_norm"][j]) or None, genders.get(int(z["gender"][j]))))  # fmt: skip
            return pts, times, faces, int(z["checked"][0])

    # --- swapped, encoded chunks --------------------------------------------------------

    def done(self, chunk: int) -> bool:
        return str(chunk) in self.data["chunks"]

    def chunk_stats(self) -> dict[int, dict[str, Any]]:
        return {int(k): v for k, v in self.data["chunks"].items()}

    def temp_for(self, name: str) -> Path:
        return temp_path_for(self.dir / name)

    def record_chunk(self, chunk: int, tmp: Path, name: str, frames: int, stats: dict[str, list[float]]) -> None:
        """Move a finished chunk file into place, then list it (with its per-track counts)."""
        final = self.dir / name
        try:
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, final)
            fsync_dir(self.dir)
        except OSError as e:
            raise write_error("a video chunk", self.dir, e) from None
        self.data["chunks"][str(chunk)] = {"file": name, "frames": frames, "tracks": stats}
        self.save()

    def chunk_files(self) -> list[Path]:
        return [self.dir / c["file"] for _, c in sorted(self.chunk_stats().items())]

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


__all__ = ["JobState", "state_dir", "STATE_SUFFIX", "WriteError"]
