"""Temporal smoothing of a track's keypoints: pure functions over arrays.

Detections jitter by a pixel or two from frame to frame even on a still face; pasted as they
are, the swapped face shimmers. A One-Euro filter (Casiez et al. 2012) removes that jitter
while following fast motion: its cut-off frequency rises with the speed of the signal. Here
speed is measured in face sizes per second, so one setting works for a face of 60 px and of
600 px. The video is processed offline, so the filter is run forwards and backwards and the
two passes averaged: the lag a causal filter adds on fast motion cancels out.

Gaps (frames where a tracked face was not detected, or not looked for with --every) are
filled by linear interpolation of the keypoints and box between the detections around them.
"""

from __future__ import annotations

import math

import numpy as np

MIN_CUTOFF_HZ = 1.0  # cut-off for a still face at smoothing 1 (lower: smoother)
BETA = 1.0  # cut-off gain per face size per second of speed (higher: less lag on fast motion)
D_CUTOFF_HZ = 1.0  # cut-off of the speed estimate


def _alpha(cutoff: float, dt: float) -> float:
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / max(dt, 1e-6))


def one_euro(values: np.ndarray, times: np.ndarray, scale: np.ndarray, *, min_cutoff: float = MIN_CUTOFF_HZ,
             beta: float = BETA, d_cutoff: float = D_CUTOFF_HZ) -> np.ndarray:  # fmt: skip
    """Causal One-Euro filter over the first axis of `values` ([T, ...] floats) sampled at
    `times` (seconds, increasing); `scale` [T] (the face size) normalises the speed."""
    values = np.asarray(values, np.float64)
    out = np.empty_like(values)
    if len(values) == 0:
        return out
    out[0] = values[0]
    d_prev = np.zeros_like(values[0])
    for i in range(1, len(values)):
        dt = float(times[i] - times[i - 1]) or 1e-3
        d = (values[i] - out[i - 1]) / dt
        d_hat = d_prev + _alpha(d_cutoff, dt) * (d - d_prev)
        speed = float(np.abs(d_hat).max()) / max(float(scale[i]), 1.0)
        a = _alpha(min_cutoff + beta * speed, dt)
        out[i] = out[i - 1] + a * (values[i] - out[i - 1])
        d_prev = d_hat
    return out


def smooth(values: np.ndarray, times: np.ndarray, scale: np.ndarray, strength: float) -> np.ndarray:
    """Zero-lag One-Euro smoothing (forward and backward passes averaged). `strength` 0 returns
    the values unchanged; 1 is the default; higher is smoother (a lower still cut-off)."""
    values = np.asarray(values, np.float64)
    if strength <= 0.0 or len(values) < 3:
        return values.copy()
    mc = MIN_CUTOFF_HZ / strength
    fwd = one_euro(values, times, scale, min_cutoff=mc, beta=BETA)
    t = np.asarray(times, np.float64)
    bwd = one_euro(values[::-1], (t[-1] - t)[::-1], np.asarray(scale)[::-1], min_cutoff=mc, beta=BETA)[::-1]
    return (fwd + bwd) / 2.0


def interpolate(known: np.ndarray, values: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Linear interpolation of `values` ([K, ...]) known at `known` frame numbers, at every frame
    of `wanted` (inside the known range)."""
    flat = np.asarray(values, np.float64).reshape(len(values), -1)
    out = np.stack([np.interp(wanted, known, flat[:, j]) for j in range(flat.shape[1])], axis=1)
    return out.reshape((len(wanted),) + tuple(np.shape(values)[1:]))


def segments(frames: list[int], max_step: int) -> list[list[int]]:
    """Split sorted frame numbers into runs whose consecutive frames are at most `max_step` apart
    (a longer absence starts a new run: the face is not filled across it)."""
    runs: list[list[int]] = []
    for f in frames:
        if runs and f - runs[-1][-1] <= max_step:
            runs[-1].append(f)
        else:
            runs.append([f])
    return runs
