"""What an HTTP request may name, and what a reply may say: the API's one gate.

Why a gate of its own: the core accepts paths for model fields (a CLI user names files on
their own machine), but an HTTP client names files on *someone else's* machine. Every model
field of a request therefore takes only a name from its list (the files in its models folder,
the registry's names, what a host registered); a path separator, an absolute path, `~` or
`..` is refused with 400 before anything touches the filesystem, so a client can neither
load an arbitrary `.onnx` file nor probe which files exist.

The fields are listed once, here (`UNIT_MODEL_FIELDS`, `POST_MODEL_FIELDS`); a field the
options do not have (yet) is simply skipped. Replies never carry server paths either:
`scrub` turns every path in a message into its file name (the full message goes to the
server log).
"""

from __future__ import annotations

import logging
import os
import re
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from ..errors import OptionsError

if TYPE_CHECKING:
    from ..engine import Engine

log = logging.getLogger("faceswaplab")

# request field -> the list (choices.providers key) its value must come from
UNIT_MODEL_FIELDS: dict[str, str] = {
    "restorer": "unit_restorers",
    "upscale": "unit_upscalers",
    "parser": "parsers",
    "occluder": "occluders",
    "swapper": "swappers",
    "checkpoint": "checkpoints",
    "face": "checkpoints",
}
POST_MODEL_FIELDS: dict[str, str] = {"restorer": "unit_restorers", "upscaler": "unit_upscalers"}

# the registry kind whose known file names count as "registered" for each list
_REGISTRY_KIND = {"unit_restorers": "restorer", "parsers": "parser", "occluders": "occluder", "swappers": "swapper"}

from ..options.meta import MAX_INDEX, MAX_INDICES  # noqa: E402  (the caps are the options')

_DRIVE = re.compile(r"^[A-Za-z]:")


def looks_like_path(value: str) -> bool:
    """A value that names a location rather than a listed name (decided on the text alone)."""
    v = value.strip()
    return (
        "/" in v
        or "\\" in v
        or "\x00" in v
        or ".." in v
        or v in (".", "")
        or v.startswith("~")
        or os.path.isabs(v)
        or bool(_DRIVE.match(v))
    )


def check_name(value: Any, field: str, where: str) -> None:
    """400 for a path in a model field, without touching the filesystem."""
    if isinstance(value, str) and looks_like_path(value):
        raise OptionsError(f"{where}{field}: give a model name from GET /faceswaplab/v1/models, not a path")


def _stem(name: str) -> str:
    base = name.rsplit(":", 1)[-1]
    for suffix in (".onnx", ".safetensors"):
        if base.lower().endswith(suffix):
            return base[: -len(suffix)]
    return base


def registered(list_key: str) -> list[str]:
    """The registry's file names of the list's kind (known even before they are downloaded)."""
    from ..models.registry import KNOWN_MODELS

    kind = _REGISTRY_KIND.get(list_key)
    return [s.filename for s in KNOWN_MODELS if kind is not None and s.kind == kind]


def is_listed(value: str, names: Iterable[str]) -> bool:
    """`value` names one of `names`: exactly, without its suffix, or without a host prefix
    (`webui:CodeFormer` answers to `CodeFormer`), case-insensitively, as the engine looks up."""
    v = value.strip().lower()
    for n in names:
        low = n.lower()
        if v in (low, _stem(n).lower(), low.rsplit(":", 1)[-1]):
            return True
    return False


class Names:
    """The names each list offers, read once per request (listing is cheap but not free)."""

    def __init__(self, engine: "Engine", checkpoints: Callable[[], list[str]]) -> None:
        from .. import choices

        self._providers = choices.providers(engine)
        self._checkpoints = checkpoints
        self._cache: dict[str, list[str]] = {}

    def of(self, list_key: str) -> list[str]:
        if list_key not in self._cache:
            if list_key == "checkpoints":
                names = list(self._checkpoints())
            else:
                names = list(self._providers[list_key]()) + registered(list_key)
            self._cache[list_key] = list(dict.fromkeys(names))
        return self._cache[list_key]

    def check(self, value: Any, field: str, list_key: str, where: str) -> None:
        if value is None or not isinstance(value, str) or value.strip().lower() in ("", "none"):
            return
        check_name(value, field, where)
        names = self.of(list_key)
        if not is_listed(value, names):
            shown = ", ".join(names[:30]) + (f", ... ({len(names)} in all)" if len(names) > 30 else "")
            raise OptionsError(f"{where}{field}: unknown name {value!r}; available: {shown or 'none'}")


def check_fields(data: Mapping[str, Any], fields: Mapping[str, str], where: str, names: Names | None) -> None:
    """Every model field of one request object that is present: syntax first (no
    filesystem), then membership in its list (when `names` is given)."""
    for field, list_key in fields.items():
        if field not in data:
            continue
        value = data[field]
        if names is None:
            check_name(value, field, where)
        else:
            names.check(value, field, list_key, where)


def check_indices(value: Any, field: str, where: str) -> None:
    """Index lists are capped (entries and values) so one request cannot cost minutes."""
    if value is None:
        return
    if isinstance(value, str):
        if value.strip().lower() == "all":
            return
        parts = [p for p in value.split(",") if p.strip()]
        if len(parts) > MAX_INDICES:
            raise OptionsError(f"{where}{field}: at most {MAX_INDICES} indices, got {len(parts)}")
        items: list[Any] = []
        for p in parts:
            try:
                items.append(int(p))
            except ValueError:
                return  # not a number: the options say what is wrong with it
    elif isinstance(value, (list, tuple)):
        if len(value) > MAX_INDICES:
            raise OptionsError(f"{where}{field}: at most {MAX_INDICES} indices, got {len(value)}")
        items = list(value)
    else:
        items = [value]
    for i in items:
        if isinstance(i, int) and not 0 <= i < MAX_INDEX:
            raise OptionsError(f"{where}{field}: indices go from 0 to {MAX_INDEX - 1}, got {i}")


def check_index(value: Any, field: str) -> None:
    if isinstance(value, int) and not 0 <= value < MAX_INDEX:
        raise OptionsError(f"{field}: an index from 0 to {MAX_INDEX - 1}, got {value}")


# ----------------------------------------------------------------- no server paths in replies

_PATH = re.compile(r"(?:(?<=[\s'\"`(=\[,])|^)(?![\\/]faceswaplab[\\/]v\d)(?:[A-Za-z]:)?(?:[\\/][^\s'\"`,;()\[\]{}<>\\/]+){2,}[\\/]?")


def scrub(message: str, roots: Iterable[str | os.PathLike[str] | None] = ()) -> str:
    """`message` with every server path replaced by its last part (a file or folder name).

    Known roots (models folder, faces folder, working directory) go first, so a path
    relative to one of them keeps its name; then anything that looks like an absolute path
    (two or more components) becomes its base name."""
    out = message
    for root in sorted((os.fspath(r) for r in roots if r), key=len, reverse=True):
        if len(root) > 1:
            out = out.replace(root.rstrip("/\\") + os.sep, "").replace(root, os.path.basename(root.rstrip("/\\")))

    def base(m: re.Match[str]) -> str:
        text = m.group(0).rstrip("/\\")
        tail = ""
        while text and text[-1] in ".:":
            tail = text[-1] + tail
            text = text[:-1]
        return re.split(r"[\\/]", text)[-1] + tail

    return _PATH.sub(base, out)


def server_roots(engine: "Engine | None", *extra: Any) -> list[str]:
    roots: list[str] = [os.getcwd(), os.path.expanduser("~")]
    if engine is not None:
        try:
            roots.append(str(engine.store.models_dir))
            if engine.options.faces_dir:
                roots.append(str(engine.options.faces_dir))
        except Exception:  # a half-built engine: the generic rule still applies
            pass
    roots += [str(e) for e in extra if e]
    return roots


__all__ = [
    "UNIT_MODEL_FIELDS", "POST_MODEL_FIELDS", "MAX_INDICES", "MAX_INDEX", "looks_like_path", "check_name",
    "is_listed", "Names", "check_fields", "check_indices", "check_index", "scrub", "server_roots",
]  # fmt: skip
