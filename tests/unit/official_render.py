"""An independent transcription of ControlNet's / DWPose's draw_bodypose (tcan.md §14.5), as oracle.

Its own loops and conventions (normalised candidates, -1 subset), sharing no code with tcan_core.
"""

import math

import cv2
import numpy as np

LIMB_SEQ = [[2, 3], [2, 6], [3, 4], [4, 5], [6, 7], [7, 8], [2, 9], [9, 10], [10, 11], [2, 12], [12, 13],
            [13, 14], [2, 1], [1, 15], [15, 17], [1, 16], [16, 18]]
COLORS = [[255, 0, 0], [255, 85, 0], [255, 170, 0], [255, 255, 0], [170, 255, 0], [85, 255, 0], [0, 255, 0],
          [0, 255, 85], [0, 255, 170], [0, 255, 255], [0, 170, 255], [0, 85, 255], [0, 0, 255], [85, 0, 255],
          [170, 0, 255], [255, 0, 255], [255, 0, 170], [255, 0, 85]]


def draw_bodypose(canvas, candidate, subset):
    """canvas uint8 [H, W, 3]; candidate [n*18, 2] normalised xy; subset [n, 18] index or -1."""
    H, W, _ = canvas.shape
    stickwidth = 4
    for i in range(17):
        for n in range(len(subset)):
            index = subset[n][np.array(LIMB_SEQ[i]) - 1]
            if -1 in index:
                continue
            Y = candidate[index.astype(int), 0] * float(W)
            X = candidate[index.astype(int), 1] * float(H)
            mX, mY = np.mean(X), np.mean(Y)
            length = ((X[0] - X[1]) ** 2 + (Y[0] - Y[1]) ** 2) ** 0.5
            angle = math.degrees(math.atan2(X[0] - X[1], Y[0] - Y[1]))
            polygon = cv2.ellipse2Poly((int(mY), int(mX)), (int(length / 2), stickwidth), int(angle), 0, 360, 1)
            cv2.fillConvexPoly(canvas, polygon, COLORS[i])
    canvas = (canvas * 0.6).astype(np.uint8)
    for i in range(18):
        for n in range(len(subset)):
            index = int(subset[n][i])
            if index == -1:
                continue
            x, y = candidate[index][0:2]
            if x <= 0.01 or y <= 0.01:
                continue
            cv2.circle(canvas, (int(x * W), int(y * H)), 4, COLORS[i], thickness=-1)
    return canvas


def render_official(pose_frame, width, height):
    """One POSE_KEYPOINT frame (pixel coordinates) through draw_bodypose."""
    candidate, subset = [], []
    for n, person in enumerate(pose_frame["people"]):
        kp = np.asarray(person["pose_keypoints_2d"], float).reshape(18, 3)
        candidate.append(kp[:, :2] / [pose_frame["canvas_width"], pose_frame["canvas_height"]])
        subset.append([n * 18 + i if kp[i, 2] > 0 else -1 for i in range(18)])
    if not candidate:
        return np.zeros((height, width, 3), np.uint8)
    return draw_bodypose(np.zeros((height, width, 3), np.uint8), np.concatenate(candidate), np.array(subset))
