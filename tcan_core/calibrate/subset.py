"""TPC's keypoints, their common set, and the optimal subset (paper section 4.1, eq. 4).

Keypoints: the paper's 17 (COCO layout: face 5, torso 4, arms 4, legs 4) in OpenPose-18 indices;
the OpenPose neck is not one of them (it is the shoulders' midpoint, counting them twice).

Common set: the keypoints visible in both the reference pose and the driving frame.

Optimal subset: x* = argmax_x IoU(target person, reference person warped with the fit on x),
over subsets x of the common set. The paper does not say how it searches; all 2^17 subsets are
too many (131,071 fits and warps per frame) and most make no sense (one eye and one ankle). This
port searches the unions of six body parts - face, torso, and each arm and leg on its own side -
63 subsets at most, fewer when parts are not visible:
- the misfit the paper describes ("the arms cannot overlap") is a limb that moved relative to the
  rest; dropping whole limbs, per side (one arm raised, the other down), is exactly what fixes it;
- a part's points move together, so splitting a part rarely helps and mostly lets two nearby
  points (an eye and an ear) produce a wild rotation;
- all 63 fits come from one vectorised closed-form pass (procrustes_batch), and each IoU costs one
  128-px nearest-neighbour warp (score.py): about a millisecond per frame on one CPU core;
- measured on every 10th frame of the bundled sample (raw / retargeted driving poses), the
  exhaustive search over all ~105,000 subsets of the common set reaches a mean IoU of
  0.599 / 0.655 at about 1.6 s per frame; these unions reach 0.585 / 0.645. Hill-climbing from
  the best union by adding or dropping single keypoints recovers only 0.006 more for twice the
  cost, and yields non-anatomical subsets, so it is not done.
The full common set is always a candidate (unless its own fit is implausible, see MAX_ZOOM), so
the search never scores worse than using every common keypoint. Ties go to the subset with more
keypoints (steadier), then to the full set.
"""

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from ..pose.skeleton import NUM_BODY_JOINTS
from .procrustes import procrustes_batch, similarity_matrix

# COCO-17 order (nose, L-eye, R-eye, L-ear, R-ear, L/R shoulder, L/R elbow, L/R wrist, L/R hip,
# L/R knee, L/R ankle) as OpenPose-18 indices (tpc.md section 10).
TPC_KEYPOINTS = (0, 15, 14, 17, 16, 5, 2, 6, 3, 7, 4, 11, 8, 12, 9, 13, 10)

# A fit that zooms the reference person by more than this (either way) relative to the plain
# resize onto the canvas comes from nearly coincident keypoints, not from a real pose change.
MAX_ZOOM = 16.0

PARTS = {
    "face": (0, 14, 15, 16, 17),
    "torso": (2, 5, 8, 11),
    "right arm": (3, 4),
    "left arm": (6, 7),
    "right leg": (9, 10),
    "left leg": (12, 13),
}


def _part_unions():
    """bool [63, 18]: every non-empty union of PARTS, the full set first, then larger unions first."""
    parts = list(PARTS.values())
    rows = []
    for size in range(len(parts), 0, -1):
        for combo in combinations(parts, size):
            row = np.zeros(NUM_BODY_JOINTS, bool)
            row[[j for part in combo for j in part]] = True
            rows.append(row)
    return np.array(rows)


PART_UNIONS = _part_unions()


def common_keypoints(reference_body, driving_body):
    """bool [18]: TPC keypoints visible (c > 0, finite) in both bodies ([18, 3] arrays)."""
    def visible(body):
        return (body[:, 2] > 0) & np.isfinite(body[:, :2]).all(axis=1)
    common = visible(np.asarray(reference_body, float)) & visible(np.asarray(driving_body, float))
    keep = np.zeros(NUM_BODY_JOINTS, bool)
    keep[list(TPC_KEYPOINTS)] = True
    return common & keep


def candidate_subsets(common, search=True):
    """bool [K, 18]: the subsets to try, the full common set first; only distinct subsets with at
    least 2 keypoints. Without search, just the full common set (or none if it has < 2 points)."""
    common = np.asarray(common, bool)
    if common.sum() < 2:
        return np.zeros((0, NUM_BODY_JOINTS), bool)
    if not search:
        return common[None]
    rows = PART_UNIONS & common
    rows = rows[rows.sum(axis=1) >= 2]
    _, first = np.unique(np.packbits(rows, axis=1), axis=0, return_index=True)
    return rows[np.sort(first)]  # the full common set is row 0 (the union of all parts)


def describe_subset(subset, common):
    """A short name for a subset: 'all' when it is the full common set, else its parts."""
    subset, common = np.asarray(subset, bool), np.asarray(common, bool)
    if (subset == common).all():
        return "all"
    names = [name for name, idx in PARTS.items() if subset[list(idx)].any()]
    return "+".join(names)


@dataclass
class SubsetChoice:
    matrix: np.ndarray   # 2x3: reference-image px -> canvas px
    subset: np.ndarray   # bool [18]: the keypoints the fit used
    iou: float           # alignment score of the chosen transform
    area: int            # warped reference pixels on the scoring grid (0: the person left the canvas)
    candidates: int      # how many subsets were scored


def best_subset(reference_xy, driving_xy, common, score, search=True):
    """The candidate subset whose Procrustes fit maximises score (an AlignmentScore), or None.

    reference_xy: [18, 2] in reference-image pixels; driving_xy: [18, 2] in canvas pixels;
    common: bool [18]. None when no candidate gives a plausible fit (fewer than 2 distinct common
    points, or every fit zooms by more than MAX_ZOOM against score.base_scale, e.g. collapses to 0).
    """
    subsets = candidate_subsets(common, search)
    if not len(subsets):
        return None
    scale, rotation, translation, valid = procrustes_batch(reference_xy, driving_xy, subsets)
    zoom = scale / score.base_scale
    usable = valid & np.isfinite(scale) & (zoom >= 1.0 / MAX_ZOOM) & (zoom <= MAX_ZOOM)
    if not usable.any():
        return None
    keep = np.flatnonzero(usable)
    matrices = similarity_matrix(scale[keep], rotation[keep], translation[keep])
    ious, areas = score.many(matrices)
    sizes = subsets[keep].sum(axis=1)
    # Highest IoU, then most keypoints, then the earliest candidate (the full common set is first).
    k = np.lexsort((np.arange(len(keep)), -sizes, -ious))[0]
    return SubsetChoice(matrices[k], subsets[keep[k]], float(ious[k]), int(areas[k]), len(keep))
