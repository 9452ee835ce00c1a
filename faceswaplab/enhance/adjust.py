"""Colour correction (LAB statistics transfer inside the mask) and sharpening (unsharp mask),
both on float aligned faces (0..255 RGB) before the single warp back."""

from __future__ import annotations

import cv2
import numpy as np

MIN_MASK_WEIGHT = 16.0  # pixels' worth of mask below which there is nothing to measure
STATS_SIDE = 160  # statistics are measured on a subsampled grid of about this many px a side
STD_RATIO_RANGE = (0.5, 2.0)  # keep a wild target (a dark shadow) from blowing up contrast


def _lab(rgb: np.ndarray) -> np.ndarray:
    x = np.clip(rgb.astype(np.float32, copy=False), 0.0, 255.0) * (1.0 / 255.0)
    return cv2.cvtColor(x, cv2.COLOR_RGB2Lab)


def _rgb(lab: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(lab.astype(np.float32, copy=False), cv2.COLOR_Lab2RGB) * 255.0


def weighted_stats(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation of x (H x W x C) weighted by w (H x W)."""
    w = w.astype(np.float64)
    tot = float(w.sum())
    flat = x.reshape(-1, x.shape[-1]).astype(np.float64)
    wf = w.reshape(-1)
    mean = wf @ flat / tot
    var = wf @ (flat - mean) ** 2 / tot
    return mean, np.sqrt(np.maximum(var, 0.0))


def color_transfer(face: np.ndarray, target: np.ndarray, mask: np.ndarray, strength: float) -> np.ndarray:
    """Move the colour statistics of `face` towards `target`'s inside `mask`, in LAB.

    Each LAB channel of the face is shifted and scaled so its mask-weighted mean and spread
    match the target's; `strength` (0..1) blends between the face and the corrected face.
    Returns float32 RGB 0..255.
    """
    face = face.astype(np.float32, copy=False)
    if strength <= 0.0 or float(mask.sum()) < MIN_MASK_WEIGHT:
        return face
    k = max(1, face.shape[0] // STATS_SIDE)  # means and spreads need no full-resolution pass
    lab_f = _lab(face)
    w = mask[::k, ::k]
    mu_f, sd_f = weighted_stats(lab_f[::k, ::k], w)
    mu_t, sd_t = weighted_stats(_lab(target[::k, ::k]), w)
    lo, hi = STD_RATIO_RANGE
    ratio = np.clip(sd_t / np.maximum(sd_f, 1e-3), lo, hi)
    corrected = (lab_f - mu_f.astype(np.float32)) * ratio.astype(np.float32) + mu_t.astype(np.float32)
    out = _rgb(corrected)
    if strength < 1.0:
        out = face + np.float32(strength) * (out - face)
    return np.clip(out, 0.0, 255.0)


def sharpen(face: np.ndarray, strength: float, sigma: float) -> np.ndarray:
    """Unsharp mask: face + amount * (face - blur(face, sigma)); amount = 1.5 * strength.

    `sigma` is in aligned pixels; callers pass about one image pixel's worth so the effect
    survives the warp back whatever the crop's resolution."""
    face = face.astype(np.float32, copy=False)
    if strength <= 0.0:
        return face
    sigma = max(float(sigma), 0.5)
    blurred = cv2.GaussianBlur(face, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)
    out = face + np.float32(1.5 * strength) * (face - blurred)
    return np.clip(out, 0.0, 255.0)
