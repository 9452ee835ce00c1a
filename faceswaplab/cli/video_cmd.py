"""`python -m faceswaplab video`: one clip, one or more units, one output video.

The video options' flags (--start, --end, --every, --codec, --crf, --fps, --workers,
--chunk-frames, --smoothing, --max-gap) are generated from VideoOptions; the unit,
post-processing and engine flags are the swap command's.

Exit codes: 0 written; 2 bad input (a file PyAV cannot open, a bad range or output name);
3 a model is missing; 4 no unit has a source face; 5 a sampled frame was blocked by the
content filter; 6 could not write; 130 interrupted (finished chunks are kept: run the same
command again to continue).
"""

from __future__ import annotations

import argparse
import sys

from ..engine import Engine
from ..options import VideoOptions
from . import common, flags
from .swap_cmd import same_file


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "video",
        help="swap faces in a video clip (tracked, smoothed, resumable; audio copied)",
        description="Swap the source identity into the faces of a video. Faces are tracked across frames, so the "
        "person picked where they first appear stays the same when people cross; keypoints are smoothed over time. "
        "Work is recorded in chunks in OUT.faceswaplab/ beside the output: running the same command again after an "
        "interruption continues from the last finished chunk. The audio is copied unchanged.",
    )
    p.add_argument("--target", required=True, metavar="VIDEO", help="the clip whose faces are replaced")
    p.add_argument("--output", required=True, metavar="PATH", help="output video (.mp4, .mov, .mkv or .webm)")
    p.add_argument("--units", metavar="FILE.json", help="several units (identities) as a JSON list with named fields")
    flags.add_flags(p, VideoOptions, "video")
    common.add_unit_args(p)
    common.add_post_args(p)
    common.add_engine_args(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the report as JSON on stdout (and nothing else there)")
    common.add_quiet_arg(p)
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    p.set_defaults(func=run)


class _Progress:
    """One tqdm bar per phase (analyse, swap) on stderr."""

    def __init__(self, enabled: bool) -> None:
        self.enabled, self.bar, self.phase = enabled, None, None

    def __call__(self, phase: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if phase != self.phase:
            self.close()
            from tqdm import tqdm

            self.bar = tqdm(total=total or None, desc=phase, unit="frame", file=sys.stderr, dynamic_ncols=True, disable=None)
            self.phase = phase
        if self.bar is not None:
            self.bar.n = done
            self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def run(args: argparse.Namespace) -> int:
    from ..errors import BadInputError
    from ..video import run_video

    if same_file(args.output, args.target):
        raise BadInputError(f"--output {args.output} is the --target file; give another output path")
    units = common.units_from_args(args)
    options = flags.options_from_args(VideoOptions, args)
    post = common.post_options(args)
    engine = Engine(common.engine_options(args))
    progress = _Progress(not (args.no_progress or args.quiet or args.json))
    try:
        report = run_video(args.target, args.output, units, engine=engine, options=options, post=post,
                           on_progress=progress)  # fmt: skip
    finally:
        progress.close()
    if args.json:
        data = report.to_dict()
        data["warnings"] = list(dict.fromkeys(report.warnings + common.logged_warnings()))
        common.emit_json(data)
    elif not args.quiet:
        for line in report.track_lines():
            print(line, file=sys.stderr)
        print(report.line(), file=sys.stderr)
    return common.EXIT_OK
