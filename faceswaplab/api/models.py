"""Request/response models of the HTTP API, for pydantic 1.10 (A1111) and 2.x (Forge, the
standalone app) alike: only `create_model`, `Field` and a forbid-extra config, which both
major versions share.

The unit and post-processing models are generated from the options' field metadata
(`model_for`), so their fields are exactly the named fields of the web-ui unit and of the
alwayson named form, with the same defaults; a field added to the options is a field here.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Union

import pydantic
from pydantic import BaseModel, Field, create_model

from ..options.forms import Control, post_controls, unit_controls
from ..options.meta import API, BOOL, FLOAT, IMAGE_VALUE, IMAGES, INDICES, INT, NAME, NAMES, STR, to_json

PYDANTIC_V2 = int(pydantic.VERSION.split(".")[0]) >= 2

_TYPES: dict[str, Any] = {
    BOOL: bool, INT: int, FLOAT: float, STR: str, NAME: Optional[str], NAMES: List[str],
    INDICES: Union[str, List[int]], IMAGE_VALUE: Optional[str], IMAGES: List[str],
}  # fmt: skip


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


def field_type(c: Control) -> Any:
    """The pydantic type of one option in the API."""
    return _TYPES[c.meta.value]


def description(c: Control) -> str:
    m = c.meta
    text = m.label + (f" ({m.help})" if m.help and m.help != m.label else "")
    if m.choices is not None:
        text += f"; one of {', '.join(map(str, m.choices))}"
    if m.value in (FLOAT, INT) and m.minimum is not None and m.maximum is not None and m.choices is None:
        text += f"; {m.minimum:g} to {m.maximum:g}"
    if m.value in (IMAGE_VALUE, IMAGES):
        text += "; base64 (PNG/JPEG, data: URL prefix optional)"
    return text


def model_for(name: str, controls: Iterable[Control]) -> Any:
    """A forbid-extra pydantic model whose fields are `controls` (name, type, default)."""
    fields: dict[str, Any] = {}
    for c in controls:
        fields[c.name] = (field_type(c), Field(default=to_json(c.meta, c.default), description=description(c)))
    return create_model(name, __config__=_forbid(name), **fields)


FaceSwapUnit = model_for("FaceSwapUnit", unit_controls(API))
PostProcessing = model_for("PostProcessing", post_controls(API))


def with_example(cls: Any, example: dict[str, Any]) -> Any:
    """Show `example` for the model in the OpenAPI docs (/docs), in either pydantic."""
    if PYDANTIC_V2:
        cls.model_config = {**cls.model_config, "json_schema_extra": {"examples": [example]}}
        cls.model_rebuild(force=True)
    else:
        cls.__config__.schema_extra = {"example": example}  # per-model config class in v1
    return cls


_B64 = "<base64 PNG or JPEG, data: URL prefix optional>"


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
    min_size: int = Field(0, description="skip faces whose box is smaller than this (shorter side, px); 0: keep all")
    format: str = "png"


class DetectRequest(Strict):
    image: str
    attributes: bool = True


with_example(SwapRequest, {
    "image": _B64,
    "units": [{"source_images": [_B64], "faces": "all", "restorer": "GFPGANv1.4"}],
    "postprocessing": {"upscaler": "lanczos", "scale": 2},
    "format": "png",
})
with_example(BuildRequest, {"images": [_B64, _B64], "name": "anna", "gender": "auto"})
with_example(CompareRequest, {"image_a": _B64, "checkpoint_b": "anna"})
with_example(ExtractRequest, {"image": _B64, "aligned_size": 256, "min_size": 32})
with_example(DetectRequest, {"image": _B64, "attributes": True})
