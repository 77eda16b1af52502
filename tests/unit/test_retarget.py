"""TCAN per-limb retargeting: invariants, parity with the official algorithm, and bad input."""

import math

import numpy as np
import pytest

from tcan_core.pose import retarget, retarget_frames
from tcan_core.pose.skeleton import PARENT

from .official_retarget import official_retarget
from .synthetic import BONES, body, dance, frame, xy

REF_LENGTHS = {0: 60, 2: 46, 3: 50, 4: 45, 5: 46, 6: 50, 7: 45, 8: 95, 9: 62, 10: 60, 11: 95, 12: 62, 13: 60,
               14: 14, 15: 14, 16: 16, 17: 16}


def bone(points, j):
    return np.linalg.norm(points[j] - points[PARENT[j]])


def reference_frame(lengths=REF_LENGTHS, visible=None, width=384, height=512):
    return frame(body((190.0, 140.0), lengths), width=width, height=height, visible=visible)


def test_identity_when_reference_is_the_anchor_frame():
    asym = body(lengths={3: 70, 6: 52, 9: 90, 12: 70})
    driving = [frame(b) for b in [asym] + dance(5)[1:]]
    out = retarget(frame(asym), driving, symmetric=False)
    np.testing.assert_allclose(xy(out[0])[0], asym, atol=1e-3)


def test_identity_for_a_symmetric_reference_with_default_options():
    sym = body()  # the synthetic default body is left/right symmetric
    out = retarget(frame(sym), [frame(sym)])
    np.testing.assert_allclose(xy(out[0])[0], sym, atol=1e-3)


def test_bone_lengths_follow_the_reference_and_directions_the_driving():
    driving = dance(20)
    out = retarget(reference_frame(), [frame(b) for b in driving])
    for t, f in enumerate(out):
        pts, conf = xy(f)
        assert conf.min() == 1
        assert bone(pts, 0) == pytest.approx(REF_LENGTHS[0], abs=1e-2)  # head size
        for j in range(2, 18):
            assert bone(pts, j) == pytest.approx(REF_LENGTHS[j], abs=1e-2)
            d_out = pts[j] - pts[PARENT[j]]
            d_in = driving[t][j] - driving[t][PARENT[j]]
            cos = d_out @ d_in / np.linalg.norm(d_out) / np.linalg.norm(d_in)
            assert cos == pytest.approx(1.0, abs=1e-6)


def test_reference_ratios_are_symmetrised_by_the_longer_side():
    lengths = {**REF_LENGTHS, 3: 40, 6: 70}  # right upper arm 40, left 70
    driving = [frame(b) for b in dance(3)]
    pts = xy(retarget(reference_frame(lengths), driving)[1])[0]
    assert bone(pts, 3) == pytest.approx(70, abs=1e-2) and bone(pts, 6) == pytest.approx(70, abs=1e-2)
    pts = xy(retarget(reference_frame(lengths), driving, symmetric=False)[1])[0]
    assert bone(pts, 3) == pytest.approx(40, abs=1e-2) and bone(pts, 6) == pytest.approx(70, abs=1e-2)


def test_foreshortening_relative_to_the_anchor_frame_is_kept_and_clipped():
    first = body()
    short = body(lengths={3: BONES[3][1] * 0.5})
    long = body(lengths={3: BONES[3][1] * 1.5})
    out = retarget(reference_frame(), [frame(first), frame(short), frame(long)])
    assert bone(xy(out[1])[0], 3) == pytest.approx(REF_LENGTHS[3] * 0.5, abs=1e-2)
    assert bone(xy(out[2])[0], 3) == pytest.approx(REF_LENGTHS[3] * 1.1, abs=1e-2)
    # anchor_frame moves the reference of "unforeshortened"
    out = retarget(reference_frame(), [frame(first), frame(short), frame(long)], anchor_frame=1)
    assert bone(xy(out[0])[0], 3) == pytest.approx(REF_LENGTHS[3] * 1.1, abs=1e-2)
    assert bone(xy(out[1])[0], 3) == pytest.approx(REF_LENGTHS[3], abs=1e-2)


def _official_sequence(ref_pts, driving, truncate):
    ones = np.arange(18)
    return [official_retarget(d, driving[0], ref_pts, ones, ones, truncate=truncate) for d in driving]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_the_official_algorithm_on_ordinary_input(seed):
    rng = np.random.default_rng(seed)
    ref_lengths = {j: BONES[j][1] * rng.uniform(0.7, 1.3) for j in BONES}
    ref_pts = body((190.0, 140.0), ref_lengths)
    driving = dance(40, seed=seed, scale=rng.uniform(0.8, 1.2), jitter=1.0)
    ours = np.stack([xy(f)[0] for f in retarget([frame(ref_pts, width=384)], [frame(b) for b in driving])])
    exact = np.stack(_official_sequence(ref_pts, driving, truncate=False))
    np.testing.assert_allclose(ours, exact, atol=2e-3)  # ours is rounded to 3 decimals


def test_a_missing_driving_joint_stays_missing_and_changes_nothing_else():
    driving = dance(4)
    visible = np.ones(18, bool)
    visible[7] = False  # left wrist not detected
    full = retarget(reference_frame(), [frame(b) for b in driving])
    holed = retarget(reference_frame(), [frame(driving[0])] + [frame(b, visible=visible) for b in driving[1:]])
    pts, conf = xy(holed[2])
    assert conf[7] == 0 and tuple(pts[7]) == (0.0, 0.0)
    np.testing.assert_allclose(np.delete(pts, 7, 0), np.delete(xy(full[2])[0], 7, 0), atol=1e-6)


def test_a_joint_whose_parent_is_missing_keeps_its_scaled_offset():
    driving = dance(3)
    visible = np.ones(18, bool)
    visible[6] = False  # left elbow missing, wrist present
    out = retarget(reference_frame(), [frame(driving[0])] + [frame(b, visible=visible) for b in driving[1:]])
    pts, conf = xy(out[1])
    assert conf[7] == 1 and np.isfinite(pts).all()
    size_ratio = REF_LENGTHS[0] / BONES[0][1]
    expected = np.linalg.norm(driving[1][7] - driving[1][5]) * size_ratio
    assert np.linalg.norm(pts[7] - pts[5]) == pytest.approx(expected, rel=1e-4)


def test_zero_length_bone_in_the_anchor_frame_gives_finite_output():
    first = body(lengths={4: 0.0})  # wrist on the elbow in the anchor frame
    later = dance(3)
    result = retarget_frames(reference_frame(), [frame(first)] + [frame(b) for b in later])
    pts = np.stack([xy(f)[0] for f in result.frames])
    assert np.isfinite(pts).all()
    # the bone takes its anchor length from the nearest frame that shows it
    assert bone(pts[1], 4) == pytest.approx(REF_LENGTHS[4], abs=1e-2)


def test_a_reference_limb_missing_on_one_side_is_covered_by_its_partner():
    visible = np.ones(18, bool)
    visible[4] = False  # the reference's right wrist is not visible
    pts = xy(retarget(reference_frame(visible=visible), [frame(b) for b in dance(2)])[1])[0]
    assert bone(pts, 4) == pytest.approx(REF_LENGTHS[7], abs=1e-2)


def test_a_reference_limb_missing_on_both_sides_keeps_driving_proportions():
    visible = np.ones(18, bool)
    visible[[10, 13]] = False  # reference cropped above the ankles
    driving = dance(3)
    pts = xy(retarget(reference_frame(visible=visible), [frame(b) for b in driving])[2])[0]
    size_ratio = REF_LENGTHS[0] / BONES[0][1]
    assert bone(pts, 10) == pytest.approx(BONES[10][1] * size_ratio, abs=1e-2)
    assert np.isfinite(pts).all()


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_coordinates_count_as_missing(bad):
    driving = [frame(b) for b in dance(3)]
    driving[1]["people"][0]["pose_keypoints_2d"][3 * 4] = bad
    out = retarget(reference_frame(), driving)
    pts, conf = xy(out[1])
    assert conf[4] == 0 and np.isfinite(pts).all()


def test_frames_without_a_person_repeat_the_nearest_retargeted_frame():
    driving = [frame(b) for b in dance(6)]
    driving[0]["people"] = []
    driving[3]["people"] = []
    driving[4]["people"] = []
    result = retarget_frames(reference_frame(), driving)
    assert result.frames[0] == result.frames[1]
    assert result.frames[3] == result.frames[2] == result.frames[4]
    assert result.frames[5] != result.frames[2]
    assert any("no person in 3 frame(s) (0, 3-4)" in n for n in result.notes)


def test_the_largest_reference_person_is_used_and_reported():
    small = body((300.0, 100.0), {j: BONES[j][1] * 0.3 for j in BONES})
    ref = frame(small, body((190.0, 140.0), REF_LENGTHS), width=384)
    result = retarget_frames(ref, [frame(b) for b in dance(2)])
    assert bone(xy(result.frames[1])[0], 3) == pytest.approx(REF_LENGTHS[3], abs=1e-2)
    assert any("used person 1 (the largest)" in n for n in result.notes)


def test_the_driving_track_follows_one_person_even_when_another_grows_larger():
    main = dance(10)
    frames = []
    for t, b in enumerate(main):
        other = body((80.0, 100.0 + t), {j: BONES[j][1] * (0.5 + 0.12 * t) for j in BONES})
        frames.append(frame(other, b) if t % 2 else frame(b, other))  # order in the list changes too
    result = retarget_frames(reference_frame(), frames)
    necks = np.array([xy(f)[0][1] for f in result.frames])
    expected = np.array([190.0, 140.0]) + (np.array([b[1] for b in main]) - main[0][1]) * REF_LENGTHS[0] / BONES[0][1]
    np.testing.assert_allclose(necks, expected, atol=1e-2)
    assert any("several people" in n for n in result.notes)


def test_hands_and_face_follow_their_wrist_and_nose():
    driving = dance(3)
    rng = np.random.default_rng(0)
    frames = []
    for b in driving:
        left = np.column_stack([b[7] + rng.normal(0, 10, (21, 2)), np.ones(21)])
        right = np.column_stack([b[4] + rng.normal(0, 10, (21, 2)), np.ones(21)])
        f = frame(b, hands=(left.reshape(-1).tolist(), right.reshape(-1).tolist()))
        f["people"][0]["face_keypoints_2d"] = np.column_stack(
            [b[0] + rng.normal(0, 8, (70, 2)), np.ones(70)]).reshape(-1).tolist()
        frames.append(f)
    out = retarget(reference_frame(), frames)
    size_ratio = REF_LENGTHS[0] / BONES[0][1]
    for f_in, f_out, b in zip(frames, out, driving):
        pts = xy(f_out)[0]
        for key, root in (("hand_left_keypoints_2d", 7), ("hand_right_keypoints_2d", 4), ("face_keypoints_2d", 0)):
            p_in = np.asarray(f_in["people"][0][key]).reshape(-1, 3)[:, :2]
            p_out = np.asarray(f_out["people"][0][key]).reshape(-1, 3)[:, :2]
            np.testing.assert_allclose(p_out - pts[root], (p_in - b[root]) * size_ratio, atol=2e-3)


def test_a_hand_whose_wrist_is_missing_is_dropped():
    b = dance(2)
    hand = np.column_stack([np.tile(b[1][7] + 5, (21, 1)), np.ones(21)]).reshape(-1).tolist()
    visible = np.ones(18, bool)
    visible[7] = False
    frames = [frame(b[0]), frame(b[1], visible=visible, hands=(hand, None))]
    result = retarget_frames(reference_frame(), frames)
    assert not any(result.frames[1]["people"][0]["hand_left_keypoints_2d"])
    assert any("hand was dropped" in n for n in result.notes)


def test_normalised_input_gives_the_same_result_as_pixels():
    driving = dance(4)
    pixel = retarget(reference_frame(), [frame(b) for b in driving])
    normalised = [frame(b / 512.0) for b in driving]
    np.testing.assert_allclose([xy(f)[0] for f in retarget(reference_frame(), normalised)],
                               [xy(f)[0] for f in pixel], atol=2e-3)


def test_smoothing_reduces_jitter_and_keeps_missing_points_missing():
    clean = dance(40, jitter=0.0, speed=0.05)
    noisy = dance(40, jitter=3.0, speed=0.05)
    visible = np.ones(18, bool)
    visible[10] = False
    frames = [frame(b, visible=visible if t == 20 else None) for t, b in enumerate(noisy)]
    ref = reference_frame()
    truth = np.stack([xy(f)[0] for f in retarget(ref, [frame(b) for b in clean])])
    raw = np.stack([xy(f)[0] for f in retarget(ref, frames)])
    smooth_result = retarget(ref, frames, smoothing=2.0)
    smooth = np.stack([xy(f)[0] for f in smooth_result])
    assert xy(smooth_result[20])[1][10] == 0
    keep = np.ones((40, 18), bool)
    keep[19:22, 10] = False

    def roughness(x):  # frame-to-frame acceleration: what detector jitter looks like
        return np.linalg.norm(x[2:] - 2 * x[1:-1] + x[:-2], axis=-1)[keep[1:-1]].mean()

    assert roughness(smooth) < 0.3 * roughness(raw)
    err_raw = np.linalg.norm(raw - truth, axis=-1)[keep].mean()
    err_smooth = np.linalg.norm(smooth - truth, axis=-1)[keep].mean()
    assert err_smooth < err_raw


def test_position_driving_follows_the_driving_person_on_the_canvas():
    driving = dance(5)
    out = retarget(reference_frame(width=512, height=512), [frame(b) for b in driving], position="driving")
    for f, b in zip(out, driving):
        pts = xy(f)[0]
        np.testing.assert_allclose(pts[1], b[1], atol=2e-3)  # same canvas size: the neck is where it was
        assert bone(pts, 0) == pytest.approx(BONES[0][1], abs=1e-2)  # at the driving person's size
        assert bone(pts, 3) == pytest.approx(REF_LENGTHS[3] * BONES[0][1] / REF_LENGTHS[0], abs=1e-2)


def test_a_single_frame_sequence_works():
    out = retarget(reference_frame(), [frame(body())])
    assert len(out) == 1 and out[0]["canvas_width"] == 384


@pytest.mark.parametrize("reference, driving, options, message", [
    (None, None, {}, "POSE_KEYPOINT"),
    ("ref", [], {}, "driving pose sequence is empty"),
    ("ref", "drv", {"anchor_frame": 99}, "anchor_frame 99 is outside"),
    ("ref", "drv", {"position": "camera"}, "position must be one of"),
    ("ref", "drv", {"smoothing": -1.0}, "smoothing must be"),
    ("empty", "drv", {}, "no usable person in the reference"),
    ("noface", "drv", {}, "no visible nose and neck"),
    ("ref", "nobody", {}, "no usable person in any driving frame"),
    ("ref", [{"people": []}], {}, "no 'canvas_width'"),
])
def test_bad_input_gives_a_clear_value_error(reference, driving, options, message):
    visible = np.ones(18, bool)
    visible[0] = False
    refs = {"ref": reference_frame(), "empty": {"people": [], "canvas_width": 10, "canvas_height": 10},
            "noface": reference_frame(visible=visible)}
    drvs = {"drv": [frame(b) for b in dance(3)], "nobody": [{"people": [], "canvas_width": 9, "canvas_height": 9}]}
    reference = refs.get(reference, reference) if isinstance(reference, str) else reference
    driving = drvs.get(driving, driving) if isinstance(driving, str) else driving
    with pytest.raises(ValueError, match=message):
        retarget(reference, driving, **options)


def test_random_visibility_never_gives_non_finite_output():
    rng = np.random.default_rng(7)
    for trial in range(60):
        frames = []
        for b in dance(6, seed=trial, jitter=1.0):
            visible = rng.random(18) > rng.uniform(0, 0.6)
            visible[1] = True  # a usable person
            if rng.random() < 0.2:
                b[rng.integers(18)] = b[PARENT[rng.integers(2, 18)]]  # a zero-length bone
            frames.append(frame(b, visible=visible))
        out = retarget(reference_frame(), frames, anchor_frame=int(rng.integers(6)), smoothing=float(rng.uniform(0, 2)))
        values = np.array([f["people"][0]["pose_keypoints_2d"] for f in out])
        assert np.isfinite(values).all() and set(np.unique(values.reshape(len(out), 18, 3)[..., 2])) <= {0.0, 1.0}
        assert all(math.isfinite(v) for v in values.ravel())
