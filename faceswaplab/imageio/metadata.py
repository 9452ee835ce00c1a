"""Metadata carried from an input to its result, and the FaceSwapLab edit mark.

People rely on the web-ui's ``parameters`` chunk, on EXIF (camera, date) and on the ICC
profile (without it, wide-gamut photos come out dull), so they survive a swap; the EXIF
orientation is applied to the pixels on load and reset in what is carried, so that no
viewer rotates the result twice. Every saved file says it was edited by FaceSwapLab.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, PngImagePlugin

from .. import TOOL_NAME, __version__
from ..errors import OptionsError
from .colour import ORIENTATIONS, icc_colour_space
from .validate import DEFAULT_MAX_PIXELS, PathLike, check_path, check_size, decode_errors

__all__ = [
    "MARK_CHUNK",
    "ImageMeta",
    "edit_mark_software",
    "edit_mark_text",
    "encode_params",
    "read_edit_mark",
    "read_meta",
]

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


def _exif_bytes(exif: Image.Exif) -> bytes:
    raw = exif.tobytes()
    return raw if raw.startswith(b"Exif\x00\x00") else b"Exif\x00\x00" + raw


def _with_exif_prefix(raw: bytes) -> bytes:
    """JPEG needs the APP1 'Exif\\0\\0' prefix; PNG and WebP strip it themselves."""
    raw = bytes(raw)
    return raw if raw.startswith(b"Exif\x00\x00") else b"Exif\x00\x00" + raw


def read_meta(img: Image.Image, label: str, notes: list[str]) -> tuple[ImageMeta, int]:
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
        orientation = value if isinstance(value, int) and value in ORIENTATIONS else 1
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
    except Exception as exc:  # noqa: BLE001 - malformed EXIF must not make a good image unreadable
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
    if icc is not None and icc_colour_space(icc) != b"RGB ":
        icc = None  # the pixels are RGB now; a CMYK/grey profile would mislead viewers
    return ImageMeta(format=img.format, text=text, exif=exif_raw, icc_profile=icc), orientation


def encode_params(
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
            except Exception:  # noqa: BLE001 - unreadable EXIF: write a fresh one rather than fail
                exif = Image.Exif()
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


def read_edit_mark(path: PathLike) -> str | None:
    """The FaceSwapLab edit mark of an image file, or None.

    Looks at the PNG ``faceswaplab`` chunk, then at EXIF Software. A Software value that is
    not ours (e.g. "Adobe Photoshop") is not a mark and gives None.
    """
    path = Path(path)
    label = f"image '{path}'"
    check_path(path, label)
    with decode_errors(label, DEFAULT_MAX_PIXELS), Image.open(path) as img:
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
            check_size(img.size[0], img.size[1], label, DEFAULT_MAX_PIXELS)
            value = getattr(img, "text", {}).get(MARK_CHUNK)  # chunks after the pixel data
            if isinstance(value, str):
                return str(value)
    return None
