"""What happened to each unit and face of one image: the report every front end shows.

"Never fail silently": a skipped face always carries its reason, and `nothing_swapped_reason`
turns a fruitless run into one message the CLI, API and web-ui can show.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SWAPPED = "swapped"
SKIPPED = "skipped"
NO_TARGET_FACE = "no-target-face"  # a unit's status in to_dict() when the target had no face


@dataclass
class FaceReport:
    position: int | None  # index in the unit's sorted face list (what `faces` refers to)
    status: str  # swapped | skipped
    reason: str | None = None
    bbox: list[float] | None = None
    det_score: float | None = None
    gender: str | None = None
    age: int | None = None
    similarity: float | None = None  # swapped face vs source identity
    reference_similarity: float | None = None
    notes: list[str] = field(default_factory=list)  # e.g. which restoration path ran
    inpaint: dict[str, Any] | None = None  # the Stable Diffusion pass (when, denoise, steps, sampler, seed)


@dataclass
class UnitReport:
    unit: int
    source: str = ""
    status: str = "ok"  # ok | disabled | no-source-face | error
    reason: str | None = None
    faces: list[FaceReport] = field(default_factory=list)
    swapper: str | None = None  # the swapper file that ran (similarity is still ArcFace's)

    @property
    def swapped(self) -> int:
        return sum(1 for f in self.faces if f.status == SWAPPED)


@dataclass
class SwapReport:
    faces_detected: int = 0
    blocked: bool = False
    block_reason: str | None = None
    units: list[UnitReport] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    postprocessing: list[str] = field(default_factory=list)  # what the post-processing step did

    @property
    def swapped(self) -> int:
        return sum(u.swapped for u in self.units)

    def to_dict(self) -> dict[str, Any]:
        """The report as --json, the API and the app show it: units numbered from 1 (as the
        text output and the UI number them), and a unit that found no face in the target is
        not "ok" (status "no-target-face")."""
        d = asdict(self)
        d["swapped"] = self.swapped
        for u, ud in zip(self.units, d["units"]):
            ud["swapped"] = u.swapped
            ud["unit"] = u.unit + 1
            if u.status == "ok" and self.faces_detected == 0 and not self.blocked:
                ud["status"] = NO_TARGET_FACE
        return d

    def nothing_swapped_reason(self) -> str:
        """One message saying why nothing was swapped (target or source side)."""
        if self.blocked:
            return self.block_reason or "blocked by the content filter"
        active = [u for u in self.units if u.status != "disabled"]
        if not active:
            return "no enabled unit with a source (give --source IMG or --face NAME)"
        # The target is analysed only for units that have a source face: when none has,
        # "no face in the target" would be a guess, so only the real problem is named.
        analysed = any(u.status == "ok" for u in active)
        if self.faces_detected == 0 and all(u.status == "ok" for u in active):
            return "no face found in the target image"
        reasons: list[str] = []
        for u in active:
            if u.reason:
                reasons.append(f"unit {u.unit + 1}: {u.reason}")
            for f in u.faces:
                if f.status == SKIPPED and f.reason:
                    reasons.append(f"unit {u.unit + 1}, face {f.position}: {f.reason}")
        if self.faces_detected == 0 and analysed:
            reasons.insert(0, "no face found in the target image")
        return "nothing swapped: " + "; ".join(dict.fromkeys(reasons)) if reasons else "nothing swapped"

    def summary(self) -> str:
        if self.blocked:
            return self.nothing_swapped_reason()
        parts = [f"{self.faces_detected} face(s) detected, {self.swapped} swapped"]
        for u in self.units:
            if u.status == "disabled":
                continue
            sims = [f"{f.similarity:.2f}" for f in u.faces if f.status == SWAPPED and f.similarity is not None]
            bit = f"unit {u.unit + 1} ({u.source or 'source'}): {u.swapped} swapped"
            if u.swapped and u.swapper:
                bit += f" with {u.swapper}"
            if sims:
                bit += f", similarity {', '.join(sims)}"
            painted = [f.inpaint for f in u.faces if f.inpaint and "seed" in f.inpaint]
            if painted:
                bit += f", {len(painted)} inpainted {painted[0]['when']} the swap (denoise {painted[0]['denoise']:g})"
            failed = [f.inpaint["error"] for f in u.faces if f.inpaint and "error" in f.inpaint]
            if failed:
                bit += f", inpainting failed: {failed[0]}"
            if u.reason:
                bit += f", {u.reason}"
            skipped = [f.reason for f in u.faces if f.status == SKIPPED and f.reason]
            if skipped:
                bit += f", skipped: {'; '.join(skipped)}"
            parts.append(bit)
        parts += self.postprocessing
        return "; ".join(parts)
