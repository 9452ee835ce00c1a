"""Decode and normalise images (EXIF orientation, colour modes, bit depth, size limits) and
save them atomically with their metadata.

Everything that reads pixels goes through `load_image`, so the rest of FaceSwapLab only ever
sees one shape of data: an upright ``(H, W, 3)`` contiguous ``uint8`` RGB array, plus an
optional ``(H, W)`` ``uint8`` alpha. Face detection gives wrong or no results on sideways
photos, on 16-bit images clipped to white or on CMYK pixels read as RGB, so all of that is
settled here, once.

Every unusable input raises `ImageError` (CLI exit code 2) with a message that names the
file, says what is wrong and what to do; a user must never see a Pillow traceback.

Safety: decompression bombs are refused from the header (before any pixel is decoded),
truncated files are refused rather than padded with grey, and Pillow's process-wide settings
(``Image.MAX_IMAGE_PIXELS``, ``ImageFile.LOAD_TRUNCATED_IMAGES``) are never changed, because
the web-ui and other extensions share them.

Works with Pillow >= 9.5 and numpy >= 1.26 (the web-ui's pins).
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import re
import secrets
import stat
import struct
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import numpy as np
from PIL import Image, PngImagePlugin, UnidentifiedImageError

from . import TOOL_NAME, __version__
from .durable import fsync_dir
from .errors import BadInputError, FaceSwapLabError, ImageError, OptionsError

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTENSIONS",
    "SAVE_FORMATS",
    "ImageMeta",
    "LoadedImage",
    "load_image",
    "from_pil",
    "to_pil",
    "save_image",
    "read_edit_mark",
    "decode_base64_image",
    "encode_image_base64",
    "is_image_file",
    "edit_mark_text",
    "edit_mark_software",
]

#: Largest image accepted by default: 100 million pixels (100 MP, e.g. 10000x10000).
#: Far above any photo a face swap needs, far below what would exhaust memory when decoded
#: (an RGB 100 MP image is 300 MB, and the pipeline holds a few copies).
DEFAULT_MAX_PIXELS = 100_000_000

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
_EXIF_FORMATS = frozenset({"PNG", "JPEG", "WEBP", "TIFF"})
_ICC_FORMATS = frozenset({"PNG", "JPEG", "WEBP", "TIFF"})

_TAG_ORIENTATION = 0x0112
_TAG_SOFTWARE = 0x0131
_TAG_EXIF_IFD = 0x8769
_TAG_MAKERNOTE = 0x927C

#: PNG text chunk holding the edit mark.
MARK_CHUNK = "faceswaplab"

# Text chunks that hold EXIF in disguise (ImageMagick style). Pillow's getexif() reads them,
# so we move their content into `ImageMeta.exif` and drop them: carried as-is, they would
# bring back the orientation we already applied and the image would be rotated twice.
_EXIF_TEXT_KEYS = frozenset({"Raw profile type exif", "Raw profile type APP1"})
# str-valued `info` entries that are not text chunks (a converted TIFF keeps "compression").
_NOT_TEXT_KEYS = _EXIF_TEXT_KEYS | {"compression"}
_XMP_KEY = "XML:com.adobe.xmp"
_XMP_ORIENTATION = (
    re.compile(r'tiff:Orientation="([0-9])"'),
    re.compile(r"<tiff:Orientation>([0-9])</tiff:Orientation>"),
)

_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error, IndexError)

PathLike = Union[str, "os.PathLike[str]"]
ImageSource = Union[PathLike, bytes, bytearray, memoryview, Image.Image, np.ndarray, "LoadedImage"]


def edit_mark_text() -> str:
    """Value of the PNG ``faceswaplab`` text chunk written by `save_image`."""
    return f"edited by {TOOL_NAME} {__version__}"


def edit_mark_software() -> str:
    """Value of EXIF Software (0x0131) written by `save_image`."""
    return f"{TOOL_NAME} {__version__}"


# --------------------------------------------------------------------------- data types


@dataclass
class ImageMeta:
    """Metadata worth carrying from an input image to the saved result.

    Kept apart from the pixels so that the swap pipeline can ignore it, and `save_image` can
    write it back: people rely on the web-ui's ``parameters`` chunk, on EXIF (camera, date)
    and on the ICC profile (without it, wide-gamut photos come out dull).
    """

    format: str | None = None
    #: PNG tEXt/iTXt/zTXt chunks (e.g. the web-ui's ``parameters``), or ``str`` values of a
    #: PIL image's ``info`` when the image did not come from a file.
    text: dict[str, str] = field(default_factory=dict)
    #: Raw EXIF (``b"Exif\\0\\0"`` + TIFF structure). If the orientation was applied to the
    #: pixels, its tag is reset to 1 here so that viewers do not rotate the result again.
    exif: bytes | None = None
    #: ICC profile; only kept when it describes RGB data (a CMYK or grey profile does not
    #: apply to our RGB pixels and would make viewers show wrong colours).
    icc_profile: bytes | None = None


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


# --------------------------------------------------------------------------- helpers


def _mp(pixels: int) -> str:
    """Megapixels for messages: 900_000_000 -> '900', 1_234_567 -> '1.235'."""
    return f"{pixels / 1e6:.4g}"


def _check_size(width: int, height: int, label: str, max_pixels: int) -> None:
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
def _decode_errors(label: str, max_pixels: int) -> Iterator[None]:
    """Map everything Pillow raises while identifying/decoding into one ImageError.

    Also silences Pillow's DecompressionBombWarning: the size limit is enforced by
    `_check_size` with our own threshold, so the warning would only be noise (and an error
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


def _check_path(path: Path, label: str) -> None:
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


def _icc_colour_space(icc: bytes) -> bytes:
    """The 'data colour space' field of an ICC header (b'RGB ', b'GRAY', b'CMYK', ...)."""
    return icc[16:20] if len(icc) >= 20 else b""


def _exif_bytes(exif: Image.Exif) -> bytes:
    raw = exif.tobytes()
    return raw if raw.startswith(b"Exif\x00\x00") else b"Exif\x00\x00" + raw


def _with_exif_prefix(raw: bytes) -> bytes:
    """JPEG needs the APP1 'Exif\\0\\0' prefix; PNG and WebP strip it themselves."""
    raw = bytes(raw)
    return raw if raw.startswith(b"Exif\x00\x00") else b"Exif\x00\x00" + raw


# --------------------------------------------------------------------------- bit depth


def _u16_to_u8(arr: np.ndarray) -> np.ndarray:
    """Scale 0..65535 to 0..255 with rounding (65535 -> 255, 32768 -> 128), not clipping."""
    a = np.clip(arr.astype(np.int64), 0, 65535)
    return ((a * 255 + 32767) // 65535).astype(np.uint8)


def _float_to_u8(arr: np.ndarray, label: str) -> np.ndarray:
    """Floats are taken as 0..1 (the convention of torch/skimage). Small overshoot from
    resampling is clipped; a range like 0..255 is refused rather than silently whitened."""
    a = arr.astype(np.float64)
    if not np.all(np.isfinite(a)):
        raise ImageError(f"{label} contains NaN or infinite values; fix the array before passing it")
    lo, hi = float(a.min()), float(a.max())
    if lo < -0.5 or hi > 1.5:
        raise ImageError(
            f"{label} is a float array with values from {lo:g} to {hi:g}; float images must be "
            "in 0..1 — divide by 255 or pass a uint8 array"
        )
    return np.rint(np.clip(a, 0.0, 1.0) * 255.0).astype(np.uint8)


def _int_to_u8(arr: np.ndarray, label: str) -> np.ndarray:
    """Integer pixels: uint16 is scaled from 0..65535; any other integer type must already
    be in 0..255 (int64 0..255 is what torch and many array libraries hand over)."""
    if arr.dtype == np.uint16:
        return _u16_to_u8(arr)
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0 or hi > 255:
        raise ImageError(
            f"{label} has {arr.dtype} values from {lo} to {hi}; expected 0..255 (uint8), "
            "0..65535 (uint16) or floats in 0..1"
        )
    return arr.astype(np.uint8)


def _high_depth_gray(img: Image.Image, label: str, notes: list[str]) -> np.ndarray:
    """Grey modes wider than 8 bit (I;16*, I, F) -> uint8 by scaling.

    ``I;16`` is 16-bit by definition. Mode ``I`` is what Pillow < 10 gives for 16-bit grey
    PNGs, so for PNG it is 16-bit too; otherwise its range decides (<= 255: already 8-bit
    values, <= 65535: 16-bit, else 32-bit).
    """
    arr = np.array(img)
    if img.mode.startswith("I;16"):
        return _u16_to_u8(arr)
    if img.mode == "F":
        a = np.nan_to_num(arr.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        hi = float(a.max()) if a.size else 0.0
        if hi <= 1.0:
            return np.rint(np.clip(a, 0.0, 1.0) * 255.0).astype(np.uint8)
        if hi > 255.0:
            notes.append(f"{label} is a floating-point image with values above 255; they were clipped")
        return np.rint(np.clip(a, 0.0, 255.0)).astype(np.uint8)
    # mode "I" (int32)
    a = arr.astype(np.int64)
    hi = int(a.max()) if a.size else 0
    if img.format == "PNG" or 255 < hi <= 65535:
        return _u16_to_u8(a)
    if hi <= 255:
        return np.clip(a, 0, 255).astype(np.uint8)
    return (np.clip(a, 0, 2**31 - 1) * 255 // (2**31 - 1)).astype(np.uint8)


# --------------------------------------------------------------------------- colour modes


def _cmyk_to_rgb(img: Image.Image, icc: bytes | None, notes: list[str]) -> Image.Image:
    """CMYK -> RGB, through the embedded CMYK profile when there is one (print files look
    very wrong with the naive formula), else Pillow's naive conversion."""
    if icc and _icc_colour_space(icc) == b"CMYK":
        try:
            from PIL import ImageCms

            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            dst = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
            out = ImageCms.profileToProfile(img, src, dst, outputMode="RGB")
            if out is not None:
                return out
        except Exception:  # littlecms missing or a broken profile: fall back, but say so
            notes.append("its CMYK colour profile could not be applied; colours may be slightly off")
    return img.convert("RGB")


def _pil_to_arrays(img: Image.Image, label: str, notes: list[str]) -> tuple[np.ndarray, np.ndarray | None]:
    """Any Pillow mode -> (rgb, alpha). `img` must already be loaded."""
    try:
        return _convert_mode(img, label, notes)
    except FaceSwapLabError:
        raise
    except (ValueError, OSError, TypeError) as exc:
        raise ImageError(
            f"{label} uses the colour mode {img.mode!r}, which cannot be converted to RGB ({exc}); "
            "re-save it as an 8-bit RGB PNG or JPEG"
        ) from exc


def _convert_mode(img: Image.Image, label: str, notes: list[str]) -> tuple[np.ndarray, np.ndarray | None]:
    mode = img.mode
    info = img.info
    if mode in ("La", "RGBa"):  # premultiplied alpha: Pillow converts these only to LA/RGBA
        img = img.convert("LA" if mode == "La" else "RGBA")
        mode = img.mode
    if mode == "RGB" and "transparency" not in info:
        return np.array(img), None
    if mode in ("RGBA", "LA", "PA", "RGB"):  # RGB here: with a tRNS colour key
        arr = np.array(img.convert("RGBA") if mode != "RGBA" else img)
        return arr[..., :3], arr[..., 3]
    if mode == "P":
        has_alpha = "transparency" in info or (img.palette is not None and img.palette.mode == "RGBA")
        if has_alpha:
            arr = np.array(img.convert("RGBA"))
            return arr[..., :3], arr[..., 3]
        return np.array(img.convert("RGB")), None
    if mode in ("L", "1"):
        if "transparency" in info:  # tRNS grey key colour
            arr = np.array(img.convert("RGBA"))
            return arr[..., :3], arr[..., 3]
        gray = np.array(img.convert("L"))
        return np.repeat(gray[..., None], 3, axis=2), None
    if mode.startswith("I;16") or mode in ("I", "F"):
        gray = _high_depth_gray(img, label, notes)
        return np.repeat(gray[..., None], 3, axis=2), None
    if mode == "CMYK":
        return np.array(_cmyk_to_rgb(img, info.get("icc_profile"), notes)), None
    if mode == "LAB":
        try:
            from PIL import ImageCms

            tr = ImageCms.buildTransform(ImageCms.createProfile("LAB"), ImageCms.createProfile("sRGB"), "LAB", "RGB")
            return np.array(ImageCms.applyTransform(img, tr)), None
        except Exception:
            pass  # fall through to the generic conversion and its error message
    return np.array(img.convert("RGB")), None  # YCbCr, HSV, RGBX, ...


def _array_to_arrays(arr: np.ndarray, label: str) -> tuple[np.ndarray, np.ndarray | None]:
    """numpy input -> (rgb, alpha). 2-D is grey, (...,1) grey, (...,2) grey+alpha,
    (...,3) RGB (not BGR: convert OpenCV images first), (...,4) RGBA."""
    if arr.dtype == object or np.iscomplexobj(arr) or arr.dtype.kind not in "biuf":
        raise ImageError(f"{label} has dtype {arr.dtype}; pass uint8, uint16, bool or float (0..1) pixels")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (2, 3, 4))):
        raise ImageError(
            f"{label} has shape {arr.shape}; expected HxW (grey), HxWx3 (RGB) or HxWx4 (RGBA)"
        )
    if arr.dtype == np.uint8:
        a8 = arr.copy()  # never alias the caller's array
    elif arr.dtype == np.bool_:
        a8 = arr.astype(np.uint8) * 255
    elif arr.dtype.kind == "f":
        a8 = _float_to_u8(arr, label)
    else:
        a8 = _int_to_u8(arr, label)
    if a8.ndim == 2:
        return np.repeat(a8[..., None], 3, axis=2), None
    if a8.shape[2] == 2:
        return np.repeat(a8[..., :1], 3, axis=2), a8[..., 1]
    if a8.shape[2] == 3:
        return a8, None
    return a8[..., :3], a8[..., 3]


def _finish(arr: np.ndarray) -> np.ndarray:
    """Contiguous, writable uint8 memory: callers may modify results in place.

    Every producer hands us arrays it owns (never the caller's input), so this only copies
    views (slices, rotations) and read-only buffers.
    """
    out = np.ascontiguousarray(arr, dtype=np.uint8)
    if not out.flags.writeable:
        out = out.copy()
    return out


# EXIF orientation -> the same transposition as ImageOps.exif_transpose, on numpy arrays
# (cheaper than on PIL images and identical for every mode).
_ORIENT: dict[int, Any] = {
    2: lambda a: a[:, ::-1],  # FLIP_LEFT_RIGHT
    3: lambda a: a[::-1, ::-1],  # ROTATE_180
    4: lambda a: a[::-1],  # FLIP_TOP_BOTTOM
    5: lambda a: a.swapaxes(0, 1),  # TRANSPOSE
    6: lambda a: np.rot90(a, -1),  # ROTATE_270 (90 degrees clockwise)
    7: lambda a: a.swapaxes(0, 1)[::-1, ::-1],  # TRANSVERSE
    8: lambda a: np.rot90(a, 1),  # ROTATE_90 (90 degrees counter-clockwise)
}


def _read_meta(img: Image.Image, label: str, notes: list[str]) -> tuple[ImageMeta, int]:
    """Collect metadata and the EXIF orientation (1 when absent or meaningless).

    Called after ``load()``: some chunks sit after the pixel data, and Pillow already applies
    the orientation of TIFF files on load, which must not be applied twice.
    """
    info = img.info
    orientation = 1
    exif_raw: bytes | None = None
    try:
        exif = img.getexif()
        value = exif.get(_TAG_ORIENTATION, 1)
        orientation = value if isinstance(value, int) and value in _ORIENT else 1
        if img.format == "TIFF":
            # Pillow turns TIFFs upright itself while loading; before 10.1 it leaves the tag
            # in place, so honouring it here would rotate twice.
            orientation = 1
        # Only EXIF proper is carried. A TIFF's getexif() is its own structural IFD
        # (strip offsets, sizes), meaningless in another file.
        if "exif" in info or any(k in info for k in _EXIF_TEXT_KEYS):
            if orientation != 1:
                fresh = Image.Exif()  # a copy: never alter the cached EXIF of a caller's image
                fresh.load(_exif_bytes(exif)[6:])
                fresh[_TAG_ORIENTATION] = 1
                exif_raw = _exif_bytes(fresh)
            elif isinstance(info.get("exif"), (bytes, bytearray)) and info["exif"]:
                exif_raw = _with_exif_prefix(info["exif"])
            elif len(exif):
                exif_raw = _exif_bytes(exif)
    except Exception as exc:  # malformed EXIF must not make a good image unreadable
        notes.append(f"{label} has unreadable EXIF data ({exc}); it was ignored")
        orientation, exif_raw = 1, None

    text: dict[str, str] = {}
    if img.format in (None, "PNG"):
        for key, value in info.items():
            if isinstance(key, str) and isinstance(value, str) and key not in _NOT_TEXT_KEYS:
                text[key] = str(value)
        if orientation != 1 and _XMP_KEY in text:
            for pattern in _XMP_ORIENTATION:
                text[_XMP_KEY] = pattern.sub("", text[_XMP_KEY])

    icc = info.get("icc_profile")
    icc = bytes(icc) if isinstance(icc, (bytes, bytearray)) and icc else None
    if icc is not None and _icc_colour_space(icc) != b"RGB ":
        icc = None  # the pixels are RGB now; a CMYK/grey profile would mislead viewers
    return ImageMeta(format=img.format, text=text, exif=exif_raw, icc_profile=icc), orientation


def _from_opened(img: Image.Image, *, label: str, source: str, max_pixels: int) -> LoadedImage:
    """The one normalisation path for files, bytes and PIL images (see `load_image`)."""
    notes: list[str] = []
    with _decode_errors(label, max_pixels):
        width, height = img.size  # from the header: nothing is decoded yet
        _check_size(width, height, label, max_pixels)
        if getattr(img, "is_animated", False):
            frame = img.tell()
            notes.append(
                f"{label} has several frames (animation, pages or MPO); only frame {frame + 1} "
                "is used"
            )
        img.load()  # full decode now: truncated data raises here, not later in the pipeline
        meta, orientation = _read_meta(img, label, notes)
    rgb, alpha = _pil_to_arrays(img, label, notes)
    if orientation != 1:
        rgb = _ORIENT[orientation](rgb)
        alpha = _ORIENT[orientation](alpha) if alpha is not None else None
    return LoadedImage(
        rgb=_finish(rgb),
        alpha=_finish(alpha) if alpha is not None else None,
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
            _check_size(int(src.shape[1]), int(src.shape[0]), label, max_pixels)
        elif src.size == 0:
            _check_size(0, 0, label, max_pixels)
        rgb, alpha = _array_to_arrays(src, label)
        return LoadedImage(
            rgb=_finish(rgb),
            alpha=_finish(alpha) if alpha is not None else None,
            meta=ImageMeta(),
            source="<numpy array>",
            warnings=[],
        )
    if isinstance(src, (bytes, bytearray, memoryview)):
        data = bytes(src)
        label = f"{what} (in-memory data, {len(data)} bytes)"
        if not data:
            raise ImageError(f"{label} is empty; nothing was received — send the image again")
        with _decode_errors(label, max_pixels):
            with Image.open(io.BytesIO(data)) as img:
                return _from_opened(img, label=label, source="<bytes>", max_pixels=max_pixels)
    if isinstance(src, (str, os.PathLike)):
        if isinstance(src, str) and not src.strip():
            raise ImageError(f"no {what} given (empty path)")
        path = Path(src)
        label = f"{what} '{path}'"
        _check_path(path, label)
        with _decode_errors(label, max_pixels):
            with Image.open(path) as img:
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


# --------------------------------------------------------------------------- public: saving


def to_pil(rgb: np.ndarray, alpha: np.ndarray | None = None) -> Image.Image:
    """(H, W, 3) uint8 RGB [+ (H, W) uint8 alpha] -> PIL RGB or RGBA image (pixels copied).

    Other array forms accepted by `load_image` (grey, RGBA, uint16, float) are normalised
    first; an explicit `alpha` replaces any alpha channel in `rgb`.
    """
    if not isinstance(rgb, np.ndarray):
        raise ImageError(f"expected a numpy array of pixels, got {type(rgb).__name__}")
    rgb8, alpha8 = _array_to_arrays(rgb, "image (numpy array)")
    if alpha is not None:
        if not isinstance(alpha, np.ndarray):
            raise ImageError(f"expected the alpha as a numpy array, got {type(alpha).__name__}")
        a = alpha[..., 0] if alpha.ndim == 3 and alpha.shape[2] == 1 else alpha
        if a.ndim != 2 or a.shape != rgb8.shape[:2]:
            raise ImageError(
                f"alpha has shape {alpha.shape} but the image is {rgb8.shape[1]}x{rgb8.shape[0]}; "
                "they must match"
            )
        alpha8 = _array_to_arrays(a, "alpha (numpy array)")[0][..., 0]
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


def _encode_params(
    fmt: str, meta: ImageMeta | None, *, mark_edited: bool, quality: int
) -> dict[str, Any]:
    """Pillow save() arguments: quality, ICC, EXIF (+ Software mark), PNG text (+ mark)."""
    if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 100:
        raise OptionsError(f"quality must be a whole number from 1 to 100, got {quality!r}")
    meta = meta or ImageMeta()
    params: dict[str, Any] = {}
    if fmt == "JPEG":
        params["quality"] = quality
    elif fmt == "WEBP":
        params["quality"] = quality
        params["lossless"] = quality >= 100
    elif fmt == "PNG":
        params["compress_level"] = 6
    if fmt in _ICC_FORMATS and meta.icc_profile:
        params["icc_profile"] = meta.icc_profile
    if fmt in _EXIF_FORMATS and (meta.exif or mark_edited):
        exif = Image.Exif()
        if meta.exif:
            try:
                exif.load(_with_exif_prefix(meta.exif)[6:])
                # Maker notes hold offsets that break once re-serialised, and often an
                # embedded preview of the *original* picture: drop them. (Re-serialising
                # also drops the IFD1 thumbnail, for the same reason.)
                exif_ifd = exif.get_ifd(_TAG_EXIF_IFD)
                exif_ifd.pop(_TAG_MAKERNOTE, None)
            except Exception:
                exif = Image.Exif()  # unreadable EXIF: write a fresh one rather than fail
        if mark_edited:
            exif[_TAG_SOFTWARE] = edit_mark_software()
        if len(exif):
            params["exif"] = _exif_bytes(exif)
    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        for key, value in meta.text.items():
            if mark_edited and key == MARK_CHUNK:
                continue
            if not (isinstance(key, str) and 1 <= len(key) <= 79) or key in _EXIF_TEXT_KEYS:
                continue
            try:
                key.encode("latin-1")
            except UnicodeEncodeError:
                continue  # PNG keywords are Latin-1; such a key cannot be written
            if key == _XMP_KEY:
                info.add_itxt(key, str(value))
            else:
                info.add_text(key, str(value))  # falls back to iTXt for non-Latin-1 text
        if mark_edited:
            info.add_text(MARK_CHUNK, edit_mark_text())
        params["pnginfo"] = info
    return params


def _prepare(
    rgb: np.ndarray,
    alpha: np.ndarray | None,
    fmt: str,
    meta: ImageMeta | None,
    mark_edited: bool,
    quality: int,
) -> tuple[Image.Image, dict[str, Any]]:
    img = to_pil(rgb, alpha)
    if img.mode == "RGBA" and fmt not in _ALPHA_FORMATS:
        img = img.convert("RGB")  # JPEG/BMP: no alpha
    return img, _encode_params(fmt, meta, mark_edited=mark_edited, quality=quality)


def _write_error(path: Path, exc: BaseException) -> FaceSwapLabError:
    """File-system failures (disk full, permissions) vs the encoder refusing the image."""
    if isinstance(exc, OSError) and exc.errno is not None:
        return FaceSwapLabError(
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
) -> Path:
    """Write an image atomically, in the format given by the extension of `path`.

    Metadata from `meta` is carried where the format allows: PNG text chunks (PNG only),
    EXIF and ICC (PNG, JPEG, WebP, TIFF). Alpha is kept for PNG/WebP/TIFF and dropped for
    JPEG/BMP. With `mark_edited`, the file says it was edited by FaceSwapLab: a PNG
    ``faceswaplab`` text chunk, and EXIF Software = "FaceSwapLab <version>" in every format
    with EXIF (other EXIF tags kept). `quality` (1..100) applies to JPEG and WebP (100 =
    lossless WebP).

    The data go to a hidden temporary file in the same folder, flushed to disk, then
    ``os.replace`` swaps it in: a crash or a full disk never leaves a half-written image, and
    an existing file is only replaced by a complete one. Parent folders are created.
    Returns the path written.
    """
    path = Path(path)
    fmt = _format_for(path.suffix, f"output '{path}'")
    img, params = _prepare(rgb, alpha, fmt, meta, mark_edited, quality)

    target = path
    try:
        if path.is_symlink():  # replace the file the link points to, not the link
            target = Path(os.path.realpath(path))
        if target.is_dir():
            raise BadInputError(f"output '{path}' is a folder; give the path of an image file to write")
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _write_error(path, exc) from exc

    tmp = target.with_name(f".{target.name[:120]}.{secrets.token_hex(4)}.tmp")
    try:
        # 0o666 & ~umask, like a normal file (mkstemp would make it 0600)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    except OSError as exc:
        raise _write_error(path, exc) from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            img.save(fh, format=fmt, **params)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.chmod(tmp, stat.S_IMODE(target.stat().st_mode))  # keep an existing file's mode
        except OSError:
            pass
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, (OSError, ValueError)) and not isinstance(exc, FaceSwapLabError):
            raise _write_error(path, exc) from exc
        raise
    fsync_dir(target.parent)
    return path


def encode_image_base64(
    rgb: np.ndarray,
    alpha: np.ndarray | None = None,
    meta: ImageMeta | None = None,
    fmt: str = "png",
    *,
    mark_edited: bool = True,
    quality: int = 95,
) -> str:
    """Encode for an HTTP API: plain base64 (no ``data:`` prefix) of a PNG/JPEG/WebP/... file,
    with the same metadata handling as `save_image`."""
    pil_fmt = _format_for(fmt, "encode_image_base64")
    img, params = _prepare(rgb, alpha, pil_fmt, meta, mark_edited, quality)
    buf = io.BytesIO()
    try:
        img.save(buf, format=pil_fmt, **params)
    except (OSError, ValueError) as exc:
        raise ImageError(f"could not encode the image as {pil_fmt} ({exc}); try PNG") from exc
    return base64.b64encode(buf.getvalue()).decode("ascii")


# --------------------------------------------------------------------------- public: misc


def read_edit_mark(path: PathLike) -> str | None:
    """The FaceSwapLab edit mark of an image file, or None.

    Looks at the PNG ``faceswaplab`` chunk, then at EXIF Software. A Software value that is
    not ours (e.g. "Adobe Photoshop") is not a mark and gives None.
    """
    path = Path(path)
    label = f"image '{path}'"
    _check_path(path, label)
    with _decode_errors(label, DEFAULT_MAX_PIXELS):
        with Image.open(path) as img:
            value = img.info.get(MARK_CHUNK)  # written before the pixel data: no decode needed
            if isinstance(value, str):
                return str(value)
            software = img.getexif().get(_TAG_SOFTWARE)
            if isinstance(software, bytes):
                software = software.decode("utf-8", "replace")
            if isinstance(software, str):
                software = software.strip("\x00 ")
                if software.startswith(TOOL_NAME):
                    return software
            if img.format == "PNG" and not getattr(img, "is_animated", False):
                _check_size(img.size[0], img.size[1], label, DEFAULT_MAX_PIXELS)
                value = getattr(img, "text", {}).get(MARK_CHUNK)  # chunks after the pixel data
                if isinstance(value, str):
                    return str(value)
    return None


def is_image_file(path: PathLike) -> bool:
    """True when `path` has an image extension folder jobs should process (by name only).

    Hidden files are skipped: our own temporary files (``.name.xxxx.tmp``) and macOS
    ``._photo.jpg`` resource forks, which have image extensions but are not images.
    """
    p = Path(path)
    return not p.name.startswith(".") and p.suffix.lower() in SAVE_FORMATS
