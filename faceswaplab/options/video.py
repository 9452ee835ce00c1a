"""What a video job does beyond the per-frame swap: the time range, how often faces are
detected, the encoder, the output frame rate, parallelism, chunking (resume granularity),
temporal smoothing and gap filling. Every front end (the `video` command's flags, the app's
Video tab) is generated from these fields."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ..errors import OptionsError
from .meta import CLI, UI, check_known, option, options_of, validate

CODECS = ("h264", "h265", "vp9", "prores")
_FRONTS = (CLI, UI)


def parse_time(value: str, what: str) -> float | None:
    """'' -> None; '12.5', '1:02.5' or '0:01:02' -> seconds (OptionsError otherwise)."""
    text = str(value or "").strip()
    if not text:
        return None
    try:
        parts = [float(p) for p in text.split(":")]
    except ValueError:
        raise OptionsError(f"{what} must be seconds (12.5) or [h:]m:s (1:02.5), got {value!r}") from None
    if len(parts) > 3 or any(p < 0 for p in parts):
        raise OptionsError(f"{what} must be seconds (12.5) or [h:]m:s (1:02.5), got {value!r}")
    secs = 0.0
    for p in parts:
        secs = secs * 60.0 + p
    return secs


def parse_fps(value: str) -> float | None:
    """'same' -> None (keep the input's timestamps); '25', '29.97' -> frames per second."""
    text = str(value or "same").strip().lower()
    if text == "same":
        return None
    try:
        fps = float(text)
    except ValueError:
        raise OptionsError(f"fps must be 'same' or a number of frames per second, got {value!r}") from None
    if not (1.0 <= fps <= 240.0):
        raise OptionsError(f"fps must be from 1 to 240 frames per second, got {value!r}")
    return fps


@dataclass(frozen=True)
class VideoOptions:
    # fmt: off
    start: str = option("", label="Start at (seconds or m:s; empty: the beginning)", group="run", fronts=_FRONTS,
                        metavar="T", help="first moment of the input to swap (seconds or [h:]m:s)")
    end: str = option("", label="End at (seconds or m:s; empty: the end)", group="run", fronts=_FRONTS, metavar="T",
                      help="moment of the input where the output stops (exclusive)")
    every: int = option(1, label="Detect faces every N frames", group="run", fronts=_FRONTS, minimum=1, maximum=30,
                        step=1, help="detect on every Nth frame and follow the tracks in between (faster)")
    codec: str = option("h264", label="Video codec", group="output", fronts=_FRONTS, choices=CODECS,
                        help="encoder of the output video stream (audio is copied unchanged)")
    crf: int = option(18, label="Quality (CRF: lower is better, bigger)", group="output", fronts=_FRONTS, minimum=0,
                      maximum=63, step=1, help="constant-quality factor (h264/h265 0-51, vp9 0-63; prores ignores it)")
    fps: str = option("same", label="Output frame rate ('same' keeps the input's timestamps)", group="output",
                      fronts=_FRONTS, metavar="same|N", help="'same' keeps every frame and timestamp; N resamples")
    workers: int = option(1, label="Parallel frames", group="run", fronts=_FRONTS, minimum=1, maximum=16, step=1,
                          help="frames swapped at once (threads)")
    chunk_frames: int = option(60, label="Frames per chunk (resume step)", group="run", fronts=_FRONTS, minimum=1,
                               maximum=100000, step=1,
                               help="frames encoded and recorded together: a re-run resumes after the last chunk")
    smoothing: float = option(1.0, label="Keypoint smoothing (0: off)", group="run", fronts=_FRONTS, minimum=0.0,
                              maximum=3.0, step=0.05,
                              help="strength of the One-Euro keypoint filter over time (0 off, 1 default)")
    max_gap: int = option(5, label="Fill missed detections up to N frames", group="run", fronts=_FRONTS, minimum=0,
                          maximum=60, step=1, help="a tracked face missing for at most N frames is swapped from its track")
    # fmt: on

    def __post_init__(self) -> None:
        validate(self, where="video.")
        a, b = self.start_s, self.end_s
        if a is not None and b is not None and b <= a:
            raise OptionsError(f"video.end ({self.end}) must be after video.start ({self.start})")
        parse_fps(self.fps)

    @property
    def start_s(self) -> float | None:
        return parse_time(self.start, "video.start")

    @property
    def end_s(self) -> float | None:
        return parse_time(self.end, "video.end")

    @property
    def fps_value(self) -> float | None:
        return parse_fps(self.fps)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, where: str = "video") -> "VideoOptions":
        data = dict(data or {})
        check_known(data, [o.name for o in options_of(cls)], where)
        return cls(**{k: v for k, v in data.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        return {o.name: getattr(self, o.name) for o in options_of(type(self))}
