"""The video job on generated clips (PyAV) whose faces are the stand-in detector's bright
squares: frame count, timestamps, size and audio kept; the person picked first stays swapped
when faces cross, hide and come back; smoothing steadies the pasted face; kill -9 then a
re-run gives the same frames as an uninterrupted run; clear errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("av", reason="video needs PyAV: pip install -r requirements-video.txt")

from faceswaplab.engine import Engine  # noqa: E402
from faceswaplab.errors import BlockedError
from faceswaplab.options import EngineOptions, UnitOptions, VideoOptions
from faceswaplab.video import run_video, smoothing
from faceswaplab.video.state import state_dir
from tests import fakemodels as fm
from tests.batch_helpers import ROOT, MarkerNSFW, save
from tests.video_helpers import FPS, audio_packets, changed_mask, centroid, read_frames, write_clip

A_SEED, B_SEED = 11, 12


@pytest.fixture(scope="module")
def src(tmp_path_factory) -> Path:
    """The source identity: a blue-tinted ("male") face, so pasted pixels have blue > red."""
    d = tmp_path_factory.mktemp("vsrc")
    return save(fm.make_face_image((128, 128), [(24, 24, 80, fm.MALE, 77)], seed=5), d / "src.png")


@pytest.fixture
def veng(models_dir):
    return Engine(EngineOptions(models_dir=str(models_dir)), nsfw_detector=MarkerNSFW())


def _unit(src: Path, **kw) -> list[UnitOptions]:
    return [UnitOptions(source_images=(str(src),), **kw)]


# --------------------------------------------------------------------------- shape, time, audio


def test_frames_timestamps_size_and_audio_are_kept(tmp_path, veng, src):
    """An odd-sized clip with audio: same frame count, timestamps and size; audio packets
    byte-identical; the face swapped in every frame."""
    clip = write_clip(tmp_path / "in.mp4", (161, 121), 20, lambda i: [(30 + 2 * i, 30, 48, fm.FEMALE, A_SEED)])
    out = tmp_path / "out.mp4"
    report = run_video(str(clip), str(out), _unit(src), engine=veng, options=VideoOptions(chunk_frames=6))
    fi, ti = read_frames(clip)
    fo, to = read_frames(out)
    assert len(fo) == len(fi) == 20 == report.frames
    assert to == ti
    assert fo[0].shape == fi[0].shape == (121, 161, 3)
    packets = audio_packets(clip)
    assert len(packets) > 10 and audio_packets(out) == packets
    assert all(changed_mask(a, b).sum() > 300 for a, b in zip(fo, fi))
    assert report.chunks == 4 and [t.frames_swapped for t in report.tracks] == [20]
    assert not state_dir(out).exists()  # the work folder goes once OUT is in place


def test_range_every_and_fps(tmp_path, veng, src):
    """--start/--end cut the clip (timestamps start at 0, audio cut alike), --every 3 still
    swaps every frame (the track fills the frames between detections), --fps resamples."""
    clip = write_clip(tmp_path / "in.mp4", (128, 96), 25, lambda i: [(20 + i, 20, 40, fm.FEMALE, A_SEED)])
    out = tmp_path / "cut.mp4"
    opts = VideoOptions(start="0.2", end="0.8", every=3)
    report = run_video(str(clip), str(out), _unit(src), engine=veng, options=opts)
    fi, ti = read_frames(clip)
    fo, to = read_frames(out)
    assert len(fo) == 15 and to[0] == 0.0 and abs(to[-1] - 14 / FPS) < 1e-6
    assert all(changed_mask(a, b).sum() > 200 for a, b in zip(fo, fi[5:20]))
    track = report.tracks[0]
    assert track.frames_detected == 5 and track.frames_swapped == 15  # 5 detections, 15 frames swapped
    audio = [t for t, _ in audio_packets(out)]
    assert audio and min(audio) >= -0.07 and max(audio) < 0.62

    out10 = tmp_path / "fps10.mp4"
    run_video(str(clip), str(out10), _unit(src), engine=veng, options=VideoOptions(fps="10"))
    fo10, to10 = read_frames(out10)
    assert len(fo10) == 10 and np.allclose(to10, np.arange(10) / 10.0, atol=1e-4)


# --------------------------------------------------------------------------- tracking


def _crossing(i: int) -> list[tuple]:
    """A (top row) walks right, B (bottom row) walks left: they cross mid-clip. A is split by
    a dark bar (not detected) in frames 8-9; B leaves in frames 22-31 and comes back."""
    faces = [(10 + 6 * i, 16, 48, fm.FEMALE, A_SEED)]
    if not 22 <= i <= 31:
        faces.append((250 - 6 * i, 120, 48, fm.FEMALE, B_SEED))
    return faces


def _split_a(i: int, img: np.ndarray) -> None:
    if i in (8, 9):
        x = 10 + 6 * i + 22
        img[16:64, x : x + 4] = 20


def test_same_person_before_and_after_crossing(tmp_path, veng, src):
    clip = write_clip(tmp_path / "cross.mp4", (320, 200), 36, _crossing, audio=False, edit=_split_a)
    out = tmp_path / "out.mp4"
    report = run_video(str(clip), str(out), _unit(src, faces=(0,), sort="left-right"), engine=veng,
                       options=VideoOptions(chunk_frames=12))  # fmt: skip
    fi, _ = read_frames(clip)
    fo, _ = read_frames(out)
    for i in range(36):
        ax = 10 + 6 * i + 24
        changed = changed_mask(fo[i], fi[i])
        c = centroid(changed)
        assert c is not None and abs(c[0] - ax) < 8 and c[1] < 80, f"frame {i}: swapped at {c}, A is at x={ax}"
        assert changed[110:180].sum() == 0, f"frame {i}: B (bottom row) was changed"
    # after the crossing A is on the right: a per-frame "leftmost face" would have picked B
    assert 10 + 6 * 35 > 250 - 6 * 35
    tracks = {t.id: t for t in report.tracks}
    assert len(tracks) == 2, report.track_lines()  # B re-identified when it came back
    a = next(t for t in report.tracks if t.unit == 0)
    b = next(t for t in report.tracks if t.unit is None)
    assert (a.first_frame, a.last_frame, a.frames_swapped, a.frames_filled) == (0, 35, 36, 2)
    assert (b.first_frame, b.last_frame, b.frames_swapped) == (0, 35, 0)
    assert b.frames_detected == 26 and "not among" in b.reason
    assert a.mean_similarity is not None and a.mean_similarity > 0.5


# --------------------------------------------------------------------------- jitter


def _jittery_clip(path: Path) -> tuple[Path, np.ndarray]:
    """One neutral-grey face moving smoothly; its drawn square jitters by up to 3 px in size
    and 1 px in position, as a detector's boxes do."""
    rng = np.random.default_rng(4)
    jit = rng.integers(-3, 4, size=(30, 2))
    true = np.array([[40 + 3.0 * i, 50 + 1.0 * i] for i in range(30)])

    def faces(i: int) -> list[tuple]:
        side = 56 + int(jit[i, 0])
        x = int(round(true[i, 0] - side / 2)) + int(jit[i, 1] > 1)
        return [(x, int(round(true[i, 1] - side / 2)), side, (200, 200, 200), A_SEED)]

    return write_clip(path, (224, 160), 30, faces, audio=False), true


def _pasted_position(rgb: np.ndarray) -> tuple[float, float]:
    """Centre of the pasted (blue-tinted) face: blue-minus-red weighted centroid."""
    o = rgb.astype(np.float64)
    w = np.clip(o[..., 2] - o[..., 0] - 12.0, 0.0, None)
    ys, xs = np.mgrid[: o.shape[0], : o.shape[1]]
    return float((w * xs).sum() / w.sum()), float((w * ys).sum() / w.sum())


def test_smoothing_steadies_the_pasted_face(tmp_path, veng, src):
    clip, true = _jittery_clip(tmp_path / "jitter.mp4")
    jitter = {}
    for strength in (0.0, 1.0):
        out = tmp_path / f"s{strength}.mp4"
        run_video(str(clip), str(out), _unit(src), engine=veng, options=VideoOptions(smoothing=strength, crf=0))
        pos = np.array([_pasted_position(f) for f in read_frames(out)[0]])
        jitter[strength] = float(np.diff(pos, axis=0).var(axis=0).sum())  # frame-to-frame variance, px^2
        assert np.abs(pos - true).max() < 6.0  # follows the face (no lag on 3 px/frame motion)
    assert jitter[1.0] < 0.5 * jitter[0.0], jitter
    assert jitter[1.0] < 0.6, jitter


def test_one_euro_follows_fast_motion_and_calms_still_noise():
    rng = np.random.default_rng(0)
    t = np.arange(60) / 25.0
    still = 100 + rng.normal(0, 1.0, size=(60, 2))
    sm = smoothing.smooth(still, t, np.full(60, 50.0), 1.0)
    assert sm.std(axis=0).max() < 0.45 * still.std(axis=0).min()
    fast = np.stack([np.minimum(np.arange(60) * 12.0, 400.0)] * 2, axis=1)  # 12 px/frame, then stops
    sm = smoothing.smooth(fast, t, np.full(60, 50.0), 1.0)
    assert np.abs(sm - fast).max() < 10.0
    assert np.array_equal(smoothing.smooth(still, t, np.full(60, 50.0), 0.0), still)


# --------------------------------------------------------------------------- content filter, errors


@pytest.mark.parametrize("marked_from, new_face_at", [(25, None), (12, 12)])
def test_a_blocked_sampled_frame_stops_the_job(tmp_path, veng, src, marked_from, new_face_at):
    """The filter looks at one frame per second (0, 25) and at every frame where a new face
    appears (12 in the second case): a blocked one stops the job with its frame and reason."""

    def mark(i: int, img: np.ndarray) -> None:
        if i >= marked_from:
            img[0:4, 0:4] = (255, 0, 0)

    def faces(i: int) -> list[tuple]:
        extra = [(80, 50, 40, fm.FEMALE, B_SEED)] if new_face_at is not None and i >= new_face_at else []
        return [(20, 20, 40, fm.FEMALE, A_SEED)] + extra

    clip = write_clip(tmp_path / "nsfw.mp4", (128, 96), 30, faces, edit=mark)
    veng.nsfw_detector = _RedNSFW()  # the marker after lossy coding
    out = tmp_path / "out.mp4"
    with pytest.raises(BlockedError) as e:
        run_video(str(clip), str(out), _unit(src), engine=veng)
    assert f"frame {marked_from} " in e.value.message and "no output written" in e.value.message
    assert not out.exists()


def test_variable_frame_rate_keeps_each_timestamp(tmp_path, veng, src):
    ms = [0, 40, 80, 200, 240, 250, 260, 400, 440, 480, 700, 740]
    clip = write_clip(tmp_path / "vfr.mp4", (96, 96), len(ms), lambda i: [(20, 20, 40, fm.FEMALE, A_SEED)], ms=ms,
                      audio=False)  # fmt: skip
    out = tmp_path / "vfr_out.mkv"
    run_video(str(clip), str(out), _unit(src), engine=veng)
    fo, to = read_frames(out)
    assert np.allclose(to, np.array(ms) / 1000.0, atol=1e-6) and len(fo) == len(ms)


class _RedNSFW:
    """Blocks frames whose top-left corner is mostly red (the marker after lossy coding)."""

    def detect(self, bgr):
        px = bgr[0:4, 0:4].astype(int).mean(axis=(0, 1))
        if px[2] > 180 and px[0] < 90 and px[1] < 90:
            return [{"class": "FEMALE_BREAST_EXPOSED", "score": 0.97, "box": [0, 0, 4, 4]}]
        return []


def _cli(*args: str, timeout: float = 120.0) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "faceswaplab", "video", *args], cwd=str(ROOT), env=env,
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip


def test_unreadable_file_is_exit_2_with_one_line(tmp_path, src, models_dir, capsys):
    from faceswaplab.cli import main

    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a video" * 10)
    code = main(["video", "--target", str(bad), "--output", str(tmp_path / "o.mp4"), "--source", str(src),
                 "--models-dir", str(models_dir), "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("error: cannot open") and "broken.mp4" in err[0], err
    assert not (tmp_path / "o.mp4").exists()


def test_output_that_cannot_hold_the_codec_is_refused(tmp_path, veng, src):
    from faceswaplab.errors import OptionsError

    clip = write_clip(tmp_path / "in.mp4", (64, 64), 3, lambda i: [(10, 10, 40)], audio=False)
    with pytest.raises(OptionsError, match="cannot hold prores"):
        run_video(str(clip), str(tmp_path / "o.mp4"), _unit(src), engine=veng, options=VideoOptions(codec="prores"))


# --------------------------------------------------------------------------- kill -9 and resume


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
def test_kill_9_then_rerun_gives_the_uninterrupted_frames(tmp_path, veng, src, models_dir):
    clip = write_clip(tmp_path / "in.mp4", (256, 192), 40, lambda i: [(20 + 3 * i, 30 + i, 64, fm.FEMALE, A_SEED)])
    out = tmp_path / "killed.mp4"
    args = ["--target", str(clip), "--output", str(out), "--source", str(src), "--models-dir", str(models_dir),
            "--chunk-frames", "4", "--no-progress", "--json"]  # fmt: skip
    manifest = state_dir(out) / "manifest.json"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "faceswaplab", "video", *args], cwd=str(ROOT), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    killed_at = None
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                chunks = json.loads(manifest.read_text()).get("chunks", {})
            except (OSError, ValueError):
                chunks = {}
            if chunks:
                os.kill(proc.pid, signal.SIGKILL)
                killed_at = len(chunks)
                break
            time.sleep(0.003)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert killed_at is not None and proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    assert not out.exists()  # nothing half-written under the real name
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".killed.mp4")]

    done = _cli(*args)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["chunks"] == 10 and 1 <= report["chunks_resumed"] < 10  # resumed, not redone
    assert not state_dir(out).exists()

    ref = tmp_path / "ref.mp4"
    run_video(str(clip), str(ref), _unit(src), engine=veng, options=VideoOptions(chunk_frames=4))
    fk, tk = read_frames(out)
    fr, tr = read_frames(ref)
    assert len(fk) == len(fr) == 40 and tk == tr
    assert all(np.array_equal(a, b) for a, b in zip(fk, fr))
    assert audio_packets(out) == audio_packets(clip)


# --------------------------------------------------------------------------- the app's Video tab


def test_video_tab_actions_preview_and_run(tmp_path, veng, src):
    """The tab's actions (what its buttons call): a preview of one frame, then the job, whose
    result file and track report the tab shows; a missing clip is a message, not a crash."""
    from faceswaplab.ui.video_panel import EtaProgress, do_video, preview_frame

    clip = write_clip(tmp_path / "clip.mp4", (128, 96), 12, lambda i: [(20 + i, 20, 40, fm.FEMALE, A_SEED)])
    unit = {"source_images": [str(src)]}
    rgb, msg = preview_frame(veng, str(clip), 0.2, unit)
    first = read_frames(clip)[0][5]
    assert rgb is not None and "0.20 s" in msg and changed_mask(rgb, first).sum() > 200
    seen: list[str] = []
    bar = EtaProgress(lambda value, desc, unit: seen.append(desc))
    path, text, report = do_video(veng, str(clip), None, unit, None, {"chunk_frames": 4}, out_dir=tmp_path / "o",
                                  progress=bar)  # fmt: skip
    assert path == str(tmp_path / "o" / "clip_swapped.mp4") and Path(path).is_file()
    assert report["frames"] == 12 and "track 1: frames 0-11" in text
    assert any(d.startswith("swap: 12/12 frames") for d in seen) and any("left" in d for d in seen)
    assert do_video(veng, str(tmp_path / "nope.mp4"), None, unit, None, None, out_dir=tmp_path)[1].startswith("**Not done:** video not found")


def test_video_tab_builds_with_gradio(models_dir):
    gr = pytest.importorskip("gradio")
    from faceswaplab.ui.video_panel import build_video_tab

    eng = Engine(EngineOptions(models_dir=str(models_dir)))
    with gr.Blocks() as demo:
        with gr.Tabs():
            build_video_tab(eng)
    ids = {c.get("props", {}).get("elem_id") for c in demo.get_config_file()["components"]}
    assert {"faceswaplab_video_upload", "faceswaplab_video_preview_button", "faceswaplab_video_stop",
            "faceswaplab_video_result", "faceswaplab_video_codec", "faceswaplab_video_every"} <= ids  # fmt: skip


def test_stop_keeps_finished_chunks_and_the_next_run_continues(tmp_path, veng, src):
    from faceswaplab.video import StoppedError

    clip = write_clip(tmp_path / "in.mp4", (96, 96), 12, lambda i: [(20 + i, 20, 40, fm.FEMALE, A_SEED)], audio=False)
    out = tmp_path / "out.mp4"
    calls = {"swap": 0}

    def progress(phase: str, done: int, total: int) -> None:
        calls["swap"] += phase == "swap"

    with pytest.raises(StoppedError, match="run again to continue"):
        run_video(str(clip), str(out), _unit(src), engine=veng, options=VideoOptions(chunk_frames=4),
                  on_progress=progress, stop=lambda: calls["swap"] >= 1)  # fmt: skip
    assert not out.exists() and json.loads((state_dir(out) / "manifest.json").read_text())["chunks"].keys() == {"0"}
    report = run_video(str(clip), str(out), _unit(src), engine=veng, options=VideoOptions(chunk_frames=4))
    assert report.chunks_resumed == 1 and report.chunks == 3 and report.tracks[0].frames_swapped == 12
    assert len(read_frames(out)[0]) == 12
