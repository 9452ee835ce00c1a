"""A face unit: one identity swapped into the selected faces of the target, with its
per-unit enhancement. The object that flows from the CLI, units files, the HTTP API and the
web-ui into `pipeline.swap_image`.

Field names are the CLI flag names with underscores, so a units file, an API request and a
command line all say the same thing; `from_dict` rejects unknown names (naming them) so a
typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..errors import OptionsError
from ..models.registry import SWAPPER_FAMILIES
from .meta import (
    API,
    DEFAULT_FRONTS,
    IMAGE_VALUE,
    IMAGES,
    INDICES,
    NAME,
    NAMES,
    RADIO,
    SETTINGS,
    UI,
    format_faces,
    option,
    options_of,
    validate,
)

SORT_ORDERS = ("left-right", "right-left", "top-bottom", "bottom-top", "large-small", "small-large", "best-worst")
GENDERS = ("any", "female", "male", "same")
MASK_REGION_NAMES = ("skin", "brows", "eyes", "glasses", "nose", "mouth", "lips", "ears", "hair")
BOOST_FACTORS = (1, 2, 4)
SWAPPER_TYPES = ("auto",) + SWAPPER_FAMILIES
INPAINT_WHEN = ("off", "before", "after")  # re-diffuse the face before or after the swap (web-ui only)
AREA_NAMES = ("upper-face", "lower-face", "mouth")  # landmark areas (enhance/occlusion.py holds their points)
_WITH_SETTINGS = DEFAULT_FRONTS + (SETTINGS,)
_UNIT = 0.0, 1.0, 0.01  # a 0..1 slider: minimum, maximum, step
_HOST = (API, UI)  # inpainting runs the web-ui's Stable Diffusion model: no CLI flags


@dataclass(frozen=True)
class EnhanceOptions:
    """Per-unit quality options, applied in aligned space before the single warp back."""

    # fmt: off
    boost: int = option(1, label="Resolution boost", group="quality", kind=RADIO, choices=BOOST_FACTORS,
                        fronts=_WITH_SETTINGS, help="run the swap model at N times its own size (128 px -> 128*N) by polyphase subsampling")
    restorer: str | None = option(None, label="Face restorer (aligned)", group="quality", dynamic="unit_restorers",
                                  fronts=_WITH_SETTINGS, metavar="NAME_OR_PATH",
                                  help="face restorer: an ONNX file in <models dir>/restorers/ or a registered name")
    restorer_visibility: float = option(1.0, label="Restorer visibility", group="quality", fronts=_WITH_SETTINGS,
                                        minimum=_UNIT[0], maximum=_UNIT[1], step=_UNIT[2], metavar="X",
                                        help="blend of the restored face over the unrestored one (0: off)")
    codeformer_weight: float = option(0.5, label="CodeFormer weight", group="quality", fronts=_WITH_SETTINGS,
                                      minimum=_UNIT[0], maximum=_UNIT[1], step=_UNIT[2], metavar="X",
                                      help="CodeFormer fidelity: 0 restores most, 1 stays closest to the input")
    upscale: str | None = option(None, label="Upscale the aligned face", group="quality", dynamic="unit_upscalers",
                                 fronts=_WITH_SETTINGS, metavar="NAME",
                                 help="upscale the aligned face before restoration (lanczos, cubic or a registered upscaler)")
    parser: str | None = option(None, label="Face parser (masks)", group="quality", dynamic="parsers",
                                metavar="NAME_OR_PATH", help="face parsing ONNX file (in <models dir>/parsers/)")
    mask_regions: tuple[str, ...] = option((), label="Regions kept swapped (needs a parser)", group="quality",
                                           value=NAMES, choices=MASK_REGION_NAMES, metavar="LIST",
                                           help=f"regions kept swapped: {','.join(MASK_REGION_NAMES)} (needs a parser)")
    keep_mouth: bool = option(False, label="Keep the target's mouth", group="quality",
                              help="keep the target's original mouth (the parser's mouth and lips, else the 68 landmarks' mouth)")
    occluder: str | None = option(None, label="Occluder (hands, hair, objects stay in front)", group="quality",
                                  dynamic="occluders", metavar="NAME_OR_PATH",
                                  help="XSeg occlusion model in <models dir>/occluders/ (e.g. xseg_1), or 'many' for all of them")
    mask_areas: tuple[str, ...] = option((), label="Face areas swapped (landmarks, no parser needed)", group="quality",
                                         value=NAMES, choices=AREA_NAMES, metavar="LIST",
                                         help=f"swap only these areas of the face: {','.join(AREA_NAMES)} (from the 68 landmarks)")
    color_correction: float = option(0.0, label="Colour correction", group="quality", fronts=_WITH_SETTINGS,
                                     minimum=_UNIT[0], maximum=_UNIT[1], step=_UNIT[2], metavar="X",
                                     help="move the face's colours towards the target's (strength)")
    sharpen: float = option(0.0, label="Sharpen", group="quality", fronts=_WITH_SETTINGS,
                            minimum=_UNIT[0], maximum=_UNIT[1], step=_UNIT[2], metavar="X",
                            help="unsharp mask of about one image pixel (strength)")
    inpaint_when: str = option("off", label="Inpaint the face with Stable Diffusion", group="inpaint", kind=RADIO,
                               choices=INPAINT_WHEN, fronts=_HOST,
                               help="re-diffuse each swapped face with the web-ui's loaded model so skin, light and "
                                    "grain match the picture: off, before the swap or after it (web-ui only)")
    inpaint_denoise: float = option(0.25, label="Inpainting denoising strength", group="inpaint", fronts=_HOST,
                                    minimum=_UNIT[0], maximum=_UNIT[1], step=_UNIT[2], metavar="X",
                                    help="how much Stable Diffusion may change the face (0.2-0.35 keeps the identity)")
    inpaint_prompt: str = option("a photo of a face", label="Inpainting prompt", group="inpaint", fronts=_HOST,
                                 help="the prompt for each face; [gender] becomes woman or man (the attribute model runs)")
    inpaint_negative: str = option("", label="Inpainting negative prompt", group="inpaint", fronts=_HOST,
                                   help="the negative prompt for each face")
    inpaint_steps: int = option(20, label="Inpainting steps", group="inpaint", fronts=_HOST, minimum=1, maximum=150,
                                step=1, help="sampling steps of the face's img2img pass")
    inpaint_sampler: str | None = option(None, label="Inpainting sampler (empty: the job's)", group="inpaint",
                                         fronts=_HOST, dynamic="samplers", metavar="NAME",
                                         help="one of the web-ui's sampler names; empty: the generation's own sampler")
    inpaint_seed: int = option(-1, label="Inpainting seed (-1: random)", group="inpaint", fronts=_HOST, minimum=-1,
                               step=1, help="seed of each face's pass; -1 draws one, which the report and infotext record")
    inpaint_size: int = option(512, label="Inpainting size (px)", group="inpaint", fronts=_HOST, minimum=256,
                               maximum=1024, step=64,
                               help="the side of the FFHQ-aligned face Stable Diffusion works on")
    # fmt: on

    def __post_init__(self) -> None:
        validate(self)
        if self.mask_regions and self.parser is None:
            raise OptionsError("mask_regions needs a face parser: set parser (a file in <models dir>/parsers/)")

    @property
    def active(self) -> bool:
        return self != EnhanceOptions()

    @property
    def inpaints(self) -> bool:
        return self.inpaint_when != "off"


@dataclass(frozen=True)
class UnitOptions:
    """One identity swapped into the selected faces of the target."""

    # fmt: off
    enabled: bool = option(True, label="Enable", group="source", fronts=(API, UI), form_default=False,
                           help="swap with this unit")
    source_images: tuple[Any, ...] = option((), label="More source photos (blended)", group="source", value=IMAGES,
                                            flag="source", metavar="IMG",
                                            help="source photo(s) of one person; several are blended into one identity")
    face: str | None = option(None, label="Face checkpoint", group="source", value=NAME, dynamic="checkpoints",
                              alias="checkpoint", metavar="NAME_OR_PATH",
                              help="a face checkpoint (.safetensors) by name or path; blended with the photos if both are given")
    source_face_index: int = option(0, label="Source face index", group="source", minimum=0, step=1, metavar="N",
                                    help="which face of each source photo, left to right, from 0")
    swapper: str | None = option(None, label="Swapper model", group="source", value=NAME, dynamic="swappers",
                                 metavar="NAME_OR_PATH",
                                 help="swapper model file (at the models-dir root): inswapper_128 (the default), "
                                      "hyperswap_1a_256, ghost_1_256, simswap_256, reswapper_256...")
    swapper_type: str = option("auto", label="Swapper type (only for files of an unknown name)", group="advanced",
                               choices=SWAPPER_TYPES, metavar="KIND",
                               help="the swapper's kind when its file name does not say it: "
                                    + ", ".join(SWAPPER_TYPES))
    identity_strength: float = option(1.0, label="Identity strength", group="source", fronts=_WITH_SETTINGS,
                                      minimum=_UNIT[0], maximum=_UNIT[1], step=_UNIT[2], metavar="X",
                                      help="1: the source's identity; lower keeps some of the target face's own")
    faces: tuple[int, ...] | None = option((0,), label="Target faces", group="target", value=INDICES, metavar="LIST",
                                           help="target faces: 'all' or indices like 0,2 (in the sort order)")
    sort: str = option("left-right", label="Sort target faces", group="target", choices=SORT_ORDERS,
                       help="the order face indices refer to")
    gender: str = option("any", label="Gender filter", group="target", choices=GENDERS,
                         help="only swap faces of this gender ('same': the source's)")
    reference_image: Any = option(None, label="Reference face (swap only faces like this one)", group="target",
                                  value=IMAGE_VALUE, flag="reference", metavar="IMG",
                                  help="only swap faces similar to the face in this image")
    reference_threshold: float = option(0.5, label="Reference threshold", group="target",
                                        minimum=_UNIT[0], maximum=_UNIT[1], step=_UNIT[2], metavar="X",
                                        help="similarity to the reference face a target face needs")
    min_similarity: float = option(0.0, label="Minimum similarity (revert and report below)", group="target",
                                   minimum=_UNIT[0], maximum=_UNIT[1], step=_UNIT[2], metavar="X",
                                   help="revert swapped faces less similar than this to the source")
    report_similarity: bool = option(True, label="Report each swapped face's similarity to the source",
                                     group="target", flag="no-similarity",
                                     help="do not measure the swapped faces' similarity to the source (saves one "
                                          "recognition run per image; the report shows none unless min_similarity "
                                          "needs it)")
    min_face_size: int = option(16, label="Minimum face size (px)", group="advanced", minimum=0, step=1, metavar="PX",
                                help="skip target faces whose box is smaller than this (shorter side, px)")
    mask_erosion: float = option(0.1, label="Mask erosion", group="advanced", minimum=0.0, maximum=0.5, step=0.01,
                                 metavar="X", help="mask inset as a fraction of the face")
    mask_blur: float = option(0.1, label="Mask blur", group="advanced", minimum=0.0, maximum=0.5, step=0.01,
                              metavar="X", help="mask feather as a fraction of the face")
    enhance: EnhanceOptions = field(default_factory=EnhanceOptions)
    # fmt: on

    def __post_init__(self) -> None:
        validate(self)
        if not isinstance(self.enhance, EnhanceOptions):
            raise OptionsError("enhance must be an EnhanceOptions")

    @property
    def has_source(self) -> bool:
        return bool(self.source_images) or self.face is not None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "unit") -> "UnitOptions":
        """Build a unit from named fields (units file, HTTP API); unknown names are an error.

        Besides the field names, a field's API name (`checkpoint` for `face`) and its CLI
        flag name (`source` for `source_images`) are accepted."""
        if not isinstance(data, Mapping):
            raise OptionsError(f"{where} must be an object with named fields, got {type(data).__name__}")
        data = dict(data)
        unit_opts, enh_opts = options_of(cls), options_of(EnhanceOptions)
        for opt in unit_opts + enh_opts:
            for other in {opt.meta.alias, (opt.meta.flag or "").replace("-", "_")} - {None, "", opt.name}:
                if other not in data:
                    continue
                given = data.pop(other)
                if data.get(opt.name) not in (None, "", [], ()) and given not in (None, "", [], ()):
                    raise OptionsError(f"{where}: give either '{opt.name}' or '{other}', not both")
                if given not in (None, ""):
                    data[opt.name] = given
        unit_names = {o.name for o in unit_opts}
        enh_names = {o.name for o in enh_opts}
        unknown = sorted(k for k in data if k not in unit_names and k not in enh_names and k != "enhance")
        if unknown:
            known = sorted(unit_names | enh_names | {o.public_name for o in unit_opts})
            raise OptionsError(f"{where}: unknown field(s) {', '.join(unknown)}; known fields: {', '.join(known)}")
        enh_data = dict(data.pop("enhance", None) or {})
        for k in list(data):
            if k in enh_names:
                enh_data[k] = data.pop(k)
        try:
            return cls(enhance=EnhanceOptions(**enh_data), **data)
        except OptionsError as e:
            raise OptionsError(f"{where}: {e.message}") from None
        except TypeError as e:
            raise OptionsError(f"{where}: {e}") from None

    def to_dict(self) -> dict[str, Any]:
        """Named fields as JSON-friendly values (images are described, never embedded)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.name == "enhance":
                continue
            out[f.name] = getattr(self, f.name)
        out["faces"] = format_faces(self.faces)
        out["source_images"] = [_describe(s) for s in self.source_images]
        out["reference_image"] = None if self.reference_image is None else _describe(self.reference_image)
        out.update({f.name: getattr(self.enhance, f.name) for f in dataclasses.fields(self.enhance)})
        out["mask_regions"] = list(self.enhance.mask_regions)
        return out


# The fields only a host with a Stable Diffusion model can honour (the app hides them).
INPAINT_FIELDS = tuple(f.name for f in dataclasses.fields(EnhanceOptions) if f.name.startswith("inpaint_"))


def _describe(img: Any) -> str:
    if isinstance(img, str):
        return img
    if hasattr(img, "__fspath__"):
        return str(img)
    shape = getattr(img, "shape", None) or getattr(img, "size", None)
    return f"<{type(img).__name__} {shape}>"


__all__ = ["UnitOptions", "EnhanceOptions", "SORT_ORDERS", "GENDERS", "MASK_REGION_NAMES", "BOOST_FACTORS", "INPAINT_WHEN", "INPAINT_FIELDS"]
