"""Video decoding, chunk encoding and the final mux, with PyAV (its wheels ship FFmpeg, so no
system ffmpeg is needed).

- `probe` reads what the job needs (size, time base, rate, rotation, audio) or raises a
  one-line BadInputError for a file FFmpeg cannot open.
- `decode` yields the frames of the video stream in presentation order as RGB arrays with
  their own timestamps (variable frame rate is kept as it is).
- `ChunkWriter` encodes a run of frames into its own small file, with the frames' original
  timestamps in the input's time base; every chunk starts with a key frame.
- `mux` concatenates the chunks' packets (no re-encoding) and copies the input's audio
  packets unchanged into the final file, interleaved by time.
"""

from __future__ import annotations

import heapq
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ..errors import BadInputError, OptionsError

ENCODERS = {"h264": "libx264", "h265": "libx265", "vp9": "libvpx-vp9", "prores": "prores_ks"}
FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm"}
# Containers each codec can go in (webm holds vp9 only; prores needs mov or mkv).
ALLOWED = {"h264": (".mp4", ".m4v", ".mov", ".mkv"), "h265": (".mp4", ".m4v", ".mov", ".mkv"),
           "vp9": (".mp4", ".mkv", ".webm"), "prores": (".mov", ".mkv")}  # fmt: skip


@dataclass(frozen=True)
class VideoInfo:
    path: str
    width: int
    height: int
    time_base: Fraction
    rate: Fraction  # the stream's average rate (frames per second)
    frames: int  # as the container says (0: unknown)
    duration: float  # seconds (0: unknown)
    rotation: int  # display rotation in degrees (counter-clockwise), from the stream's metadata
    audio: int  # number of audio streams (copied)
    codec: str
    audio_codecs: tuple[str, ...] = ()


def av_module() -> Any:
    """PyAV, or a one-line error saying how to install it (it is an optional extra)."""
    try:
        import av
    except ImportError:
        raise BadInputError("video needs PyAV: pip install -r requirements-video.txt (or the [video] extra)") from None
    return av


def _open(path: str | os.PathLike[str]) -> Any:
    av = av_module()
    p = str(path)
    if not os.path.isfile(p):
        raise BadInputError(f"video not found: {p}")
    try:
        c = av.open(p)
    except Exception as e:  # av.FFmpegError and friends: the file is not a video FFmpeg reads
        raise BadInputError(f"cannot open {p} as a video ({type(e).__name__}: {e}); is it a complete video file?") from None
    if not c.streams.video:
        c.close()
        raise BadInputError(f"{p} has no video stream")
    return c


def probe(path: str | os.PathLike[str]) -> VideoInfo:
    with _open(path) as c:
        s = c.streams.video[0]
        cc = s.codec_context
        rate = s.average_rate or s.guessed_rate or Fraction(25)
        duration = float(s.duration * s.time_base) if s.duration else (float(c.duration) / 1e6 if c.duration else 0.0)
        rotation = 0
        try:
            first = next(c.decode(s))
            rotation = int(round(getattr(first, "rotation", 0) or 0)) % 360
        except StopIteration:
            raise BadInputError(f"{path} has no video frames") from None
        except Exception as e:
            raise BadInputError(f"cannot decode {path} ({type(e).__name__}: {e})") from None
        return VideoInfo(str(path), int(cc.width), int(cc.height), Fraction(s.time_base), Fraction(rate),
                         int(s.frames or 0), duration, rotation, len(c.streams.audio), cc.name,
                         tuple(a.codec_context.name for a in c.streams.audio))  # fmt: skip


@dataclass
class DecodedFrame:
    index: int  # position in presentation order from the start of the stream
    pts: int  # in the stream's time base
    time: float  # seconds
    rgb: np.ndarray  # upright (display rotation applied)


def decode(path: str, info: VideoInfo) -> Iterator[DecodedFrame]:
    """Every frame, in presentation order, upright. Missing timestamps are made up from the rate."""
    with _open(path) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        step = 1.0 / float(info.rate)
        last = None
        for i, f in enumerate(c.decode(s)):
            pts = f.pts
            if pts is None:
                pts = int(round(i * step / float(info.time_base))) if last is None else last + max(1, int(round(step / float(info.time_base))))
            last = pts
            rgb = f.to_ndarray(format="rgb24")
            if info.rotation:
                rgb = np.ascontiguousarray(np.rot90(rgb, k=info.rotation // 90))
            yield DecodedFrame(i, int(pts), float(pts * info.time_base), rgb)


def chunk_suffix(codec: str) -> str:
    return ".mov" if codec == "prores" else ".mp4"


class ChunkWriter:
    """One chunk file: frames encoded with the job's codec at the input's size and time base."""

    def __init__(self, path: Path, info: VideoInfo, codec: str, crf: int, time_base: Fraction, rate: Fraction) -> None:
        av = av_module()
        self.path = path
        self.info = info
        self.c = av.open(str(path), "w", format="mov" if codec == "prores" else "mp4")
        s = self.c.add_stream(ENCODERS[codec], rate=rate)
        s.width, s.height = info.width, info.height
        odd = info.width % 2 or info.height % 2
        if codec == "prores":
            s.pix_fmt = "yuv444p10le" if odd else "yuv422p10le"
            s.options = {"profile": "4" if odd else "2"}
        else:
            s.pix_fmt = "yuv444p" if odd else "yuv420p"
            s.options = {"crf": str(crf)}
            if codec == "vp9":
                s.options = {"crf": str(crf), "b": "0", "row-mt": "1"}
            elif codec == "h265":
                s.options = {"crf": str(crf), "x265-params": "log-level=error"}
        s.time_base = time_base
        s.codec_context.time_base = time_base
        self.stream = s
        self.time_base = time_base

    def write(self, rgb: np.ndarray, pts: int) -> None:
        av = av_module()
        if self.info.rotation:  # back to the stored orientation; the display matrix is copied
            rgb = np.ascontiguousarray(np.rot90(rgb, k=-(self.info.rotation // 90)))
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts = int(pts)
        frame.time_base = self.time_base
        for p in self.stream.encode(frame):
            self.c.mux(p)

    def close(self) -> None:
        for p in self.stream.encode():
            self.c.mux(p)
        self.c.close()


def check_output(path: str, codec: str, info: VideoInfo | None = None) -> str:
    """The output's container format from its extension; OptionsError, before any work, when
    it cannot hold the codec or the input's audio (copied as it is)."""
    ext = Path(path).suffix.lower()
    if ext not in FORMATS:
        raise OptionsError(f"output {path}: use a .mp4, .mov, .mkv or .webm file name (the container follows it)")
    if ext not in ALLOWED[codec]:
        raise OptionsError(f"a {ext} file cannot hold {codec} video; use one of {', '.join(ALLOWED[codec])}")
    if info is not None:
        odd = [a for a in info.audio_codecs if a not in ("opus", "vorbis")] if ext == ".webm" else []
        if odd:
            raise OptionsError(f"a {ext} file cannot hold this clip's {odd[0]} audio (copied unchanged); use .mkv or .mov")
    return FORMATS[ext]


def mux(out_tmp: Path, fmt: str, chunks: list[Path], source: str, info: VideoInfo, *,
        audio_from: float | None, audio_to: float | None, audio_shift: float) -> int:  # fmt: skip
    """Write the final file: the chunks' video packets as they are, and the input's audio
    packets between `audio_from` and `audio_to` (seconds; None: open), moved by
    `audio_shift` seconds. Returns the number of video packets."""
    av = av_module()
    ins = [av.open(str(p)) for p in chunks]
    src = _open(source)
    n_video = 0
    keeps_negative = fmt in ("mp4", "mov")  # edit lists; Matroska/WebM shift the whole file instead
    try:
        with av.open(str(out_tmp), "w", format=fmt) as out:
            vout = out.add_stream_from_template(ins[0].streams.video[0])
            if info.rotation:
                vout.set_display_rotation(info.rotation)
            aouts = [out.add_stream_from_template(a) for a in src.streams.audio]

            def video() -> Iterator[tuple[float, int, Any]]:
                for c in ins:
                    for p in c.demux(c.streams.video[0]):
                        if p.dts is not None and p.size:
                            yield float(p.dts * p.time_base), 0, p

            def audio() -> Iterator[tuple[float, int, Any]]:
                if not src.streams.audio:
                    return
                for p in src.demux(*src.streams.audio):
                    if p.dts is None or p.pts is None or not p.size:
                        continue
                    t = float(p.pts * p.time_base)
                    if (audio_from is not None and t < audio_from) or (audio_to is not None and t >= audio_to):
                        continue
                    if audio_shift:
                        shift = int(round(audio_shift / float(p.time_base)))
                        p.pts, p.dts = p.pts - shift, p.dts - shift
                    if p.pts < 0 and not keeps_negative:
                        continue  # an encoder's priming packet: Matroska would move every timestamp for it
                    yield float(p.dts * p.time_base), 1 + p.stream.index, p

            amap = {a.index: o for a, o in zip(src.streams.audio, aouts)}
            for _, kind, p in heapq.merge(video(), audio(), key=lambda x: (x[0], x[1])):
                if kind == 0:
                    p.stream = vout
                    n_video += 1
                else:
                    p.stream = amap[kind - 1]
                out.mux(p)
    finally:
        for c in ins:
            c.close()
        src.close()
    return n_video
