"""What a video job did: its tracks (who was swapped, from which frame to which, how often and
how alike) and the output's shape, for the CLI's summary and --json and the app."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class TrackReport:
    id: int
    first_frame: int
    last_frame: int
    frames_detected: int
    frames_filled: int  # frames where the face was not detected and was taken from the track
    frames_swapped: int
    unit: int | None  # index of the unit that swapped this track (None: not swapped)
    reason: str | None  # why it was not swapped
    mean_similarity: float | None  # of the swapped face to the unit's identity


@dataclass
class VideoReport:
    output: str
    frames: int
    width: int
    height: int
    fps: float
    audio_streams: int
    tracks: list[TrackReport] = field(default_factory=list)
    chunks: int = 0
    chunks_resumed: int = 0
    frames_checked: int = 0  # frames the content filter looked at
    elapsed_s: float = 0.0
    warnings: list[str] = field(default_factory=list)

    @property
    def swapped_tracks(self) -> list[TrackReport]:
        return [t for t in self.tracks if t.frames_swapped]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        resumed = f", {self.chunks_resumed} chunk(s) reused" if self.chunks_resumed else ""
        return (f"{self.frames} frames {self.width}x{self.height}, {len(self.tracks)} track(s), "
                f"{len(self.swapped_tracks)} swapped{resumed} in {self.elapsed_s:.1f} s -> {self.output}")  # fmt: skip

    def track_lines(self) -> list[str]:
        out = []
        for t in self.tracks:
            what = (f"swapped in {t.frames_swapped} frames by unit {t.unit + 1}, similarity {t.mean_similarity}"
                    if t.unit is not None and t.frames_swapped else f"not swapped: {t.reason or 'not in any frame'}")  # fmt: skip
            filled = f" ({t.frames_filled} filled)" if t.frames_filled else ""
            out.append(f"track {t.id}: frames {t.first_frame}-{t.last_frame}, detected in {t.frames_detected}{filled}; {what}")
        return out
