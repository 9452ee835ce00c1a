"""The report of a dataset job, outside the training folder (what each input became and why,
for a person deciding whether the set is good): summary.json, rejected.csv, the similarity
histogram and the contact sheet. Written from the manifest, so it is complete even after a
stopped or resumed job."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..durable import atomic_write
from .inputs import InputFile
from .manifest import Manifest, Record
from .results import STATUS_BLOCKED, STATUS_ERROR, STATUS_FAILED, STATUS_SWAPPED, STATUSES, BatchSummary
from .sheets import KEPT_COLOUR, NEUTRAL_COLOUR, REJECTED_COLOUR, Tile, draw_contact_sheet, draw_histogram

REPORT_DIR = "report"


def write_report(
    out: Path,
    manifest: Manifest,
    inputs: list[InputFile],
    names: Mapping[str, str],
    options: Any,
    summary: BatchSummary,
) -> None:
    """The report of a dataset job in `out`/report/ (`options`: its DatasetOptions; `names`:
    input key -> the image's name in the dataset)."""
    by_key = {r.input: r for r in manifest.records([i.key for i in inputs])}
    recs: list[Record] = []
    missing = 0
    for inp in inputs:
        r = by_key.get(inp.key)
        if r is None or r.options_hash != summary.options_hash:
            missing += 1
            continue
        recs.append(r)
    report = out / REPORT_DIR
    report.mkdir(parents=True, exist_ok=True)
    counts = {s: 0 for s in STATUSES}
    for r in recs:
        counts[r.status] = counts.get(r.status, 0) + 1
    kept = [r for r in recs if r.status == STATUS_SWAPPED]
    rejected = [r for r in recs if r.status != STATUS_SWAPPED]

    def entry(r: Record) -> dict[str, Any]:
        return {
            "input": r.input,
            "name": names.get(r.input),
            "status": r.status,
            "reason": r.reason,
            "similarity": r.similarity,
            "det_score": r.det_score,
            "face_size": r.face_size,
            "faces_detected": r.faces_detected,
            "output": r.output,
            "files": r.files,
            "caption_note": (r.detail or {}).get("caption_note"),
        }

    data = {
        "dataset_dir": options.folder_name,
        "trigger": options.trigger,
        "repeats": options.repeats,
        "caption": options.caption,
        "caption_template": options.caption_template,
        "filters": options.filters(),
        "options_hash": summary.options_hash,
        "inputs": len(inputs),
        "kept": len(kept),
        "rejected": len(rejected),
        "not_processed": missing,
        "counts": {k: v for k, v in counts.items()},
        "similarity": _stats([r.similarity for r in kept]),
        "items": [entry(r) for r in recs],
    }
    atomic_write(report / "summary.json", json.dumps(data, indent=2) + "\n")

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["name", "input", "status", "reason", "similarity", "copy"])
    for r in rejected:
        copy = next((f for f in r.files if f.startswith(f"{REPORT_DIR}/rejected/")), "")
        w.writerow([names.get(r.input, ""), r.input, r.status, r.reason or "", _fmt(r.similarity), copy])
    atomic_write(report / "rejected.csv", buf.getvalue())

    kept_sims = [r.similarity for r in kept if r.similarity is not None]
    rejected_sims = [r.similarity for r in rejected if r.similarity is not None]
    unplotted = len(kept) + len(rejected) - len(kept_sims) - len(rejected_sims)  # no face: no similarity
    draw_histogram(  # the title counts what is plotted, as the legend does
        report / "similarity_histogram.png",
        kept_sims,
        rejected_sims,
        threshold=options.min_similarity or None,
        title=f"similarity of the swapped face to the identity ({len(kept_sims)} kept, {len(rejected_sims)} rejected"
        + (f"; {unplotted} without a similarity not shown)" if unplotted else ")"),
    )

    def tile(r: Record) -> Tile:
        thumb = next((out / f for f in r.files if f.startswith(f"{REPORT_DIR}/thumbs/")), None)
        sim = f"sim {r.similarity:.2f}" if r.similarity is not None else ""
        if r.status == STATUS_SWAPPED:
            return Tile(thumb, [names.get(r.input, r.input), sim], KEPT_COLOUR)
        colour = NEUTRAL_COLOUR if r.status in (STATUS_ERROR, STATUS_FAILED, STATUS_BLOCKED) else REJECTED_COLOUR
        return Tile(thumb, [names.get(r.input, r.input), f"{r.status} {sim}".strip(), r.reason or ""], colour)

    lim = options.sheet_limit
    draw_contact_sheet(
        report / "contact_sheet.png",
        [
            (f"kept: {len(kept)}", [tile(r) for r in kept[:lim]], max(0, len(kept) - lim)),
            (f"rejected: {len(rejected)}", [tile(r) for r in rejected[:lim]], max(0, len(rejected) - lim)),
        ],
    )
    if missing:
        summary.warnings.append(f"{missing} input(s) not processed yet (the job was stopped); run it again to finish")


def _fmt(v: float | None) -> str:
    return "" if v is None else f"{v:.4f}"


def _stats(values: Sequence[float | None]) -> dict[str, float] | None:
    vs = sorted(v for v in values if v is not None)
    if not vs:
        return None
    return {"min": vs[0], "median": vs[len(vs) // 2], "mean": round(sum(vs) / len(vs), 4), "max": vs[-1]}


__all__ = ["write_report", "REPORT_DIR"]
