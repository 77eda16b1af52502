"""How a picture or a pose canvas is placed in the output frame: one rule for the reference image
(Sample Long Video), the rendered poses (Render Pose) and TPC's calibrated images and masks.

Contain: the source is scaled uniformly until it fits the frame and centred; the rest of the frame
is black (letterbox). Nothing is stretched and nothing of the picture is cropped (a face at the top
of a tall picture stays in a square frame), and a point of the reference picture lands on the same
frame pixel in the reference latent, in the rendered pose and in the calibration. The bundled
workflows pick a frame of the pose canvas's own aspect (`long_side_size`), so there are no bars.

Coordinates: continuous pixel coordinates, origin at the top-left corner (geometry.py). The map is
written as "pad the source to the frame's aspect, then scale to the frame", so a source of the
frame's aspect maps by x / canvas_width * width exactly as a plain resize (and the official pose
renderer) does.
"""

import cv2
import numpy as np

from .geometry import compose, cv2_matrix, scaling, translation


def pad_box(src_width, src_height, width, height):
    """(x0, y0, box_width, box_height): the source canvas padded (centred) to the frame's aspect; x0 and
    y0 are <= 0, the padding before the source."""
    if min(src_width, src_height, width, height) <= 0:
        raise ValueError(f"sizes must be positive, got a {src_width}x{src_height} source for a {width}x{height} frame")
    if src_width * height >= src_height * width:  # the source is at least as wide: bars above and below
        box_width, box_height = src_width, src_width * height / width
    else:
        box_width, box_height = src_height * width / height, src_height
    return (src_width - box_width) / 2, (src_height - box_height) / 2, box_width, box_height


def fit_matrix(src_width, src_height, width, height):
    """2x3 matrix from source pixels to frame pixels."""
    x0, y0, box_width, box_height = pad_box(src_width, src_height, width, height)
    return compose(scaling(width / box_width, height / box_height), translation(-x0, -y0))


def fit_points(points, src_size, size):
    """Points [..., 2] (or [..., 3] with confidences, kept) on a src_size=(w, h) canvas -> frame pixels."""
    x0, y0, box_width, box_height = pad_box(*src_size, *size)
    out = np.array(points, dtype=np.float64, copy=True)
    out[..., 0] = (out[..., 0] - x0) / box_width * size[0]
    out[..., 1] = (out[..., 1] - y0) / box_height * size[1]
    return out


def fit_image(image, width, height, interpolation=cv2.INTER_CUBIC):
    """float32 [H, W] or [H, W, C] -> the frame [height, width(, C)], the image contained and centred,
    0 (black) around it.

    Shrinking first averages areas (no aliasing), then a sub-pixel warp places the result exactly
    where fit_matrix says; bicubic results are clipped back to the source's range."""
    image = np.ascontiguousarray(image, dtype=np.float32)
    src_height, src_width = image.shape[:2]
    matrix = fit_matrix(src_width, src_height, width, height)
    scale = matrix[0, 0]
    if scale < 1:
        small_w, small_h = max(1, round(src_width * scale)), max(1, round(src_height * scale))
        image = cv2.resize(image, (small_w, small_h), interpolation=cv2.INTER_AREA)
        matrix = compose(matrix, scaling(src_width / small_w, src_height / small_h))
    out = cv2.warpAffine(image, cv2_matrix(matrix), (int(width), int(height)), flags=interpolation,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    if out.ndim < image.ndim:  # cv2 drops a single channel axis
        out = out[..., None]
    return np.clip(out, min(0.0, float(image.min())), max(1.0, float(image.max())))


def long_side_size(src_width, src_height, long_side, multiple=8):
    """(width, height) with the source's aspect and the given long side, both multiples of `multiple`."""
    if long_side < multiple:
        raise ValueError(f"the long side must be at least {multiple} pixels, got {long_side}")
    scale = long_side / max(src_width, src_height)

    def snap(value):
        return max(multiple, int(round(value * scale / multiple)) * multiple)

    return snap(src_width), snap(src_height)
