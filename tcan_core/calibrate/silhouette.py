"""A person mask estimated from the pose alone: the skeleton drawn thick.

TPC scores keypoint subsets by the IoU of human shapes (SAM masks in the paper). When the user has
no segmentation, this silhouette stands in for both the reference and the target person, so the
node works with nothing but poses. It is not a body outline; what matters for the IoU criterion
is that it is drawn by the same rule for both poses and transforms with them: every thickness is
a fixed fraction of a body size measured on the pose itself, so the silhouette of a scaled,
rotated, shifted pose is the scaled, rotated, shifted silhouette (up to rasterisation).
"""

import cv2
import numpy as np

from ..pose.skeleton import L_HIP, L_SHOULDER, LIMBS, NECK, NOSE, R_HIP, R_SHOULDER

# Thickness of each drawn limb (skeleton.LIMBS order) as a fraction of the body unit.
_ARM, _LEG, _TRUNK, _HEAD, _FACE = 0.28, 0.34, 0.34, 0.40, 0.22
LIMB_WIDTHS = (_TRUNK, _TRUNK, _ARM, _ARM, _ARM, _ARM, _TRUNK, _LEG, _LEG, _TRUNK,
               _LEG, _LEG, _HEAD, _FACE, _FACE, _FACE, _FACE)
HEAD_RADIUS = 0.30       # a disc around the head's centre (mean of the visible face points)
# Typical proportions relative to the torso (neck to mid-hip), for the body unit's estimates.
SHOULDER_RATIO, HEAD_RATIO = 0.80, 0.35
FAR = 8                  # keypoints more than 8 canvas sizes away are not drawn
_SHIFT = 4               # cv2 fractional bits: points drawn with 1/16 px precision
_ONE = 1 << _SHIFT


def body_unit(body):
    """A size of the person in pixels, from whatever is visible: the largest of the torso length,
    shoulder width / 0.8 and head size (nose-neck) / 0.35, so a bend or a side view (which
    shortens one of them) does not shrink the silhouette. 0 when nothing measurable is visible."""
    vis = body[:, 2] > 0
    xy = body[:, :2]
    neck = xy[NECK] if vis[NECK] else (xy[R_SHOULDER] + xy[L_SHOULDER]) / 2 if vis[[R_SHOULDER, L_SHOULDER]].all() else None
    hips = [xy[j] for j in (R_HIP, L_HIP) if vis[j]]
    estimates = []
    if neck is not None and hips:
        estimates.append(np.linalg.norm(neck - np.mean(hips, axis=0)))
    if vis[[R_SHOULDER, L_SHOULDER]].all():
        estimates.append(np.linalg.norm(xy[R_SHOULDER] - xy[L_SHOULDER]) / SHOULDER_RATIO)
    if neck is not None and vis[NOSE]:
        estimates.append(np.linalg.norm(neck - xy[NOSE]) / HEAD_RATIO)
    if not estimates and vis.sum() >= 2:
        pts = xy[vis]
        estimates.append(np.ptp(pts, axis=0).max() / 3.0)
    return float(max(estimates, default=0.0))


def _fixed(point):
    """Corner-origin pixel coordinates -> cv2's fixed-point pixel-centre coordinates."""
    return (round((point[0] - 0.5) * _ONE), round((point[1] - 0.5) * _ONE))


def pose_silhouette(body, width, height, supersample=1):
    """body [18, 3] (x, y, visible) in this canvas's pixels -> uint8 mask [height, width] (1 = person).

    Limbs are thick round-capped lines, the torso the filled polygon of neck, shoulders and hips,
    the head a disc. Empty (all 0) when fewer than two joints are visible (keypoints absurdly far
    off the canvas, more than FAR canvas sizes, count as not visible). OpenCV draws every
    shape about a pixel too wide, which is a large error on a small grid; supersample > 1 draws
    at that many times the size and area-averages down, so small and large silhouettes agree."""
    body = np.asarray(body, dtype=np.float64)
    vis = (body[:, 2] > 0) & np.isfinite(body[:, :2]).all(axis=1)
    body = np.where(vis[:, None], body, 0.0)
    side = max(width, height)
    vis &= (np.abs(body[:, :2] - side / 2) <= FAR * side).all(axis=1)  # detector glitches, not body parts
    if supersample > 1:
        big = body * [supersample, supersample, 1.0]
        fine = pose_silhouette(np.column_stack([big[:, :2], vis]), width * supersample, height * supersample)
        small = cv2.resize(fine.astype(np.float32), (int(width), int(height)), interpolation=cv2.INTER_AREA)
        return (small >= 0.5).astype(np.uint8)
    mask = np.zeros((int(height), int(width)), np.uint8)
    unit = body_unit(np.column_stack([body[:, :2], vis]))
    if vis.sum() < 2 or unit <= 0:
        return mask
    xy = body[:, :2]
    torso = [j for j in (NECK, R_SHOULDER, R_HIP, L_HIP, L_SHOULDER) if vis[j]]
    if len(torso) >= 3:
        hull = cv2.convexHull(np.array([_fixed(xy[j]) for j in torso], np.int32))
        cv2.fillConvexPoly(mask, hull, 1, lineType=cv2.LINE_8, shift=_SHIFT)
    for (a, b), frac in zip(LIMBS, LIMB_WIDTHS):
        if vis[a] and vis[b]:
            thickness = min(max(1, round(frac * unit)), 2 * side)  # wider than the canvas changes nothing
            cv2.line(mask, _fixed(xy[a]), _fixed(xy[b]), 1, thickness=thickness, shift=_SHIFT)
    face = [j for j in (NOSE, 14, 15, 16, 17) if vis[j]]
    if face:
        centre = xy[face].mean(axis=0)
        cv2.circle(mask, _fixed(centre), max(1, round(min(HEAD_RADIUS * unit, 2 * side) * _ONE)), 1,
                   thickness=-1, shift=_SHIFT)
    return mask
