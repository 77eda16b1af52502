"""Temporal smoothing of keypoint tracks against detector jitter.

A Gaussian filter along time that only averages frames where the point was detected
(normalised convolution), so a missing point neither pulls its neighbours towards (0, 0) nor
gets invented: a point stays missing where it was missing.
"""

import numpy as np


def gaussian_kernel(sigma):
    radius = max(1, int(np.ceil(3 * sigma)))
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    return np.exp(-0.5 * (x / sigma) ** 2)


def smooth_tracks(points, visible, sigma):
    """points [F, N, 2], visible [F, N] bool -> smoothed copy of points; sigma in frames (0 = off)."""
    if sigma <= 0 or len(points) < 2:
        return points.copy()
    kernel = gaussian_kernel(sigma)
    radius = len(kernel) // 2
    weight = visible.astype(np.float64)[..., None]                       # [F, N, 1]
    pad = ((radius, radius), (0, 0), (0, 0))
    weighted = np.pad(points * weight, pad)
    weights = np.pad(np.broadcast_to(weight, points.shape), pad)
    num = np.zeros_like(points, dtype=np.float64)
    den = np.zeros_like(points, dtype=np.float64)
    frames = len(points)
    for k, w in enumerate(kernel):  # a short loop over taps; each step is a whole-array add
        num += w * weighted[k:k + frames]
        den += w * weights[k:k + frames]
    out = points.astype(np.float64).copy()
    mask = visible & (den[..., 0] > 0)
    out[mask] = num[mask] / den[mask]
    return out
