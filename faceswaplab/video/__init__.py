"""Video: a clip swapped frame by frame with face tracking, temporal smoothing, resumable
chunks and audio copied (PyAV). `run_video` is the entry point of every front end."""

from .report import TrackReport, VideoReport
from .runner import StoppedError, run_video

__all__ = ["run_video", "VideoReport", "TrackReport", "StoppedError"]
