"""Command-line flags generated from the options' field metadata, and the options built back
from the parsed namespace: a field added to an options dataclass (with `front` "cli") is a
flag of every command that adds that class, with its help, range, choices and default.

Flag names are the field names with dashes (`--min-face-size`); a field's `flag` metadata
overrides that (`--source` for `source_images`), a class's `FLAG_PREFIX` prefixes every flag
(`--post-scale`), and a boolean that defaults to true is switched off with `--no-...`. The
namespace attribute is the field name (with the prefix, underscored: `post_scale`).
"""

from __future__ import annotations

import argparse
from typing import Any, Iterable

from ..options.meta import (
    BOOL,
    CLI,
    FLOAT,
    IMAGE_VALUE,
    IMAGES,
    INT,
    NAMES,
    Option,
    options_of,
    to_text,
)

_METAVARS = {INT: "N", FLOAT: "X", NAMES: "LIST", IMAGE_VALUE: "IMG", IMAGES: "IMG"}


def _prefix(opt: Option) -> str:
    return str(getattr(opt.owner, "FLAG_PREFIX", "") or "")


def flag_of(opt: Option) -> str:
    """The option's command-line flag, e.g. `--min-face-size`, `--no-det-retry`, `--post-scale`."""
    if opt.meta.flag:
        return "--" + opt.meta.flag
    name = opt.name.replace("_", "-")
    if opt.meta.value == BOOL and opt.default is True:
        name = "no-" + name
    return "--" + _prefix(opt) + name


def dest_of(opt: Option) -> str:
    """The namespace attribute of the option's flag."""
    return _prefix(opt).replace("-", "_") + opt.name


def _help(opt: Option) -> str:
    m = opt.meta
    text = m.help or m.label
    bits = []
    if m.value in (INT, FLOAT) and m.minimum is not None and m.maximum is not None and m.choices is None:
        bits.append(f"{m.minimum:g}-{m.maximum:g}")
    shown = to_text(m, opt.default)
    if shown not in (None, "", "False", "True") and not opt.required:
        bits.append(f"default {shown}")
    return text + (f" ({', '.join(bits)})" if bits else "")


def argument(opt: Option) -> tuple[list[str], dict[str, Any]]:
    """(flags, add_argument keyword arguments) of one option."""
    m = opt.meta
    kw: dict[str, Any] = {"dest": dest_of(opt), "help": _help(opt).replace("%", "%%")}
    if m.value == BOOL:
        kw["action"] = "store_false" if opt.default is True else "store_true"
        return [flag_of(opt)], kw
    if m.value == IMAGES:
        kw.update(action="extend", nargs="+", default=[], metavar=m.metavar or "IMG")
        return [flag_of(opt)], kw
    if opt.required:
        kw["required"] = True
    else:
        kw["default"] = opt.default if m.value in (INT, FLOAT) else to_text(m, opt.default)
    if m.value == INT:
        kw["type"] = int
    elif m.value == FLOAT:
        kw["type"] = float
    if m.choices is not None and m.value != NAMES:
        kw["choices"] = m.choices
    else:
        kw["metavar"] = m.metavar or _METAVARS.get(m.value, "VALUE")
    return [flag_of(opt)], kw


def add_flags(parser: Any, cls: type, title: str | None = None, *, exclude: Iterable[str] = ()) -> list[str]:
    """Add `cls`'s command-line options to `parser` (a parser or an argument group; in a new
    group called `title` when given). Returns the namespace attributes added."""
    skip = set(exclude)
    target: Any = parser.add_argument_group(title) if title else parser
    dests = []
    for opt in options_of(cls, CLI):
        if opt.name in skip:
            continue
        flags, kw = argument(opt)
        target.add_argument(*flags, **kw)
        dests.append(kw["dest"])
    return dests


def values_from_args(cls: type, args: argparse.Namespace, *, exclude: Iterable[str] = ()) -> dict[str, Any]:
    """The values of `cls`'s flags in `args`, by field name (flags not added are left out, so
    the dataclass defaults apply)."""
    skip = set(exclude)
    out = {}
    for opt in options_of(cls, CLI):
        dest = dest_of(opt)
        if opt.name not in skip and hasattr(args, dest):
            out[opt.name] = getattr(args, dest)
    return out


def options_from_args(cls: type, args: argparse.Namespace, *, exclude: Iterable[str] = (), **extra: Any) -> Any:
    """`cls` built from its flags in `args` (plus `extra` fields the command sets itself)."""
    return cls(**values_from_args(cls, args, exclude=exclude), **extra)


__all__ = ["flag_of", "dest_of", "argument", "add_flags", "values_from_args", "options_from_args"]
