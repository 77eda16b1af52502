"""POSE_KEYPOINT <-> arrays: pixel and normalised input, missing points, bad frames."""

import numpy as np
import pytest

from tcan_core.pose.keypoints import (frame_from_dict, frames_from_pose_keypoint, frames_to_pose_keypoint,
                                      is_normalized)

from .synthetic import body, frame


def test_pixel_round_trip_keeps_values_and_missing_points():
    visible = np.ones(18, bool)
    visible[[3, 16]] = False
    f = frame(body(), visible=visible)
    back = frames_to_pose_keypoint(frames_from_pose_keypoint([f]))[0]
    np.testing.assert_allclose(back["people"][0]["pose_keypoints_2d"], f["people"][0]["pose_keypoints_2d"], atol=1e-3)
    assert back["canvas_width"] == 512 and back["people"][0]["hand_left_keypoints_2d"] is None


def test_normalised_coordinates_become_pixels():
    f = frame(body() / 512.0, width=512, height=256)
    assert is_normalized(f)
    pts = frame_from_dict(f).people[0].body
    np.testing.assert_allclose(pts[:, 0], body()[:, 0], atol=1e-9)
    np.testing.assert_allclose(pts[:, 1], body()[:, 1] / 2, atol=1e-9)
    assert not is_normalized(frame(body()))


def test_non_finite_and_low_confidence_points_are_missing():
    f = frame(body())
    kp = f["people"][0]["pose_keypoints_2d"]
    kp[0], kp[5], kp[8] = float("nan"), 0.2, 0.7  # nose x NaN, neck conf 0.2, shoulder conf 0.7
    person = frame_from_dict(f).people[0]
    assert person.body[0].tolist() == [0, 0, 0] and person.body[1].tolist() == [0, 0, 0]
    assert person.body[2, 2] == 1.0


def test_a_single_dict_is_one_frame_and_short_lists_are_padded():
    f = frame(body())
    f["people"][0]["pose_keypoints_2d"] = f["people"][0]["pose_keypoints_2d"][:45]  # 15 points
    frames = frames_from_pose_keypoint(f)
    assert len(frames) == 1 and frames[0].people[0].body[15:].sum() == 0


@pytest.mark.parametrize("bad, message", [
    (42, "expected POSE_KEYPOINT"),
    ([[1, 2]], "is a list; expected a dict"),
    ([{"people": []}], "no 'canvas_width'"),
    ([{"people": [], "canvas_width": 0, "canvas_height": 5}], "positive number"),
    ([{"people": [], "canvas_width": "wide", "canvas_height": 5}], "must be a number"),
    ([{"people": {}, "canvas_width": 5, "canvas_height": 5}], "'people' must be a list"),
    ([{"people": [{"pose_keypoints_2d": [1, 2]}], "canvas_width": 5, "canvas_height": 5}], r"\(x, y, c\) triples"),
    ([{"people": [{"pose_keypoints_2d": ["a"] * 54}], "canvas_width": 5, "canvas_height": 5}], "flat list of numbers"),
])
def test_bad_frames_give_clear_errors(bad, message):
    with pytest.raises(ValueError, match=message):
        frames_from_pose_keypoint(bad)
