"""Generate the pack's small bundled sample data in tcan_core/samples/ (deterministic).

    python scripts/make_samples.py        # from the repository root

Writes
    driving_pose.json    POSE_KEYPOINT, 100 frames (4 s at FPS = 25) of a synthetic dancer, 512x512
    reference_pose.json  POSE_KEYPOINT, 1 frame: a differently built person in a relaxed A-pose, 384x512
    reference.png        a stylised drawing of that reference person at exactly its keypoints
    README.md            what the files are and how to regenerate them

Both people are simple 3D skeletons (pixel units, y up, the camera looking down -z) posed with
smooth joint-angle curves and projected orthographically; the driving pose then gets detector-like
artefacts (1 px Gaussian jitter on body points, 0.6 px on hand points, a far-side ear that disappears when the head turns, a few
1-3 frame dropouts). Only numpy and cv2 are used; the seed is fixed, so reruns give identical files.
"""

import json
import os
from dataclasses import dataclass

import cv2
import numpy as np

FPS = 25
NUM_FRAMES = 100  # 4 s
SEED = 20240613

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "tcan_core", "samples")

DRIVING_SIZE = (512, 512)    # (width, height)
REFERENCE_SIZE = (384, 512)

# OpenPose-18 indices
NOSE, NECK = 0, 1
R_SHO, R_ELB, R_WRI, L_SHO, L_ELB, L_WRI = 2, 3, 4, 5, 6, 7
R_HIP, R_KNE, R_ANK, L_HIP, L_KNE, L_ANK = 8, 9, 10, 11, 12, 13
R_EYE, L_EYE, R_EAR, L_EAR = 14, 15, 16, 17

UP = np.array([0.0, 1.0, 0.0])
FWD = np.array([0.0, 0.0, 1.0])   # towards the camera
RIGHT_SIDE = -1.0                 # the person's right is at -x when facing the camera
LEFT_SIDE = 1.0


# --------------------------------------------------------------------------------------------
# small maths helpers
# --------------------------------------------------------------------------------------------

def rot_x(deg):  # positive: +y towards +z (lean forward / nod down)
    a = np.radians(deg)
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def rot_y(deg):  # positive: +z towards +x (the person turns to their left, i.e. image right)
    a = np.radians(deg)
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def rot_z(deg):  # positive: +y towards -x (top tilts to the person's right)
    a = np.radians(deg)
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def unit(v):
    return v / max(np.linalg.norm(v), 1e-9)


def perp_unit(hint, axis, fallback):
    """hint made orthogonal to the unit vector axis and normalised (fallback if degenerate)."""
    v = hint - np.dot(hint, axis) * axis
    if np.linalg.norm(v) < 1e-3:
        v = fallback - np.dot(fallback, axis) * axis
    return unit(v)


def track(keys, t):
    """Cubic (Catmull-Rom style) interpolation of [(time, value), ...]; flat outside the keys."""
    ts = np.array([k[0] for k in keys], dtype=float)
    vs = np.array([k[1] for k in keys], dtype=float)
    if t <= ts[0]:
        return vs[0]
    if t >= ts[-1]:
        return vs[-1]
    i = int(np.searchsorted(ts, t, side="right") - 1)
    m = np.zeros_like(vs)
    m[1:-1] = (vs[2:] - vs[:-2]) / (ts[2:] - ts[:-2])
    h = ts[i + 1] - ts[i]
    s = (t - ts[i]) / h
    h00, h10 = 2 * s**3 - 3 * s**2 + 1, s**3 - 2 * s**2 + s
    h01, h11 = -2 * s**3 + 3 * s**2, s**3 - s**2
    return h00 * vs[i] + h10 * h * m[i] + h01 * vs[i + 1] + h11 * h * m[i + 1]


def smoothstep(a, b, t):
    s = np.clip((t - a) / (b - a), 0.0, 1.0)
    return s * s * (3 - 2 * s)


def window(t, a, b, ramp=0.2):
    """1 inside [a, b], smooth ramps of length `ramp` outside."""
    return smoothstep(a - ramp, a, t) * (1 - smoothstep(b, b + ramp, t))


def softmin(a, b, k=2.0):
    m = min(a, b)
    return m - k * np.log(np.exp(-(a - m) / k) + np.exp(-(b - m) / k))


def two_bone_ik(root, target, l1, l2, pole):
    """Knee/elbow and end point of a two-bone chain reaching for target, bending towards pole."""
    d = target - root
    dist = float(np.clip(np.linalg.norm(d), 1e-6, (l1 + l2) * 0.9999))
    axis = unit(d)
    a = (l1 * l1 - l2 * l2 + dist * dist) / (2 * dist)
    h = np.sqrt(max(l1 * l1 - a * a, 0.0))
    p = perp_unit(pole, axis, FWD)
    return root + a * axis + h * p, root + dist * axis


# --------------------------------------------------------------------------------------------
# body model
# --------------------------------------------------------------------------------------------

@dataclass
class Body:
    """Bone lengths in pixels (see bone_report for the resulting 2D distances)."""

    height: float        # floor to top of head
    ankle_h: float       # ankle joint above the floor
    shin: float
    thigh: float
    torso: float         # pelvis centre (hip line) to neck (shoulder line)
    shoulder_half: float
    hip_half: float
    upper_arm: float
    forearm: float
    hand: float          # wrist to middle fingertip
    head_r: float        # half the head's width
    nose_neck: float     # nose above the neck, neutral head


def make_body(height, legs, torso, shoulder_half, hip_half, upper_arm, forearm, hand, head_r,
              nose_neck):
    """Build a Body from fractions of the height."""
    return Body(height=height, ankle_h=0.04 * height, shin=legs[1] * height, thigh=legs[0] * height,
                torso=torso * height, shoulder_half=shoulder_half * height, hip_half=hip_half * height,
                upper_arm=upper_arm * height, forearm=forearm * height, hand=hand * height,
                head_r=head_r * height, nose_neck=nose_neck * height)


# Hand model in units of the hand length, in the (fingers f, thumb side l, palm normal n) frame.
# Finger: (MCP along f, MCP along l, spread angle towards the thumb in degrees, phalanx lengths)
FINGERS = (
    (0.43, 0.12, 9.0, (0.21, 0.13, 0.10)),    # index  5-8
    (0.45, 0.03, 1.0, (0.24, 0.15, 0.11)),    # middle 9-12
    (0.42, -0.06, -7.0, (0.22, 0.14, 0.10)),  # ring   13-16
    (0.38, -0.14, -16.0, (0.17, 0.10, 0.09)),  # pinky  17-20
)
THUMB = ((0.13, 52.0, 30.0), (0.22, 40.0, 28.0), (0.16, 28.0, 22.0), (0.13, 20.0, 15.0))  # (len, deg from f towards l, deg towards palm)


def hand_points(wrist, f, n_hint, side, length, curl):
    """21 OpenPose hand points (3D): open hand at `wrist`, fingers along `f`, palm facing n_hint."""
    f = unit(f)
    n = perp_unit(n_hint, f, UP)
    l = np.cross(f, n) if side == RIGHT_SIDE else np.cross(n, f)   # towards the thumb
    pts = [wrist]
    p = wrist.copy()
    for seg, ang, into in THUMB:
        a, b = np.radians(ang), np.radians(into)
        d = np.cos(b) * (np.cos(a) * f + np.sin(a) * l) + np.sin(b) * n
        p = p + seg * length * d
        pts.append(p)
    for along, across, spread, segs in FINGERS:
        p = wrist + length * (along * f + across * l)
        pts.append(p)
        a = np.radians(spread)
        base = np.cos(a) * f + np.sin(a) * l
        c = 0.0
        for k, seg in enumerate(segs):
            c += np.radians(curl * (0.6, 1.0, 0.7)[k])
            d = np.cos(c) * base + np.sin(c) * n
            p = p + seg * length * d
            pts.append(p)
    return np.array(pts)


def arm_chain(shoulder, R, side, body, elev, plane, bend, bend_hint, palm_hint, curl):
    """Elbow, wrist and hand points. elev: 0 hanging .. 180 straight up; plane: 0 sideways ..
    90 forwards; bend: elbow flexion; bend_hint / palm_hint: torso-frame directions
    (x = the side of this arm, so +x is outwards for both arms)."""
    e, p = np.radians(elev), np.radians(plane)
    flip = np.array([side, 1.0, 1.0])
    u = R @ (flip * np.array([np.sin(e) * np.cos(p), -np.cos(e), np.sin(e) * np.sin(p)]))
    elbow = shoulder + body.upper_arm * u
    v = perp_unit(R @ (flip * np.asarray(bend_hint, float)), u, R @ FWD)
    b = np.radians(bend)
    f = np.cos(b) * u + np.sin(b) * v
    wrist = elbow + body.forearm * f
    hand = hand_points(wrist, f, R @ (flip * np.asarray(palm_hint, float)), side, body.hand, curl)
    return elbow, wrist, hand


def head_points(neck, R_head, body):
    """nose, eyes, ears, head centre and top, plus each ear's outward normal (world)."""
    r, nn = body.head_r, body.nose_neck
    centre_local = np.array([0.0, 0.62 * nn, 0.0])
    # the head turns about a pivot straight above the neck keypoint (top of the neck), placed so
    # that the neutral nose sits nose_neck above the neck
    pivot = neck + np.array([0.0, nn - (0.62 * nn - 0.05 * r), 0.0])

    def at(v):
        return pivot + R_head @ (centre_local + np.asarray(v, float))

    out = {
        "nose": at([0.0, -0.05 * r, 1.0 * r]),
        "r_eye": at([-0.36 * r, 0.22 * r, 0.86 * r]),
        "l_eye": at([0.36 * r, 0.22 * r, 0.86 * r]),
        "r_ear": at([-0.98 * r, 0.05 * r, -0.1 * r]),
        "l_ear": at([0.98 * r, 0.05 * r, -0.1 * r]),
        "centre": at([0.0, 0.1 * r, 0.0]),
        "top": at([0.0, 1.35 * r, 0.0]),
        "chin": at([0.0, -1.15 * r, 0.55 * r]),
        "r_ear_n": R_head @ np.array([-1.0, 0.0, 0.0]),
        "l_ear_n": R_head @ np.array([1.0, 0.0, 0.0]),
    }
    return out


def build_person(body, st):
    """3D joints for one pose state. Returns (joints [18,3], hands {side: [21,3]}, head dict)."""
    J = np.zeros((18, 3))
    R_pel = rot_y(st["yaw_pelvis"]) @ rot_z(st["roll_pelvis"])
    R_tor = rot_y(st["yaw_torso"]) @ rot_z(st["roll_torso"]) @ rot_x(st["pitch_torso"])
    R_head = R_tor @ rot_y(st["yaw_head"]) @ rot_z(st["roll_head"]) @ rot_x(st["pitch_head"])

    P = st["pelvis"]
    J[R_HIP] = P + R_pel @ np.array([RIGHT_SIDE * body.hip_half, 0.0, 0.0])
    J[L_HIP] = P + R_pel @ np.array([LEFT_SIDE * body.hip_half, 0.0, 0.0])
    for hip, knee, ank, foot in ((R_HIP, R_KNE, R_ANK, "foot_r"), (L_HIP, L_KNE, L_ANK, "foot_l")):
        side = RIGHT_SIDE if hip == R_HIP else LEFT_SIDE
        pole = R_pel @ np.array([0.12 * side, 0.0, 1.0])
        J[knee], J[ank] = two_bone_ik(J[hip], st[foot], body.thigh, body.shin, pole)

    chest = P + R_tor @ np.array([0.0, body.torso, 0.0])
    shrug_r, shrug_l = st.get("shrug_r", 0.0), st.get("shrug_l", 0.0)
    J[R_SHO] = chest + R_tor @ np.array([RIGHT_SIDE * body.shoulder_half, shrug_r, 0.0])
    J[L_SHO] = chest + R_tor @ np.array([LEFT_SIDE * body.shoulder_half, shrug_l, 0.0])
    J[NECK] = 0.5 * (J[R_SHO] + J[L_SHO])  # DWPose's neck is the shoulders' midpoint

    hands = {}
    for side, sho, elb, wri, key in ((RIGHT_SIDE, R_SHO, R_ELB, R_WRI, "arm_r"),
                                     (LEFT_SIDE, L_SHO, L_ELB, L_WRI, "arm_l")):
        J[elb], J[wri], hands[side] = arm_chain(J[sho], R_tor, side, body, **st[key])

    head = head_points(J[NECK], R_head, body)
    J[NOSE], J[R_EYE], J[L_EYE] = head["nose"], head["r_eye"], head["l_eye"]
    J[R_EAR], J[L_EAR] = head["r_ear"], head["l_ear"]
    return J, hands, head


def project(points, floor_y):
    """Orthographic camera: x stays, y flips (world y up from the floor at image row floor_y)."""
    pts = np.asarray(points, float)
    return np.stack([pts[..., 0], floor_y - pts[..., 1]], axis=-1)


# --------------------------------------------------------------------------------------------
# the two people
# --------------------------------------------------------------------------------------------

# Driving dancer: tall, long legs, short arms, small head, slim.
DRIVER = make_body(height=370, legs=(0.27, 0.27), torso=0.29, shoulder_half=0.105, hip_half=0.07,
                   upper_arm=0.165, forearm=0.135, hand=0.10, head_r=0.043, nose_neck=0.088)
# Reference: stockier, shorter legs, bigger head, broad shoulders and hips.
REFERENCE = make_body(height=400, legs=(0.215, 0.215), torso=0.31, shoulder_half=0.125,
                      hip_half=0.09, upper_arm=0.18, forearm=0.145, hand=0.105, head_r=0.062,
                      nose_neck=0.115)

DRIVER_FLOOR_Y = 472.0

# Planned body centre x (image px) and lower-body yaw; feet land relative to these.
CENTRE_X = [(0.0, 232.0), (0.7, 246.0), (1.45, 259.0), (2.45, 272.0), (3.2, 284.0), (4.0, 286.0)]
BODY_YAW = [(0.0, -8.0), (0.9, -4.0), (1.6, 8.0), (2.4, 32.0), (3.2, 38.0), (4.0, 10.0)]
# Step events: (foot, lift-off, landing); the weight is on the other foot meanwhile.
STEPS = [("l", 0.30, 0.70), ("r", 1.05, 1.45), ("l", 2.05, 2.45), ("r", 2.80, 3.20)]
# Weight: 0 = all on the right foot, 1 = all on the left foot.
WEIGHT = [(0.0, 0.5), (0.25, 0.3), (0.7, 0.32), (1.02, 0.7), (1.45, 0.68), (1.65, 0.45),
          (1.85, 0.58), (2.02, 0.3), (2.45, 0.32), (2.77, 0.7), (3.2, 0.68), (3.45, 0.42),
          (3.7, 0.6), (3.9, 0.45), (4.0, 0.5)]

# Arm keyframes: time, elevation, plane, elbow bend, bend hint (x out, y up, z fwd), palm hint.
ARM_R = [
    (0.00, 18, 15, 15, (0, 0, 1), (-1, 0, 0.2)),
    (0.25, 22, 20, 25, (0, 0.2, 1), (-1, 0, 0.3)),
    (0.80, 95, 10, 80, (0, 1, 0.3), (0, 0, 1)),
    (1.00, 100, 8, 88, (-0.3, 1, 0.2), (0, 0, 1)),
    (1.90, 98, 10, 88, (-0.3, 1, 0.2), (0, 0, 1)),
    (2.25, 70, 40, 100, (-0.5, 0.6, 0.6), (-0.5, -0.3, 0.8)),
    (2.60, 52, 65, 105, (-1, 0.4, 0.3), (0, -1, 0.3)),
    (3.00, 125, 35, 22, (-0.5, 1, 0.3), (0, -0.3, 1)),
    (3.40, 50, 60, 105, (-1, 0.4, 0.3), (0, -1, 0.3)),
    (3.80, 118, 38, 28, (-0.5, 1, 0.3), (0, -0.3, 1)),
    (4.00, 95, 45, 55, (-0.7, 0.8, 0.3), (0, -0.6, 0.7)),
]
ARM_L = [
    (0.00, 25, 45, 65, (-0.6, 0.3, 1), (-1, -0.3, 0.2)),
    (0.50, 38, 55, 85, (-0.8, 0.4, 1), (-1, -0.3, 0.2)),
    (1.00, 33, 50, 72, (-0.6, 0.3, 1), (-1, -0.3, 0.2)),
    (1.50, 30, 45, 62, (-0.6, 0.3, 1), (-1, -0.3, 0.2)),
    (1.85, 70, 30, 55, (-0.6, 1, 0.4), (-0.2, 0, 1)),
    (2.30, 138, 15, 38, (-1, 1, 0.2), (0, 0, 1)),
    (3.20, 136, 15, 38, (-1, 1, 0.2), (0, 0, 1)),
    (3.55, 90, 30, 62, (-0.6, 1, 0.5), (-0.3, -0.2, 1)),
    (4.00, 55, 40, 78, (-0.6, 0.5, 1), (-1, -0.3, 0.3)),
]


def arm_state(keys, t, wave_env, wave_amp, wave_hz, pump_env=0.0, phase=0.0):
    vals = {}
    for j, name in ((1, "elev"), (2, "plane"), (3, "bend")):
        vals[name] = float(track([(k[0], k[j]) for k in keys], t))
    vals["bend"] += wave_env * wave_amp * np.sin(2 * np.pi * wave_hz * t + phase)
    vals["bend"] += pump_env * 14.0 * np.sin(2 * np.pi * 2.0 * t + phase)
    vals["elev"] += pump_env * 5.0 * np.sin(2 * np.pi * 2.0 * t + phase + 0.8)
    for j, name in ((4, "bend_hint"), (5, "palm_hint")):
        vals[name] = np.array([[track([(k[0], k[j][c]) for k in keys], t) for c in range(3)]]).reshape(3)
    vals["curl"] = 14.0 + 8.0 * np.sin(2 * np.pi * 0.7 * t + phase)
    return vals


def feet_at(t):
    """Ankle positions (world) of both feet at time t, stepping per STEPS."""
    st = DRIVER.hip_half + 0.02 * DRIVER.height

    def planted(foot, when):
        side = LEFT_SIDE if foot == "l" else RIGHT_SIDE
        yaw = 0.75 * track(BODY_YAW, when)
        off = rot_y(yaw) @ np.array([side * st, 0.0, 0.0])
        return np.array([track(CENTRE_X, when), DRIVER.ankle_h, 0.0]) + off

    feet = {}
    for foot in ("r", "l"):
        pos = planted(foot, 0.0)
        for f, t0, t1 in STEPS:
            if f != foot or t < t0:
                continue
            start = pos
            end = planted(foot, t1)
            s = smoothstep(t0, t1, t)
            pos = start + (end - start) * s
            pos = pos + np.array([0.0, 0.035 * DRIVER.height * np.sin(np.pi * min(1.0, (t - t0) / (t1 - t0))), 0.0])
        feet[foot] = pos
    return feet["r"], feet["l"]


def driver_state(t):
    foot_r, foot_l = feet_at(t)
    w = float(np.clip(track(WEIGHT, t), 0.0, 1.0))
    yaw = float(track(BODY_YAW, t))
    base = foot_r + (foot_l - foot_r) * w
    base[1] = 0.0
    # Knees bend on every beat (120 bpm) and a bit more while stepping.
    beat = 0.5 + 0.5 * np.cos(2 * np.pi * t / 0.5)
    step = sum(window(t, a, b, 0.15) for _, a, b in STEPS)
    bob = 0.012 * DRIVER.height + 0.018 * DRIVER.height * beat + 0.01 * DRIVER.height * step
    legs = DRIVER.thigh + DRIVER.shin
    want_y = DRIVER.ankle_h + 0.985 * legs - bob
    roll_p = 14.0 * (w - 0.5)
    yaw_p = 0.8 * yaw
    R_pel = rot_y(yaw_p) @ rot_z(roll_p)
    y = want_y
    for foot, side in ((foot_r, RIGHT_SIDE), (foot_l, LEFT_SIDE)):
        hip_off = R_pel @ np.array([side * DRIVER.hip_half, 0.0, 0.0])
        dh = np.hypot(base[0] + hip_off[0] - foot[0], base[2] + hip_off[2] - foot[2])
        reach = 0.99 * legs
        y_max = foot[1] + np.sqrt(max(reach**2 - dh**2, 1.0)) - hip_off[1]
        y = softmin(y, y_max, 2.0)
    pelvis = np.array([base[0], y, base[2] - 4.0])

    wave_r = window(t, 1.0, 1.9, 0.15)
    wave_l = window(t, 2.3, 3.2, 0.15)
    pump_l = window(t, 0.0, 1.4, 0.3)
    arm_r = arm_state(ARM_R, t, wave_r, 24.0, 2.4, 0.0, phase=0.0)
    arm_l = arm_state(ARM_L, t, wave_l, 20.0, 2.6, pump_l, phase=1.3)
    return {
        "pelvis": pelvis, "foot_r": foot_r, "foot_l": foot_l,
        "yaw_pelvis": yaw_p, "roll_pelvis": roll_p,
        "yaw_torso": yaw + 6.0 * np.sin(2 * np.pi * t / 1.0 + 0.5),
        "roll_torso": -0.6 * roll_p + 3.0 * (wave_r - wave_l),
        "pitch_torso": 4.0 + 3.0 * beat,
        "yaw_head": 0.18 * yaw + 7.0 * np.sin(2 * np.pi * t / 2.0 + 1.0),
        "roll_head": 5.0 * np.sin(2 * np.pi * t / 2.0) - 0.3 * roll_p,
        "pitch_head": 3.0 + 4.0 * beat,
        "shrug_r": 0.012 * DRIVER.height * smoothstep(80, 120, arm_r["elev"]),
        "shrug_l": 0.012 * DRIVER.height * smoothstep(80, 120, arm_l["elev"]),
        "arm_r": arm_r, "arm_l": arm_l,
    }


def reference_state():
    b = REFERENCE
    legs = b.thigh + b.shin
    cx = REFERENCE_SIZE[0] / 2.0
    yaw = 6.0
    foot_r = np.array([cx - (b.hip_half + 0.02 * b.height), b.ankle_h, 3.0])
    foot_l = np.array([cx + (b.hip_half + 0.025 * b.height), b.ankle_h, -3.0])
    y = b.ankle_h + 0.975 * legs
    return {
        "pelvis": np.array([cx + 2.0, y, -2.0]), "foot_r": foot_r, "foot_l": foot_l,
        "yaw_pelvis": 0.7 * yaw, "roll_pelvis": 1.5,
        "yaw_torso": yaw, "roll_torso": -1.0, "pitch_torso": 1.5,
        "yaw_head": -4.0, "roll_head": 3.0, "pitch_head": 2.0,
        "arm_r": dict(elev=24, plane=12, bend=14, bend_hint=(0, 0, 1), palm_hint=(-0.9, 0, 0.45), curl=18),
        "arm_l": dict(elev=27, plane=8, bend=11, bend_hint=(0, 0, 1), palm_hint=(-0.9, 0, 0.45), curl=18),
    }


# --------------------------------------------------------------------------------------------
# POSE_KEYPOINT output
# --------------------------------------------------------------------------------------------

def ear_visible(normal, threshold=-0.4):
    return normal[2] > threshold  # hidden once the head is turned ~24 degrees away from its side


def to_2d(body, st, floor_y, rng, jitter, hand_jitter):
    J, hands, head = build_person(body, st)
    body2d = np.concatenate([project(J, floor_y), np.ones((18, 1))], axis=1)
    body2d[:, :2] += rng.normal(0.0, jitter, (18, 2))
    out_hands = {}
    for side, pts in hands.items():
        h = np.concatenate([project(pts, floor_y), np.ones((21, 1))], axis=1)
        h[1:, :2] += rng.normal(0.0, hand_jitter, (20, 2))
        wri = R_WRI if side == RIGHT_SIDE else L_WRI
        h[0, :2] = body2d[wri, :2]  # the hand's root is the (detected) body wrist
        out_hands[side] = h
    ear_n = {R_EAR: head["r_ear_n"], L_EAR: head["l_ear_n"]}
    return body2d, out_hands, ear_n, head


def flat(pts):
    out = np.array(pts, float)
    out[out[:, 2] <= 0] = 0.0
    return [round(float(v), 2) for v in out.reshape(-1)]


def frame_dict(body2d, hands, size):
    return {
        "people": [{
            "pose_keypoints_2d": flat(body2d),
            "face_keypoints_2d": None,
            "hand_left_keypoints_2d": flat(hands[LEFT_SIDE]),
            "hand_right_keypoints_2d": flat(hands[RIGHT_SIDE]),
        }],
        "canvas_width": int(size[0]),
        "canvas_height": int(size[1]),
    }


# Detector dropouts: (body joint, first frame, number of frames).
DROPOUTS = [(R_WRI, 31, 2), (L_ANK, 54, 3), (R_EAR, 9, 1), (L_ELB, 79, 1), (L_EYE, 66, 2),
            (R_KNE, 88, 1)]


def make_driving(rng):
    frames = []
    for i in range(NUM_FRAMES):
        t = i / FPS
        st = driver_state(t)
        body2d, hands, ear_n, _ = to_2d(DRIVER, st, DRIVER_FLOOR_Y, rng, jitter=1.0, hand_jitter=0.6)
        for ear, n in ear_n.items():
            if not ear_visible(n, -0.4 + rng.normal(0.0, 0.03)):
                body2d[ear] = 0.0
        frames.append((body2d, hands))
    for joint, start, count in DROPOUTS:
        for i in range(start, start + count):
            frames[i][0][joint] = 0.0
    return [frame_dict(b, h, DRIVING_SIZE) for b, h in frames]


REFERENCE_FLOOR_Y = 488.0


def make_reference(rng):
    st = reference_state()
    body2d, hands, ear_n, head = to_2d(REFERENCE, st, REFERENCE_FLOOR_Y, rng, jitter=0.4, hand_jitter=0.3)
    for ear, n in ear_n.items():
        if not ear_visible(n):
            body2d[ear] = 0.0
    extra = {"top": project(head["top"], REFERENCE_FLOOR_Y), "centre": project(head["centre"], REFERENCE_FLOOR_Y),
             "chin": project(head["chin"], REFERENCE_FLOOR_Y)}
    return [frame_dict(body2d, hands, REFERENCE_SIZE)], body2d, hands, extra


# --------------------------------------------------------------------------------------------
# reference.png: a stylised person drawn at the reference keypoints
# --------------------------------------------------------------------------------------------

SKIN = (226, 178, 146)
SKIN_DARK = (186, 132, 104)
HAIR = (62, 42, 32)
SHIRT = (46, 128, 146)
SHIRT_DARK = (30, 90, 104)
TROUSERS = (52, 60, 96)
TROUSERS_DARK = (34, 38, 66)
SHOE = (38, 34, 34)
OUTLINE = (40, 34, 34)


def _bgr(rgb):
    return tuple(int(c) for c in rgb[::-1])


def _pt(p):
    return (int(round(p[0] * 16)), int(round(p[1] * 16)))  # 4-bit sub-pixel coordinates


def _line(img, a, b, color, thick):
    cv2.line(img, _pt(a), _pt(b), _bgr(color), int(round(thick)), cv2.LINE_AA, 4)


def _poly(img, pts, color, outline=None):
    arr = np.array([_pt(p) for p in pts], np.int32).reshape(-1, 1, 2)
    cv2.fillPoly(img, [arr], _bgr(color), cv2.LINE_AA, 4)
    if outline is not None:
        cv2.polylines(img, [arr], True, _bgr(outline), 2, cv2.LINE_AA, 4)


def _ellipse(img, c, axes, angle, color, thick=-1):
    cv2.ellipse(img, _pt(c), (int(round(axes[0] * 16)), int(round(axes[1] * 16))), float(angle), 0, 360,
                _bgr(color), thick, cv2.LINE_AA, 4)


def _limb(img, a, b, color, dark, thick):
    _line(img, a, b, dark, thick + 3)
    _line(img, a, b, color, thick)


def _capsule(a, b, ra, rb, n=10):
    """Polygon of a tapered limb from a (radius ra) to b (radius rb), round ends."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    d = unit(b - a)
    ang = np.arctan2(d[1], d[0])
    pts = []
    for k in range(n + 1):
        th = ang + np.pi / 2 - np.pi * k / n
        pts.append(b + rb * np.array([np.cos(th), np.sin(th)]))
    for k in range(n + 1):
        th = ang - np.pi / 2 - np.pi * k / n
        pts.append(a + ra * np.array([np.cos(th), np.sin(th)]))
    return pts


def draw_reference(body2d, hands, extra, size):
    W, H = size
    # soft vertical gradient wall + a slightly darker floor, and a soft contact shadow
    ys = np.linspace(0.0, 1.0, H)[:, None]
    top, bottom = np.array([236, 238, 244.0]), np.array([206, 210, 222.0])
    wall = top + (bottom - top) * ys
    img = np.repeat(wall[:, None, :], W, axis=1)
    floor_y = int(REFERENCE_FLOOR_Y - 40)
    fy = np.clip((np.arange(H) - floor_y) / (H - floor_y), 0, 1)[:, None]
    floor = np.array([196, 186, 176.0]) + (np.array([176, 166, 156.0]) - np.array([196, 186, 176.0])) * fy
    img[floor_y:] = floor[floor_y:][:, None, :]
    img = img[..., ::-1].copy()  # to BGR
    shadow = np.zeros((H, W), np.float32)
    ank = body2d[[R_ANK, L_ANK], :2]
    sc = (float(ank[:, 0].mean()), float(ank[:, 1].max() + 14))
    cv2.ellipse(shadow, (int(sc[0]), int(sc[1])), (int(abs(ank[1, 0] - ank[0, 0]) / 2 + 38), 11), 0, 0, 360, 1.0, -1)
    shadow = cv2.GaussianBlur(shadow, (0, 0), 6)
    img = img * (1 - 0.28 * shadow[..., None])
    img = np.clip(img, 0, 255).astype(np.uint8)
    img = np.ascontiguousarray(img)

    J = body2d[:, :2]
    b = REFERENCE
    thigh_w, shin_w = 0.064 * b.height, 0.046 * b.height
    uarm_w, farm_w = 0.044 * b.height, 0.034 * b.height

    # legs (trousers) with shoes
    for hip, knee, ank, side in ((R_HIP, R_KNE, R_ANK, -1), (L_HIP, L_KNE, L_ANK, 1)):
        toe = J[ank] + np.array([side * 6.0, 14.0])
        _ellipse(img, toe + np.array([0, 1.5]), (17.5, 10.5), side * 8, OUTLINE)
        _ellipse(img, toe, (16, 9), side * 8, SHOE)
        _ellipse(img, toe + np.array([-side * 3, -3]), (7, 2.5), side * 8, (90, 86, 86))
        _poly(img, _capsule(J[hip], J[knee], thigh_w * 0.5, shin_w * 0.56), TROUSERS, TROUSERS_DARK)
        _poly(img, _capsule(J[knee], J[ank] + np.array([0, 6]), shin_w * 0.56, shin_w * 0.5), TROUSERS, TROUSERS_DARK)
        _poly(img, _capsule(J[hip], J[knee], thigh_w * 0.5 - 1.5, shin_w * 0.56 - 1.5), TROUSERS)
    # hips / seat block joining the legs
    hip_mid = 0.5 * (J[R_HIP] + J[L_HIP])
    hw = 0.5 * np.linalg.norm(J[L_HIP] - J[R_HIP])
    _poly(img, [J[R_HIP] + [-thigh_w * 0.5, -12], J[L_HIP] + [thigh_w * 0.5, -12],
                J[L_HIP] + [thigh_w * 0.45, 8], hip_mid + [0, 0.5 * hw + 8], J[R_HIP] + [-thigh_w * 0.45, 8]], TROUSERS)

    # arms behind the torso edge: skin arm, then sleeve
    def arm(sho, elb, wri):
        _poly(img, _capsule(J[sho], J[elb], uarm_w * 0.55, farm_w * 0.55), SKIN, SKIN_DARK)
        _poly(img, _capsule(J[elb], J[wri], farm_w * 0.55, farm_w * 0.42), SKIN, SKIN_DARK)
        _poly(img, _capsule(J[sho], J[elb], uarm_w * 0.55 - 1.2, farm_w * 0.55 - 1.2), SKIN)
        sleeve_end = J[sho] + 0.5 * (J[elb] - J[sho])
        _poly(img, _capsule(J[sho], sleeve_end, uarm_w * 0.72, uarm_w * 0.68), SHIRT, SHIRT_DARK)

    arm(R_SHO, R_ELB, R_WRI)
    arm(L_SHO, L_ELB, L_WRI)

    # neck
    chin = extra["chin"]
    neck_w = 0.5 * (0.075 * b.height)
    _poly(img, [J[NECK] + [-neck_w, 4], chin + [-neck_w, 0], chin + [neck_w, 0], J[NECK] + [neck_w, 4]], SKIN)
    _poly(img, [chin + [-neck_w, 0], chin + [neck_w, 0], chin + [neck_w, 9], chin + [-neck_w, 6]], SKIN_DARK)

    # shirt torso
    rs, ls, rh, lh = J[R_SHO], J[L_SHO], J[R_HIP], J[L_HIP]
    torso = [
        rs + [-2, -6], rs + [6, -11], J[NECK] + [-neck_w - 2, -9],
        J[NECK] + [0, 4],
        J[NECK] + [neck_w + 2, -9], ls + [-6, -11], ls + [2, -6],
        ls + [1, 26], 0.45 * ls + 0.55 * lh + [-4, 0], lh + [thigh_w * 0.55, -4],
        lh + [thigh_w * 0.5, 6], rh + [-thigh_w * 0.5, 6],
        rh + [-thigh_w * 0.55, -4], 0.45 * rs + 0.55 * rh + [4, 0], rs + [-1, 26],
    ]
    _poly(img, torso, SHIRT, SHIRT_DARK)
    # collar and a belt line
    cv2.ellipse(img, _pt(J[NECK] + [0, -7]), (int(neck_w * 16), int(10 * 16)), 0, 10, 170, _bgr(SHIRT_DARK), 2,
                cv2.LINE_AA, 4)
    _line(img, rh + [-thigh_w * 0.52, 3], lh + [thigh_w * 0.52, 3], TROUSERS_DARK, 4)

    # head: ears, hair back, face, hair top, features
    centre, top = extra["centre"], extra["top"]
    r = np.linalg.norm(J[R_EAR] - J[L_EAR]) / 2 * 1.02 if (body2d[[R_EAR, L_EAR], 2] > 0).all() else b.head_r
    ry = np.linalg.norm(top - centre) * 0.98
    tilt = np.degrees(np.arctan2(top[0] - centre[0], -(top[1] - centre[1])))
    for ear in (R_EAR, L_EAR):
        if body2d[ear, 2] > 0:
            _ellipse(img, J[ear], (5.5, 9), tilt, SKIN_DARK)
            _ellipse(img, J[ear], (4.2, 7.6), tilt, SKIN)
    _ellipse(img, centre + [0, -ry * 0.2], (r * 1.04, ry * 0.98), -tilt, HAIR)
    face_c = centre + [0, ry * 0.08]
    _ellipse(img, face_c, (r * 0.92, ry * 1.02), -tilt, SKIN_DARK)
    _ellipse(img, face_c, (r * 0.92 - 1.3, ry * 1.02 - 1.3), -tilt, SKIN)
    # fringe: upper part of an ellipse over the forehead
    fringe_c = centre + [0, -ry * 0.35]
    cv2.ellipse(img, _pt(fringe_c), (int(r * 1.0 * 16), int(ry * 0.62 * 16)), -tilt, 180, 360, _bgr(HAIR), -1,
                cv2.LINE_AA, 4)
    _poly(img, [fringe_c + [-r * 0.98, 0], fringe_c + [r * 0.98, 0], fringe_c + [r * 0.45, ry * 0.16],
                fringe_c + [-r * 0.2, ry * 0.1]], HAIR)
    for eye in (R_EYE, L_EYE):
        _ellipse(img, J[eye], (3.6, 2.6), -tilt, (250, 250, 250))
        _ellipse(img, J[eye], (2.1, 2.1), 0, (50, 40, 36))
        _line(img, J[eye] + [-5, -7], J[eye] + [5, -7.5], HAIR, 2)
    nose = J[NOSE]
    _line(img, nose + [-1, -6], nose + [1, 1], SKIN_DARK, 2)
    _line(img, nose + [-2.5, 1.5], nose + [3, 1.5], SKIN_DARK, 2)
    mouth = nose + [0.0, 0.36 * np.linalg.norm(chin - nose) + 4]
    cv2.ellipse(img, _pt(mouth), (int(7 * 16), int(3 * 16)), -tilt, 15, 165, _bgr((160, 70, 70)), 2, cv2.LINE_AA, 4)

    # hands: palm hull plus fingers
    for side, h in hands.items():
        pts = h[:, :2]
        hull = cv2.convexHull(np.array([_pt(p) for p in pts[[0, 1, 2, 5, 9, 13, 17]]], np.int32))
        cv2.fillPoly(img, [hull], _bgr(SKIN), cv2.LINE_AA, 4)
        cv2.polylines(img, [hull], True, _bgr(SKIN_DARK), 1, cv2.LINE_AA, 4)
        for chain in ((1, 2, 3, 4), (5, 6, 7, 8), (9, 10, 11, 12), (13, 14, 15, 16), (17, 18, 19, 20)):
            for a, c in zip(chain[:-1], chain[1:]):
                _line(img, pts[a], pts[c], SKIN_DARK, 5)
        for chain in ((1, 2, 3, 4), (5, 6, 7, 8), (9, 10, 11, 12), (13, 14, 15, 16), (17, 18, 19, 20)):
            for a, c in zip(chain[:-1], chain[1:]):
                _line(img, pts[a], pts[c], SKIN, 3)
        wri = R_WRI if side == RIGHT_SIDE else L_WRI
        _line(img, J[wri], pts[9], SKIN, farm_w * 0.7)
    return img


# --------------------------------------------------------------------------------------------

README = """# Sample data (synthetic)

Small bundled samples for trying the nodes without running a pose detector. All files are
synthetic: generated by `scripts/make_samples.py` from simple 3D skeletons (no real people, no
model output). Regenerate them, byte-identical (fixed seed), with

    python scripts/make_samples.py

from the repository root.

- `driving_pose.json` - POSE_KEYPOINT (pixel coordinates), 100 frames = 4 s at **25 fps**, 512x512
  canvas, one dancer (tall, long legs, short arms, small head): side steps with weight shift and
  knee bounce, a right-arm wave, a left-arm overhead wave, a slow partial turn to the right of the
  image. Both hands (21 points) in every frame, no face. Detector-like artefacts: ~1 px jitter,
  the far-side ear missing while the head is turned, a few 1-3 frame dropouts (c = 0).
- `reference_pose.json` - POSE_KEYPOINT, one frame, 384x512 canvas: a different person (stockier,
  shorter legs, bigger head) in a relaxed near-frontal A-pose, with hands.
- `reference.png` - 384x512 RGB drawing of that reference person at exactly the reference pose's
  keypoints (use it as the reference image together with `reference_pose.json`).
"""


def bone_report(name, body2d):
    J = body2d[:, :2]

    def d(a, b):
        return float(np.linalg.norm(J[a] - J[b]))

    return (f"{name}: nose-neck {d(NOSE, NECK):.1f}, shoulders {d(R_SHO, L_SHO):.1f}, hips {d(R_HIP, L_HIP):.1f}, "
            f"neck-midhip {float(np.linalg.norm(J[NECK] - 0.5 * (J[R_HIP] + J[L_HIP]))):.1f}, "
            f"upper arm {d(R_SHO, R_ELB):.1f}/{d(L_SHO, L_ELB):.1f}, forearm {d(R_ELB, R_WRI):.1f}/{d(L_ELB, L_WRI):.1f}, "
            f"thigh {d(R_HIP, R_KNE):.1f}/{d(L_HIP, L_KNE):.1f}, shin {d(R_KNE, R_ANK):.1f}/{d(L_KNE, L_ANK):.1f}")


def main():
    rng = np.random.default_rng(SEED)
    os.makedirs(OUT_DIR, exist_ok=True)
    driving = make_driving(rng)
    reference, ref_body, ref_hands, extra = make_reference(rng)
    dump = dict(separators=(",", ":"))
    with open(os.path.join(OUT_DIR, "driving_pose.json"), "w") as fh:
        json.dump(driving, fh, **dump)
    with open(os.path.join(OUT_DIR, "reference_pose.json"), "w") as fh:
        json.dump(reference, fh, **dump)
    img = draw_reference(ref_body, ref_hands, extra, REFERENCE_SIZE)
    cv2.imwrite(os.path.join(OUT_DIR, "reference.png"), img, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    with open(os.path.join(OUT_DIR, "README.md"), "w") as fh:
        fh.write(README)
    for name in ("driving_pose.json", "reference_pose.json", "reference.png", "README.md"):
        path = os.path.join(OUT_DIR, name)
        print(f"{path}: {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
