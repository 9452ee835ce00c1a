"""The checkpoint folder as a library: safe file names, listing, resolving a name or path to a
file, and saving.

Names come from users (a web form, an API field, a command line), so they are sanitised into
a file name that stays inside the folder on every OS. The folder is read afresh on every
listing, so files copied in while the web-ui runs show up without a restart. Saving goes
through `durable.atomic_write`: a crash leaves the old file or the new one, never half of one,
and an existing checkpoint is never replaced unless asked (the new one gets `_1`, `_2`...).
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..durable import atomic_write
from ..errors import CheckpointError, OptionsError, write_error
from ..identity import Identity
from .container import PICKLE_SUFFIXES, SUFFIX, file_stem, pickle_message, read_file
from .format import encode_checkpoint, is_ours, load_checkpoint

if TYPE_CHECKING:
    from ..models.store import ModelStore

MAX_NAME_CHARS = 100
#: how many `NAME_N` variants are tried before a save gives up on a name
MAX_NAME_VARIANTS = 10_000

_WINDOWS_RESERVED = {"con", "prn", "aux", "nul"} | {f"com{i}" for i in range(1, 10)} | {f"lpt{i}" for i in range(1, 10)}


@dataclass(frozen=True)
class CheckpointInfo:
    """One entry of a checkpoint folder listing (from the header only: cheap)."""

    name: str  # what --face takes: the file name without .safetensors
    path: Path
    size: int
    ok: bool
    error: str | None = None  # why it cannot be used (pickles are listed with this set)
    display_name: str | None = None
    samples: int | None = None
    created: str | None = None
    legacy: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": str(self.path),
            "size": self.size,
            "ok": self.ok,
            "error": self.error,
            "display_name": self.display_name,
            "samples": self.samples,
            "created": self.created,
            "legacy": self.legacy,
        }


def sanitize_name(name: str) -> str:
    """A checkpoint name safe as a file name on every OS: no path separators, no `..`, no
    leading dot (hidden files), letters/digits/space/`-_.` only, at most 100 characters.

    Raises OptionsError when nothing usable is left.
    """
    text = unicodedata.normalize("NFKC", str(name or "")).strip()
    if text.lower().endswith(SUFFIX):
        text = text[: -len(SUFFIX)]
    out = "".join(c if (c.isalnum() or c in "-_. ") else "_" for c in text)
    out = re.sub(r"\.{2,}", ".", out)
    out = re.sub(r"_{2,}", "_", out)
    out = re.sub(r"\s+", " ", out)
    out = out.strip(" ._-")
    out = out[:MAX_NAME_CHARS].rstrip(" .")  # Windows drops trailing dots and spaces
    if not out:
        raise OptionsError(f"checkpoint name {name!r} has no usable characters; use letters, digits, '-', '_' or spaces")
    if out.split(".")[0].lower() in _WINDOWS_RESERVED:
        out = f"{out}_"
    return out


def checkpoint_folder(store: "ModelStore") -> Path:
    """`<models dir>/faces/` (inside the web-ui: `<models_path>/faceswaplab/faces/`)."""
    return store.folder_for("face")


def _list_folder(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    try:
        entries = list(folder.iterdir())
    except OSError:
        return []
    files = [p for p in entries if p.suffix.lower() in suffixes and not p.name.startswith(".") and p.is_file()]
    return sorted(files, key=lambda p: (p.name.lower(), p.name))


def list_checkpoints(
    store: "ModelStore | None", *, include_refused: bool = True, folder: str | os.PathLike[str] | None = None
) -> list[CheckpointInfo]:
    """Every checkpoint in the folder (`folder`, else `<models dir>/faces/`), read afresh on
    each call (no restart needed after adding files; hidden files such as unfinished temporary
    files are skipped). Malformed files are listed with `ok=False` and the reason; with
    `include_refused`, pickle files left by older tools are listed too, with the reason they
    are refused."""
    if folder is None:
        if store is None:
            raise ValueError("list_checkpoints needs a store or a folder")
        folder = checkpoint_folder(store)
    folder_p = Path(folder)
    out: list[CheckpointInfo] = [checkpoint_info(p) for p in _list_folder(folder_p, (SUFFIX,))]
    if include_refused:
        for p in _list_folder(folder_p, PICKLE_SUFFIXES):
            try:
                size = p.stat().st_size
            except OSError:
                size = 0
            out.append(CheckpointInfo(file_stem(p), p, size, False, pickle_message(p, "file extension")))
    return out


def checkpoint_names(store: "ModelStore | None", *, folder: str | os.PathLike[str] | None = None) -> list[str]:
    """Names of the usable checkpoints (for dropdowns and messages)."""
    return [i.name for i in list_checkpoints(store, include_refused=False, folder=folder) if i.ok]


def checkpoint_info(path: str | os.PathLike[str]) -> CheckpointInfo:
    """One listing entry, from the header only (cheap); never raises for a bad file."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError:
        size = 0
    try:
        parsed = read_file(path, header_only=True)
    except CheckpointError as e:
        return CheckpointInfo(file_stem(path), path, size, False, e.message)
    try:  # the same checks as loading (NaN embeddings, short tensors...): listed ok == loads
        load_checkpoint(path)
    except CheckpointError as e:
        return CheckpointInfo(file_stem(path), path, size, False, e.message)
    meta = parsed.metadata
    ours = is_ours(meta)
    samples: int | None = None
    if ours:
        try:
            samples = int(meta.get("samples", ""))
        except ValueError:
            samples = None
    elif "embeddings" in parsed.tensors:
        samples = parsed.tensors["embeddings"].shape[0] if parsed.tensors["embeddings"].shape else None
    return CheckpointInfo(
        name=file_stem(path),
        path=path,
        size=size,
        ok=True,
        display_name=meta.get("name") or file_stem(path),
        samples=samples if samples is not None else 1,
        created=meta.get("created"),
        legacy=not ours,
    )


def is_bare_name(text: str) -> bool:
    """A name to look up in the checkpoint folder, as opposed to a path used as given."""
    return not (os.path.isabs(os.path.expanduser(text)) or "/" in text or "\\" in text or text.startswith("~"))


def resolve_checkpoint(
    face: str | os.PathLike[str], store: "ModelStore | None", *, folder: str | os.PathLike[str] | None = None
) -> Path:
    """A checkpoint reference -> its file.

    A path (anything with a directory part, or absolute) is used as given. A bare name is
    looked up in the checkpoint folder (`folder`, else `<models dir>/faces/`), with or without
    `.safetensors`, then as a file in the working directory. Unknown names raise
    CheckpointError listing what is available.
    """
    text = os.fspath(face)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    text = text.strip()
    if not text:
        raise CheckpointError("empty face checkpoint name; give a name from the checkpoint folder or a path")
    if not is_bare_name(text):
        p = Path(os.path.abspath(os.path.expanduser(text)))
        if not p.exists():
            raise CheckpointError(f"face checkpoint {text} does not exist; check the path")
        return p
    if text in (".", ".."):
        raise CheckpointError(f"face checkpoint name {text!r} is not a file name")
    where: Path | None = Path(folder) if folder is not None else (checkpoint_folder(store) if store is not None else None)
    if where is not None:
        for cand in (where / text, where / (text + SUFFIX)):
            if cand.is_file():
                return cand
    local = Path(os.path.abspath(text))
    if local.is_file():
        return local
    if where is None:
        raise CheckpointError(f"face checkpoint {text!r} not found; give the path of a {SUFFIX} file")
    names = checkpoint_names(None, folder=where)
    shown = ", ".join(names[:30]) + (f", ... ({len(names)} in all)" if len(names) > 30 else "")
    raise CheckpointError(
        f"face checkpoint {text!r} not found in {where} (available: {shown or 'none'}); "
        f"give one of these names, the path of a {SUFFIX} file, or build it with: "
        f"python -m faceswaplab build --name {_hint_name(text)} IMG [IMG ...]"
    )


def _hint_name(text: str) -> str:
    try:
        return sanitize_name(text)
    except OptionsError:
        return "NAME"


def load_checkpoint_identity(
    face: str | os.PathLike[str], store: "ModelStore | None", *, folder: str | os.PathLike[str] | None = None
) -> Identity:
    """The identity of a checkpoint given by name (in `folder`, else `<models dir>/faces/`) or path."""
    return load_checkpoint(resolve_checkpoint(face, store, folder=folder)).identity


STALE_TEMP_S = 60.0  # a temp file this old belongs to no write in progress


def sweep_stale_temps(folder: Path, now: float | None = None) -> list[Path]:
    """Delete the temporary files (`.<name>.safetensors.<8 hex>.tmp`) that a killed save left
    in the folder: ours by name, and older than a minute, so a save in progress (another
    process, another thread) keeps its own. Called whenever the folder is written."""
    import time

    from ..durable import TEMP_NAME_RE, unlink_quiet

    now = time.time() if now is None else now
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not (TEMP_NAME_RE.match(entry.name) and SUFFIX + "." in entry.name):
            continue
        try:
            if not entry.is_file(follow_symlinks=False) or now - entry.stat(follow_symlinks=False).st_mtime < STALE_TEMP_S:
                continue
        except OSError:
            continue
        unlink_quiet(entry.path)
        removed.append(Path(entry.path))
    return removed


def _write_new(folder: Path, stem: str, data: bytes, overwrite: bool) -> Path:
    """`<stem>.safetensors`, or with `overwrite` off the first free `<stem>_N.safetensors`. The
    exclusive write decides atomically, so a file created meanwhile is never clobbered."""
    if overwrite:
        return atomic_write(folder / f"{stem}{SUFFIX}", data)
    for i in range(MAX_NAME_VARIANTS):
        dest = folder / (f"{stem}{SUFFIX}" if i == 0 else f"{stem}_{i}{SUFFIX}")
        if dest.exists() or dest.is_symlink():
            continue
        try:
            return atomic_write(dest, data, exclusive=True)
        except FileExistsError:  # taken between the check and the write
            continue
    raise OptionsError(f"too many checkpoints named {stem}_N in {folder}; choose another name")


def save_checkpoint(
    identity: Identity,
    folder: str | os.PathLike[str],
    name: str,
    *,
    overwrite: bool = False,
    blend_method: str = "mean",
    embedding_model_sha256: str | None = None,
) -> Path:
    """Write `identity` atomically as `<folder>/<sanitised name>.safetensors` and return the
    path. An existing file is kept (the new one gets `_1`, `_2`...) unless `overwrite`."""
    stem = sanitize_name(name)
    folder_p = Path(os.path.abspath(os.path.expanduser(os.fspath(folder))))
    data = encode_checkpoint(identity, name=name, blend_method=blend_method, embedding_model_sha256=embedding_model_sha256)
    sweep_stale_temps(folder_p)
    try:
        dest = _write_new(folder_p, stem, data, overwrite)
    except OSError as e:  # the file system, not the input: exit 6 like imageio.save_image
        raise write_error("the face checkpoint", folder_p, e) from None
    if dest.parent != folder_p:  # cannot happen with a sanitised name; keep the guarantee explicit
        raise OptionsError(f"refusing to write outside {folder_p}")
    return dest


def renamed_note(wanted: str, path: Path) -> str | None:
    """Say so when the checkpoint went to `NAME_1` because `NAME` existed (never silently)."""
    stem, written = sanitize_name(wanted), file_stem(path)
    if written == stem:
        return None
    return f"a checkpoint named {stem} exists, so this one was saved as {written} (overwrite replaces it)"


__all__ = [
    "MAX_NAME_CHARS",
    "renamed_note",
    "sweep_stale_temps",
    "CheckpointInfo",
    "sanitize_name",
    "checkpoint_folder",
    "list_checkpoints",
    "checkpoint_names",
    "checkpoint_info",
    "is_bare_name",
    "resolve_checkpoint",
    "load_checkpoint_identity",
    "save_checkpoint",
]
