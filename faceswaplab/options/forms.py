"""Options as forms: the named and positional values of the web-ui accordion, the Extras
panel, the standalone app, the alwayson API and the HTTP API, turned into the core's option
objects. Everything here is generated from the options' field metadata; the only controls
that are not one core field are declared here, once:

- `source_image`: the accordion's single source upload, joined in front of `source_images`;
- (the API's and the forms' `checkpoint` is the field `face`, by its metadata `alias`).

Positional contract (what the accordion's `ui()` returns and what `alwayson_scripts` args
are, in order):

    for each unit 1..N:   unit_field_names()  (UnitOptions then EnhanceOptions fields)
    then:                 post_field_names()  (PostOptions)
    then:                 job_field_names()   (JobOptions)

Host-independent: imports neither gradio nor `modules`.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from ..errors import OptionsError
from ..imageio import decode_base64_image
from .job import JobOptions
from .meta import (
    DROPDOWN,
    IMAGE,
    IMAGE_VALUE,
    IMAGES,
    INDICES,
    NAME,
    NAMES,
    RADIO,
    TEXT,
    UI,
    UNSET,
    Meta,
    check_known,
    format_faces,
    is_unset_name,
    options_of,
)
from .post import PostOptions
from .unit import EnhanceOptions, UnitOptions

NONE = "None"  # how an unset dropdown reads in the UI (the web-ui's own convention)
DEFAULT_UNITS = 3
MAX_UNITS = 10


@dataclass(frozen=True)
class Control:
    """One form control: its name in forms and the API, the option metadata, the option's
    default (a core value) and the core field it sets."""

    name: str
    meta: Meta
    default: Any
    target: str

    @property
    def form_default(self) -> Any:
        """The value a fresh control starts at (what positional defaults are)."""
        m = self.meta
        return to_form(m, self.default if m.form_default is UNSET else m.form_default)

    def form_choices(self) -> list[Any] | None:
        """Fixed choices as the control shows them (radio values are strings)."""
        if self.meta.choices is None:
            return None
        return [str(c) for c in self.meta.choices] if self.meta.kind == RADIO else list(self.meta.choices)


def to_form(m: Meta, v: Any) -> Any:
    """A core value as a form control holds it."""
    if v is dataclasses.MISSING:
        return None if m.kind != TEXT else ""
    if m.value in (IMAGE_VALUE, IMAGES):
        return None
    if m.value == INDICES:
        return format_faces(v)
    if m.value == NAMES:
        return list(v or ())
    if m.kind == DROPDOWN and v is None:
        return NONE
    if m.kind == TEXT and v is None:
        return ""
    if m.kind == RADIO:
        return str(v)
    return v


SOURCE_IMAGE = Control(
    "source_image",
    Meta(label="Source face", group="source", value=IMAGE_VALUE, kind=IMAGE, fronts=frozenset({UI}),
         help="the photo whose face is swapped in; more photos are blended with it"),  # fmt: skip
    None,
    "source_images",
)


def controls(cls: type, front: str = UI) -> tuple[Control, ...]:
    """The controls of any options class for one front end, in field order."""
    return tuple(Control(o.public_name, o.meta, o.default, o.name) for o in options_of(cls, front))


def unit_controls(front: str = UI) -> tuple[Control, ...]:
    """A face unit's controls: UnitOptions then EnhanceOptions fields (plus, in forms, the
    single `source_image` upload before `source_images`)."""
    out: list[Control] = []
    for c in controls(UnitOptions, front) + controls(EnhanceOptions, front):
        if front == UI and c.target == "source_images":
            out.append(SOURCE_IMAGE)
        out.append(c)
    return tuple(out)


def post_controls(front: str = UI) -> tuple[Control, ...]:
    return controls(PostOptions, front)


def job_controls(front: str = UI) -> tuple[Control, ...]:
    return controls(JobOptions, front)


def unit_field_names() -> tuple[str, ...]:
    return tuple(c.name for c in unit_controls())


def post_field_names() -> tuple[str, ...]:
    return tuple(c.name for c in post_controls())


def job_field_names() -> tuple[str, ...]:
    return tuple(c.name for c in job_controls())


def positional_contract(n_units: int) -> list[str]:
    """The names of ui()'s components in order, e.g. 'unit1.enabled', ..., 'post.scale'."""
    out = [f"unit{i + 1}.{n}" for i in range(n_units) for n in unit_field_names()]
    out += [f"post.{n}" for n in post_field_names()]
    out += [f"job.{n}" for n in job_field_names()]
    return out


def args_length(n_units: int) -> int:
    return n_units * len(unit_controls()) + len(post_controls()) + len(job_controls())


def default_args(n_units: int) -> list[Any]:
    """The positional args with every control at its starting value: a job that does nothing."""
    unit = [c.form_default for c in unit_controls()]
    return unit * n_units + [c.form_default for c in post_controls()] + [c.form_default for c in job_controls()]


def split_positional(args: Sequence[Any], n_units: int) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    """ui()'s positional values -> (unit value dicts, post values, job values)."""
    names = unit_field_names()
    per = len(names)
    args = list(args)
    units = [dict(zip(names, args[i * per : (i + 1) * per])) for i in range(n_units)]
    rest = args[n_units * per :]
    post = dict(zip(post_field_names(), rest))
    job = dict(zip(job_field_names(), rest[len(post_controls()) :]))
    return units, post, job


# --------------------------------------------------------------------------- value coercion


def is_none_choice(v: Any) -> bool:
    return is_unset_name(v)


def is_upload_path(text: str) -> bool:
    """A file path is taken only from the UI's upload folder (gradio 4 hands uploads over as
    paths in the temp dir): an API client must not make the server read arbitrary files."""
    if not os.path.isfile(text):
        return False
    real = os.path.realpath(text)
    roots = [tempfile.gettempdir(), os.environ.get("GRADIO_TEMP_DIR", "")]
    return any(r and real.startswith(os.path.realpath(r) + os.sep) for r in roots)


def image_value(v: Any, what: str) -> Any:
    """A UI/API image value -> something `load_image` reads: PIL and numpy pass through;
    a gradio file object or dict gives its path; a string is an upload's path if one exists,
    else base64 (the API's form). Returns None for "no image"."""
    if v is None:
        return None
    if isinstance(v, str):
        if not v.strip():
            return None
        if len(v) < 4096 and is_upload_path(v):
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
    naming them (UnitOptions.from_dict's rule). Values are checked by the options
    themselves, against their field metadata."""
    ctrls = unit_controls()
    known = [c.name for c in ctrls]
    data = dict(values)
    if strict:
        check_known(data, known, where)
    merged: dict[str, Any] = {c.name: c.form_default for c in ctrls}
    merged.update({k: v for k, v in (defaults or {}).items() if k in merged and v is not None})
    merged.update({k: v for k, v in data.items() if k in merged and v is not None})

    out: dict[str, Any] = {}
    for c in ctrls:
        v = merged[c.name]
        if c.meta.value == IMAGES:
            out[c.target] = out.get(c.target, []) + images_value(v, "source image")
        elif c.meta.value == IMAGE_VALUE and c.target == "source_images":
            img = image_value(v, "source image")
            out[c.target] = ([img] if img is not None else []) + out.get(c.target, [])
        elif c.meta.value == IMAGE_VALUE:
            out[c.target] = image_value(v, c.name.replace("_", " "))
        elif c.meta.value == NAME and c.meta.dynamic == "checkpoints":
            out[c.target] = None if is_none_choice(v) else (resolve_checkpoint(str(v)) if resolve_checkpoint else str(v))
        else:
            out[c.target] = v
    if is_none_choice(out.get("parser")):
        # Regions/mouth only mean something with a parser; the UI leaves them set while the
        # parser dropdown says None, so drop them rather than refusing the whole unit.
        out["mask_regions"] = ()
        out["keep_mouth"] = False
    return UnitOptions.from_dict(out, where=where)


NAMED_TOP_KEYS = ("units", PostOptions.WHERE) + tuple(c.name for c in controls(JobOptions))


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
        raise OptionsError(f"faceswaplab: unknown key(s) {', '.join(unknown)}; use {', '.join(NAMED_TOP_KEYS)}")
    raw_units = data.get("units") or []
    if not isinstance(raw_units, list):
        raise OptionsError("faceswaplab: 'units' must be a list of unit objects")
    units = []
    for i, u in enumerate(raw_units):
        if not isinstance(u, Mapping):
            raise OptionsError(f"unit {i + 1} must be an object with named fields, got {type(u).__name__}")
        u = dict(u)
        u.setdefault("enabled", True)
        if u.get("mask_regions") and is_none_choice(u.get("parser")):  # a request is told, as the CLI is
            raise OptionsError(f"unit {i + 1}: mask_regions needs a face parser: set parser (a file in <models dir>/parsers/)")
        units.append(unit_options(u, where=f"unit {i + 1}", resolve_checkpoint=resolve_checkpoint))
    post = PostOptions.from_dict(data.get(PostOptions.WHERE))
    job = JobOptions.from_dict({k: data[k] for k in data if k in job_field_names()})
    return units, post, job


__all__ = [
    "NONE", "DEFAULT_UNITS", "MAX_UNITS", "Control", "SOURCE_IMAGE", "controls", "unit_controls", "post_controls",
    "job_controls", "unit_field_names", "post_field_names", "job_field_names", "positional_contract", "args_length",
    "default_args", "split_positional", "to_form", "is_none_choice", "is_upload_path", "image_value", "images_value",
    "unit_options", "parse_named", "NAMED_TOP_KEYS",
]  # fmt: skip
