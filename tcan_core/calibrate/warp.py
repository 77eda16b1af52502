"""Warping the reference image and mask with a calibration transform (TPC eq. 3).

Coordinates: keypoints are continuous pixel coordinates with the origin at the top-left corner
of the top-left pixel (pixel i covers [i, i+1); render.py and the per-axis canvas scaling use
the same convention). OpenCV samples pixel centres at integer coordinates, so every matrix is
shifted by half a pixel on both sides before it reaches cv2 (`cv2_matrix`); otherwise a warp to a
4x smaller grid would be off by 1.5 source pixels.

Borders: outside the reference image the calibrated image is black and the mask 0, as in the
public TPC code. Replicating the border would smear background and clothes into the frame; with
a constant border the mask says exactly which pixels carry the reference person.
"""

import cv2
import numpy as np

MAX_SIDE = 16384  # cv2's practical limit on image sides


def as_3x3(matrix):
    """2x3 (or 3x3) affine matrix -> 3x3."""
    m = np.asarray(matrix, dtype=np.float64)
    if m.shape == (3, 3):
        return m
    if m.shape != (2, 3):
        raise ValueError(f"expected a 2x3 affine matrix, got shape {m.shape}")
    return np.vstack([m, [0.0, 0.0, 1.0]])


def compose(*matrices):
    """compose(A, B, C) = A · B · C as 2x3 (apply C first)."""
    out = np.eye(3)
    for m in matrices:
        out = out @ as_3x3(m)
    return out[:2]


def scaling(sx, sy):
    """2x3 matrix scaling x by sx and y by sy (e.g. one canvas to another, per axis)."""
    return np.array([[float(sx), 0.0, 0.0], [0.0, float(sy), 0.0]])


def cv2_matrix(matrix):
    """A corner-origin 2x3 matrix -> the same map in OpenCV's pixel-centre convention."""
    shift = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5]])
    unshift = np.array([[1.0, 0.0, -0.5], [0.0, 1.0, -0.5]])
    return compose(unshift, matrix, shift)


def _check_size(width, height):
    width, height = int(width), int(height)
    if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
        raise ValueError(f"warp size must be between 1 and {MAX_SIDE} pixels, got {width}x{height}")
    return width, height


def warp_image(image, matrix, width, height):
    """float32 image [H, W, C] (0..1) -> [height, width, C] warped by matrix (source px -> output px).

    Bicubic, clipped back to 0..1 (bicubic overshoots at edges); black outside the source."""
    width, height = _check_size(width, height)
    src = np.ascontiguousarray(image, dtype=np.float32)
    out = cv2.warpAffine(src, cv2_matrix(matrix), (width, height), flags=cv2.INTER_CUBIC,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    if out.ndim == 2:  # cv2 drops a single channel axis
        out = out[:, :, None]
    return np.clip(out, 0.0, 1.0, out=out)


def warp_mask(mask, matrix, width, height, nearest=False):
    """Mask [H, W] -> [height, width] warped by matrix, 0 outside the source.

    Bilinear on float masks (soft edges for previews and attention masks); nearest for the binary
    masks of the IoU search, where it is exact and fastest."""
    width, height = _check_size(width, height)
    flags = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    src = mask if nearest else np.ascontiguousarray(mask, dtype=np.float32)
    return cv2.warpAffine(src, cv2_matrix(matrix), (width, height), flags=flags,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)
