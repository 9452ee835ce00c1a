"""`python -m faceswaplab batch` and `python -m faceswaplab dataset`: folder jobs with a
manifest (resume, skip), a progress bar on stderr and a JSON summary on request.

Every option flag is generated from the options' metadata (RunOptions, BatchOptions,
DatasetOptions, the unit's, PostOptions, EngineOptions).

Exit codes: 0 when the job ran, whatever each image's outcome (the manifest and the summary
say); 2 bad arguments (an output folder that cannot be written included); 3 a model is
missing (checked before any image); 4 no unit has a usable source face (nothing can be
done); 6 could not write the output (disk full...); 130 interrupted (what was finished is
recorded).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..batch import BatchOptions, BatchSummary, DatasetOptions, ItemResult, run_batch, run_dataset
from ..batch.folder import RunOptions
from ..engine import Engine
from ..errors import BadInputError
from ..options import options_of
from . import common, flags


def register(sub: argparse._SubParsersAction) -> None:
    _register_batch(sub)
    _register_dataset(sub)


RUN_TITLE = "job"


def _add_job_args(p: argparse.ArgumentParser, options: type) -> None:
    """The targets and output folder, then `options`' own flags (RunOptions' in "job")."""
    g = p.add_argument_group(RUN_TITLE)
    src = g.add_mutually_exclusive_group(required=True)
    src.add_argument("--target-dir", metavar="DIR", help="folder of images to process")
    src.add_argument("--targets", nargs="+", metavar="IMG", help="image files to process (instead of --target-dir)")
    g.add_argument("--output-dir", required=True, metavar="DIR", help="where outputs and the manifest go")
    flags.add_flags(g, RunOptions)
    title = "output" if options is BatchOptions else "dataset"
    flags.add_flags(p, options, title, exclude=[o.name for o in options_of(RunOptions)])
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the job summary as JSON on stdout (and nothing else there)")
    common.add_quiet_arg(p)
    p.add_argument("--debug", action="store_true", help="show tracebacks")


def _register_batch(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "batch",
        help="swap faces in every image of a folder",
        description="Swap the source identity into every image of a folder (or a list), into an output folder with "
        "the same layout. A manifest in the output folder records each image's outcome; running again skips what "
        "is done and resumes an interrupted job.",
    )
    _add_job_args(p, BatchOptions)
    p.add_argument("--units", metavar="FILE.json", help="several units (identities) as a JSON list with named fields")
    common.add_unit_args(p)
    common.add_post_args(p)
    common.add_engine_args(p)
    p.set_defaults(func=run_batch_cmd)


def _register_dataset(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "dataset",
        help="build a LoRA training set: one identity into a folder of photos, filtered",
        description="Swap one identity (a face checkpoint or source photos) into every photo of a folder, keep the "
        "results that pass the filters in <output>/<repeats>_<trigger>/ with a caption per image, and write a "
        "report (counts, similarity histogram, contact sheet, rejected images and why) in <output>/report/.",
    )
    _add_job_args(p, DatasetOptions)
    # The dataset's --min-similarity is its filter (the swap is kept in the rejected copy).
    common.add_unit_args(p, exclude=("min_similarity",))
    common.add_post_args(p)
    common.add_engine_args(p)
    p.set_defaults(func=run_dataset_cmd)


def _targets(args: argparse.Namespace) -> Any:
    return args.target_dir if args.target_dir is not None else list(args.targets)


class _Progress:
    """A tqdm bar on stderr; warnings for images that failed go above it."""

    def __init__(self, enabled: bool, desc: str) -> None:
        self.bar = None
        self.enabled = enabled
        self.desc = desc

    def __call__(self, done: int, total: int, item: ItemResult) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=self.desc, unit="img", file=sys.stderr, dynamic_ncols=True, disable=None)
        self.bar.update(1)
        self.bar.set_postfix_str(f"{item.input}: {item.status}", refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _finish(args: argparse.Namespace, summary: BatchSummary) -> int:
    for w in summary.warnings:
        common.warn(args, w)
    if args.json:
        data = summary.to_dict()
        data["warnings"] = list(dict.fromkeys(list(data.get("warnings") or []) + common.logged_warnings()))
        common.emit_json(data)
    elif not args.quiet:
        print(summary.line(), file=sys.stderr)
        print(f"manifest: {summary.manifest}", file=sys.stderr)
        if summary.dataset_dir:
            print(f"dataset: {summary.dataset_dir}", file=sys.stderr)
            print(f"report: {summary.report_dir}", file=sys.stderr)
    return common.EXIT_OK


def run_batch_cmd(args: argparse.Namespace) -> int:
    units = common.units_from_args(args)
    options = flags.options_from_args(BatchOptions, args)
    post = common.post_options(args)
    engine = Engine(common.engine_options(args))
    progress = _Progress(not (args.no_progress or args.quiet), "batch")
    try:
        summary = run_batch(
            _targets(args), args.output_dir, units, engine=engine, options=options, post=post, on_progress=progress
        )
    finally:
        progress.close()
    return _finish(args, summary)


def run_dataset_cmd(args: argparse.Namespace) -> int:
    if not args.source_images and not args.face:
        raise BadInputError("no identity: give --face NAME_OR_PATH (a face checkpoint) or --source IMG (one or more)")
    unit = common.unit_from_args(args)
    options = flags.options_from_args(DatasetOptions, args)
    post = common.post_options(args)
    engine = Engine(common.engine_options(args))
    progress = _Progress(not (args.no_progress or args.quiet), "dataset")
    try:
        summary = run_dataset(
            _targets(args), args.output_dir, unit, options, engine=engine, post=post, on_progress=progress
        )
    finally:
        progress.close()
    return _finish(args, summary)
