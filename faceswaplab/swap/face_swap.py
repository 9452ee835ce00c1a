"""One face: aligned swap, optional enhancement in aligned space, one warp back into its ROI."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .. import geometry
from ..compose import box_mask, paste_aligned

if TYPE_CHECKING:
    from ..analysis.face import Face
    from ..engine import Engine
    from ..identity import Identity
    from ..options import UnitOptions


@dataclass
class SwapOutcome:
    roi: tuple[int, int, int, int] | None
    before: np.ndarray | None  # the ROI's pixels before the paste, to revert a rejected swap
    notes: list[str] = field(default_factory=list)


def swap_face(engine: "Engine", rgb: np.ndarray, face: "Face", ident: "Identity", opts: "UnitOptions") -> SwapOutcome:
    """Swap `face` in `rgb` (modified in place) with the identity, inside the face's ROI only."""
    swapper = engine.swapper()
    latent = swapper.latent(ident.embedding)
    aligned, m = swapper.swap(rgb, face.kps, latent, boost=opts.enhance.boost)
    size = aligned.shape[0]
    mask = box_mask(size, opts.mask_erosion, opts.mask_blur)
    roi = geometry.roi_of_aligned(m, size, rgb.shape)
    if roi is None:
        return SwapOutcome(None, None)
    x0, y0, x1, y1 = roi
    before = rgb[y0:y1, x0:x1].copy()
    paste_aligned(rgb, aligned, m, mask)
    return SwapOutcome(roi, before)
