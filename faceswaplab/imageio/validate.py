"""Limits and refusals shared by every way an image comes in.

A user must never see a Pillow traceback, and a decompression bomb must cost nothing: the
size is checked from the header before any pixel is decoded, and everything Pillow raises
while decoding is turned into one `ImageError` that names the file and says what to do.
Pillow's process-wide settings are never changed, because the web-ui and other extensions
share them.
"""

from __future__ import annotations

import os
import re
import stat
import struct
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Union

from PIL import Image, UnidentifiedImageError

from ..errors import FaceSwapLabError, ImageError

__all__ = ["DEFAULT_MAX_PIXELS", "PathLike", "check_path", "check_size", "decode_errors"]

#: Largest image accepted by default: 100 million pixels (100 MP, e.g. 10000x10000).
#: Far above any photo a face swap needs, far below what would exhaust memory when decoded
#: (an RGB 100 MP image is 300 MB, and the pipeline holds a few copies).
DEFAULT_MAX_PIXELS = 100_000_000

_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error, IndexError)

PathLike = Union[str, "os.PathLike[str]"]


def _mp(pixels: int) -> str:
    """Megapixels for messages: 900_000_000 -> '900', 1_234_567 -> '1.235'."""
    return f"{pixels / 1e6:.4g}"


def check_size(width: int, height: int, label: str, max_pixels: int) -> None:
    """Refuse empty images and images above `max_pixels`, from the size alone.

    Called with the size from the file header, before any pixel is decoded, so a 40000x40000
    bomb costs nothing. Pillow's own check is not relied on: the web-ui and other extensions
    sometimes set ``Image.MAX_IMAGE_PIXELS = None``.
    """
    if width <= 0 or height <= 0:
        raise ImageError(
            f"{label} has zero size ({width}x{height}); there is nothing to process — "
            "re-save it as PNG or JPEG from an image editor"
        )
    pixels = int(width) * int(height)
    if pixels > max_pixels:
        raise ImageError(
            f"{label} is too large: the image is {width}x{height} = {_mp(pixels)} MP, above the "
            f"{_mp(max_pixels)} MP limit; downscale it first (a face swap never needs that many "
            "pixels)"
        )


def _bomb_error(label: str, exc: Exception, max_pixels: int) -> ImageError:
    """Turn Pillow's DecompressionBombError/Warning into our message.

    Pillow raises it inside ``Image.open``, before we can read the size ourselves; its
    message holds the pixel count, which we reuse when we can.
    """
    m = re.search(r"\((\d+) pixels\)", str(exc))
    if m and int(m.group(1)) > max_pixels:
        detail = f"the header says {_mp(int(m.group(1)))} MP"
        limit = f"above the {_mp(max_pixels)} MP limit"
    elif m:
        detail = f"the header says {_mp(int(m.group(1)))} MP"
        limit = "above Pillow's own decompression-bomb limit (PIL.Image.MAX_IMAGE_PIXELS)"
    else:
        detail, limit = "it is far larger than any photo", "refused as a possible decompression bomb"
    return ImageError(
        f"{label} is too large: {detail}, {limit}; downscale it first (a face swap never needs "
        "that many pixels)"
    )


@contextmanager
def decode_errors(label: str, max_pixels: int) -> Iterator[None]:
    """Map everything Pillow raises while identifying/decoding into one ImageError.

    Also silences Pillow's DecompressionBombWarning: the size limit is enforced by
    `check_size` with our own threshold, so the warning would only be noise (and an error
    under ``-W error``). ``catch_warnings`` touches only the warnings filters of this
    category, never Pillow's settings.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            yield
    except FaceSwapLabError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _bomb_error(label, exc, max_pixels) from exc
    except UnidentifiedImageError as exc:
        raise ImageError(
            f"{label} is not an image file that can be read (unknown or unsupported format); "
            "re-save it as PNG or JPEG"
        ) from exc
    except MemoryError as exc:
        raise ImageError(
            f"{label} needs more memory to decode than is available; downscale it or re-save "
            "it as a smaller PNG or JPEG"
        ) from exc
    except _DECODE_ERRORS as exc:
        raise ImageError(
            f"{label} is truncated or corrupt ({exc}); copy or download it again, or re-save it "
            "as PNG or JPEG"
        ) from exc


def check_path(path: Path, label: str) -> None:
    """Give a precise message for the usual reasons a path cannot be an image."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ImageError(f"{label} does not exist; check the path and the file name") from None
    except PermissionError:
        raise ImageError(f"{label} cannot be read (permission denied); check its permissions") from None
    except OSError as exc:
        raise ImageError(f"{label} cannot be read ({exc.strerror or exc}); check the path") from None
    if stat.S_ISDIR(st.st_mode):
        raise ImageError(f"{label} is a folder, not an image file; give the path of one image file")
    if not stat.S_ISREG(st.st_mode):
        raise ImageError(f"{label} is not a regular file; give the path of an image file")
    if st.st_size == 0:
        raise ImageError(
            f"{label} is empty (0 bytes); the copy or download probably failed — get the file "
            "again, or re-save it as PNG or JPEG"
        )
