"""Per-face inpainting: re-diffuse a face with the host's Stable Diffusion model at low
denoising strength, so skin texture, lighting and grain match the rest of the picture.

Why here and not in the host adapter: the geometry is the core's. The face is cut out once in
FFHQ alignment at the unit's working size (`inpaint_size`), the soft mask is the SAME mask the
swap pastes with (built in the swapper's crop space, then carried into FFHQ space by one
warp), and the result goes back with one warp of that mask inside the face's ROI only. The
host (enhance/interfaces.Inpainter, the web-ui's img2img) only samples; it never sees the
whole image, so nothing outside the face can change.

"before" re-diffuses the target's face ahead of the swap (the swap then lands on a face that
already has the picture's texture); "after" runs once the face is swapped and restored, which
is what fixes a pasted-on look.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Sequence

import cv2
import numpy as np

from .. import geometry
from ..compose import paste
from ..errors import FaceSwapLabError, InpaintError, OptionsError

if TYPE_CHECKING:
    from ..analysis.face import Face
    from ..options import UnitOptions

NEEDS_HOST = (
    "needs the web-ui: inpainting runs the web-ui's loaded Stable Diffusion model (use the "
    "accordion, the FaceSwapLab tab, Extras or /faceswaplab/v1/swap of a running web-ui), or set it to off"
)
GENDER_WORDS = {"female": "woman", "male": "man"}
MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class InpaintRequest:
    """One face's pass, as the host gets it (the seed is always concrete)."""

    prompt: str
    negative: str
    denoise: float
    steps: int
    sampler: str | None  # None: the host's current job's sampler (or its default)
    seed: int
    size: int


@dataclass
class InpaintResult:
    image: np.ndarray  # size x size x 3 RGB
    sampler: str = ""  # the sampler that ran (the job's when the request named none)


def check_units(inpainter: Any, units: Sequence["UnitOptions"]) -> None:
    """Before any image: a unit asking for inpainting outside the web-ui, or naming a sampler
    the host lacks, is one OptionsError (exit 2 / HTTP 400) naming the unit."""
    for i, u in enumerate(units):
        enh = u.enhance
        if not (u.enabled and enh.inpaints):
            continue
        if inpainter is None:
            raise OptionsError(f"unit {i + 1}: inpaint_when={enh.inpaint_when} {NEEDS_HOST}")
        if enh.inpaint_sampler:
            names = list(inpainter.sampler_names() or [])
            if names and enh.inpaint_sampler not in names:
                raise OptionsError(
                    f"unit {i + 1}: unknown inpaint_sampler {enh.inpaint_sampler!r}; the web-ui has: {', '.join(names)}"
                )


def needs_gender(units: Sequence["UnitOptions"]) -> bool:
    """A prompt with [gender] needs the attribute model on the target's faces."""
    return any(u.enhance.inpaints and "[gender]" in u.enhance.inpaint_prompt for u in units)


def prompt_for(template: str, gender: str | None) -> str:
    return template.replace("[gender]", GENDER_WORDS.get(gender or "", "person"))


def request_for(opts: "UnitOptions", face: "Face") -> InpaintRequest:
    enh = opts.enhance
    seed = enh.inpaint_seed if enh.inpaint_seed >= 0 else random.SystemRandom().randrange(MAX_SEED)
    return InpaintRequest(
        prompt=prompt_for(enh.inpaint_prompt, face.gender),
        negative=prompt_for(enh.inpaint_negative, face.gender),
        denoise=float(enh.inpaint_denoise),
        steps=int(enh.inpaint_steps),
        sampler=enh.inpaint_sampler or None,
        seed=int(seed),
        size=int(enh.inpaint_size),
    )


def face_mask(source: Any, rgb: np.ndarray, face: "Face", opts: "UnitOptions", m_f: np.ndarray, size: int) -> np.ndarray:
    """The swap's own paste mask (box, parser regions, areas, occluder), carried from the
    swapper's crop into FFHQ space at `size` by one warp."""
    from ..swap.face_swap import unit_swapper_type
    from ..swap.masks import face_masks

    enh = opts.enhance
    swapper = source.swapper(opts.swapper, unit_swapper_type(opts))
    s = swapper.crop_size(1)
    m_s = swapper.matrix(face.kps, 1)
    models = SimpleNamespace(
        parser=source.parser(enh.parser) if enh.parser else None,
        occluders=source.occluders(enh.occluder) if enh.occluder else [],
    )
    target = geometry.warp_to_aligned(rgb, m_s, s)
    masks = face_masks(models, source, rgb, face, target, m_s, opts, [])
    mask = cv2.warpAffine(
        masks.mask, geometry.compose(m_f, geometry.invert(m_s)), (size, size),
        flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0,
    )  # fmt: skip
    return np.clip(mask, 0.0, 1.0)


def inpaint_face(source: Any, rgb: np.ndarray, face: "Face", opts: "UnitOptions", notes: list[str]) -> dict[str, Any] | None:
    """Re-diffuse one face of `rgb` (in place, inside its ROI). Returns what ran (for the
    report and the infotext), or None when the face lies outside the image. A host failure
    leaves the pixels as they were and becomes a note."""
    inpainter = source.inpainter
    if inpainter is None:
        raise OptionsError(f"inpaint_when={opts.enhance.inpaint_when} {NEEDS_HOST}")
    req = request_for(opts, face)
    m_f = geometry.ffhq_matrix(face.kps, req.size)
    roi = geometry.roi_of_aligned(m_f, req.size, rgb.shape)
    if roi is None:
        return None
    mask = face_mask(source, rgb, face, opts, m_f, req.size)
    crop = geometry.warp_to_aligned(rgb, m_f, req.size)
    when = f"{opts.enhance.inpaint_when} the swap"
    try:
        result = inpainter.inpaint(crop, mask, req)
        out = np.asarray(result.image)
        if out.shape[:2] != (req.size, req.size) or out.ndim != 3 or out.shape[2] < 3:
            raise InpaintError(f"{inpainter.name} returned an image of shape {out.shape}, expected {req.size}x{req.size}")
    except FaceSwapLabError as e:
        notes.append(f"inpainting {when} failed: {e.message}")
        return {"when": opts.enhance.inpaint_when, "error": e.message}
    paste(rgb, out[..., :3], m_f, mask, m_f, roi, cv2.INTER_CUBIC)
    record = {k: v for k, v in asdict(req).items() if k not in ("prompt", "negative")}
    record.update(when=opts.enhance.inpaint_when, sampler=result.sampler or req.sampler or "", prompt=req.prompt)
    notes.append(
        f"inpainted {when} at {req.size} px (denoise {req.denoise:g}, {req.steps} steps, "
        f"{record['sampler'] or 'the job sampler'}, seed {req.seed})"
    )
    return record
