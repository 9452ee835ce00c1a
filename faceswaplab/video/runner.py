"""A video job: analyse every frame (faces, content filter), link faces into tracks, smooth
them, then swap chunk by chunk and mux once.

    pass 1  decode -> detect + embed (every --every frames) -> content filter on sampled
            frames (>= 1 per second, and every frame where a new face appears): analysis
            chunks in the manifest
    tracks  detections -> tracks (overlap + embedding, re-identification), gaps filled,
            keypoints smoothed (zero-lag One-Euro); each unit chooses its tracks
    pass 2  decode -> per frame, per unit, per chosen track present: swap_face with the
            smoothed keypoints (the one per-face swap of the image pipeline), post-processing
            -> encode the chunk -> list it in the manifest
    mux     chunks' packets + the input's audio packets -> OUT (temporary name, renamed)

A kill at any point loses at most the chunk in progress: the next run with the same input
and options reuses what the manifest lists.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, is_dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .. import postprocess, safety
from ..analysis.face import similarity
from ..durable import temp_path_for, unlink_quiet
from ..engine import Engine
from ..errors import BadInputError, BlockedError, FaceSwapLabError, NoFaceError, OptionsError
from ..options import PostOptions, UnitOptions, VideoOptions
from ..pipeline import PreparedUnit, faces_wanted, preflight, prepare_units
from ..swap.face_swap import swap_face
from . import io as vio
from .report import TrackReport, VideoReport
from .state import JobState
from .tracking import Detection, Track, build_tracks, choose_tracks, iou, smooth_tracks

Progress = Callable[[str, int, int], None]  # (phase, done, total)


class StoppedError(FaceSwapLabError):
    """The job was stopped on request; what was finished is kept for the next run."""

    exit_code = 130


def _job_key(target: str, units: Sequence[UnitOptions], options: VideoOptions, post: PostOptions | None,
             engine: Engine) -> str:  # fmt: skip
    st = os.stat(target)
    parts = {"target": os.path.abspath(target), "size": st.st_size, "mtime": st.st_mtime_ns,
             "units": [asdict(u) for u in units], "video": options.to_dict(),
             "post": asdict(post) if post is not None else None,
             "engine": asdict(engine.options) if is_dataclass(engine.options) else repr(engine.options)}  # fmt: skip
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=_key_of).encode()).hexdigest()


def _key_of(value: object) -> str:
    """In-memory images (the app's uploads) by their pixels: str() of a big array elides."""
    if isinstance(value, np.ndarray):
        return "array:" + hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()
    if hasattr(value, "tobytes") and hasattr(value, "size"):
        return "image:" + hashlib.sha256(value.tobytes()).hexdigest()  # a PIL image
    return str(value)


def _in_range(t: float, a: float | None, b: float | None) -> bool:
    return (a is None or t >= a - 1e-9) and (b is None or t < b - 1e-9)


class _Job:
    def __init__(self, target: str, output: Path, units: Sequence[UnitOptions], engine: Engine,
                 options: VideoOptions, post: PostOptions | None, on_progress: Progress | None,
                 stop: Callable[[], bool] | None) -> None:  # fmt: skip
        self.target, self.output, self.engine, self.opts, self.post = target, output, engine, options, post
        self.units = list(units)
        self.progress = on_progress or (lambda phase, done, total: None)
        self.stop = stop or (lambda: False)
        self.info = vio.probe(target)
        self.a, self.b = options.start_s, options.end_s
        self.k = options.chunk_frames

    # --- pass 1 ---------------------------------------------------------------------------

    def _analyse_chunk(self, frames: list[vio.DecodedFrame], first: int, prev: list[Detection]) -> tuple[list[list[Detection]], int]:
        eng, every = self.engine, self.opts.every
        sample = max(1, int(round(float(self.info.rate))))
        out: list[list[Detection]] = []
        checked = 0
        for j, fr in enumerate(frames):
            ri = first + j
            dets: list[Detection] = []
            if ri % every == 0:
                faces = eng.analyser().analyse(fr.rgb, det_size=eng.options.det_size, det_thresh=eng.options.det_thresh,
                                               retry=eng.options.det_retry, attributes=self.need_gender,
                                               rotations=eng.options.rotations == "auto", want=self.want)  # fmt: skip
                dets = [Detection(f.bbox, f.kps, f.det_score, f.embedding, f.raw_norm, f.gender) for f in faces]
                new_face = any(all(iou(d.bbox, p.bbox) < 0.2 for p in prev) for d in dets)
                prev = dets
            else:
                new_face = False
            if ri % sample == 0 or new_face:
                v = safety.check_image(fr.rgb, eng.options.nsfw_threshold, detector=eng.nsfw_detector, threads=eng.options.threads)
                checked += 1
                if v.blocked:
                    raise BlockedError(f"frame {ri} ({fr.time:.2f} s) of {self.target}: {v.reason}; no output written")
            out.append(dets)
        return out, checked

    def analyse(self, state: JobState) -> tuple[np.ndarray, np.ndarray, list[tuple[int, list[Detection]]], int]:
        """Every frame of the range: (pts, times, (frame, detections) per analysed frame, frames checked)."""
        pts: list[np.ndarray] = []
        times: list[np.ndarray] = []
        found: list[tuple[int, list[Detection]]] = []
        checked = 0
        total = state.data.get("frames")
        buf: list[vio.DecodedFrame] = []
        prev: list[Detection] = []

        def flush(chunk: int) -> None:
            nonlocal prev, checked
            if state.analysed(chunk):
                p, t, faces, c = state.load_analysis(chunk)
            else:
                faces, c = self._analyse_chunk(buf, chunk * self.k, prev)
                p, t = [f.pts for f in buf], [f.time for f in buf]
                state.record_analysis(chunk, p, t, faces, c)
            pts.append(np.asarray(p, np.int64))
            times.append(np.asarray(t, np.float64))
            for j, dets in enumerate(faces):
                if (chunk * self.k + j) % self.opts.every == 0:
                    found.append((chunk * self.k + j, dets))
                    prev = dets
            checked += c
            self.progress("analyse", chunk * self.k + len(faces), total or 0)

        if total is not None:  # every chunk analysed before: no need to decode again
            for chunk in range((total + self.k - 1) // self.k):
                flush(chunk)
        else:
            n = 0
            for fr in vio.decode(self.target, self.info):
                if self.b is not None and fr.time >= self.b - 1e-9:
                    break
                if not _in_range(fr.time, self.a, self.b):
                    continue
                if self.stop():
                    raise StoppedError("stopped; the analysed part is kept, run again to continue")
                n += 1
                if state.analysed((n - 1) // self.k) and (n % self.k):
                    continue  # decoded only to reach the next chunk
                buf.append(fr)
                if n % self.k == 0:
                    flush(n // self.k - 1)
                    buf = []
            if n % self.k:
                flush(n // self.k)
            if n == 0:
                raise BadInputError(f"{self.target} has no frames between {self.opts.start or 0} and {self.opts.end or 'the end'}")
            state.data["frames"] = n
            state.save()
        return np.concatenate(pts), np.concatenate(times), found, checked

    # --- pass 2 ---------------------------------------------------------------------------

    def _swap_frame(self, ri: int, rgb: np.ndarray) -> tuple[np.ndarray, dict[int, float]]:
        rgb = rgb.copy()
        sims: dict[int, float] = {}
        for p, chosen in self.plan:
            for t in chosen:
                if ri not in t.path or t.id in sims:
                    continue
                face = t.face(ri)
                outcome = swap_face(self.engine, rgb, face, p.identity, p.options)
                if outcome.roi is None:
                    continue
                sims[t.id] = similarity(self.engine.analyser().embed(rgb, face.kps), p.identity.embedding)
        if sims and self.post is not None and self.post.active:
            from ..imageio import load_image

            img, _ = postprocess.apply(self.engine, load_image(rgb, what="video frame"), self.post, self.post_models)
            rgb = img.rgb
        return rgb, sims

    def swap(self, state: JobState, entries: list[tuple[int, int]], out_tb: Fraction, rate: Fraction) -> None:
        n_chunks = (len(entries) + self.k - 1) // self.k
        uses: dict[int, list[int]] = {}
        for oi, (ri, _) in enumerate(entries):
            uses.setdefault(ri, []).append(oi)
        todo = [c for c in range(n_chunks) if not state.done(c)]
        if not todo:
            return
        pool = ThreadPoolExecutor(self.opts.workers) if self.opts.workers > 1 else None
        suffix = vio.chunk_suffix(self.opts.codec)
        last_needed = entries[min(len(entries), (max(todo) + 1) * self.k) - 1][0]
        batch: list[tuple[int, np.ndarray]] = []  # (output index, source frame) of one chunk
        current = -1
        ri = -1
        try:
            for fr in vio.decode(self.target, self.info):
                if self.b is not None and fr.time >= self.b - 1e-9:
                    break
                if not _in_range(fr.time, self.a, self.b):
                    continue
                ri += 1
                for oi in uses.get(ri, []):
                    c = oi // self.k
                    if state.done(c):
                        continue
                    if batch and c != current:
                        self._write_chunk(state, current, batch, entries, out_tb, rate, suffix, pool)
                        batch = []
                    current = c
                    batch.append((oi, fr.rgb))
                if ri >= last_needed:
                    break
            if batch:
                self._write_chunk(state, current, batch, entries, out_tb, rate, suffix, pool)
        finally:
            if pool is not None:
                pool.shutdown()

    def _write_chunk(self, state: JobState, c: int, batch: list[tuple[int, np.ndarray]], entries: list[tuple[int, int]],
                     out_tb: Fraction, rate: Fraction, suffix: str, pool: ThreadPoolExecutor | None) -> None:  # fmt: skip
        if self.stop():
            raise StoppedError("stopped; finished chunks are kept, run again to continue")
        name = f"chunk-{c:05d}{suffix}"
        tmp = state.temp_for(name)
        stats: dict[str, list[float]] = {}
        work = [(entries[oi][0], rgb) for oi, rgb in batch]
        results = pool.map(lambda a: self._swap_frame(*a), work) if pool else (self._swap_frame(*a) for a in work)
        writer = vio.ChunkWriter(tmp, self.info, self.opts.codec, self.opts.crf, out_tb, rate)
        try:
            for (oi, _), (rgb, sims) in zip(batch, results):
                writer.write(rgb, entries[oi][1])
                for tid, s in sims.items():
                    st = stats.setdefault(str(tid), [0, 0.0])
                    st[0] += 1
                    st[1] += s
            writer.close()
        except BaseException:
            unlink_quiet(tmp)
            raise
        state.record_chunk(c, tmp, name, len(batch), stats)
        done = sum(v["frames"] for v in state.chunk_stats().values())
        self.progress("swap", done, len(entries))

    # --- the whole job --------------------------------------------------------------------

    def run(self) -> VideoReport:
        t0 = time.monotonic()
        fmt = vio.check_output(str(self.output), self.opts.codec, self.info)
        if self.post is not None and self.post.upscales:
            raise OptionsError("video: whole-frame upscaling would change the frame size; drop --post-upscaler")
        preflight(self.engine, self.units, self.post)
        self.post_models = postprocess.resolve(self.engine, self.post)
        prepared = prepare_units(self.engine, self.units)
        active = [p for p in prepared if p.status == "ok" and p.identity is not None]
        if not active:
            raise NoFaceError("; ".join(p.error or p.status for p in prepared) or "no unit to swap")
        self.need_gender = any(p.options.gender != "any" for p in active)
        self.want = faces_wanted(p.options for p in active)
        state = JobState(self.output, _job_key(self.target, self.units, self.opts, self.post, self.engine))
        resumed_chunks = len(state.data["chunks"])
        pts, times, found, checked = self.analyse(state)
        tracks = build_tracks(found, max_lost=(self.opts.max_gap + 1) * self.opts.every)
        smooth_tracks(tracks, times, self.opts.smoothing, (self.opts.max_gap + 1) * self.opts.every, self.opts.every)
        self.plan, decisions = self._plan(active, tracks)
        entries, out_tb, rate, shift = self._timeline(pts, times)
        self.swap(state, entries, out_tb, rate)
        tmp = temp_path_for(self.output)
        try:
            vio.mux(tmp, fmt, state.chunk_files(), self.target, self.info, audio_from=self.a,
                    audio_to=self.b, audio_shift=shift)  # fmt: skip
            os.replace(tmp, self.output)
        except OSError as e:
            unlink_quiet(tmp)
            from ..errors import write_error

            raise write_error("the video", self.output.parent, e) from None
        except BaseException:
            unlink_quiet(tmp)
            raise
        report = self._report(tracks, decisions, state, len(entries), checked, resumed_chunks, time.monotonic() - t0)
        state.remove()
        return report

    def _plan(self, active: list[PreparedUnit], tracks: list[Track]) -> tuple[list[tuple[PreparedUnit, list[Track]]], dict[int, tuple[int, str | None]]]:
        plan = []
        decisions: dict[int, tuple[int, str | None]] = {}
        for ui, p in enumerate(active):
            o = p.options
            got = choose_tracks(tracks, indices=o.faces, order=o.sort, gender=o.gender,
                                source_gender=p.identity.gender if p.identity else None, reference=p.reference,
                                reference_threshold=o.reference_threshold, min_face_size=o.min_face_size)  # fmt: skip
            chosen = [t for t in tracks if got.get(t.id) is None and decisions.get(t.id, (0, "x"))[1] is not None]
            for t in tracks:
                if t.id not in decisions or (decisions[t.id][1] is not None and got.get(t.id) is None):
                    decisions[t.id] = (ui, got.get(t.id))
            plan.append((p, chosen))
        return plan, decisions

    def _timeline(self, pts: np.ndarray, times: np.ndarray) -> tuple[list[tuple[int, int]], Fraction, Fraction, float]:
        """(source frame, output pts) per output frame; the output time base and rate; the
        seconds every timestamp moves (the range's start becomes 0)."""
        shift_s = float(times[0]) if self.a is not None else 0.0
        fps = self.opts.fps_value
        if fps is None:
            shift = int(round(shift_s / float(self.info.time_base)))
            return [(i, int(p) - shift) for i, p in enumerate(pts)], self.info.time_base, self.info.rate, shift_s
        tb = Fraction(1, 90000)
        step = float(times[1] - times[0]) if len(times) > 1 else 1.0 / float(self.info.rate)
        end = float(times[-1]) + step
        entries = []
        k, i = 0, 0
        while times[0] + k / fps < end - 1e-9:
            t = times[0] + k / fps
            while i + 1 < len(times) and times[i + 1] <= t + 1e-6:
                i += 1
            entries.append((i, int(round((t - shift_s) / float(tb)))))
            k += 1
        return entries, tb, Fraction(fps).limit_denominator(1001), shift_s

    def _report(self, tracks: list[Track], decisions: dict[int, tuple[int, str | None]], state: JobState, n_out: int,
                checked: int, resumed: int, elapsed: float) -> VideoReport:  # fmt: skip
        totals: dict[int, list[float]] = {}
        for c in state.chunk_stats().values():
            for tid, (n, s) in c.get("tracks", {}).items():
                tot = totals.setdefault(int(tid), [0, 0.0])
                tot[0] += n
                tot[1] += s
        rows = []
        for t in tracks:
            n, s = totals.get(t.id, [0, 0.0])
            ui, reason = decisions.get(t.id, (None, "not chosen"))
            rows.append(TrackReport(id=t.id, first_frame=t.first, last_frame=t.last, frames_detected=len(t.dets),
                                    frames_filled=sum(1 for v in t.path.values() if v[2]), frames_swapped=int(n),
                                    unit=ui if reason is None else None, reason=reason,
                                    mean_similarity=round(s / n, 4) if n else None))  # fmt: skip
        return VideoReport(output=str(self.output), frames=n_out, width=self.info.width, height=self.info.height,
                           fps=float(self.info.rate), audio_streams=self.info.audio, tracks=rows,
                           chunks=len(state.data["chunks"]), chunks_resumed=resumed, frames_checked=checked,
                           elapsed_s=round(elapsed, 3))  # fmt: skip


def run_video(target: str, output: str, units: Sequence[UnitOptions], *, engine: Engine | None = None,
              options: VideoOptions | None = None, post: PostOptions | None = None,
              on_progress: Progress | None = None, stop: Callable[[], bool] | None = None) -> VideoReport:  # fmt: skip
    """Swap `units` into every frame of `target` and write `output` (see the module docstring).

    Raises BadInputError (unreadable video, bad range, output == target), OptionsError,
    ModelMissingError, NoFaceError (no unit has a source face), BlockedError (a sampled frame
    is blocked by the content filter), WriteError, StoppedError (`stop()` returned true)."""
    out = Path(output)
    if os.path.exists(output) and os.path.exists(target) and os.path.samefile(output, target):
        raise BadInputError(f"--output {output} is the --target file; give another output path")
    return _Job(str(target), out, units, engine or Engine(), options or VideoOptions(), post, on_progress, stop).run()
