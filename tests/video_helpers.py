"""Video test helpers: synthetic clips (PyAV) whose "faces" are the stand-in detector's bright
squares, moving, crossing and briefly hidden, with an audio track; and readers of a clip's
frames, timestamps and audio packets."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Callable, Sequence

import av
import numpy as np

from tests import fakemodels as fm

FPS = 25
Faces = Callable[[int], Sequence[tuple]]  # frame -> make_face_image face specs


def write_clip(path: Path, size: tuple[int, int], n: int, faces: Faces, *, fps: int = FPS, audio: bool = True,
               pix_fmt: str = "yuv444p", rotation: int = 0,
               edit: Callable[[int, np.ndarray], None] | None = None,
               ms: Sequence[int] | None = None) -> Path:  # fmt: skip
    """An H.264 clip of `n` frames (near-lossless, so the stand-in detector sees the squares as
    drawn), with a mono AAC sine track when `audio`; `edit(i, rgb)` may change a frame in place;
    `ms` gives each frame's timestamp in milliseconds (a variable frame rate)."""
    w, h = size
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = w, h, pix_fmt
        v.options = {"crf": "4"}
        if ms is not None:
            v.time_base = v.codec_context.time_base = Fraction(1, 1000)
        if rotation:
            v.set_display_rotation(rotation)
        a = None
        if audio:
            a = c.add_stream("aac", rate=16000)
            a.layout = "mono"
        for i in range(n):
            img = fm.make_face_image((w, h), faces(i), seed=3)
            if edit is not None:
                edit(i, img)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i if ms is None else int(ms[i])
            if ms is not None:
                frame.time_base = Fraction(1, 1000)
            for p in v.encode(frame):
                c.mux(p)
        for p in v.encode():
            c.mux(p)
        if a is not None:
            samples = int(16000 * n / fps)
            t = 0
            while t < samples:
                s = (0.3 * np.sin(2 * np.pi * 440 * (np.arange(1024) + t) / 16000)).astype(np.float32)[None]
                af = av.AudioFrame.from_ndarray(s, format="fltp", layout="mono")
                af.sample_rate, af.pts = 16000, t
                t += 1024
                for p in a.encode(af):
                    c.mux(p)
            for p in a.encode():
                c.mux(p)
    return path


def read_frames(path: Path) -> tuple[list[np.ndarray], list[float]]:
    """Decoded RGB frames (as stored, no rotation) and their times in seconds."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        frames = [(f.to_ndarray(format="rgb24"), float(f.pts * f.time_base)) for f in c.decode(s)]
    return [f for f, _ in frames], [t for _, t in frames]


def audio_packets(path: Path) -> list[tuple[float, bytes]]:
    with av.open(str(path)) as c:
        if not c.streams.audio:
            return []
        return [(round(float(p.pts * p.time_base), 4), bytes(p)) for p in c.demux(c.streams.audio[0]) if p.size]


def changed_mask(out: np.ndarray, src: np.ndarray, level: int = 40) -> np.ndarray:
    """Pixels the swap changed (well above the codec's noise)."""
    return np.abs(out.astype(np.int16) - src.astype(np.int16)).max(axis=2) > level


def centroid(mask: np.ndarray) -> tuple[float, float] | None:
    ys, xs = np.nonzero(mask)
    return (float(xs.mean()), float(ys.mean())) if len(xs) else None
