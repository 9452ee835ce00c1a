"""The metadata an option carries, written once on its dataclass field, and the one validator
that reads it.

Every front end (argparse, the pydantic API models, the gradio controls, the positional
alwayson contract, the web-ui settings page) is generated from this metadata, and every
option object checks its values against the same ranges and choices in `__post_init__`, so a
limit or a default exists in exactly one place: the field definition.

    boost: int = option(1, label="Resolution boost", group="quality", kind=RADIO, choices=(1, 2, 4))

Host-independent and cheap: imports neither gradio, pydantic nor argparse.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from ..errors import OptionsError

META_KEY = "faceswaplab"

# Widget kinds: which control a front end builds (faceswaplab.ui.components turns each into
# a gradio component; the settings page into an OptionInfo widget).
CHECKBOX, IMAGE, FILES, DROPDOWN, NUMBER, TEXT, SLIDER, RADIO, CHECKBOXGROUP = (
    "checkbox", "image", "files", "dropdown", "number", "text", "slider", "radio", "checkboxgroup",
)  # fmt: skip
KINDS = (CHECKBOX, IMAGE, FILES, DROPDOWN, NUMBER, TEXT, SLIDER, RADIO, CHECKBOXGROUP)

# Value types: how a value is coerced and how each front end represents it.
BOOL, INT, FLOAT, STR = "bool", "int", "float", "str"
NAME = "name"  # an optional name or path: "", "None" and None mean unset
NAMES = "names"  # several names: a list or a comma-separated string
INDICES = "indices"  # face indices: "all", "0,2" or [0, 2]
IMAGE_VALUE = "image"  # one image (path, PIL, array; base64 in the API)
IMAGES = "images"  # several images
VALUE_TYPES = (BOOL, INT, FLOAT, STR, NAME, NAMES, INDICES, IMAGE_VALUE, IMAGES)

# Front ends an option can be shown in.
CLI, API, UI, SETTINGS = "cli", "api", "ui", "settings"
FRONTS = (CLI, API, UI, SETTINGS)
DEFAULT_FRONTS = (CLI, API, UI)

GROUPS = ("source", "target", "quality", "advanced", "post", "job", "engine", "run", "output", "dataset", "filter", "inpaint")

class _Unset:
    """No value given (dataclasses.MISSING cannot be a dataclass field's default)."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()

_DEFAULT_KIND = {
    BOOL: CHECKBOX, INT: NUMBER, FLOAT: SLIDER, STR: TEXT, NAME: DROPDOWN, NAMES: CHECKBOXGROUP,
    INDICES: TEXT, IMAGE_VALUE: IMAGE, IMAGES: FILES,
}  # fmt: skip


@dataclass(frozen=True)
class Meta:
    """What every front end needs to know about one option.

    `flag` is the CLI flag without dashes when it is not the name with dashes (a class may
    also give a `FLAG_PREFIX`); `alias` is the name in the API, units files and forms when it
    differs from the field name (`face` is `checkpoint` there); `setting` the web-ui settings
    key when not the name; `restart` marks settings whose change must drop cached sessions;
    `form_default` is a form control's starting value when it must differ from the option's
    default (a unit tab starts disabled, a unit built in code is enabled).
    """

    label: str
    group: str
    value: str
    kind: str
    fronts: frozenset[str]
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    choices: tuple[Any, ...] | None = None
    dynamic: str | None = None
    flag: str | None = None
    metavar: str | None = None
    alias: str | None = None
    setting: str | None = None
    restart: bool = False
    form_default: Any = UNSET

    def shown_in(self, front: str) -> bool:
        return front in self.fronts


def _infer_value(default: Any) -> str:
    if isinstance(default, bool):
        return BOOL
    if isinstance(default, int):
        return INT
    if isinstance(default, float):
        return FLOAT
    if isinstance(default, str):
        return STR
    if default is None:
        return NAME
    if isinstance(default, tuple):
        return NAMES
    raise TypeError(f"cannot infer the value type of default {default!r}; pass value=")


def option(
    default: Any = dataclasses.MISSING,
    *,
    label: str,
    group: str,
    value: str | None = None,
    kind: str | None = None,
    fronts: Iterable[str] = DEFAULT_FRONTS,
    help: str = "",
    minimum: float | None = None,
    maximum: float | None = None,
    step: float | None = None,
    choices: Sequence[Any] | None = None,
    dynamic: str | None = None,
    flag: str | None = None,
    metavar: str | None = None,
    alias: str | None = None,
    setting: str | None = None,
    restart: bool = False,
    form_default: Any = UNSET,
) -> Any:
    """A dataclass field with its metadata: the one place an option is defined."""
    vtype = value or _infer_value(default)
    if vtype not in VALUE_TYPES:
        raise ValueError(f"unknown value type {vtype!r}")
    if kind is None:
        kind = DROPDOWN if (choices is not None and vtype in (STR, INT)) else _DEFAULT_KIND[vtype]
        if vtype == INT and maximum is not None and choices is None:
            kind = SLIDER
    if kind not in KINDS or group not in GROUPS:
        raise ValueError(f"unknown widget kind {kind!r} or group {group!r}")
    fr = frozenset(fronts)
    if fr - set(FRONTS):
        raise ValueError(f"unknown front end(s) {sorted(fr - set(FRONTS))}")
    meta = Meta(
        label=label, group=group, value=vtype, kind=kind, fronts=fr, help=help, minimum=minimum, maximum=maximum,
        step=step, choices=tuple(choices) if choices is not None else None, dynamic=dynamic, flag=flag,
        metavar=metavar, alias=alias, setting=setting, restart=restart, form_default=form_default,
    )  # fmt: skip
    return dataclasses.field(default=default, metadata={META_KEY: meta})


def meta_of(f: dataclasses.Field) -> Meta | None:
    m = f.metadata.get(META_KEY) if f.metadata else None
    return m if isinstance(m, Meta) else None


@dataclass(frozen=True)
class Option:
    """One option as the front ends see it: its field name, metadata, default and class."""

    name: str
    meta: Meta
    default: Any
    owner: type

    @property
    def public_name(self) -> str:
        """The name in the API, units files and forms."""
        return self.meta.alias or self.name

    @property
    def required(self) -> bool:
        return self.default is dataclasses.MISSING


@functools.lru_cache(maxsize=None)
def options_of(cls: type, front: str | None = None) -> tuple[Option, ...]:
    """The options of a dataclass in field order (only those shown in `front`, if given)."""
    out = []
    for f in dataclasses.fields(cls):
        m = meta_of(f)
        if m is None or (front is not None and not m.shown_in(front)):
            continue
        default = f.default if f.default is not dataclasses.MISSING else dataclasses.MISSING
        if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            default = f.default_factory()  # type: ignore[misc]
        out.append(Option(f.name, m, default, cls))
    return tuple(out)


# --------------------------------------------------------------------------- face indices


MAX_INDICES, MAX_INDEX = 1000, 10000  # caps of "faces" lists in every front end: no input costs minutes


def parse_faces(value: Any) -> tuple[int, ...] | None:
    """`"all"` -> None (every face); `"0,2"`, `[0, 2]` or `1` -> a tuple of capped indices."""
    if value is None:
        return (0,)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("all", "*"):
            return None
        if not text:
            raise OptionsError("faces must be 'all' or a list of face indices like '0,2'")
        parts = [p.strip() for p in text.split(",") if p.strip()]
    elif isinstance(value, int) and not isinstance(value, bool):
        parts = [str(value)]
    elif isinstance(value, (list, tuple)):
        parts = [str(p) for p in value]
    else:
        raise OptionsError(f"faces must be 'all' or a list of face indices like '0,2', got {value!r}")
    if len(parts) > MAX_INDICES:
        raise OptionsError(f"faces: at most {MAX_INDICES} indices, got {len(parts)}")
    out: dict[int, None] = {}
    for p in parts:
        try:
            i = int(p)
        except ValueError:
            raise OptionsError(f"faces: {p!r} is not a face index (use 'all' or numbers like '0,2')") from None
        if i < 0:
            raise OptionsError(f"faces: indices start at 0, got {i}")
        if i >= MAX_INDEX:
            raise OptionsError(f"faces: indices go from 0 to {MAX_INDEX - 1}, got {i}")
        out[i] = None
    return tuple(out)


def format_faces(faces: tuple[int, ...] | None) -> str:
    return "all" if faces is None else ",".join(str(i) for i in faces)


def _is_faces_tuple(v: Any) -> bool:
    return v is None or (isinstance(v, tuple) and len(v) > 0 and all(isinstance(i, int) and i >= 0 for i in v))


# --------------------------------------------------------------------------- validation


def _g(x: float) -> str:
    return f"{x:g}"


def _to_int(name: str, v: Any) -> int:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise OptionsError(f"{name} must be a whole number, got {v!r}") from None
    if not f.is_integer():
        raise OptionsError(f"{name} must be a whole number, got {v!r}")
    return int(f)


def _check_int(name: str, m: Meta, v: int) -> None:
    lo, hi, step = m.minimum, m.maximum, m.step
    if lo is not None and hi is not None and step and step > 1:
        if not (lo <= v <= hi) or (v - lo) % step:
            raise OptionsError(f"{name} must be a multiple of {int(step)} between {int(lo)} and {int(hi)}, got {v}")
    elif lo is not None and hi is not None and not (lo <= v <= hi):
        raise OptionsError(f"{name} must be from {int(lo)} to {int(hi)}, got {v}")
    elif lo is not None and hi is None and v < lo:
        raise OptionsError(f"{name} must be {int(lo)} or more, got {v}")
    elif hi is not None and lo is None and v > hi:
        raise OptionsError(f"{name} must be {int(hi)} or less, got {v}")


def _coerce_float(name: str, m: Meta, v: Any) -> float:
    lo, hi = m.minimum, m.maximum
    try:
        f = float(v)
    except (TypeError, ValueError):
        if lo is not None and hi is not None:
            raise OptionsError(f"{name} must be a number between {_g(lo)} and {_g(hi)}, got {v!r}") from None
        raise OptionsError(f"{name} must be a number, got {v!r}") from None
    if f != f:  # NaN compares false with every bound
        raise OptionsError(f"{name} must be a number, got {v!r}")
    if lo is not None and hi is not None and not (lo <= f <= hi):
        raise OptionsError(f"{name} must be between {_g(lo)} and {_g(hi)}, got {_g(f)}")
    if lo is not None and hi is None and f < lo:
        raise OptionsError(f"{name} must be {_g(lo)} or more, got {_g(f)}")
    return f


def _names(v: Any) -> tuple[str, ...]:
    if v is None:
        return ()
    if isinstance(v, str):
        return tuple(p.strip() for p in v.split(",") if p.strip())
    if isinstance(v, (list, tuple, set, frozenset)):
        return tuple(str(p).strip() for p in v if str(p).strip())
    return (str(v).strip(),)


def is_unset_name(v: Any) -> bool:
    """How an unset name reads in every front end: None, "" or "None" (the web-ui's dropdown)."""
    return v is None or (isinstance(v, str) and v.strip().lower() in ("", "none"))


def coerce(name: str, m: Meta, v: Any) -> Any:
    """One value, checked against its metadata and in its canonical type. Messages name the
    option (`name`, which a caller may prefix: "postprocessing.scale")."""
    vt = m.value
    if vt == BOOL:
        if isinstance(v, str):
            return v.strip().lower() in ("1", "true", "yes", "on")
        return bool(v)
    if vt == INT:
        if m.choices is not None:
            try:
                i = _to_int(name, v)
            except OptionsError:
                i = None
            if i not in m.choices:
                raise OptionsError(f"{name} must be one of {', '.join(map(str, m.choices))}, got {v!r}")
            return i
        i = _to_int(name, v)
        _check_int(name, m, i)
        return i
    if vt == FLOAT:
        return _coerce_float(name, m, v)
    if vt == STR:
        s = "" if v is None else str(v)
        if m.choices is not None and s not in m.choices:
            raise OptionsError(f"{name} must be one of {', '.join(map(str, m.choices))}, got {v!r}")
        return s
    if vt == NAME:
        if hasattr(v, "__fspath__"):
            v = os.fspath(v)
        return None if is_unset_name(v) or not isinstance(v, str) else v
    if vt == NAMES:
        items = _names(v)
        if m.choices is not None:
            items = tuple(i.lower() for i in items)
            unknown = [i for i in items if i not in m.choices]
            if unknown:
                raise OptionsError(
                    f"{name}: unknown value(s) {', '.join(unknown)}; choose from {', '.join(map(str, m.choices))}"
                )
        return items
    if vt == INDICES:
        return v if _is_faces_tuple(v) else parse_faces(v)
    if vt == IMAGES:
        if v is None:
            return ()
        if isinstance(v, (str, bytes)) or not isinstance(v, (list, tuple)):
            return (v,)
        return tuple(v)
    return v  # IMAGE_VALUE: any image the loader reads, or None


def validate(obj: Any, where: str = "") -> None:
    """Coerce and check every option field of a (frozen) dataclass instance in place."""
    for opt in options_of(type(obj)):
        setattr_frozen(obj, opt.name, coerce(where + opt.name, opt.meta, getattr(obj, opt.name)))


def setattr_frozen(obj: Any, name: str, value: Any) -> None:
    object.__setattr__(obj, name, value)


def check_known(data: dict[str, Any], known: Iterable[str], where: str) -> None:
    """Unknown names are an error naming them (a typo never falls back to a default)."""
    known = list(known)
    unknown = sorted(k for k in data if k not in known)
    if unknown:
        raise OptionsError(f"{where}: unknown field(s) {', '.join(unknown)}; known fields: {', '.join(sorted(known))}")


# --------------------------------------------------------------------------- representations


def to_json(m: Meta, v: Any) -> Any:
    """A value as the API and units files write it."""
    if v is dataclasses.MISSING:
        return None
    if m.value == INDICES:
        return format_faces(v)
    if m.value in (NAMES, IMAGES):
        return list(v or ())
    return v


def to_text(m: Meta, v: Any) -> str | None:
    """A value as a command line writes it (None: no value)."""
    if v is dataclasses.MISSING or v is None:
        return None
    if m.value == INDICES:
        return format_faces(v)
    if m.value in (NAMES, IMAGES):
        return ",".join(map(str, v)) if v else None
    return str(v)
