"""Encoding: atomic image files and base64 for HTTP answers, with their metadata.

Writes go through `durable.atomic_write`, so a crash or a full disk never leaves a
half-written image and an existing file is only replaced by a complete one.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..durable import atomic_write
from ..errors import BadInputError, FaceSwapLabError, ImageError, OptionsError, WriteError
from ..options.job import DEFAULT_PNG_COMPRESSION
from .colour import arrays_from_numpy
from .metadata import ImageMeta, encode_params
from .validate import PathLike

__all__ = ["IMAGE_EXTENSIONS", "SAVE_FORMATS", "encode_image_base64", "is_image_file", "save_image", "to_pil"]

#: Output extension -> Pillow format. Also the formats `save_image` can write.
SAVE_FORMATS: dict[str, str] = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}

#: Extensions that folder jobs pick up. Only formats we can also write, so that an output
#: can keep its input's name and extension (GIF, for instance, is readable but not listed).
IMAGE_EXTENSIONS: tuple[str, ...] = tuple(SAVE_FORMATS)

_ALPHA_FORMATS = frozenset({"PNG", "WEBP", "TIFF"})


def to_pil(rgb: np.ndarray, alpha: np.ndarray | None = None) -> Image.Image:
    """(H, W, 3) uint8 RGB [+ (H, W) uint8 alpha] -> PIL RGB or RGBA image (pixels copied).

    Other array forms accepted by `load_image` (grey, RGBA, uint16, float) are normalised
    first; an explicit `alpha` replaces any alpha channel in `rgb`.
    """
    if not isinstance(rgb, np.ndarray):
        raise ImageError(f"expected a numpy array of pixels, got {type(rgb).__name__}")
    rgb8, alpha8 = arrays_from_numpy(rgb, "image (numpy array)")
    if alpha is not None:
        if not isinstance(alpha, np.ndarray):
            raise ImageError(f"expected the alpha as a numpy array, got {type(alpha).__name__}")
        a = alpha[..., 0] if alpha.ndim == 3 and alpha.shape[2] == 1 else alpha
        if a.ndim != 2 or a.shape != rgb8.shape[:2]:
            raise ImageError(
                f"alpha has shape {alpha.shape} but the image is {rgb8.shape[1]}x{rgb8.shape[0]}; "
                "they must match"
            )
        alpha8 = arrays_from_numpy(a, "alpha (numpy array)")[0][..., 0]
    if rgb8.shape[0] == 0 or rgb8.shape[1] == 0:
        raise ImageError(f"cannot make an image of zero size ({rgb8.shape[1]}x{rgb8.shape[0]})")
    if alpha8 is None:
        return Image.fromarray(np.ascontiguousarray(rgb8))
    return Image.fromarray(np.ascontiguousarray(np.dstack([rgb8, alpha8])))


def _format_for(ext_or_fmt: str, what: str) -> str:
    key = ext_or_fmt.lower().strip()
    if key and not key.startswith("."):
        key = "." + key
    fmt = SAVE_FORMATS.get(key)
    if fmt is None:
        supported = ", ".join(SAVE_FORMATS)
        shown = ext_or_fmt or "(none)"
        raise ImageError(f"{what}: cannot write images with extension {shown!r}; use one of {supported}")
    return fmt


def _png_level(level: Any) -> int:
    if isinstance(level, bool) or not isinstance(level, (int, np.integer)) or not 0 <= int(level) <= 9:
        raise OptionsError(f"png_compression must be a whole number from 0 to 9, got {level!r}")
    return int(level)


def _prepare(
    rgb: np.ndarray,
    alpha: np.ndarray | None,
    fmt: str,
    meta: ImageMeta | None,
    mark_edited: bool,
    quality: int,
    png_compression: int = DEFAULT_PNG_COMPRESSION,
) -> tuple[Image.Image, dict[str, Any]]:
    level = _png_level(png_compression)
    img = to_pil(rgb, alpha)
    if img.mode == "RGBA" and fmt not in _ALPHA_FORMATS:
        img = img.convert("RGB")  # JPEG/BMP: no alpha
    params = encode_params(fmt, meta, mark_edited=mark_edited, quality=quality)
    if fmt == "PNG":
        params["compress_level"] = level  # text chunks, EXIF and ICC are unaffected
    return img, params


def _write_error(path: Path, exc: BaseException) -> FaceSwapLabError:
    """File-system failures (disk full, permissions) vs the encoder refusing the image."""
    if isinstance(exc, OSError) and exc.errno is not None:
        return WriteError(  # exit 6: could not write the output
            f"could not write '{path}': {exc.strerror or exc}; check that the folder is writable "
            "and that there is free disk space"
        )
    return ImageError(
        f"could not encode '{path}' as {path.suffix.lstrip('.').upper()} ({exc}); try another "
        "format such as PNG (JPEG is limited to 65535 pixels per side, WebP to 16383)"
    )


def save_image(
    path: PathLike,
    rgb: np.ndarray,
    *,
    alpha: np.ndarray | None = None,
    meta: ImageMeta | None = None,
    mark_edited: bool = True,
    quality: int = 95,
    png_compression: int = DEFAULT_PNG_COMPRESSION,
) -> Path:
    """Write an image atomically, in the format given by the extension of `path`.

    Metadata from `meta` is carried where the format allows: PNG text chunks (PNG only),
    EXIF and ICC (PNG, JPEG, WebP, TIFF). Alpha is kept for PNG/WebP/TIFF and dropped for
    JPEG/BMP. With `mark_edited`, the file says it was edited by FaceSwapLab: a PNG
    ``faceswaplab`` text chunk, and EXIF Software = "FaceSwapLab <version>" in every format
    with EXIF (other EXIF tags kept). `quality` (1..100) applies to JPEG and WebP (100 =
    lossless WebP); `png_compression` (0..9, default 1: fast) to PNG.

    The write is atomic (`durable.atomic_write`): a crash or a full disk never leaves a
    half-written image, and an existing file is only replaced by a complete one, keeping its
    permissions; a symlink's target is replaced, not the link. Parent folders are created.
    Returns the path written.
    """
    path = Path(path)
    fmt = _format_for(path.suffix, f"output '{path}'")
    img, params = _prepare(rgb, alpha, fmt, meta, mark_edited, quality, png_compression)
    try:
        if path.is_dir():
            raise BadInputError(f"output '{path}' is a folder; give the path of an image file to write")
        atomic_write(path, lambda fh: img.save(fh, format=fmt, **params), follow_symlinks=True)
    except FaceSwapLabError:
        raise
    except (OSError, ValueError) as exc:
        raise _write_error(path, exc) from exc
    return path


def encode_image_base64(
    rgb: np.ndarray,
    alpha: np.ndarray | None = None,
    meta: ImageMeta | None = None,
    fmt: str = "png",
    *,
    mark_edited: bool = True,
    quality: int = 95,
    png_compression: int = DEFAULT_PNG_COMPRESSION,
) -> str:
    """Encode for an HTTP API: plain base64 (no ``data:`` prefix) of a PNG/JPEG/WebP/... file,
    with the same metadata handling as `save_image`."""
    pil_fmt = _format_for(fmt, "encode_image_base64")
    img, params = _prepare(rgb, alpha, pil_fmt, meta, mark_edited, quality, png_compression)
    buf = io.BytesIO()
    try:
        img.save(buf, format=pil_fmt, **params)
    except (OSError, ValueError) as exc:
        raise ImageError(f"could not encode the image as {pil_fmt} ({exc}); try PNG") from exc
    return base64.b64encode(buf.getvalue()).decode("ascii")


def is_image_file(path: PathLike) -> bool:
    """True when `path` has an image extension folder jobs should process (by name only).

    Hidden files are skipped: our own temporary files (``.name.xxxx.tmp``) and macOS
    ``._photo.jpg`` resource forks, which have image extensions but are not images.
    """
    p = Path(path)
    return not p.name.startswith(".") and p.suffix.lower() in SAVE_FORMATS
