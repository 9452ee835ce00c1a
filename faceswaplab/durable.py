"""Making a finished write survive a crash: both atomic writers (images, checkpoints) write a
temp file, fsync it, os.replace it into place, then fsync the folder so the rename itself is
on disk."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(folder: Path) -> None:
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
