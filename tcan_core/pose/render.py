"""Rendering POSE_KEYPOINT frames as OpenPose-18 pose images (the ControlNet's input).

Same drawing as ControlNet's / DWPose's `draw_bodypose`, which TCAN and the OpenPose ControlNet
were trained on: RGB colours on black, each of the 17 limbs a filled ellipse polygon (stick width
4) at 0.6 brightness, then each joint a filled circle of radius 4 at full brightness. Joints with
confidence 0 (and limbs touching them) are not drawn. Hands, optional, as controlnet_aux draws
them (edges 2 px wide in rainbow colours, blue joints).

All geometry (midpoints, lengths, angles) is computed for every frame at once with numpy; the
per-frame loop only hands integers to OpenCV's rasterisers, writing straight into the output.
"""

import colorsys
import math

import cv2
import numpy as np

from ..frame_fit import fit_points
from .keypoints import frames_from_pose_keypoint
from .skeleton import COLORS, HAND_EDGES, LIMBS, NUM_BODY_JOINTS

STICK_WIDTH = 4
JOINT_RADIUS = 4
LIMB_BRIGHTNESS = 0.6
EDGE_MARGIN = 0.01  # joints within 1% of the top/left border are not drawn (as in TCAN/DWPose)
HAND_JOINT_COLOR = (0, 0, 255)
HAND_LINE_WIDTH = 2

# The reference scales the whole limb canvas by 0.6 with uint8 truncation; on a black canvas that
# is the same as drawing each limb in its truncated dimmed colour.
_LIMB_COLORS = [tuple(int(v) for v in c) for c in (np.array(COLORS, np.uint8) * LIMB_BRIGHTNESS).astype(np.uint8)]
_JOINT_COLORS = [tuple(int(v) for v in c) for c in COLORS]
_HAND_EDGE_COLORS = [tuple(float(v) * 255 for v in colorsys.hsv_to_rgb(i / len(HAND_EDGES), 1.0, 1.0))
                     for i in range(len(HAND_EDGES))]


def _people_arrays(frames, attr, num_points, width, height):
    """Stack one part of every person of every frame: [P, num_points, 3] in output pixels + frame ids."""
    arrays, owners = [], []
    for f, frame in enumerate(frames):
        for person in frame.people:
            part = getattr(person, attr)
            if part is not None and len(part) == num_points:
                # the canvas fits the output (frame_fit.py); with equal aspects this is the reference's
                # x / canvas * size
                arrays.append(fit_points(part, (frame.width, frame.height), (width, height)))
                owners.append(f)
    if not arrays:
        return np.zeros((0, num_points, 3)), np.zeros(0, dtype=int)
    return np.stack(arrays), np.array(owners)


def _limb_geometry(body):
    """body [P, 18, 3] -> centres [P, L, 2] int, half lengths [P, L] int, angles [P, L] int, drawn [P, L]."""
    a = np.array([l[0] for l in LIMBS])
    b = np.array([l[1] for l in LIMBS])
    p0, p1 = body[:, a, :2], body[:, b, :2]
    drawn = (body[:, a, 2] > 0) & (body[:, b, 2] > 0)
    centre = np.trunc((p0 + p1) / 2).astype(np.int64)
    delta = p0 - p1
    # the reference's (dx^2 + dy^2) ** 0.5, not np.hypot: they differ in the last bit, which flips int()
    # of lengths such as 30 (29.999999999999996)
    half_length = np.trunc((delta[..., 1] ** 2 + delta[..., 0] ** 2) ** 0.5 / 2).astype(np.int64)
    # math.atan2/degrees rather than numpy's SIMD versions: their last-bit differences flip int()
    # of angles such as -80.0 and would shift polygons by a pixel against the reference.
    angle = np.array([int(math.degrees(math.atan2(dy, dx))) for dx, dy in delta.reshape(-1, 2)],
                     dtype=np.int64).reshape(delta.shape[:-1])
    return centre, half_length, angle, drawn


def render(frames, width=0, height=0, *, hands=False, out=None):
    """POSE_KEYPOINT (or a list of PoseFrame) -> uint8 RGB images [F, H, W, 3].

    width/height: output size in pixels; 0 takes the first frame's canvas size. Each frame's canvas
    is fitted into the output (uniform scale, centred, black bars: frame_fit.py), so a canvas of
    another aspect is never stretched or cropped; with the output's aspect this is the reference
    renderer's scaling.
    """
    if frames and not hasattr(frames[0], "people"):
        frames = frames_from_pose_keypoint(frames)
    if not frames:
        raise ValueError("no pose frames to render")
    width = int(width) or frames[0].width
    height = int(height) or frames[0].height
    if width < 1 or height < 1 or width > 16384 or height > 16384:
        raise ValueError(f"render size must be between 1 and 16384 pixels, got {width}x{height}")
    if out is None:
        out = np.zeros((len(frames), height, width, 3), np.uint8)

    body, owner = _people_arrays(frames, "body", NUM_BODY_JOINTS, width, height)
    centre, half_length, angle, drawn = _limb_geometry(body)
    joint_xy = np.trunc(body[..., :2]).astype(np.int64)
    joint_drawn = (body[..., 2] > 0) & (body[..., 0] > EDGE_MARGIN * width) & (body[..., 1] > EDGE_MARGIN * height)
    # Order as in the reference: limb by limb over all people, then joint by joint over all people.
    for k in range(len(LIMBS)):
        for p in np.flatnonzero(drawn[:, k]):
            polygon = cv2.ellipse2Poly((int(centre[p, k, 0]), int(centre[p, k, 1])),
                                       (int(half_length[p, k]), STICK_WIDTH), int(angle[p, k]), 0, 360, 1)
            cv2.fillConvexPoly(out[owner[p]], polygon, _LIMB_COLORS[k])
    for j in range(NUM_BODY_JOINTS):
        for p in np.flatnonzero(joint_drawn[:, j]):
            cv2.circle(out[owner[p]], (int(joint_xy[p, j, 0]), int(joint_xy[p, j, 1])), JOINT_RADIUS,
                       _JOINT_COLORS[j], thickness=-1)
    if hands:
        _draw_hands(frames, out, width, height)
    return out


def _draw_hands(frames, out, width, height):
    for attr in ("hand_left", "hand_right"):
        hand, owner = _people_arrays(frames, attr, 21, width, height)
        xy = np.trunc(hand[..., :2]).astype(np.int64)
        ok = (hand[..., 2] > 0) & (xy[..., 0] > EDGE_MARGIN) & (xy[..., 1] > EDGE_MARGIN)
        for p in range(len(hand)):
            canvas = out[owner[p]]
            for e, (i, j) in enumerate(HAND_EDGES):
                if ok[p, i] and ok[p, j]:
                    cv2.line(canvas, (int(xy[p, i, 0]), int(xy[p, i, 1])), (int(xy[p, j, 0]), int(xy[p, j, 1])),
                             _HAND_EDGE_COLORS[e], thickness=HAND_LINE_WIDTH)
            for i in np.flatnonzero(ok[p]):
                cv2.circle(canvas, (int(xy[p, i, 0]), int(xy[p, i, 1])), JOINT_RADIUS, HAND_JOINT_COLOR, thickness=-1)
