"""Making a finished write survive a crash, in one place.

Every file FaceSwapLab writes for the user (images, face checkpoints, manifests and
reports, downloaded models, the digest cache) goes through `atomic_write`: the data go to
a hidden temporary file in the target's own folder (a rename is only atomic within one
file system), are flushed and fsynced, the temp is renamed over the target, and the
folder is fsynced so the rename itself is on disk. A crash, a full disk or a failed check
inside the writer therefore never leaves a half-written file under the real name, and an
existing file is only ever replaced by a complete one.

Temporary files are named ``.<target name>.<8 hex>.tmp`` (`TEMP_NAME_RE`): hidden, so
folder listings skip a crash's leftovers, and recognisable, so a resumed batch can clean
up exactly its own.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["TEMP_NAME_RE", "Writer", "atomic_write", "fsync_dir", "temp_path_for", "unlink_quiet"]

log = logging.getLogger(__name__)

# ".<name>.<8 hex>.tmp": what temp_path_for makes (and nothing a user is likely to name a file).
TEMP_NAME_RE = re.compile(r"^\..+\.[0-9a-f]{8}\.tmp$")

# A writer gets the temp file open for binary writing (its ``.name`` is the temp path).
# It must not close the file; anything it raises aborts the write and removes the temp.
Writer = Callable[[BinaryIO], object]
Content = bytes | bytearray | memoryview | str | Writer

_CHUNK = 1 << 16  # large buffers go down in pieces: some file systems reject huge single writes


def fsync_dir(folder: str | os.PathLike[str]) -> None:
    """Make a rename in `folder` durable (POSIX); a harmless no-op where unsupported."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def temp_path_for(target: str | os.PathLike[str]) -> Path:
    """A fresh hidden temp path next to `target`, matching `TEMP_NAME_RE`. The name is cut so
    that the temp name stays within the 255-byte limit of common file systems."""
    target = Path(target)
    return target.with_name(f".{target.name[:120]}.{secrets.token_hex(4)}.tmp")


def unlink_quiet(path: str | os.PathLike[str] | None) -> None:
    """Delete `path` if it is there. Clean-up must never mask the error that caused it, so a
    missing file is fine and any other failure is only logged."""
    if path is None:
        return
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as e:
        log.warning("could not delete %s: %s", path, e)


def atomic_write(
    path: str | os.PathLike[str],
    content: Content,
    *,
    exclusive: bool = False,
    follow_symlinks: bool = False,
    make_parents: bool = True,
) -> Path:
    """Write `content` to `path` atomically and durably; return the path written.

    `content` is bytes (bytearray, memoryview), a str (written as UTF-8, newlines untouched),
    or a writer: a callable that receives the temp file open for binary writing, e.g.
    ``lambda fh: image.save(fh, format="PNG")``, or a streamed download that hashes as it
    writes and raises when the checksum is wrong. The writer must not close the file; its
    return value is ignored (keep results in a closure).

    - The temp file is created with the usual 0o666 & ~umask permissions; an existing
      target's mode is kept.
    - `exclusive`: never replace an existing file; raises FileExistsError (the temp is
      removed) when `path` exists, decided atomically by a hard link where the file system
      has them. Callers that pick a free name (``name_1``, ``name_2``...) loop on it.
    - `follow_symlinks`: when `path` is a symlink, replace the file it points to (the
      returned path is then the resolved one) instead of the link itself.
    - `make_parents`: create missing parent folders first.

    Any exception (from the writer, the disk or the rename) propagates unchanged after the
    temp file is removed; the target is then exactly as it was before.
    """
    target = Path(path)
    if follow_symlinks and target.is_symlink():
        target = Path(os.path.realpath(target))
    if make_parents:
        target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(target)
    try:
        with open(tmp, "xb") as fh:  # "x": never reuse a name someone else just made
            _write_content(fh, content)
            fh.flush()
            os.fsync(fh.fileno())
        _keep_mode(tmp, target)
        if exclusive:
            _link_into_place(tmp, target)
        else:
            os.replace(tmp, target)
    except BaseException:
        unlink_quiet(tmp)
        raise
    fsync_dir(target.parent)
    return target


def _write_content(fh: BinaryIO, content: Content) -> None:
    if callable(content):
        content(fh)
        return
    data = content.encode("utf-8") if isinstance(content, str) else content
    view = memoryview(data)
    fh.writelines(view[i : i + _CHUNK] for i in range(0, len(view), _CHUNK))


def _keep_mode(tmp: Path, target: Path) -> None:
    """An edited file keeps the permissions its owner gave it."""
    try:
        os.chmod(tmp, stat.S_IMODE(target.stat().st_mode))
    except OSError:
        pass


def _link_into_place(tmp: Path, target: Path) -> None:
    """Move `tmp` to `target` only if `target` does not exist. A hard link fails atomically
    when the name is taken, so a file created meanwhile is never clobbered; without hard
    links (FAT, some network shares) it falls back to check-then-rename."""
    if target.exists() or target.is_symlink():
        raise FileExistsError(f"{target} exists")
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise
    except OSError:
        if target.exists() or target.is_symlink():
            raise FileExistsError(f"{target} exists") from None
        os.replace(tmp, target)
        return
    unlink_quiet(tmp)
