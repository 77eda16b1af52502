"""Synthetic OpenPose-18 bodies for tests: built from bone lengths and angles, so truths are known."""

import math

import numpy as np

# joint: (parent, default length in px, default angle in degrees; 0 = +x, 90 = down the image)
BONES = {
    0: (1, 50, -90), 2: (1, 40, 180), 3: (2, 60, 100), 4: (3, 55, 95), 5: (1, 40, 0), 6: (5, 60, 80),
    7: (6, 55, 85), 8: (1, 110, 100), 9: (8, 80, 92), 10: (9, 78, 90), 11: (1, 110, 80), 12: (11, 80, 88),
    13: (12, 78, 90), 14: (0, 12, 200), 15: (0, 12, -20), 16: (14, 14, 170), 17: (15, 14, 10),
}
ORDER = [0, 2, 5, 8, 11, 14, 15, 3, 6, 9, 12, 16, 17, 4, 7, 10, 13]


def body(neck=(200.0, 150.0), lengths=None, angles=None):
    """[18, 2] pixel coordinates of a body with the given per-joint bone lengths / angles (dicts)."""
    lengths = lengths or {}
    angles = angles or {}
    pts = np.zeros((18, 2))
    pts[1] = neck
    for j in ORDER:
        parent, length, angle = BONES[j]
        length = lengths.get(j, length)
        a = math.radians(angles.get(j, angle))
        pts[j] = pts[parent] + length * np.array([math.cos(a), math.sin(a)])
    return pts


def frame(*bodies, width=512, height=512, visible=None, hands=None):
    """POSE_KEYPOINT frame dict with one person per body; visible: [18] bool for the first person."""
    people = []
    for k, b in enumerate(bodies):
        c = np.ones(18) if (visible is None or k) else np.asarray(visible, float)
        xyc = np.column_stack([b, c])
        xyc[c == 0] = 0
        person = {"pose_keypoints_2d": xyc.reshape(-1).tolist(), "face_keypoints_2d": None,
                  "hand_left_keypoints_2d": None, "hand_right_keypoints_2d": None}
        if hands is not None and k == 0:
            person["hand_left_keypoints_2d"], person["hand_right_keypoints_2d"] = hands
        people.append(person)
    return {"people": people, "canvas_width": width, "canvas_height": height}


def dance(num_frames=30, seed=0, neck=(260.0, 150.0), scale=1.0, jitter=0.0, speed=0.3):
    """A driving sequence: limbs swing smoothly, the neck drifts; lengths constant unless foreshortened."""
    rng = np.random.default_rng(seed)
    phases = rng.uniform(0, 2 * math.pi, 18)
    bodies = []
    for t in range(num_frames):
        angles = {j: BONES[j][2] + 25 * math.sin(speed * t + phases[j]) for j in (3, 4, 6, 7, 9, 10, 12, 13)}
        lengths = {j: BONES[j][1] * scale for j in BONES}
        b = body((neck[0] + 2 * t, neck[1] + 3 * math.sin(0.2 * t)), lengths, angles)
        bodies.append(b + rng.normal(0, jitter, b.shape) if jitter else b)
    return bodies


def xy(pose_frame, person=0):
    """POSE_KEYPOINT frame dict -> ([18, 2] xy, [18] confidence)."""
    arr = np.asarray(pose_frame["people"][person]["pose_keypoints_2d"], float).reshape(18, 3)
    return arr[:, :2], arr[:, 2]
