"""The one table of controls: every face-unit and post-processing control, its named option,
its default and its range. The web-ui accordion, the Extras panel, the standalone app, the
`alwayson_scripts` API (positional and named) and the HTTP API are all built from it, so a
control can never exist in one front end and be missing (or named differently) in another.

Host-independent: imports neither gradio nor `modules`.

Positional contract (what `ui()` returns and what `alwayson_scripts` args are, in order):

    for each unit 1..N:   UNIT_FIELDS (see `unit_field_names()`)
    then:                 POST_FIELDS (global post-processing)
    then:                 JOB_FIELDS (swap_in_source, swap_in_generated, keep_originals)

Names are the core's option names (= CLI flag names with underscores); the only controls that
are not a single core field are `source_image` and `source_images`, which together give the
core's `source_images` (the single image first), and `checkpoint`, the HTTP API's name for
the core's `face`.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

from ..errors import OptionsError
from ..options import (
    BOOST_FACTORS,
    GENDERS,
    MASK_REGION_NAMES,
    SORT_ORDERS,
    EnhanceOptions,
    UnitOptions,
)

NONE = "None"  # how an unset dropdown reads in the UI (the web-ui's own convention)

# Widget kinds (faceswaplab.ui.components turns each into a gradio component).
CHECKBOX, IMAGE, FILES, DROPDOWN, NUMBER, TEXT, SLIDER, RADIO, CHECKBOXGROUP = (
    "checkbox", "image", "files", "dropdown", "number", "text", "slider", "radio", "checkboxgroup",
)  # fmt: skip


@dataclass(frozen=True)
class Field:
    name: str
    kind: str
    label: str
    default: Any
    group: str = "main"  # which sub-panel of a unit: source, target, quality, advanced
    choices: tuple[Any, ...] | None = None
    dynamic_choices: str | None = None  # key of a choices provider (checkpoints, restorers...)
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    info: str = ""


def _enh_default(name: str) -> Any:
    return {f.name: f.default for f in dataclasses.fields(EnhanceOptions)}[name]


def _unit_default(name: str) -> Any:
    for f in dataclasses.fields(UnitOptions):
        if f.name == name:
            return f.default
    raise KeyError(name)


# fmt: off
_KNOWN_UNIT_FIELDS: tuple[Field, ...] = (
    Field("enabled", CHECKBOX, "Enable", False, "source"),
    Field("source_image", IMAGE, "Source face", None, "source",
          info="the photo whose face is swapped in"),
    Field("source_images", FILES, "More source photos (blended)", None, "source",
          info="several photos of one person are blended into one identity"),
    Field("checkpoint", DROPDOWN, "Face checkpoint", NONE, "source", dynamic_choices="checkpoints",
          info="a saved face (.safetensors); blended with the photos if both are given"),
    Field("source_face_index", NUMBER, "Source face index", 0, "source", minimum=0, step=1,
          info="which face of the source photo, left to right, from 0"),
    Field("faces", TEXT, "Target faces", "0", "target", info="'all' or indices like 0,2 (in the sort order)"),
    Field("sort", DROPDOWN, "Sort target faces", "left-right", "target", choices=SORT_ORDERS),
    Field("gender", DROPDOWN, "Gender filter", "any", "target", choices=GENDERS),
    Field("reference_image", IMAGE, "Reference face (swap only faces like this one)", None, "target"),
    Field("reference_threshold", SLIDER, "Reference threshold", 0.5, "target", minimum=0.0, maximum=1.0, step=0.01),
    Field("min_similarity", SLIDER, "Minimum similarity (revert and report below)", 0.0, "target",
          minimum=0.0, maximum=1.0, step=0.01),
    Field("min_face_size", NUMBER, "Minimum face size (px)", 16, "advanced", minimum=0, step=1),
    Field("mask_erosion", SLIDER, "Mask erosion", 0.1, "advanced", minimum=0.0, maximum=0.5, step=0.01),
    Field("mask_blur", SLIDER, "Mask blur", 0.1, "advanced", minimum=0.0, maximum=0.5, step=0.01),
    Field("boost", RADIO, "Resolution boost", "1", "quality", choices=tuple(str(b) for b in BOOST_FACTORS),
          info="run the 128 model at 128*N"),
    Field("restorer", DROPDOWN, "Face restorer (aligned)", NONE, "quality", dynamic_choices="unit_restorers"),
    Field("restorer_visibility", SLIDER, "Restorer visibility", 1.0, "quality", minimum=0.0, maximum=1.0, step=0.01),
    Field("codeformer_weight", SLIDER, "CodeFormer weight", 0.5, "quality", minimum=0.0, maximum=1.0, step=0.01),
    Field("upscale", DROPDOWN, "Upscale the aligned face", NONE, "quality", dynamic_choices="unit_upscalers"),
    Field("parser", DROPDOWN, "Face parser (masks)", NONE, "quality", dynamic_choices="parsers"),
    Field("mask_regions", CHECKBOXGROUP, "Regions kept swapped (needs a parser)", (), "quality",
          choices=MASK_REGION_NAMES),
    Field("keep_mouth", CHECKBOX, "Keep the target's mouth (needs a parser)", False, "quality"),
    Field("color_correction", SLIDER, "Colour correction", 0.0, "quality", minimum=0.0, maximum=1.0, step=0.01),
    Field("sharpen", SLIDER, "Sharpen", 0.0, "quality", minimum=0.0, maximum=1.0, step=0.01),
)

POST_FIELDS: tuple[Field, ...] = (
    Field("restorer", DROPDOWN, "Face restorer (web-ui)", NONE, "post", dynamic_choices="host_restorers"),
    Field("restorer_visibility", SLIDER, "Restorer visibility", 1.0, "post", minimum=0.0, maximum=1.0, step=0.01),
    Field("codeformer_weight", SLIDER, "CodeFormer weight", 0.5, "post", minimum=0.0, maximum=1.0, step=0.01),
    Field("upscaler", DROPDOWN, "Upscaler (web-ui)", NONE, "post", dynamic_choices="host_upscalers"),
    Field("scale", SLIDER, "Upscale by", 1.0, "post", minimum=1.0, maximum=8.0, step=0.05),
    Field("upscaler_visibility", SLIDER, "Upscaler visibility", 1.0, "post", minimum=0.0, maximum=1.0, step=0.01),
)

JOB_FIELDS: tuple[Field, ...] = (
    Field("swap_in_source", CHECKBOX, "img2img: swap into the source image before generation", False, "job"),
    Field("swap_in_generated", CHECKBOX, "Swap in generated images", True, "job"),
    Field("keep_originals", CHECKBOX, "Keep the unswapped originals too (placed after the swapped images)", False, "job"),
)
# fmt: on

# Unit-field names that are not UnitOptions/EnhanceOptions fields, and what they become.
_ALIASES = {"source_image": "source_images", "checkpoint": "face"}
UNIT_EXCLUDED_CORE = {"source_images", "face", "enhance", "reference_image"}  # handled explicitly


def _auto_field(f: dataclasses.Field, group: str) -> Field:
    """A control for an option the table does not know yet (added to the core later): the
    widget follows the default's type, so the option is never missing from the UI."""
    d = f.default if f.default is not dataclasses.MISSING else None
    label = f.name.replace("_", " ").capitalize()
    if isinstance(d, bool):
        return Field(f.name, CHECKBOX, label, d, group)
    if isinstance(d, float):
        return Field(f.name, SLIDER, label, d, group, minimum=0.0, maximum=1.0, step=0.01)
    if isinstance(d, int):
        return Field(f.name, NUMBER, label, d, group, step=1)
    if isinstance(d, tuple):
        return Field(f.name, TEXT, label, ",".join(map(str, d)), group)
    return Field(f.name, TEXT, label, "" if d is None else str(d), group)


def _build_unit_fields() -> tuple[Field, ...]:
    known = {f.name for f in _KNOWN_UNIT_FIELDS}
    extra: list[Field] = []
    for f in dataclasses.fields(UnitOptions):
        if f.name not in known and f.name not in UNIT_EXCLUDED_CORE:
            extra.append(_auto_field(f, "advanced"))
    for f in dataclasses.fields(EnhanceOptions):
        if f.name not in known:
            extra.append(_auto_field(f, "quality"))
    # Fields the table knows but the core dropped would fail in from_dict: leave them out.
    core = {f.name for f in dataclasses.fields(UnitOptions)} | {f.name for f in dataclasses.fields(EnhanceOptions)}
    kept = [f for f in _KNOWN_UNIT_FIELDS if f.name in core or f.name in _ALIASES]
    return tuple(kept + extra)


UNIT_FIELDS: tuple[Field, ...] = _build_unit_fields()
ENHANCE_NAMES = tuple(f.name for f in dataclasses.fields(EnhanceOptions))
IMAGE_FIELDS = ("source_image", "reference_image")
DEFAULT_UNITS = 3
MAX_UNITS = 10


def unit_field_names() -> tuple[str, ...]:
    return tuple(f.name for f in UNIT_FIELDS)


def post_field_names() -> tuple[str, ...]:
    return tuple(f.name for f in POST_FIELDS)


def job_field_names() -> tuple[str, ...]:
    return tuple(f.name for f in JOB_FIELDS)


def positional_contract(n_units: int) -> list[str]:
    """The names of ui()'s components in order, e.g. 'unit1.enabled', ..., 'post.scale'."""
    out = [f"unit{i + 1}.{n}" for i in range(n_units) for n in unit_field_names()]
    out += [f"post.{n}" for n in post_field_names()]
    out += [f"job.{n}" for n in job_field_names()]
    return out


def args_length(n_units: int) -> int:
    return n_units * len(UNIT_FIELDS) + len(POST_FIELDS) + len(JOB_FIELDS)


# --------------------------------------------------------------------------- value coercion


def is_none_choice(v: Any) -> bool:
    return v is None or (isinstance(v, str) and v.strip().lower() in ("", "none"))


def image_value(v: Any, what: str) -> Any:
    """A UI/API image value -> something `load_image` reads: PIL and numpy pass through;
    a gradio file object or dict gives its path; a string is a file path if one exists,
    else base64 (the API's form). Returns None for "no image"."""
    from ..imageio import decode_base64_image

    if v is None:
        return None
    if isinstance(v, str):
        if not v.strip():
            return None
        if len(v) < 4096 and _upload_path(v):
            return v
        return decode_base64_image(v, what=what)
    if isinstance(v, Mapping):  # gradio 4 FileData / ImageData dicts, or {"image": ..., "mask": ...}
        for key in ("path", "name", "image", "url", "data"):
            if v.get(key):
                return image_value(v[key], what)
        return None
    name = getattr(v, "name", None) or getattr(v, "path", None)
    if isinstance(name, str) and not hasattr(v, "size") and os.path.isfile(name):  # tempfile wrapper
        return name
    return v


def _upload_path(text: str) -> bool:
    """A file path is taken only from the UI's upload folder (gradio 4 hands uploads over as
    paths in the temp dir): an API client must not make the server read arbitrary files."""
    import tempfile

    if not os.path.isfile(text):
        return False
    real = os.path.realpath(text)
    roots = [tempfile.gettempdir(), os.environ.get("GRADIO_TEMP_DIR", "")]
    return any(r and real.startswith(os.path.realpath(r) + os.sep) for r in roots)


def images_value(v: Any, what: str) -> list[Any]:
    if v is None:
        return []
    if isinstance(v, (str, bytes, Mapping)) or not isinstance(v, (list, tuple)):
        v = [v]
    out = []
    for i, item in enumerate(v):
        img = image_value(item, f"{what} {i + 1}")
        if img is not None:
            out.append(img)
    return out


def _num(name: str, v: Any, kind: type) -> Any:
    try:
        return kind(float(v)) if kind is int else float(v)
    except (TypeError, ValueError):
        raise OptionsError(f"{name} must be a number, got {v!r}") from None


def unit_options(
    values: Mapping[str, Any],
    *,
    where: str = "unit",
    defaults: Mapping[str, Any] | None = None,
    resolve_checkpoint: Callable[[str], str] | None = None,
    strict: bool = True,
) -> UnitOptions:
    """Named control values (UI, alwayson API, Extras, HTTP API) -> UnitOptions.

    `defaults` fill fields that are missing or None (the Extras API sends every kwarg as
    None, which means "the settings defaults"). With `strict`, unknown names are an error
    naming them (UnitOptions.from_dict's rule).
    """
    known = set(unit_field_names())
    data = dict(values)
    if strict:
        unknown = sorted(k for k in data if k not in known)
        if unknown:
            raise OptionsError(f"{where}: unknown field(s) {', '.join(unknown)}; known fields: {', '.join(sorted(known))}")
    merged: dict[str, Any] = {f.name: f.default for f in UNIT_FIELDS}
    merged.update({k: v for k, v in (defaults or {}).items() if k in known and v is not None})
    merged.update({k: v for k, v in data.items() if k in known and v is not None})

    sources = images_value(merged.pop("source_images"), "source image")
    first = image_value(merged.pop("source_image"), "source image")
    if first is not None:
        sources.insert(0, first)
    out: dict[str, Any] = {"source_images": sources}
    ck = merged.pop("checkpoint")
    if not is_none_choice(ck):
        out["face"] = resolve_checkpoint(str(ck)) if resolve_checkpoint else str(ck)
    out["reference_image"] = image_value(merged.pop("reference_image"), "reference image")
    for f in UNIT_FIELDS:
        if f.name not in merged:
            continue
        v = merged[f.name]
        if f.kind == DROPDOWN and f.dynamic_choices:
            v = None if is_none_choice(v) else str(v)
        elif f.kind == NUMBER:
            v = _num(f.name, v, int if (f.step or 1) >= 1 else float)
        elif f.kind == SLIDER:
            v = _num(f.name, v, float)
        elif f.kind == RADIO and f.name == "boost":
            v = _num(f.name, v, int)
        elif f.kind == CHECKBOX:
            v = bool(v)
        elif f.kind == CHECKBOXGROUP:
            v = tuple(v) if isinstance(v, (list, tuple)) else v
        out[f.name] = v
    if out.get("parser") is None:
        # Regions/mouth only mean something with a parser; the UI leaves them set while the
        # parser dropdown says None, so drop them rather than refusing the whole unit.
        out["mask_regions"] = ()
        out["keep_mouth"] = False
    return UnitOptions.from_dict(out, where=where)


def split_positional(args: Sequence[Any], n_units: int) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    """ui()'s positional values -> (unit value dicts, post values, job values)."""
    names = unit_field_names()
    per = len(names)
    args = list(args)
    units = []
    for i in range(n_units):
        chunk = args[i * per:(i + 1) * per]
        units.append({n: v for n, v in zip(names, chunk)})
    rest = args[n_units * per:]
    post = {n: v for n, v in zip(post_field_names(), rest)}
    job = {n: v for n, v in zip(job_field_names(), rest[len(POST_FIELDS):])}
    return units, post, job


@dataclass(frozen=True)
class PostOptions:
    """Global post-processing run by the host after the swap (web-ui restorers/upscalers).

    Belongs with the core's options (see the issue note); kept here until the core has one.
    """

    restorer: str | None = None
    restorer_visibility: float = 1.0
    codeformer_weight: float = 0.5
    upscaler: str | None = None
    scale: float = 1.0
    upscaler_visibility: float = 1.0

    def __post_init__(self) -> None:
        for name in ("restorer", "upscaler"):
            v = getattr(self, name)
            object.__setattr__(self, name, None if is_none_choice(v) else str(v))
        for name in ("restorer_visibility", "codeformer_weight", "upscaler_visibility"):
            v = _num(name, getattr(self, name), float)
            if not 0.0 <= v <= 1.0:
                raise OptionsError(f"postprocessing.{name} must be between 0 and 1, got {v}")
            object.__setattr__(self, name, v)
        s = _num("scale", self.scale, float)
        if not 1.0 <= s <= 8.0:
            raise OptionsError(f"postprocessing.scale must be between 1 and 8, got {s}")
        object.__setattr__(self, "scale", s)

    @property
    def active(self) -> bool:
        return (self.restorer is not None and self.restorer_visibility > 0) or (
            self.upscaler is not None and self.scale > 1.0 and self.upscaler_visibility > 0
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, where: str = "postprocessing") -> "PostOptions":
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise OptionsError(f"{where} must be an object with named fields, got {type(data).__name__}")
        known = set(post_field_names())
        unknown = sorted(k for k in data if k not in known)
        if unknown:
            raise OptionsError(f"{where}: unknown field(s) {', '.join(unknown)}; known fields: {', '.join(post_field_names())}")
        return cls(**{k: v for k, v in data.items() if v is not None})


@dataclass(frozen=True)
class JobOptions:
    swap_in_source: bool = False
    swap_in_generated: bool = True
    keep_originals: bool = False

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, where: str = "options") -> "JobOptions":
        data = dict(data or {})
        known = set(job_field_names())
        unknown = sorted(k for k in data if k not in known)
        if unknown:
            raise OptionsError(f"{where}: unknown field(s) {', '.join(unknown)}; known fields: {', '.join(job_field_names())}")
        return cls(**{k: bool(v) for k, v in data.items() if v is not None})


NAMED_TOP_KEYS = ("units", "postprocessing") + tuple(f.name for f in JOB_FIELDS)


def parse_named(
    data: Mapping[str, Any],
    *,
    resolve_checkpoint: Callable[[str], str] | None = None,
) -> tuple[list[UnitOptions], PostOptions, JobOptions]:
    """The named alwayson form `{"units": [UNIT, ...], "postprocessing": {...}, ...}`.

    UNIT has the HTTP API's unit fields; a missing `enabled` means true (as in the HTTP API).
    """
    unknown = sorted(k for k in data if k not in NAMED_TOP_KEYS)
    if unknown:
        raise OptionsError(
            f"faceswaplab: unknown key(s) {', '.join(unknown)}; use {', '.join(NAMED_TOP_KEYS)}"
        )
    raw_units = data.get("units") or []
    if not isinstance(raw_units, list):
        raise OptionsError("faceswaplab: 'units' must be a list of unit objects")
    units = []
    for i, u in enumerate(raw_units):
        if not isinstance(u, Mapping):
            raise OptionsError(f"unit {i + 1} must be an object with named fields, got {type(u).__name__}")
        u = dict(u)
        u.setdefault("enabled", True)
        units.append(unit_options(u, where=f"unit {i + 1}", resolve_checkpoint=resolve_checkpoint))
    post = PostOptions.from_dict(data.get("postprocessing"))
    job = JobOptions.from_dict({k: data[k] for k in data if k in job_field_names()})
    return units, post, job


def decode_b64_bytes(text: str, what: str) -> bytes:
    t = "".join(text.split())
    if t[:5].lower() == "data:":
        t = t.partition(",")[2]
    t += "=" * (-len(t) % 4)
    try:
        return base64.b64decode(t, validate=False)
    except (binascii.Error, ValueError) as e:
        raise OptionsError(f"{what} is not valid base64 ({e})") from None


def field_by_name(fields: Iterable[Field], name: str) -> Field:
    for f in fields:
        if f.name == name:
            return f
    raise KeyError(name)
