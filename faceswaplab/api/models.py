"""Request/response models of the HTTP API, for pydantic 1.10 (A1111) and 2.x (Forge, the
standalone app) alike: only `create_model`, `Field` and a forbid-extra config, which both
major versions share. The unit model is generated from faceswaplab.ui.spec, so its fields
are exactly the named fields of the web-ui unit and of the alwayson named form.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Union

import pydantic
from pydantic import BaseModel, Field, create_model

from ..ui import spec

PYDANTIC_V2 = int(pydantic.VERSION.split(".")[0]) >= 2


def _forbid(cls_name: str) -> Any:
    if PYDANTIC_V2:
        from pydantic import ConfigDict

        return ConfigDict(extra="forbid")

    class Config:
        extra = "forbid"

    Config.__qualname__ = f"{cls_name}.Config"
    return Config


class Strict(BaseModel):
    if PYDANTIC_V2:
        model_config = {"extra": "forbid"}  # type: ignore[assignment]
    else:

        class Config:
            extra = "forbid"


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump() if PYDANTIC_V2 else model.dict()


def _unit_type(f: spec.Field) -> Any:
    k = f.kind
    if f.name == "faces":
        return Union[str, List[int]]
    if k == spec.CHECKBOX:
        return bool
    if k == spec.NUMBER:
        return int
    if k == spec.SLIDER:
        return float
    if k == spec.TEXT:
        return str
    if k == spec.RADIO and f.name == "boost":
        return int
    if k == spec.DROPDOWN:
        return Optional[str] if f.dynamic_choices else str
    if k == spec.CHECKBOXGROUP:
        return List[str]
    if k == spec.IMAGE:
        return Optional[str]
    if k == spec.FILES:
        return List[str]
    return Any


def _unit_default(f: spec.Field) -> Any:
    if f.name == "enabled":
        return True
    if f.kind == spec.FILES or f.kind == spec.CHECKBOXGROUP:
        return []
    if f.kind == spec.DROPDOWN and f.dynamic_choices:
        return None
    if f.name == "boost":
        return int(f.default)
    return f.default


def _make_unit_model() -> Any:
    fields: dict[str, Any] = {}
    for f in spec.UNIT_FIELDS:
        if f.name == "source_image":  # the API sends every source in source_images
            continue
        desc = f.label + (f" ({f.info})" if f.info else "")
        if f.choices:
            desc += f"; one of {', '.join(map(str, f.choices))}"
        if f.kind in (spec.IMAGE, spec.FILES):
            desc += "; base64 (PNG/JPEG, data: URL prefix optional)"
        default = _unit_default(f)
        fields[f.name] = (_unit_type(f), Field(default=list(default) if isinstance(default, (list, tuple)) else default, description=desc))
    return create_model("FaceSwapUnit", __config__=_forbid("FaceSwapUnit"), **fields)


def _make_post_model() -> Any:
    fields: dict[str, Any] = {}
    for f in spec.POST_FIELDS:
        t = Optional[str] if f.kind == spec.DROPDOWN else float
        fields[f.name] = (t, Field(default=None if f.kind == spec.DROPDOWN else f.default, description=f.label))
    return create_model("PostProcessing", __config__=_forbid("PostProcessing"), **fields)


FaceSwapUnit = _make_unit_model()
PostProcessing = _make_post_model()


class SwapRequest(Strict):
    image: str = Field(..., description="the target image, base64")
    units: List[FaceSwapUnit] = Field(default_factory=list)  # type: ignore[valid-type]
    postprocessing: Optional[PostProcessing] = None  # type: ignore[valid-type]
    format: str = Field("png", description="png, jpg or webp")


class SwapResponse(BaseModel):
    images: List[str]
    report: Dict[str, Any]


class BuildRequest(Strict):
    images: List[str] = Field(..., description="photos of one person, base64")
    name: Optional[str] = Field(None, description="save under this name; without it the checkpoint is returned as base64")
    gender: str = Field("auto", description="auto, female or male")
    face_index: Optional[int] = Field(None, description="which face of each photo (left to right); default the largest")
    blend_method: str = Field("mean", description="mean or median")
    overwrite: bool = False


class CompareRequest(Strict):
    image_a: Optional[str] = None
    image_b: Optional[str] = None
    checkpoint_a: Optional[str] = None
    checkpoint_b: Optional[str] = None
    index_a: int = 0
    index_b: int = 0


class ExtractRequest(Strict):
    image: str
    aligned_size: Optional[int] = Field(None, description="ArcFace-aligned square crops of this size; default: boxes")
    margin: float = 0.2
    min_face_size: int = 0
    format: str = "png"


class DetectRequest(Strict):
    image: str
    attributes: bool = True
