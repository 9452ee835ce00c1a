"""The inputs of a folder job: which files, in which order, under which stable names.

A job's input is a folder (top level only, or recursive) or an explicit list of files. Each
input gets a *key*: its path relative to the folder (for a list: to the list's common parent),
with forward slashes. The key names the input in the manifest and decides its output path, so
it must be the same every time the job runs over the same files.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence, Union

from ..errors import BadInputError
from ..imageio import is_image_file

PathLike = Union[str, "os.PathLike[str]"]

_HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class InputFile:
    path: Path  # as found (absolute)
    key: str  # relative path with '/' separators: the manifest key and output name


def _resolve(p: PathLike) -> Path:
    return Path(os.path.abspath(os.fspath(p)))


def _is_within(child: Path, parent: Path) -> bool:
    try:
        child.relative_to(parent)
        return True
    except ValueError:
        return False


def _listable(is_file: Callable[[], bool], is_symlink: Callable[[], bool]) -> bool:
    """A file, or an entry that cannot be read (a symlink loop, a dangling link, no
    permission): those are kept as inputs so the job records each as an error (with the
    OS's reason) and processes the rest, instead of one bad entry stopping the whole job."""
    try:
        if is_file():
            return True
    except OSError:
        return True
    try:
        return is_symlink()
    except OSError:
        return True


def collect_inputs(
    targets: PathLike | Sequence[PathLike],
    *,
    recursive: bool = False,
    exclude: Iterable[PathLike] = (),
) -> tuple[Path | None, list[InputFile]]:
    """(folder or None, the input files sorted by key).

    `targets` is a folder or a list of image files. Folders are walked without following
    directory links; hidden files and files without an image extension are ignored (see
    `imageio.is_image_file`), and so is anything under `exclude` (the job's own output folder
    when it lies inside the target folder).
    """
    excluded = [_resolve(e) for e in exclude]
    if isinstance(targets, (str, os.PathLike)):
        folder = _resolve(targets)
        if not folder.exists():
            raise BadInputError(f"target folder '{targets}' does not exist; check the path")
        if not folder.is_dir():
            raise BadInputError(f"target folder '{targets}' is not a folder; give a folder of images (or a list of files)")
        files: list[InputFile] = []
        if recursive:
            for root, dirs, names in os.walk(folder):
                rootp = Path(root)
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not any(_is_within(rootp / d, e) for e in excluded))
                for n in names:
                    p = rootp / n
                    if is_image_file(p) and _listable(p.is_file, p.is_symlink):
                        files.append(InputFile(p, p.relative_to(folder).as_posix()))
        else:
            try:
                entries = list(os.scandir(folder))
            except OSError as e:
                raise BadInputError(f"cannot list target folder '{targets}': {e.strerror or e}") from None
            for entry in entries:
                p = folder / entry.name
                if is_image_file(p) and _listable(entry.is_file, entry.is_symlink):
                    files.append(InputFile(p, entry.name))
        files.sort(key=lambda f: f.key)
        return folder, files

    paths = [_resolve(t) for t in targets]
    if not paths:
        raise BadInputError("no target images given")
    seen: set[Path] = set()
    unique: list[Path] = []
    for p, given in zip(paths, targets):
        if not p.is_file():
            raise BadInputError(f"target image '{given}' does not exist or is not a file")
        if p not in seen:
            seen.add(p)
            unique.append(p)
    base = Path(os.path.commonpath([str(p.parent) for p in unique]))
    files = [InputFile(p, p.relative_to(base).as_posix()) for p in unique]
    files.sort(key=lambda f: f.key)
    return None, files


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(_HASH_CHUNK)
            if not chunk:
                break
            h.update(chunk)
    return h.hexdigest()


def unique_names(keys: Sequence[str], make: Callable[[str], str]) -> dict[str, str]:
    """key -> make(key), made unique: colliding names get a short hash of their key appended
    (deterministic, so the same inputs always get the same names)."""
    names = {k: make(k) for k in keys}
    counts: dict[str, int] = {}
    for n in names.values():
        low = n.lower()  # case-insensitive file systems (Windows, macOS) collide too
        counts[low] = counts.get(low, 0) + 1
    out: dict[str, str] = {}
    for k, n in names.items():
        if counts[n.lower()] > 1:
            stem, dot, ext = n.rpartition(".") if "." in Path(n).name else (n, "", "")
            tag = hashlib.sha1(k.encode("utf-8")).hexdigest()[:8]
            n = f"{stem}-{tag}{dot}{ext}" if dot else f"{n}-{tag}"
        out[k] = n
    return out
