"""TPC's keypoints, common set and optimal-subset search (paper eq. 4)."""

import math
from itertools import combinations

import numpy as np
import pytest

from tcan_core.calibrate import PARTS, TPC_KEYPOINTS, calibrate, candidate_subsets, common_keypoints, procrustes
from tcan_core.calibrate.score import AlignmentScore, grid_size, to_grid
from tcan_core.calibrate.silhouette import pose_silhouette
from tcan_core.calibrate.subset import best_subset

from .synthetic import body, dance, frame
from .test_calibrate_masks import numpy_warped_grid, similarity

REF_SIZE = (384, 512)
CANVAS = (512, 512)


def with_confidence(xy, visible=None):
    c = np.ones(len(xy)) if visible is None else np.asarray(visible, float)
    return np.column_stack([xy, c])


def transformed(xy, matrix):
    return xy @ matrix[:, :2].T + matrix[:, 2]


def test_tpc_keypoints_are_the_papers_seventeen_in_four_groups():
    assert len(set(TPC_KEYPOINTS)) == 17 and 1 not in TPC_KEYPOINTS  # the OpenPose neck is not one
    assert sorted(j for part in PARTS.values() for j in part) == sorted(TPC_KEYPOINTS)
    sizes = {name: len(idx) for name, idx in PARTS.items()}
    assert sizes["face"] == 5 and sizes["torso"] == 4
    assert sizes["right arm"] + sizes["left arm"] == 4 and sizes["right leg"] + sizes["left leg"] == 4


def test_common_set_is_visible_in_both_and_excludes_the_neck():
    ref = with_confidence(body())
    drv = with_confidence(body())
    drv[[3, 9, 14], 2] = 0
    ref[[4, 16], 2] = 0
    drv[10, :2] = np.nan
    common = common_keypoints(ref, drv)
    assert set(np.flatnonzero(common)) == set(TPC_KEYPOINTS) - {3, 9, 14, 4, 16, 10}


def test_candidates_are_distinct_unions_of_parts_with_the_full_set_first():
    full = common_keypoints(with_confidence(body()), with_confidence(body()))
    rows = candidate_subsets(full)
    assert len(rows) == 63 and (rows[0] == full).all()
    assert len({r.tobytes() for r in rows}) == 63 and (rows.sum(axis=1) >= 2).all()
    for r in rows:  # every candidate takes each part whole or not at all
        for idx in PARTS.values():
            assert r[list(idx)].all() or not r[list(idx)].any()
    assert len(candidate_subsets(full, search=False)) == 1


def test_candidates_shrink_with_visibility():
    visible = np.zeros(18, bool)
    visible[list(PARTS["face"]) + list(PARTS["torso"])] = True
    rows = candidate_subsets(visible)
    assert len(rows) == 3  # face+torso, face, torso
    visible[:] = False
    visible[[3, 9]] = True  # one right elbow, one right knee: only their union has 2 points
    assert len(candidate_subsets(visible)) == 1
    visible[9] = False
    assert len(candidate_subsets(visible)) == 0 and len(candidate_subsets(visible, search=False)) == 0


def silhouette_grid(xy, size):
    gw, gh = grid_size(*size)
    return pose_silhouette(with_confidence(xy * [gw / size[0], gh / size[1]]), gw, gh)


@pytest.mark.parametrize("seed", range(8))
def test_search_finds_the_best_union_by_an_independent_fit_and_iou(seed):
    rng = np.random.default_rng(seed)
    ref_xy = body((190.0, 140.0))
    ref_grid = to_grid(pose_silhouette(with_confidence(ref_xy), *REF_SIZE), *grid_size(*REF_SIZE))
    pose = dance(10, seed=seed)[int(rng.integers(10))]
    matrix = similarity(rng.uniform(0.6, 1.4), rng.uniform(-40, 40), 0.0, 0.0)
    matrix[:, 2] = [256.0, 220.0] - transformed(pose[1:2], matrix)[0]
    drv_xy = transformed(pose, matrix)
    target = silhouette_grid(drv_xy, CANVAS)
    common = np.zeros(18, bool)
    common[list(TPC_KEYPOINTS)] = True
    choice = best_subset(ref_xy, drv_xy, common, AlignmentScore(ref_grid, REF_SIZE, target, CANVAS))

    def independent_iou(subset):
        s, R, t = procrustes(ref_xy[subset], drv_xy[subset])
        warped = numpy_warped_grid(ref_grid, REF_SIZE, CANVAS, target.shape, np.column_stack([s * R, t]))
        return np.count_nonzero(warped & target) / np.count_nonzero(warped | target)

    parts = list(PARTS.values())
    best = max(independent_iou(sorted(j for p in combo for j in p))
               for size in range(1, 7) for combo in combinations(parts, size)
               if sum(len(p) for p in combo) >= 2)
    assert choice.iou == pytest.approx(best, abs=0.02)
    assert choice.iou == pytest.approx(independent_iou(np.flatnonzero(choice.subset)), abs=0.02)
    s, R, t = procrustes(ref_xy[choice.subset], drv_xy[choice.subset])
    np.testing.assert_allclose(choice.matrix, np.column_stack([s * R, t]), atol=1e-9)


def misaligned_pairs(count, seed):
    """A reference body and `count` driving frames: other limb angles, then a random similarity."""
    rng = np.random.default_rng(seed)
    frames = []
    for pose in dance(count, seed=seed, speed=0.9):
        m = similarity(rng.uniform(0.5, 1.6), rng.uniform(-50, 50), 0.0, 0.0)
        m[:, 2] = rng.uniform([150, 150], [360, 300]) - transformed(pose[1:2], m)[0]
        frames.append(frame(transformed(pose, m), width=CANVAS[0], height=CANVAS[1]))
    reference = frame(body((190.0, 140.0), {3: 50, 6: 50, 9: 70, 12: 70}), width=REF_SIZE[0], height=REF_SIZE[1])
    image = np.zeros((REF_SIZE[1], REF_SIZE[0], 3), np.float32)
    return image, reference, frames


@pytest.mark.parametrize("seed", range(3))
def test_calibration_raises_the_iou_on_misaligned_pairs(seed):
    image, reference, frames = misaligned_pairs(25, seed)
    cal = calibrate(image, reference, frames)
    assert not cal.fallback.any()
    assert (cal.iou_after > cal.iou_before).all()
    assert cal.iou_after.mean() > cal.iou_before.mean() + 0.2


@pytest.mark.parametrize("seed", range(3))
def test_subset_search_never_does_worse_than_all_common_keypoints(seed):
    image, reference, frames = misaligned_pairs(40, 10 + seed)
    searched = calibrate(image, reference, frames, subset_search=True)
    plain = calibrate(image, reference, frames, subset_search=False)
    assert (searched.iou_after >= plain.iou_after).all()
    assert searched.iou_after.mean() > plain.iou_after.mean()  # and it does help somewhere
    assert all(name == "all" for name in plain.subset_names)
    for i in range(len(frames)):  # each frame's transform is the Procrustes fit of its subset
        subset = list(searched.subsets[i])
        ref_xy = np.asarray(reference["people"][0]["pose_keypoints_2d"]).reshape(18, 3)[subset, :2]
        drv_xy = np.asarray(frames[i]["people"][0]["pose_keypoints_2d"]).reshape(18, 3)[subset, :2]
        s, R, t = procrustes(ref_xy, drv_xy)
        np.testing.assert_allclose(searched.matrices[i], np.column_stack([s * R, t]), atol=1e-6)


def test_an_arm_raised_in_the_target_is_left_out_of_the_fit():
    reference = body((190.0, 140.0))
    raised = body((190.0, 140.0), angles={3: -100, 4: -95})  # right arm straight up
    image = np.zeros((512, 384, 3), np.float32)
    cal = calibrate(image, frame(reference, width=384, height=512), [frame(raised, width=384, height=512)])
    assert 3 not in cal.subsets[0] and 4 not in cal.subsets[0]
    assert cal.subset_names[0] != "all"
    np.testing.assert_allclose(cal.matrices[0], [[1, 0, 0], [0, 1, 0]], atol=1e-6)  # the rest is unmoved
    assert math.isclose(cal.iou_after[0], max(cal.iou_after[0], cal.iou_before[0]))
