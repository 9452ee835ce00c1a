"""Resolution boost: run a swap model of crop side S on an N*S aligned crop by polyphase
subsampling.

The crop at N*S px uses the kind's template scaled by N, so its pixel (x, y) is the S crop's
point (x/N, y/N): the sub-image of every N-th pixel starting at offset (j, i) is exactly the
S crop shifted by (j/N, i/N) px, the scale the model was trained on. Each of the N*N phases
is swapped and written back to the pixels it came from, so the result has N times the
detail and every output pixel comes from the phase that saw its own input pixel.
(Swapper.swap warps the image and calls `swap_crop`; the enhancement path calls it on a crop
it already holds, so the unswapped target crop serves keep-mouth and colour correction too.)
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class CropModel(Protocol):
    """What the boost needs of a swapper: its crop side and one batched forward pass."""

    @property
    def size(self) -> int: ...

    def run(self, crops_rgb: np.ndarray, latent: np.ndarray) -> np.ndarray: ...


def phases(crop: np.ndarray, boost: int) -> np.ndarray:
    """N*N x S x S x C sub-images, phase (i, j) at index i*N + j."""
    return np.stack([crop[i::boost, j::boost] for i in range(boost) for j in range(boost)])


def interleave(parts: np.ndarray, boost: int) -> np.ndarray:
    """Inverse of `phases`: write each phase's pixels back to where they came from."""
    n, h, w = parts.shape[:3]
    out = np.empty((h * boost, w * boost) + parts.shape[3:], parts.dtype)
    for k in range(n):
        i, j = divmod(k, boost)
        out[i::boost, j::boost] = parts[k]
    return out


def swap_crop(swapper: CropModel, crop: np.ndarray, latent: np.ndarray, boost: int = 1) -> np.ndarray:
    """Swap an aligned crop of (S*boost)^2 px; returns float32 RGB 0..255 of the same size.

    `swapper.run(N x S x S x 3, latent) -> N x S x S x 3 float32` is the model, S its `size`.
    """
    side = swapper.size * boost
    if crop.shape[:2] != (side, side):
        raise ValueError(f"boost {boost} needs a {side} px crop, got {crop.shape[1]}x{crop.shape[0]}")
    if boost == 1:
        return swapper.run(crop[None], latent)[0]
    return interleave(swapper.run(phases(crop, boost), latent), boost)
