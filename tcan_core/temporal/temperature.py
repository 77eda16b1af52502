"""TCAN's pose-driven temperature map (PTM), paper eq. 3-5 as the official code computes it.

B = pixels that are non-black in any pose frame of the window (union); D = exact Euclidean distance
to the nearest pose pixel (OpenCV's precise L2 distance transform) divided by the half diagonal
sqrt((H/2)^2 + (W/2)^2); T = tau * D + 1. T is 1 on the skeleton and grows towards the background,
flattening the temporal attention there so the background stays still.
"""

import cv2
import numpy as np


def pose_union(pose_images):
    """uint8 [F, H, W, 3] (or float 0..1, quantised like an 8-bit image) -> bool [H, W] pose pixels."""
    images = np.asarray(pose_images)
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4 or images.shape[0] < 1:
        raise ValueError(f"pose images must be [F, H, W, C], got shape {images.shape}")
    if images.dtype != np.uint8:
        # float IMAGE input: a pixel is pose iff it would not be black as an 8-bit image
        images = np.clip(np.round(np.nan_to_num(images.astype(np.float32)) * 255.0), 0, 255).astype(np.uint8)
    return (images != 0).any(axis=(0, 3))


def temperature_map(pose_images, tau=3.0):
    """Pose frames of one window, [F, H, W, 3] -> temperature T, float32 [H, W] (>= 1).

    A window without any pose pixel gets T = 1 everywhere (no PTM) rather than OpenCV's huge
    distances to nothing.
    """
    if not np.isfinite(tau) or tau < 0:
        raise ValueError(f"tau must be a finite number >= 0, got {tau!r}")
    pose = pose_union(pose_images)
    height, width = pose.shape
    if not pose.any():
        return np.ones((height, width), np.float32)
    background = (~pose).astype(np.uint8)
    distance = cv2.distanceTransform(background, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    half_diagonal = np.sqrt((height / 2) ** 2 + (width / 2) ** 2)
    return (tau * distance / half_diagonal + 1.0).astype(np.float32)
