"""Bit depth and colour: any Pillow mode or numpy array becomes 8-bit RGB (+ alpha).

Face detection gives wrong or no results on 16-bit images clipped to white, on CMYK pixels
read as RGB or on sideways photos, so every such conversion is settled here, once, and the
rest of FaceSwapLab only ever sees upright ``(H, W, 3)`` contiguous ``uint8`` RGB.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image

from ..errors import FaceSwapLabError, ImageError

__all__ = ["ORIENTATIONS", "arrays_from_numpy", "arrays_from_pil", "icc_colour_space", "owned_uint8"]


def icc_colour_space(icc: bytes) -> bytes:
    """The 'data colour space' field of an ICC header (b'RGB ', b'GRAY', b'CMYK', ...)."""
    return icc[16:20] if len(icc) >= 20 else b""


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
    if icc and icc_colour_space(icc) == b"CMYK":
        try:
            from PIL import ImageCms

            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            dst = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
            out = ImageCms.profileToProfile(img, src, dst, outputMode="RGB")
            if out is not None:
                return out
        except Exception:  # noqa: BLE001 - littlecms missing or a broken profile: fall back, but say so
            notes.append("its CMYK colour profile could not be applied; colours may be slightly off")
    return img.convert("RGB")


def arrays_from_pil(img: Image.Image, label: str, notes: list[str]) -> tuple[np.ndarray, np.ndarray | None]:
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
        except Exception:  # noqa: BLE001, S110 - the generic conversion below reports the failure
            pass
    return np.array(img.convert("RGB")), None  # YCbCr, HSV, RGBX, ...


def arrays_from_numpy(arr: np.ndarray, label: str) -> tuple[np.ndarray, np.ndarray | None]:
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


def owned_uint8(arr: np.ndarray) -> np.ndarray:
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
ORIENTATIONS: dict[int, Any] = {
    2: lambda a: a[:, ::-1],  # FLIP_LEFT_RIGHT
    3: lambda a: a[::-1, ::-1],  # ROTATE_180
    4: lambda a: a[::-1],  # FLIP_TOP_BOTTOM
    5: lambda a: a.swapaxes(0, 1),  # TRANSPOSE
    6: lambda a: np.rot90(a, -1),  # ROTATE_270 (90 degrees clockwise)
    7: lambda a: a.swapaxes(0, 1)[::-1, ::-1],  # TRANSVERSE
    8: lambda a: np.rot90(a, 1),  # ROTATE_90 (90 degrees counter-clockwise)
}
