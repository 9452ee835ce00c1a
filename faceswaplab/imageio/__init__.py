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

The package, bottom up: `validate` (limits, refusals), `colour` (bit depth, colour modes,
orientation), `metadata` (what is carried, the edit mark), `decode` (`load_image`) and
`save` (`save_image`, base64). Callers import from here.
"""

from __future__ import annotations

from .decode import LoadedImage, decode_base64_image, from_pil, load_image
from .metadata import ImageMeta, edit_mark_software, edit_mark_text, read_edit_mark
from .save import IMAGE_EXTENSIONS, SAVE_FORMATS, encode_image_base64, is_image_file, save_image, to_pil
from .validate import DEFAULT_MAX_PIXELS

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTENSIONS",
    "SAVE_FORMATS",
    "ImageMeta",
    "LoadedImage",
    "decode_base64_image",
    "edit_mark_software",
    "edit_mark_text",
    "encode_image_base64",
    "from_pil",
    "is_image_file",
    "load_image",
    "read_edit_mark",
    "save_image",
    "to_pil",
]
