"""Writing RGB frames to an mp4 file with OpenCV (no ComfyUI needed)."""

import os

import cv2
import numpy as np


def write_mp4(path, frames_rgb, fps):
    """frames_rgb: uint8 [F, H, W, 3] RGB. OpenCV expects BGR, so channels are swapped here:
    TCAN's official pipeline skipped this and fed the ControlNet R/B-swapped poses (tcan.md B3)."""
    frames_rgb = np.asarray(frames_rgb)
    if frames_rgb.ndim != 4 or frames_rgb.shape[-1] != 3 or not len(frames_rgb):
        raise ValueError(f"expected frames [F, H, W, 3], got shape {frames_rgb.shape}")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    height, width = frames_rgb.shape[1:3]
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV could not open {path} for writing (mp4v codec missing?)")
    try:
        for frame in frames_rgb:
            writer.write(np.ascontiguousarray(frame[..., ::-1]))
    finally:
        writer.release()
    return path
