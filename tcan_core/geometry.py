"""2-D affine maps as 2x3 matrices, in continuous pixel coordinates.

Coordinates have their origin at the top-left corner of the top-left pixel (pixel i covers
[i, i+1)); keypoints, the framing rule (frame_fit.py) and TPC's calibration (calibrate/) all use it.
OpenCV samples pixel centres at integer coordinates, so a matrix is shifted by half a pixel on both
sides before it reaches cv2 (`cv2_matrix`); otherwise a warp to a 4x smaller grid would be off by
1.5 source pixels.
"""

import numpy as np


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


def translation(tx, ty):
    return np.array([[1.0, 0.0, float(tx)], [0.0, 1.0, float(ty)]])


def apply(matrix, points):
    """Points [..., 2] (x, y) mapped by a 2x3 matrix."""
    m = np.asarray(matrix, dtype=np.float64)
    points = np.asarray(points, dtype=np.float64)
    return points @ m[:, :2].T + m[:, 2]


def cv2_matrix(matrix):
    """A corner-origin 2x3 matrix -> the same map in OpenCV's pixel-centre convention."""
    return compose(translation(-0.5, -0.5), matrix, translation(0.5, 0.5))
