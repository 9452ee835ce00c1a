"""Decoding: paths, bytes, base64, PIL images and numpy arrays in, one `LoadedImage` out.

Everything that reads pixels goes through `load_image`, so the rest of FaceSwapLab only
ever sees one shape of data; truncated files are refused rather than padded with grey,
and bombs are refused from their header (see `validate`).
"""

from __future__ import annotations

import base64
import binascii
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image

from ..errors import ImageError
from .colour import ORIENTATIONS, arrays_from_numpy, arrays_from_pil, owned_uint8
from .metadata import ImageMeta, read_meta
from .validate import DEFAULT_MAX_PIXELS, PathLike, check_path, check_size, decode_errors

__all__ = ["ImageSource", "LoadedImage", "decode_base64_image", "from_pil", "load_image"]

ImageSource = Union[PathLike, bytes, bytearray, memoryview, Image.Image, np.ndarray, "LoadedImage"]


@dataclass
class LoadedImage:
    """A decoded, normalised image: the only pixel format the rest of FaceSwapLab handles."""

    rgb: np.ndarray  #: (H, W, 3) uint8, C-contiguous, writable, upright
    alpha: np.ndarray | None  #: (H, W) uint8, or None when the input had no transparency
    meta: ImageMeta
    source: str  #: path, or a description such as '<PIL image>'
    warnings: list[str] = field(default_factory=list)  #: things the user should know

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), in PIL's order."""
        return self.width, self.height


def _from_opened(img: Image.Image, *, label: str, source: str, max_pixels: int) -> LoadedImage:
    """The one normalisation path for files, bytes and PIL images (see `load_image`)."""
    notes: list[str] = []
    with decode_errors(label, max_pixels):
        width, height = img.size  # from the header: nothing is decoded yet
        check_size(width, height, label, max_pixels)
        if getattr(img, "is_animated", False):
            frame = img.tell()
            notes.append(
                f"{label} has several frames (animation, pages or MPO); only frame {frame + 1} "
                "is used"
            )
        img.load()  # full decode now: truncated data raises here, not later in the pipeline
        meta, orientation = read_meta(img, label, notes)
    rgb, alpha = arrays_from_pil(img, label, notes)
    if orientation != 1:
        rgb = ORIENTATIONS[orientation](rgb)
        alpha = ORIENTATIONS[orientation](alpha) if alpha is not None else None
    return LoadedImage(
        rgb=owned_uint8(rgb),
        alpha=owned_uint8(alpha) if alpha is not None else None,
        meta=meta,
        source=source,
        warnings=notes,
    )


# --------------------------------------------------------------------------- public: loading


def from_pil(img: Image.Image, *, what: str = "image", max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Normalise a PIL image exactly like `load_image` does for a file.

    EXIF orientation is applied when the image still carries it (ImageOps.exif_transpose
    semantics), so an image that was opened but not yet transposed comes out upright. The
    caller's image is not modified, except that a lazily opened one gets decoded.
    """
    filename = getattr(img, "filename", "") or ""
    if isinstance(filename, bytes):
        filename = os.fsdecode(filename)
    source = str(filename) if filename else "<PIL image>"
    label = f"{what} '{filename}'" if filename else f"{what} (PIL image)"
    return _from_opened(img, label=label, source=source, max_pixels=max_pixels)


def load_image(
    src: ImageSource,
    *,
    what: str = "image",
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> LoadedImage:
    """Decode `src` into an upright RGB uint8 array plus optional alpha and metadata.

    `src` may be a path (str or Path, non-ASCII fine), encoded bytes, a PIL image, a numpy
    array (HxW grey, HxWx3 RGB, HxWx4 RGBA; uint8, uint16 scaled to 8 bit, float in 0..1,
    bool) or a `LoadedImage` (returned as is). `what` names the role in error messages
    ("source image 'a.jpg' ..."). Images above `max_pixels` pixels (default
    DEFAULT_MAX_PIXELS = 100 MP) are refused from their header, before decoding.

    Raises ImageError for anything that is not a complete, decodable, non-empty image.
    Animated or multi-page files give their first frame and a note in ``warnings``.
    """
    if isinstance(src, LoadedImage):
        return src
    if isinstance(src, Image.Image):
        return from_pil(src, what=what, max_pixels=max_pixels)
    if isinstance(src, np.ndarray):
        label = f"{what} (numpy array)"
        if src.ndim >= 2:
            check_size(int(src.shape[1]), int(src.shape[0]), label, max_pixels)
        elif src.size == 0:
            check_size(0, 0, label, max_pixels)
        rgb, alpha = arrays_from_numpy(src, label)
        return LoadedImage(
            rgb=owned_uint8(rgb),
            alpha=owned_uint8(alpha) if alpha is not None else None,
            meta=ImageMeta(),
            source="<numpy array>",
            warnings=[],
        )
    if isinstance(src, (bytes, bytearray, memoryview)):
        data = bytes(src)
        label = f"{what} (in-memory data, {len(data)} bytes)"
        if not data:
            raise ImageError(f"{label} is empty; nothing was received — send the image again")
        with decode_errors(label, max_pixels), Image.open(io.BytesIO(data)) as img:
            return _from_opened(img, label=label, source="<bytes>", max_pixels=max_pixels)
    if isinstance(src, (str, os.PathLike)):
        if isinstance(src, str) and not src.strip():
            raise ImageError(f"no {what} given (empty path)")
        path = Path(src)
        label = f"{what} '{path}'"
        check_path(path, label)
        with decode_errors(label, max_pixels), Image.open(path) as img:
            return _from_opened(img, label=label, source=str(path), max_pixels=max_pixels)
    raise ImageError(
        f"cannot read the {what} from a {type(src).__name__}; pass a file path, encoded bytes, "
        "a PIL image or a numpy array"
    )


def decode_base64_image(
    data: str | bytes, *, what: str = "image", max_pixels: int = DEFAULT_MAX_PIXELS
) -> LoadedImage:
    """Decode a base64 image from an HTTP request (``data:image/png;base64,`` prefix optional;
    whitespace, missing padding and the URL-safe alphabet are tolerated)."""
    text = data.decode("ascii", "replace") if isinstance(data, (bytes, bytearray)) else str(data)
    text = text.strip()
    if text[:5].lower() == "data:":
        header, sep, payload = text.partition(",")
        if not sep or ";base64" not in header.lower():
            raise ImageError(
                f"{what} is a data: URL without ';base64,' ; send it as "
                "'data:image/png;base64,<base64 data>' or as plain base64"
            )
        text = payload
    text = "".join(text.split())
    if not text:
        raise ImageError(f"{what} is empty; send the image as base64-encoded PNG or JPEG")
    text += "=" * (-len(text) % 4)
    try:
        if "-" in text or "_" in text:
            raw = base64.urlsafe_b64decode(text.encode("ascii"))
        else:
            raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
        raise ImageError(f"{what} is not valid base64 ({exc}); send the image file's bytes base64-encoded") from exc
    loaded = load_image(raw, what=what, max_pixels=max_pixels)
    loaded.source = "<base64>"
    return loaded
