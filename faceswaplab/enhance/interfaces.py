"""What a face restorer and an upscaler must offer, so hosts (the web-ui) can plug theirs in.

The engine keeps a registry of named restorers and upscalers (`Engine(restorers=...,
upscalers=...)`, `Engine.register_restorer`, `Engine.register_upscaler`); a name the registry
does not know is looked up as an ONNX file in `<models dir>/restorers/` (restorers) or among
the built-in interpolations (upscalers: `lanczos`).

Three shapes, checked structurally (no base class to inherit):

* `Restorer` (preferred): restores ONE FFHQ-aligned face of `size` x `size` px. The engine
  aligns the swapped face straight into that space from the swap crop (one warp), calls
  `restore`, and warps the result back into the image once.
* `ImageRestorer` (fallback for host restorers that expose no network): restores faces in a
  whole image region; it re-detects and re-aligns faces itself, so it costs one more
  resampling. The engine calls it on a region around the swapped face only and blends the
  result back with that face's own paste mask, so other faces are never touched.
* `Upscaler`: enlarges an aligned face by an integer factor before the next warp.

Pixel convention for upscalers: output pixel centres follow `cv2.resize`'s convention, an
input pixel u maps to `scale*u + (scale-1)/2` (what network upscalers with pixel shuffle do).
The engine composes that into its matrices (geometry.py, DESIGN.md section 6), so the face
never shifts. An upscaler may instead declare `interpolation` (a cv2 INTER_* flag): it is
then an interpolation only and is folded into the next warp (no extra resampling).
"""

from __future__ import annotations

import numbers
from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Restorer(Protocol):
    """A face restorer working on an FFHQ-aligned square face."""

    name: str
    size: int  # side of the FFHQ-aligned square it takes, e.g. 512 (GPEN: 256..2048)

    def restore(self, face: np.ndarray, weight: float = 0.5) -> np.ndarray:
        """`face`: size x size x 3 RGB uint8, FFHQ-aligned (facexlib's 512 template scaled to
        `size`). Returns the restored face, same shape, RGB, uint8 or float in 0..255.
        `weight` is CodeFormer's fidelity weight (0: strongest restoration, 1: most faithful);
        restorers without one ignore it."""
        ...


@runtime_checkable
class ImageRestorer(Protocol):
    """Fallback: a restorer that finds and restores faces in an image by itself."""

    name: str

    def restore_image(self, image: np.ndarray, weight: float = 0.5) -> np.ndarray:
        """`image`: H x W x 3 RGB uint8 (a region around one face). Returns the same shape."""
        ...


@runtime_checkable
class Upscaler(Protocol):
    name: str

    def upscale(self, image: np.ndarray, scale: int) -> np.ndarray:
        """`image`: H x W x 3 RGB uint8. Returns about (scale*H) x (scale*W) x 3 RGB, uint8 or
        float 0..255, pixel centres as cv2.resize (u -> scale*u + (scale-1)/2). The actual
        output size is read back, so an upscaler with a fixed native factor may return it."""
        ...


def is_aligned_restorer(obj: Any) -> bool:
    size = getattr(obj, "size", None)
    return callable(getattr(obj, "restore", None)) and isinstance(size, numbers.Integral) and not isinstance(size, bool)


def is_image_restorer(obj: Any) -> bool:
    return callable(getattr(obj, "restore_image", None))


def check_restorer(name: str, obj: Any) -> None:
    if not (is_aligned_restorer(obj) or is_image_restorer(obj)):
        raise TypeError(
            f"restorer {name!r} must have restore(face, weight) and an int .size (aligned), "
            "or restore_image(image, weight) (whole image)"
        )
    if is_aligned_restorer(obj) and obj.size <= 0:
        raise TypeError(f"restorer {name!r} has size {obj.size}; it must be the aligned face side in px")


def check_upscaler(name: str, obj: Any) -> None:
    if not callable(getattr(obj, "upscale", None)) and getattr(obj, "interpolation", None) is None:
        raise TypeError(f"upscaler {name!r} must have upscale(image, scale) or an `interpolation` flag")


@runtime_checkable
class Inpainter(Protocol):
    """Re-diffuses one FFHQ-aligned face with a host's Stable Diffusion model (the web-ui's
    img2img). The core cuts the face out, builds the soft mask and pastes the result back;
    the host only runs its sampler, so no host code ever sees the whole image."""

    name: str

    def sampler_names(self) -> list[str]:
        """The sampler names `request.sampler` may take (the host's list)."""
        ...

    def inpaint(self, face: np.ndarray, mask: np.ndarray, request: Any) -> Any:
        """`face`: S x S x 3 RGB uint8, `mask`: S x S float 0..1 (1: re-diffuse), `request`:
        an `enhance.inpaint.InpaintRequest` with a concrete seed. Returns an
        `enhance.inpaint.InpaintResult` (the S x S RGB face, the sampler that ran)."""
        ...
