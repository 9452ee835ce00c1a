"""Per-face inpainting in the core, through the Inpainter protocol with an in-test host: what
the host is given, that only the face's masked area changes, and that a face given up
(below min_similarity) keeps neither its swap nor the pass made before it."""

from __future__ import annotations

import numpy as np
import pytest

from faceswaplab import geometry
from faceswaplab.engine import Engine
from faceswaplab.enhance.inpaint import InpaintResult
from faceswaplab.errors import OptionsError
from faceswaplab.options import EngineOptions, UnitOptions
from faceswaplab.pipeline import swap_image
from tests import fakemodels as fm

FACES = [(180, 200, 180, fm.FEMALE, 3)]


class PaintHost:
    """Paints the whole crop one colour (where the mask is >0 it shows once pasted back)."""

    name = "test host"

    def __init__(self, colour=(10, 200, 30), fail: bool = False) -> None:
        self.colour, self.fail, self.calls = colour, fail, []

    def sampler_names(self) -> list[str]:
        return ["Euler a", "DPM++ 2M"]

    def inpaint(self, face, mask, request):
        self.calls.append((face.copy(), mask.copy(), request))
        if self.fail:
            from faceswaplab.errors import InpaintError

            raise InpaintError("the host's sampler ran out of memory")
        return InpaintResult(image=np.full_like(face, self.colour), sampler=request.sampler or "Euler a")


@pytest.fixture
def host_engine(models_dir):
    eng = Engine(EngineOptions(models_dir=str(models_dir)))
    eng.inpainter = PaintHost()
    return eng


def _unit(**enh) -> UnitOptions:
    src = fm.make_face_image(faces=[(220, 220, 200, fm.MALE, 7)], seed=11)
    return UnitOptions.from_dict({"source_images": [src], **enh})


def test_after_the_swap_only_the_masked_face_changes(host_engine):
    tgt = fm.make_face_image(faces=FACES, seed=2)
    plain = swap_image(tgt, [_unit()], engine=host_engine)
    res = swap_image(tgt, [_unit(inpaint_when="after", inpaint_seed=5, inpaint_size=256)], engine=host_engine)
    (face, mask, req), = host_engine.inpainter.calls
    assert face.shape == (256, 256, 3) and mask.shape == (256, 256) and req.seed == 5 and req.denoise == 0.25
    changed = np.any(res.rgb != plain.rgb, axis=-1)
    x0, y0, x1, y1 = fm.face_boxes(FACES)[0]
    pad = 0.15 * (x1 - x0)
    ys, xs = np.nonzero(changed)
    assert changed[int((y0 + y1) / 2), int((x0 + x1) / 2)], "the face's centre was re-diffused"
    assert xs.min() > x0 - pad and xs.max() < x1 + pad and ys.min() > y0 - pad and ys.max() < y1 + pad
    fr = res.report.units[0].faces[0]
    assert fr.inpaint["seed"] == 5 and fr.inpaint["when"] == "after" and fr.inpaint["sampler"] == "Euler a"
    assert any("inpainted after the swap at 256 px" in n for n in fr.notes)


def test_before_the_swap_the_host_sees_the_original_face(host_engine):
    tgt = fm.make_face_image(faces=FACES, seed=2)
    swap_image(tgt, [_unit(inpaint_when="before", inpaint_size=320)], engine=host_engine)
    (face, _, _), = host_engine.inpainter.calls
    _, faces = host_engine.analyse(tgt)
    crop = geometry.warp_to_aligned(tgt, geometry.ffhq_matrix(faces[0].kps, 320), 320)
    assert np.abs(face.astype(int) - crop.astype(int)).mean() < 1.0


def test_a_face_reverted_below_min_similarity_keeps_no_inpainting(host_engine):
    tgt = fm.make_face_image(faces=FACES, seed=2)
    res = swap_image(tgt, [_unit(inpaint_when="before", min_similarity=0.999)], engine=host_engine)
    fr = res.report.units[0].faces[0]
    assert len(host_engine.inpainter.calls) == 1 and "reverted" in fr.reason
    assert np.array_equal(res.rgb, tgt), "neither the swap nor the pass before it may stay"
    assert any("inpainting before the swap was reverted" in n for n in fr.notes)


def test_a_host_failure_keeps_the_swap_and_says_why(host_engine):
    host_engine.inpainter.fail = True
    tgt = fm.make_face_image(faces=FACES, seed=2)
    plain = swap_image(tgt, [_unit()], engine=host_engine)
    res = swap_image(tgt, [_unit(inpaint_when="after")], engine=host_engine)
    assert np.array_equal(res.rgb, plain.rgb) and res.report.swapped == 1
    notes = res.report.units[0].faces[0].notes
    assert any("inpainting after the swap failed: the host's sampler ran out of memory" in n for n in notes)


def test_an_unknown_sampler_and_no_host_are_one_clear_error(models_dir, host_engine):
    tgt = fm.make_face_image(faces=FACES, seed=2)
    with pytest.raises(OptionsError, match=r"unit 1: unknown inpaint_sampler 'Heun'; the web-ui has: Euler a, DPM"):
        swap_image(tgt, [_unit(inpaint_when="after", inpaint_sampler="Heun")], engine=host_engine)
    bare = Engine(EngineOptions(models_dir=str(models_dir)))
    with pytest.raises(OptionsError, match="unit 1: inpaint_when=after .*web-ui"):
        swap_image(tgt, [_unit(inpaint_when="after")], engine=bare)
