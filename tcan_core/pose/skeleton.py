"""OpenPose-18 body tables: joint order, limbs, colours, and the retargeting tree.

Joint order (OpenPose-18, as DWPose/comfyui_controlnet_aux emit it):
0 nose, 1 neck, 2 R-shoulder, 3 R-elbow, 4 R-wrist, 5 L-shoulder, 6 L-elbow, 7 L-wrist,
8 R-hip, 9 R-knee, 10 R-ankle, 11 L-hip, 12 L-knee, 13 L-ankle, 14 R-eye, 15 L-eye,
16 R-ear, 17 L-ear.
"""

NUM_BODY_JOINTS = 18
NUM_HAND_JOINTS = 21
NUM_FACE_JOINTS = 70

NOSE, NECK = 0, 1
R_SHOULDER, R_ELBOW, R_WRIST = 2, 3, 4
L_SHOULDER, L_ELBOW, L_WRIST = 5, 6, 7
R_HIP, R_KNEE, R_ANKLE = 8, 9, 10
L_HIP, L_KNEE, L_ANKLE = 11, 12, 13
R_EYE, L_EYE, R_EAR, L_EAR = 14, 15, 16, 17

JOINT_NAMES = (
    "nose", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist",
    "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "r_eye", "l_eye", "r_ear", "l_ear",
)

# Parent of each joint in the retargeting tree rooted at the neck (TCAN's kp_mapper).
PARENT = (NECK, -1, NECK, R_SHOULDER, R_ELBOW, NECK, L_SHOULDER, L_ELBOW,
          NECK, R_HIP, R_KNEE, NECK, L_HIP, L_KNEE, NOSE, NOSE, R_EYE, L_EYE)


def _descendants(joint):
    children = [j for j, p in enumerate(PARENT) if p == joint]
    out = []
    for c in children:
        out.append(c)
        out.extend(_descendants(c))
    return tuple(sorted(out))


# Joints moved together with each joint when its bone is rescaled (TCAN's move_subkeypoints).
DESCENDANTS = tuple(_descendants(j) for j in range(NUM_BODY_JOINTS))

# Retargeting order: bones nearer the neck first (TCAN's stage_nodes_dict). The nose (head
# step) is handled before these stages.
STAGES = ((2, 5, 8, 11, 14, 15), (3, 6, 9, 12, 16, 17), (4, 7, 10, 13))

# Left/right partner bones whose reference ratios are symmetrised (max of the pair).
SYMMETRIC_PAIRS = ((2, 5), (3, 6), (4, 7), (8, 11), (9, 12), (10, 13), (14, 15), (16, 17))

# The 17 drawn limbs, as 0-based joint pairs, in ControlNet's drawing order; limb k uses COLORS[k].
LIMBS = ((1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10), (1, 11),
         (11, 12), (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17))

# RGB colours of OpenPose's renderer; joint i and limb i use COLORS[i].
COLORS = ((255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0),
          (0, 255, 0), (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255),
          (0, 0, 255), (85, 0, 255), (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85))

# Hand skeleton (21 points, 0 = wrist) as drawn by controlnet_aux's draw_handpose.
HAND_EDGES = ((0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (0, 9), (9, 10),
              (10, 11), (11, 12), (0, 13), (13, 14), (14, 15), (15, 16), (0, 17), (17, 18),
              (18, 19), (19, 20))

# OpenPose BODY_25 -> OpenPose-18 (BODY_25 adds mid-hip at 8 and six foot points).
BODY25_TO_BODY18 = (0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18)
