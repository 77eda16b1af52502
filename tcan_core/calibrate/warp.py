"""Warping the reference image and mask with a calibration transform (TPC eq. 3).

Coordinates: continuous pixel coordinates with the origin at the top-left corner of the top-left
pixel, as everywhere in the pack (tcan_core/geometry.py, which also holds the matrix helpers).

Borders: outside the reference image the calibrated image is black and the mask 0, as in the
public TPC code. Replicating the border would smear background and clothes into the frame; with
a constant border the mask says exactly which pixels carry the reference person.
"""

import cv2
import numpy as np

from ..geometry import cv2_matrix

MAX_SIDE = 16384  # cv2's practical limit on image sides


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
